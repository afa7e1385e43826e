"""The activity log on stderr: it says what the hub does (listeners, sessions, sign-ins, deliveries, refusals,
relay attempts) and never what a message says nor a secret, even at the debug level."""

from __future__ import annotations

import imaplib
import os
import re
import smtplib
import ssl
import time
import uuid

from mssante_hub.config import Config
from mssante_hub.directory.whitelist import install
from mssante_hub.hub import Hub
from tests.conftest import add_professional, make_data_dir
from tests.support.mail import make_message
from tests.smtp.support import whitelist_xml
from tests.support.served import run_cli, served
from tests.test_no_plaintext import markers_for

LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARNING|ERROR) [\w.]+: \S")


def unverified() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # the data folder's self-signed certificate
    return context


def test_the_log_tells_the_activity_and_holds_no_marker_nor_secret(tmp_path):
    data_dir = make_data_dir(tmp_path)
    run = uuid.uuid4().hex[:10].upper()
    password = f"mot de passe {run}"
    config = Config.load(data_dir)
    config.set("mx.trusted_networks", ["127.0.0.0/8"])
    config.set("relay.routes", ["confrere.test=127.0.0.1:9"])  # nothing listens there: a failed attempt
    config.set("relay.retry_schedule_s", [3600])
    config.set("log.level", "debug")  # the most the log ever says
    config.save()
    listed = tmp_path / "liste.xml"  # the other operator's domain is in the trust space
    listed.write_bytes(whitelist_xml([("confrere.test", "CN=mx.confrere.test,O=Confrere")]))
    install(listed, config.path_setting("mx.whitelist_file"))
    hub = Hub.open(data_dir)
    reader = add_professional(hub, "dr.journal", password=password)
    hub.close()
    needles = [run.encode()]
    with served(data_dir, ["mx", "submission", "imaps"]) as server:
        with smtplib.SMTP("127.0.0.1", server.port("mx"), timeout=30) as client:
            for n in range(5):
                subject, body, filename = markers_for(run, n)
                needles += [subject.encode(), body.encode(), filename.encode()]
                raw = make_message("dpi@chu.example", reader, f"Compte rendu {subject}", f"Texte {body}",
                                   attachment=(f"{filename}.pdf", os.urandom(128)))
                client.sendmail("dpi@chu.example", [reader], raw)
            refused = make_message("dpi@chu.example", reader, f"Trop {run}", "x" * 1000)
            try:  # a refused message: unknown recipient
                client.sendmail("dpi@chu.example", [f"inconnu{run.lower()}@hub.test"], refused)
            except smtplib.SMTPRecipientsRefused:
                pass
        with smtplib.SMTP("127.0.0.1", server.port("submission"), timeout=30) as client:
            client.starttls(context=unverified())
            try:
                client.login(reader, f"faux {password}")
            except smtplib.SMTPAuthenticationError:
                pass
        with smtplib.SMTP("127.0.0.1", server.port("submission"), timeout=30) as client:
            client.starttls(context=unverified())
            client.login(reader, password)
            subject, body, _ = markers_for(run, 99)
            needles += [subject.encode(), body.encode()]
            client.sendmail(reader, ["confrere@confrere.test"],
                            make_message(reader, "confrere@confrere.test", f"Avis {subject}", f"Texte {body}"))
        imap = imaplib.IMAP4_SSL("127.0.0.1", server.port("imaps"), ssl_context=unverified(), timeout=30)
        imap.login(reader, password)
        imap.select("INBOX")
        imap.logout()
        relay_tried = False
        for _ in range(600):  # the relay worker is woken by the delivery; wait for its line
            if "relay item" in server.log():
                relay_tried = True
                break
            time.sleep(0.05)
        assert server.stop() == 0
        log = server.log()
    assert relay_tried, log
    lines = log.splitlines()
    assert lines and all(LINE.match(line) for line in lines), [l for l in lines if not LINE.match(l)][:5]
    for expected in ("listening mx 127.0.0.1:", "session opened on mx from 127.0.0.1", "delivered on mx: id ",
                     "session opened on submission from 127.0.0.1", "auth.failure refused",
                     "auth.success ok account:", "delivered on submission: id ", "relay item ",
                     "IMAP session opened from 127.0.0.1 (TLS)", f"IMAP session from 127.0.0.1 closed ({reader})",
                     "stopping: closing listeners"):
        assert expected in log, expected
    assert "recipient refused on mx from 127.0.0.1: 550 5.1.1" in log
    assert [n for n in needles + [password.encode()] if n in log.encode()] == []


def test_the_level_is_a_setting_and_a_serve_option(data_dir):
    bad = run_cli("config", "set", "--data-dir", str(data_dir), "log.level", "bavard")
    assert bad.returncode == 2 and "log level" in bad.stderr
    assert run_cli("config", "set", "--data-dir", str(data_dir), "log.level", "warning").returncode == 0
    with served(data_dir, ["web"]) as server:
        assert server.stop() == 0
        assert "listening web" not in server.log()  # warning: nothing to say about a clean run
    refused = run_cli("serve", "--data-dir", str(data_dir), "--log-level", "loud")
    assert refused.returncode == 2


def test_an_exception_is_logged_by_its_type_never_its_text():
    import io
    import logging

    from mssante_hub.admin import logs

    stream = io.StringIO()
    handler = logs.setup("debug", stream)
    try:
        log = logging.getLogger("mssante_hub.test")
        try:
            raise ValueError("Objet: compte rendu SECRET-CONTENT")
        except ValueError as exc:
            log.exception("parsing failed")
            log.error("parsing failed: %r", exc)
            log.error("parsing failed: %s", exc)
        logging.getLogger("mail.log").debug("AUTH PLAIN SECRET-CONTENT")  # aiosmtpd's dialogue stays out
    finally:
        logging.getLogger().removeHandler(handler)
    text = stream.getvalue()
    assert "SECRET-CONTENT" not in text
    assert text.count("ValueError") == 3 and "Traceback" not in text
