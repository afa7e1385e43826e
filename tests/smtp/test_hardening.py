"""Hardening of the SMTP doors (issue 11): what an outside review broke, each reproduced first."""

from __future__ import annotations

import pytest

from mssante_hub import mime
from mssante_hub.rules.refusals import MALFORMED_MIME, Refusal
from tests.smtp.test_mx import tls_client

JEAN = "jean.dupont@hub.test"
DPI = "dpi@hopital.test"
DEEP = 1000  # levels of nested multipart/mixed that made the recursive parser fail (RecursionError)


def nested_multiparts(sender: str, rcpt: str, depth: int) -> bytes:
    head = (f"From: {sender}\r\nTo: {rcpt}\r\nSubject: deep\r\nDate: Sun, 22 Nov 2026 10:00:00 +0000\r\n"
            f"Message-ID: <deep{depth}@test>\r\nMIME-Version: 1.0\r\n").encode()
    opening = b"".join(b"Content-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n--b%d\r\n" % (n, n)
                       for n in range(depth))
    closing = b"".join(b"\r\n--b%d--\r\n" % n for n in reversed(range(depth)))
    return head + opening + b"Content-Type: text/plain\r\n\r\nfond\r\n" + closing


LIMITS = mime.Limits(max_message_bytes=25 * 1024 * 1024, max_header_fields=500, max_header_bytes=256 * 1024,
                     max_line_bytes=1000, max_mime_parts=500, max_mime_depth=20)


@pytest.mark.parametrize("depth", [21, 300, DEEP, 5000])
def test_deep_mime_is_refused_before_the_recursive_parser(depth):
    with pytest.raises(Refusal) as refused:
        mime.parse(nested_multiparts(DPI, JEAN, depth), LIMITS)
    assert refused.value.reason is MALFORMED_MIME


def test_mime_nested_to_the_limit_is_accepted():
    mime.parse(nested_multiparts(DPI, JEAN, LIMITS.max_mime_depth), LIMITS)


def test_deep_mime_gets_a_permanent_refusal_over_mx(smtp_hub, pki):
    with tls_client(smtp_hub, pki, pki.hospital) as client:
        assert client.mail(DPI)[0] == 250
        assert client.rcpt(JEAN)[0] == 250
        code, text = client.data(nested_multiparts(DPI, JEAN, DEEP))
    assert (code, text.split(b" ", 1)[0]) == (554, b"5.6.0"), (code, text)
