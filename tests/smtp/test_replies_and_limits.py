"""Reply constants follow RFC 3463; limits hold: sessions per client, sizes, per-destination sizes, null sender."""

from __future__ import annotations

import re
import smtplib
import socket

import pytest

from mssante_hub.smtp import replies
from mssante_hub.reader import read_folder
from tests.smtp.messages import message
from tests.smtp.support import HOSPITAL_DOMAIN
from tests.smtp.test_mx import ascii_reply, reply, tls_client

JEAN = "jean.dupont@hub.test"
ENHANCED = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})$")


@pytest.mark.parametrize("name", sorted(replies.ALL))
def test_every_reply_has_a_matching_enhanced_status_code(name):
    value = replies.ALL[name]
    code, status, text = value.split(" ", 2)
    if code.startswith("3"):
        return  # intermediate replies (354) carry no enhanced status code (RFC 2034 §3)
    found = ENHANCED.match(status)
    assert found, f"{name}: {status!r} is not an enhanced status code"
    assert found[1] == code[0], f"{name}: class of {status} differs from {code}"
    assert text.strip() and "\r" not in value and "\n" not in value


@pytest.mark.parametrize("smtp_settings", [{"smtp.max_sessions_per_client": 2}])
def test_sessions_per_client_are_limited_and_the_server_keeps_serving(smtp_hub):
    port = smtp_hub.port("mx")
    first, second = smtplib.SMTP("127.0.0.1", port), smtplib.SMTP("127.0.0.1", port)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as third:
            greeting = third.recv(1024).decode()
        assert greeting.strip() == ascii_reply(replies.TOO_MANY_SESSIONS)
    finally:
        first.quit()
        second.quit()
    with smtplib.SMTP("127.0.0.1", port) as again:  # slots are given back
        assert again.noop()[0] == 250


@pytest.mark.parametrize("smtp_settings", [{"mx.trusted_networks": ["127.0.0.0/8"],
                                            "limits.max_message_bytes": 20_000}])
def test_size_is_refused_at_mail_and_at_data_and_the_session_goes_on(smtp_hub):
    with smtplib.SMTP("127.0.0.1", smtp_hub.port("mx"), timeout=30) as client:
        client.ehlo("x")
        assert client.esmtp_features["size"] == "20000"
        code, text = client.mail("app@interne.test", ["SIZE=30000"])
        assert reply(code, text) == ascii_reply(replies.SIZE_EXCEEDED)
        client.mail("app@interne.test")
        client.rcpt(JEAN)
        code, text = client.data(message("app@interne.test", JEAN, body="x" * 70 + "\r\n") * 400)
        assert reply(code, text) == ascii_reply(replies.SIZE_EXCEEDED)
        assert client.sendmail("app@interne.test", [JEAN], message("app@interne.test", JEAN)) == {}
    assert len(read_folder(smtp_hub.hub, JEAN)) == 1


@pytest.mark.parametrize("smtp_settings", [{"mx.trusted_networks": ["127.0.0.0/8"],
                                            "smtp.destination_size_limits": ["hub.test=5000"]}])
def test_per_destination_size_limits(smtp_hub):
    with smtplib.SMTP("127.0.0.1", smtp_hub.port("mx"), timeout=30) as client:
        client.ehlo("x")
        client.mail("app@interne.test", ["SIZE=6000"])
        code, text = client.rcpt(JEAN)
        assert reply(code, text) == ascii_reply(replies.DESTINATION_SIZE_EXCEEDED)
        client.rset()
        client.mail("app@interne.test")
        client.rcpt(JEAN)
        code, _ = client.data(message("app@interne.test", JEAN, body="y" * 70 + "\r\n") * 80)
        assert code == 552


def test_an_operator_bounce_with_a_null_sender_is_accepted(smtp_hub, pki):
    with tls_client(smtp_hub, pki, pki.hospital) as client:
        assert client.mail("")[0] == 250
        assert client.rcpt(JEAN)[0] == 250
        assert client.data(message(f"MAILER-DAEMON@{HOSPITAL_DOMAIN}", JEAN, subject="Non remis"))[0] == 250
    assert [m.summary["subject"] for m in read_folder(smtp_hub.hub, JEAN)] == ["Non remis"]


def test_a_null_sender_from_an_unlisted_certificate_is_refused(smtp_hub, pki):
    with tls_client(smtp_hub, pki, pki.stranger) as client:
        code, text = client.mail("")
    assert reply(code, text) == ascii_reply(replies.DN_NOT_LISTED)


@pytest.mark.parametrize("smtp_settings", [{"mx.trusted_networks": ["127.0.0.0/8"]}])
def test_hostile_commands_get_clear_refusals(smtp_hub):
    with smtplib.SMTP("127.0.0.1", smtp_hub.port("mx"), timeout=30) as client:
        client.ehlo("x")
        assert client.docmd("MAIL", "FROM:<a@b.test> FOO=bar")[0] == 555
        assert client.docmd("MAIL", "FROM:<not an address>")[0] == 553
        assert client.docmd("MAIL", "FROM:<a@b.test> ENVID=" + "x" * 200)[0] == 501
        assert client.docmd("RCPT", f"TO:<{JEAN}>")[0] == 503
        assert client.docmd("DATA")[0] == 503
        assert client.docmd("MAIL", "FROM:<a@b.test>")[0] == 250
        assert client.docmd("RCPT", f"TO:<{JEAN}> NOTIFY=SOMETIMES")[0] == 501
        assert client.docmd("MAIL", "FROM:<a@b.test>")[0] == 503
        assert client.noop()[0] == 250


@pytest.mark.parametrize("smtp_settings", [{"mx.trusted_networks": ["127.0.0.0/8"], "limits.max_recipients": 3}])
def test_recipient_count_and_line_length_are_limited(smtp_hub):
    with smtplib.SMTP("127.0.0.1", smtp_hub.port("mx"), timeout=30) as client:
        client.ehlo("x")
        client.mail("app@interne.test")
        assert [client.rcpt(JEAN)[0] for _ in range(4)] == [250, 250, 250, 452]
        code, _ = client.data(message("app@interne.test", JEAN, body="z" * 1200 + "\r\n"))
        assert code == 500  # RFC 5321 §4.5.3.1.6: 998 characters and CRLF
        assert client.noop() == (250, b"2.0.0 OK")
        assert client.rset() == (250, b"2.0.0 OK")
    assert read_folder(smtp_hub.hub, JEAN) == []


@pytest.mark.parametrize("smtp_settings", [{"mx.trusted_networks": ["127.0.0.0/8"]}])
def test_dot_stuffed_lines_are_restored(smtp_hub):
    body = ".leading dot\r\n..two dots\r\nplain\r\n.\r\n"  # smtplib doubles each leading dot on the wire
    with smtplib.SMTP("127.0.0.1", smtp_hub.port("mx"), timeout=30) as client:
        assert client.sendmail("app@interne.test", [JEAN], message("app@interne.test", JEAN, body=body)) == {}
    stored = read_folder(smtp_hub.hub, JEAN)[0].raw
    assert stored.endswith(b"\r\n\r\n.leading dot\r\n..two dots\r\nplain\r\n.\r\n")


class RawSession:
    """A plain socket session: commands sent as typed, every reply line read as it comes."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.file = self.sock.makefile("rb")
        self.greeting = self.reply()

    def reply(self) -> list[str]:
        lines = []
        while True:
            line = self.file.readline()
            if not line:
                return lines  # closed by the server
            lines.append(line.decode().rstrip("\r\n"))
            if line[3:4] != b"-":
                return lines

    def command(self, text: bytes) -> list[str]:
        self.sock.sendall(text + b"\r\n")
        return self.reply()

    def closed(self) -> bool:
        return self.file.readline() == b""

    def close(self) -> None:
        self.file.close()
        self.sock.close()


WITH_STATUS = re.compile(r"^\d{3}[ -][245]\.\d{1,3}\.\d{1,3} ")


def test_every_reply_on_the_wire_carries_an_enhanced_status_code_including_aiosmtpds_own(smtp_hub):
    session = RawSession(smtp_hub.port("mx"))
    try:
        replies_seen = {}
        for command in (b"HELO", b"FOO bar", b"", b"\xc3\xa9t\xc3\xa9", b"RSET now", b"VRFY jean.dupont",
                        b"EXPN staff", b"HELP", b"MAIL FROM:<a@b.test>", b"EHLO client.test", b"MAIL FROM:<x>",
                        b"RCPT TO:<jean.dupont@hub.test>", b"DATA", b"STARTTLS now", b"NOOP " + b"x" * 600,
                        b"AUTH PLAIN", b"NOOP", b"RSET", b"QUIT now", b"QUIT"):
            replies_seen[command] = session.command(command)
    finally:
        session.close()
    for command, lines in replies_seen.items():
        assert lines, f"no reply to {command!r}"
        if command.startswith(b"EHLO"):
            continue  # RFC 2034 §3: the EHLO answer carries none
        for line in lines:
            assert WITH_STATUS.match(line), f"{command!r} -> {line!r}"
    assert replies_seen[b"FOO bar"] == [ascii_reply(replies.UNKNOWN_COMMAND)]
    assert replies_seen[b"VRFY jean.dupont"] == [ascii_reply(replies.VRFY_DISABLED)]
    assert replies_seen[b"HELP"][0].startswith("214 2.0.0")
    assert replies_seen[b"QUIT"] == [ascii_reply(replies.SERVICE_CLOSING)]


@pytest.mark.parametrize("smtp_settings", [{"smtp.max_junk_commands": 6}])
def test_a_session_of_commands_that_move_no_mail_is_closed(smtp_hub):
    session = RawSession(smtp_hub.port("mx"))
    try:
        assert session.command(b"EHLO client.test")[-1].startswith("250 ")
        for command in (b"NOOP", b"RSET", b"NOOP", b"RSET", b"HELP"):
            assert session.command(command)[0][:3] in ("250", "214")
        assert session.command(b"RSET") == [ascii_reply(replies.TOO_MANY_COMMANDS)]
        assert session.closed()
    finally:
        session.close()
    with smtplib.SMTP("127.0.0.1", smtp_hub.port("mx")) as again:  # a new session starts afresh
        assert again.noop()[0] == 250


@pytest.mark.parametrize("smtp_settings", [{"smtp.max_errors": 3}])
def test_a_session_with_too_many_errors_is_closed(smtp_hub):
    session = RawSession(smtp_hub.port("mx"))
    try:
        session.command(b"EHLO client.test")
        assert session.command(b"RCPT TO:<jean.dupont@hub.test>")[0][0] == "5"
        assert session.command(b"MAIL FROM:<pas une adresse>")[0][0] == "5"
        assert session.command(b"FOO") == [ascii_reply(replies.UNKNOWN_COMMAND)]
        assert session.reply() == [ascii_reply(replies.TOO_MANY_ERRORS)]
        assert session.closed()
    finally:
        session.close()


@pytest.mark.parametrize("smtp_settings", [{"smtp.idle_timeout_s": 1}])
def test_an_idle_session_is_told_why_it_is_closed(smtp_hub):
    session = RawSession(smtp_hub.port("mx"))
    try:
        session.command(b"EHLO client.test")
        assert session.command(b"NOOP")[0].startswith("250 ")  # activity pushes the deadline back
        assert session.reply() == [ascii_reply(replies.TIMEOUT)]
        assert session.closed()
    finally:
        session.close()


@pytest.mark.parametrize("smtp_settings", [{"mx.trusted_networks": ["127.0.0.0/8"]}])
def test_a_client_gone_while_its_message_waits_for_the_commit_leaves_the_writer_running(smtp_hub):
    import threading
    import time

    release = threading.Event()
    busy = smtp_hub.hub.committer.submit(lambda conn: release.wait(10))  # the writer is busy committing
    session = RawSession(smtp_hub.port("mx"))
    session.command(b"EHLO client.test")
    session.command(b"MAIL FROM:<app@interne.test>")
    session.command(b"RCPT TO:<jean.dupont@hub.test>")
    session.command(b"DATA")
    session.sock.sendall(message("app@interne.test", JEAN) + b".\r\n")
    time.sleep(0.5)  # the message is prepared and queued behind the busy commit
    session.close()  # the client goes before its reply
    time.sleep(0.5)
    release.set()
    busy.result(10)
    with smtplib.SMTP("127.0.0.1", smtp_hub.port("mx"), timeout=30) as client:
        assert client.sendmail("app@interne.test", [JEAN], message("app@interne.test", JEAN, subject="apres")) == {}
    subjects = [m.summary.get("subject") for m in read_folder(smtp_hub.hub, JEAN)]
    assert "apres" in subjects
