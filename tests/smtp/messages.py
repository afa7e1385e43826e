"""Small test messages (CRLF line endings, as on the wire)."""

from __future__ import annotations

import uuid


def message(sender: str, rcpt: str, subject: str = "Compte rendu", body: str = "Bonjour,\r\nCordialement.\r\n",
            extra_headers: str = "") -> bytes:
    return (f"From: {sender}\r\nTo: {rcpt}\r\nSubject: {subject}\r\nDate: Sun, 22 Nov 2026 10:00:00 +0000\r\n"
            f"Message-ID: <{uuid.uuid4().hex}@test>\r\n{extra_headers}MIME-Version: 1.0\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}").encode()
