"""What the webmail shows of a stored message: headers, the plain text, the attachments.

The email package reads the decrypted bytes; nothing is rendered as HTML. An
HTML-only message shows no text (the pages would have to sanitise it first).
"""

from __future__ import annotations

import email
import email.policy
import re
import unicodedata
from typing import Any

MAX_FILENAME_CHARS = 120
_UNSAFE_FILENAME = re.compile(r'[^\w .()+-]')


def _message(raw: bytes):
    return email.message_from_bytes(raw, policy=email.policy.default)


def _header(message, name: str) -> str:
    try:
        return str(message.get(name, ""))
    except (ValueError, TypeError):  # a header the policy cannot fold into text
        return ""


def rendered(raw: bytes, folder: str, date: str) -> dict[str, Any]:
    """Headers, the text to show and the attachments' names, types and sizes."""
    message = _message(raw)
    text_part = message.get_body(preferencelist=("plain",))
    try:
        text = text_part.get_content() if text_part is not None else ""
    except (LookupError, UnicodeError, ValueError):
        text = ""
    attachments = []
    for part in message.iter_attachments():
        payload = part.get_payload(decode=True) or b""
        attachments.append({"filename": part.get_filename() or "", "content_type": part.get_content_type(),
                            "size": len(payload)})
    return {"folder": folder, "date": date, "from": _header(message, "From"), "to": _header(message, "To"),
            "cc": _header(message, "Cc"), "subject": _header(message, "Subject"),
            "message_id": _header(message, "Message-ID"), "text": text, "attachments": attachments}


def safe_filename(filename: str) -> str:
    """An ASCII name fit for a Content-Disposition header: no quotes, slashes or control characters."""
    ascii_name = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()
    cleaned = _UNSAFE_FILENAME.sub("_", ascii_name).strip(" .")[:MAX_FILENAME_CHARS]
    return cleaned or "piece-jointe"
