"""The MX of the trust space, driven by smtplib over real TLS with a throw-away CA."""

from __future__ import annotations

import smtplib

import pytest

from mssante_hub.reader import read_folder
from mssante_hub.smtp import replies
from tests.smtp.messages import message
from tests.smtp.support import HOSPITAL_DOMAIN, REMOTE_DOMAIN

DPI = f"dpi@{HOSPITAL_DOMAIN}"
JEAN = "jean.dupont@hub.test"


def tls_client(smtp_hub, pki, leaf) -> smtplib.SMTP:
    client = smtplib.SMTP("127.0.0.1", smtp_hub.port("mx"), timeout=30)
    client.ehlo("dpi.hopital.test")
    client.starttls(context=pki.client_context(leaf))
    client.ehlo("dpi.hopital.test")
    return client


def reply(code: int, text: bytes) -> str:
    return f"{code} {text.decode()}"


def ascii_reply(constant: str) -> str:
    import unicodedata
    return unicodedata.normalize("NFKD", constant).encode("ascii", "ignore").decode()


def test_a_whitelisted_hospital_system_delivers_to_a_local_professional(smtp_hub, pki):
    with tls_client(smtp_hub, pki, pki.hospital) as client:
        refused = client.sendmail(DPI, [JEAN], message(DPI, JEAN, subject="CR hospitalisation"))
    assert refused == {}
    inbox = read_folder(smtp_hub.hub, JEAN)
    assert [m.summary["subject"] for m in inbox] == ["CR hospitalisation"]
    assert inbox[0].raw.startswith(b"Received: from dpi.hopital.test")


@pytest.mark.parametrize("leaf_name, sender, expected", [
    ("hospital", "x@not-on-the-list.test", replies.SENDER_DOMAIN_NOT_WHITELISTED),
    ("remote", DPI, replies.DN_NOT_LISTED),  # listed DN, but for another domain
    ("stranger", DPI, replies.DN_NOT_LISTED),
    ("expired", DPI, replies.CERTIFICATE_EXPIRED),
    (None, DPI, replies.NO_CLIENT_CERTIFICATE),
])
def test_the_trust_space_refuses_with_an_explicit_5xx(smtp_hub, pki, leaf_name, sender, expected):
    leaf = getattr(pki, leaf_name) if leaf_name else None
    with tls_client(smtp_hub, pki, leaf) as client:
        code, text = client.mail(sender)
    assert reply(code, text) == ascii_reply(expected)
    assert code >= 500
    assert read_folder(smtp_hub.hub, JEAN) == []


def test_mail_before_starttls_is_refused(smtp_hub):
    with smtplib.SMTP("127.0.0.1", smtp_hub.port("mx"), timeout=30) as client:
        client.ehlo("x")
        assert "starttls" in client.esmtp_features
        code, text = client.mail(DPI)
    assert reply(code, text) == ascii_reply(replies.NEED_STARTTLS)


def test_mx_is_not_an_open_relay(smtp_hub, pki):
    with tls_client(smtp_hub, pki, pki.hospital) as client:
        assert client.mail(DPI)[0] == 250
        code, text = client.rcpt(f"someone@{REMOTE_DOMAIN}")
    assert reply(code, text) == ascii_reply(replies.RELAY_DENIED)


def test_unknown_local_recipient_is_refused_at_rcpt(smtp_hub, pki):
    with tls_client(smtp_hub, pki, pki.hospital) as client:
        client.mail(DPI)
        code, _ = client.rcpt("nobody@hub.test")
    assert code == 550


def test_ehlo_advertises_the_extensions(smtp_hub, pki):
    with tls_client(smtp_hub, pki, pki.hospital) as client:
        features = client.esmtp_features
    for name in ("size", "8bitmime", "smtputf8", "pipelining", "enhancedstatuscodes", "dsn"):
        assert name in features, name
    assert features["size"] == str(smtp_hub.hub.config.get("limits.max_message_bytes"))
    assert "auth" not in features


@pytest.mark.parametrize("smtp_settings", [{"mx.trusted_networks": ["127.0.0.0/8"]}])
def test_trusted_networks_deliver_locally_without_tls_but_never_relay(smtp_hub):
    with smtplib.SMTP("127.0.0.1", smtp_hub.port("mx"), timeout=30) as client:
        assert client.sendmail("app@interne.test", [JEAN], message("app@interne.test", JEAN)) == {}
        client.mail("app@interne.test")
        code, _ = client.rcpt(f"someone@{REMOTE_DOMAIN}")
    assert code == 554
    assert len(read_folder(smtp_hub.hub, JEAN)) == 1


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_tls_below_1_2_is_refused(smtp_hub, pki):
    import ssl

    context = pki.client_context(pki.hospital)
    context.minimum_version = ssl.TLSVersion.TLSv1
    context.maximum_version = ssl.TLSVersion.TLSv1_1
    context.set_ciphers("DEFAULT:@SECLEVEL=0")  # this client really offers TLS 1.1 (it works with a lax server)
    with smtplib.SMTP("127.0.0.1", smtp_hub.port("mx"), timeout=30) as client:
        client.ehlo("x")
        with pytest.raises((ssl.SSLError, smtplib.SMTPServerDisconnected, ConnectionError)):
            client.starttls(context=context)
    with tls_client(smtp_hub, pki, pki.hospital) as client:  # and the server keeps serving
        assert client.noop()[0] == 250
