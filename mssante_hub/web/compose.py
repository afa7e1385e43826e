"""A message written in the webmail, from its JSON form to RFC 5322 bytes (email package).

Every field is checked before a header is built: no line breaks or control
characters in headers (header injection), addresses that parse as one address,
bounded lengths and counts, attachments as base64 of bounded size. What the
message may contain for its sender (patients' attachment types and budget) is
policy's business, on the one delivery path.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import email.policy
import email.utils
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from typing import Any

from mssante_hub.web.http import ApiError
from mssante_hub.envelope import MAX_ADDRESS_CHARS

MAX_SUBJECT_CHARS = 500
MAX_FILENAME_CHARS = 255
MAX_MESSAGE_ID_CHARS = 998
MAX_ATTACHMENTS = 20


def _invalid(field: str) -> ApiError:
    return ApiError(422, "invalid_field", f"Champ invalide : {field}", f"Invalid field: {field}")


def _text(value: Any, field: str, limit: int, *, header: bool = True) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise _invalid(field)
    if header and any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise _invalid(field)
    return value


def _address(value: Any, field: str) -> str:
    text = _text(value, field, MAX_ADDRESS_CHARS).strip()
    name, parsed = email.utils.parseaddr(text)
    local, at, domain = parsed.rpartition("@")
    if name or parsed != text or not at or not local or "." not in domain or any(c.isspace() for c in parsed):
        raise _invalid(field)
    return parsed.lower()


def _addresses(value: Any, field: str, limit: int, required: bool) -> list[str]:
    if value is None and not required:
        return []
    if not isinstance(value, list) or len(value) > limit or (required and not value):
        raise _invalid(field)
    return [_address(item, field) for item in value]


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


def _attachments(value: Any, max_bytes: int) -> list[Attachment]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_ATTACHMENTS:
        raise _invalid("attachments")
    found = []
    for item in value:
        if not isinstance(item, dict):
            raise _invalid("attachments")
        filename = _text(item.get("filename"), "attachments.filename", MAX_FILENAME_CHARS).strip()
        ctype = _text(item.get("content_type", "application/octet-stream"), "attachments.content_type", 100)
        maintype, slash, subtype = ctype.lower().partition("/")
        if not filename or "/" in filename or "\\" in filename or not slash or not maintype or not subtype:
            raise _invalid("attachments")
        encoded = item.get("content_base64")
        if not isinstance(encoded, str) or len(encoded) > max_bytes * 4 // 3 + 4:
            raise _invalid("attachments.content_base64")
        try:
            data = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise _invalid("attachments.content_base64") from None
        found.append(Attachment(filename, f"{maintype}/{subtype}", data))
    return found


@dataclass(frozen=True)
class Draft:
    to: list[str]
    cc: list[str]
    subject: str
    body: str
    in_reply_to: str
    attachments: list[Attachment]

    @property
    def recipients(self) -> list[str]:
        return self.to + self.cc


def draft_from_json(value: dict[str, Any], max_recipients: int, max_bytes: int) -> Draft:
    """Validate the JSON of a message to send, or ApiError naming the bad field."""
    to = _addresses(value.get("to"), "to", max_recipients, required=True)
    cc = _addresses(value.get("cc"), "cc", max_recipients, required=False)
    subject = _text(value.get("subject", ""), "subject", MAX_SUBJECT_CHARS)
    body = _text(value.get("body", ""), "body", max_bytes, header=False)
    in_reply_to = _text(value.get("in_reply_to", ""), "in_reply_to", MAX_MESSAGE_ID_CHARS).strip()
    if in_reply_to and not (in_reply_to.startswith("<") and in_reply_to.endswith(">") and " " not in in_reply_to):
        raise _invalid("in_reply_to")
    return Draft(to, cc, subject, body, in_reply_to, _attachments(value.get("attachments"), max_bytes))


def build_message(draft: Draft, sender: str, sender_name: str, now: dt.datetime | None = None) -> tuple[bytes, str]:
    """The message's bytes (CRLF line endings) and its Message-ID."""
    message = EmailMessage(policy=email.policy.SMTP)
    local, _, domain = sender.rpartition("@")
    message["From"] = Address(display_name=sender_name, username=local, domain=domain)
    message["To"] = ", ".join(draft.to)
    if draft.cc:
        message["Cc"] = ", ".join(draft.cc)
    message["Subject"] = draft.subject
    message["Date"] = email.utils.format_datetime(now or dt.datetime.now(dt.timezone.utc))
    message_id = email.utils.make_msgid(domain=domain)
    message["Message-ID"] = message_id
    if draft.in_reply_to:
        message["In-Reply-To"] = draft.in_reply_to
        message["References"] = draft.in_reply_to
    message.set_content(draft.body)
    for item in draft.attachments:
        maintype, _, subtype = item.content_type.partition("/")
        message.add_attachment(item.data, maintype=maintype, subtype=subtype, filename=item.filename)
    return message.as_bytes(), message_id
