"""SMTP smuggling: DATA ends only on CRLF.CRLF; any bare LF or CR is refused with 550 5.6.0."""

from __future__ import annotations

import socket

import pytest

from mssante_hub.smtp import replies
from storage import messages
from tests.smtp.test_mx import ascii_reply

JEAN = "jean.dupont@hub.test"
SMUGGLED = b"MAIL FROM:<evil@hub.test>\r\nRCPT TO:<jean.dupont@hub.test>\r\nDATA\r\nFrom: evil@hub.test\r\n\r\nsmuggled\r\n"
HEAD = b"From: app@interne.test\r\nTo: jean.dupont@hub.test\r\nSubject: x\r\n"


def variants() -> dict[str, bytes]:
    body = HEAD + b"\r\nbody\r\n"
    return {
        "LF.LF": body + b"\n.\n" + SMUGGLED,
        "CR.CR": body + b"\r.\r" + SMUGGLED,
        "CRLF.LF": body[:-2] + b"\r\n.\n" + SMUGGLED,
        "LF.CRLF": body[:-2] + b"\n.\r\n" + SMUGGLED,
        "bare LF in headers": b"From: app@interne.test\nX-Y: z\r\nTo: jean.dupont@hub.test\r\n\r\nbody\r\n",
        "bare LF in body": HEAD + b"\r\nline one\nline two\r\n",
        "bare CR in body": HEAD + b"\r\nline one\rline two\r\n",
    }


def read_reply(sock: socket.socket) -> bytes:
    data = b""
    while True:
        data += sock.recv(65536)
        lines = data.split(b"\r\n")
        if len(lines) > 1 and all(len(line) >= 4 and line[3:4] == b" " for line in lines[-2:-1]):
            return data


@pytest.mark.parametrize("smtp_settings", [{"mx.trusted_networks": ["127.0.0.0/8"]}])
@pytest.mark.parametrize("name", list(variants()))
def test_smuggling_variants_are_refused_and_nothing_is_stored(smtp_hub, name):
    payload = variants()[name]
    with socket.create_connection(("127.0.0.1", smtp_hub.port("mx")), timeout=30) as sock:
        read_reply(sock)
        replies_seen = []
        for command in (b"EHLO x", b"MAIL FROM:<app@interne.test>", b"RCPT TO:<jean.dupont@hub.test>", b"DATA"):
            sock.sendall(command + b"\r\n")
            replies_seen.append(read_reply(sock))
        sock.sendall(payload + b"\r\n.\r\n")
        final = read_reply(sock)
        sock.sendall(b"QUIT\r\n")
        after = read_reply(sock)
    assert replies_seen[-1].startswith(b"354")
    assert final.decode() == ascii_reply(replies.BARE_LINE_ENDING) + "\r\n"
    assert after.startswith(b"221")  # the smuggled commands were data, not commands
    assert smtp_hub.hub.read_sync(messages.count_messages) == 0
