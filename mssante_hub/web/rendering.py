"""What the webmail shows of a stored message: headers, the text, safe HTML, the attachments.

The email package reads the decrypted bytes. A message with a plain-text part is
shown as that text. An HTML-only message is sanitised here, on the server, with
nh3 (the Rust `ammonia` sanitiser): an allow-list of harmless tags and
attributes, no script, no style, no form, no image or any other element that
would fetch remote content (a tracking pixel tells the sender when the patient
read the message), links given `rel="noopener noreferrer nofollow"`. The page
inserts the result under its strict CSP, which would block script anyway.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
import unicodedata
from typing import Any

import nh3

MAX_FILENAME_CHARS = 120
_UNSAFE_FILENAME = re.compile(r'[^\w .()+-]')
# docs/domain.md §4.2: user interfaces do not show this prefix of a document message's subject.
DOCUMENT_SUBJECT_PREFIX = "XDM/1.0/DDM+"
# Largest HTML part sanitised (characters); past it the message shows its attachments and a note.
MAX_HTML_CHARS = 2 * 1024 * 1024
# What sanitised HTML may keep: text structure and links. No img/video/audio/picture/iframe/object
# (remote content), no style/link (CSS can fetch url()), no form or input (phishing), no script.
HTML_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "dd", "del", "div", "dl", "dt", "em",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "ins", "kbd", "li", "ol", "p", "pre", "q", "s", "small",
    "span", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
})
HTML_ATTRIBUTES = {"a": {"href", "title"}, "td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan", "scope"},
                   "abbr": {"title"}, "*": {"lang", "dir"}}
HTML_URL_SCHEMES = frozenset({"https", "http", "mailto", "tel"})
_REMOTE_CONTENT = re.compile(r"<\s*(img|image|video|audio|source|picture|iframe|object|embed|link)\b|url\s*\(",
                             re.IGNORECASE)


def _message(raw: bytes):
    return email.message_from_bytes(raw, policy=email.policy.default)


def _header(message, name: str) -> str:
    try:
        return str(message.get(name, ""))
    except (ValueError, TypeError):  # a header the policy cannot fold into text
        return ""


def iso(value: dt.datetime) -> str:
    """ISO 8601 with its offset: the store's times are UTC, and SQLite hands them back naive."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc).isoformat()


def shown_subject(subject: str) -> tuple[str, str]:
    """The subject as shown, and the document's label when it is a document message (else "")."""
    stripped = subject.strip()
    if not stripped[:len(DOCUMENT_SUBJECT_PREFIX)].upper() == DOCUMENT_SUBJECT_PREFIX:
        return subject, ""
    rest = stripped[len(DOCUMENT_SUBJECT_PREFIX):].strip()
    label = rest.split(" ", 1)[0] if rest else ""
    return rest, label


def has_attachments(content_type: str) -> bool:
    """From the listing summary's Content-Type: a mixed multipart (or a lone non-text part) carries files."""
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind == "multipart/mixed" or (bool(kind) and not kind.startswith(("text/", "multipart/")))


def sanitised_html(html: str) -> tuple[str, bool]:
    """Safe HTML to insert in the page, and whether remote content was removed."""
    html = html[:MAX_HTML_CHARS]
    blocked = bool(_REMOTE_CONTENT.search(html))
    clean = nh3.clean(html, tags=set(HTML_TAGS), attributes={k: set(v) for k, v in HTML_ATTRIBUTES.items()},
                      url_schemes=set(HTML_URL_SCHEMES), link_rel="noopener noreferrer nofollow",
                      set_tag_attribute_values={"a": {"target": "_blank"}},  # never navigate the space away
                      strip_comments=True)
    return clean, blocked


def _content(part) -> str:
    try:
        return part.get_content() if part is not None else ""
    except (LookupError, UnicodeError, ValueError, KeyError, AssertionError):
        return ""


def rendered(raw: bytes, folder: str, date: str) -> dict[str, Any]:
    """Headers, the text or safe HTML to show and the attachments' names, types and sizes."""
    message = _message(raw)
    text = _content(message.get_body(preferencelist=("plain",)))
    html, remote_blocked = "", False
    if not text:
        html_part = message.get_body(preferencelist=("html",))
        if html_part is not None:
            html, remote_blocked = sanitised_html(_content(html_part))
    attachments = []
    for part in message.iter_attachments():
        payload = part.get_payload(decode=True) or b""
        attachments.append({"filename": part.get_filename() or "", "content_type": part.get_content_type(),
                            "size": len(payload)})
    subject = _header(message, "Subject")
    shown, document = shown_subject(subject)
    return {"folder": folder, "date": date, "from": _header(message, "From"), "to": _header(message, "To"),
            "cc": _header(message, "Cc"), "reply_to": _header(message, "Reply-To"), "subject": shown,
            "document": document, "message_id": _header(message, "Message-ID"), "text": text, "html": html,
            "remote_content_blocked": remote_blocked, "attachments": attachments}


def safe_filename(filename: str) -> str:
    """An ASCII name fit for a Content-Disposition header: no quotes, slashes or control characters."""
    ascii_name = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()
    cleaned = _UNSAFE_FILENAME.sub("_", ascii_name).strip(" .")[:MAX_FILENAME_CHARS]
    return cleaned or "piece-jointe"
