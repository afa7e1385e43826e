"""Parse incoming mail under strict limits: every input is hostile until parsed.

Cheap byte-level checks run first (size, header section, line lengths, UTF-8), so a
hostile message is refused before the email package builds anything big from it.
"""

from __future__ import annotations

import email.errors
import email.policy
import re
from dataclasses import dataclass
from email.message import EmailMessage
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.parser import BytesParser

from mssante_hub.rules import refusals
from mssante_hub.rules.refusals import Refusal

_HEADER_END = re.compile(rb"\r?\n\r?\n")
_FIELD_NAME = re.compile(rb"^[!-9;-~]+[ \t]*:")  # RFC 5322 ftext, then the colon
# Defects after which the structure cannot be trusted; softer ones are tolerated,
# as real mail carries them.
_FATAL_DEFECTS = (
    email.errors.NoBoundaryInMultipartDefect,
    email.errors.StartBoundaryNotFoundDefect,
    email.errors.CloseBoundaryNotFoundDefect,
    email.errors.MultipartInvariantViolationDefect,
    email.errors.MissingHeaderBodySeparatorDefect,
    email.errors.InvalidMultipartContentTransferEncodingDefect,
)


@dataclass(frozen=True)
class Limits:
    max_message_bytes: int
    max_header_fields: int
    max_header_bytes: int
    max_line_bytes: int
    max_mime_parts: int
    max_mime_depth: int


def bare_line_ending(raw: bytes) -> bool:
    """True if a CR or LF stands alone (SMTP smuggling material, RFC 5321 §2.3.8)."""
    stripped = raw.replace(b"\r\n", b"")
    return b"\r" in stripped or b"\n" in stripped


def _check_header_section(header: bytes, limits: Limits, storing: bool = False) -> None:
    if len(header) > limits.max_header_bytes:
        raise Refusal(refusals.HEADER_TOO_BIG)
    if not storing:
        try:
            header.decode("utf-8")
        except UnicodeDecodeError:
            raise Refusal(refusals.HEADER_NOT_UTF8) from None
    fields = 0
    for line in header.splitlines():
        if line[:1] in (b" ", b"\t"):
            if fields == 0 and not storing:
                raise Refusal(refusals.MALFORMED_HEADER, "continuation before any field")
            continue
        if not _FIELD_NAME.match(line) and not storing:
            raise Refusal(refusals.MALFORMED_HEADER)
        fields += 1  # storing: any line counts, so the bound holds whatever the lines are
        if fields > limits.max_header_fields:
            raise Refusal(refusals.TOO_MANY_HEADERS)


def _has_long_line(raw: bytes, max_line_bytes: int) -> bool:
    """True if a line, CRLF included, exceeds the limit.

    A window of `max_line_bytes` from the start of a line holds that line's LF unless the line
    is too long; the last LF in the window (rfind, in C) is where the next window starts, so a
    window moves by about its own length (at least that much every two steps), not a line at a
    time, and nothing is copied or split: 31 us for 200 KB of short lines, where splitting them
    into line objects took 189 us (and a 25 MB message of short lines, millions of objects).
    """
    size = len(raw)
    if size + 2 <= max_line_bytes:
        return False
    start = 0  # the start of a line; every line before it is short enough
    while start + max_line_bytes <= size:
        newline = raw.rfind(b"\n", start, start + max_line_bytes)
        if newline < 0:
            return True
        start = newline + 1
    # Fewer than max_line_bytes left: only a last line without its CRLF can be too long (its CRLF counts).
    newline = raw.rfind(b"\n", start)
    tail = size - (newline + 1 if newline >= 0 else start)
    return tail > 0 and tail + 2 > max_line_bytes


def has_bare_line_ending(raw: bytes) -> bool:
    """True if a CR or LF stands alone; counts, so that a 25 MB message is not copied to find out."""
    pairs = raw.count(b"\r\n")
    return raw.count(b"\n") != pairs or raw.count(b"\r") != pairs


def pre_scan(raw: bytes, limits: Limits, storing: bool = False, crlf_only: bool = False) -> int | None:
    """Byte-level checks before any parsing; where the body starts (None: no blank line after the header).

    `storing`: the message is stored for its owner, not sent (see parse): header lines are not
    held to RFC 5322 field syntax nor to UTF-8; sizes, counts and line lengths are checked alike."""
    if len(raw) > limits.max_message_bytes:
        raise Refusal(refusals.MESSAGE_TOO_BIG)
    if crlf_only and has_bare_line_ending(raw):
        # RFC 5321 §2.3.8: a lone CR or LF is where SMTP smuggling hides. Checked here, off the event loop
        # (a third of a millisecond for 200 KB), for what came as SMTP DATA (Envelope.crlf_only).
        raise Refusal(refusals.BARE_LINE_ENDING)
    found = _HEADER_END.search(raw, 0, limits.max_header_bytes + 4)
    if found is None and len(raw) > limits.max_header_bytes:
        raise Refusal(refusals.HEADER_TOO_BIG)
    _check_header_section(raw[: found.start()] if found else raw, limits, storing)
    if _has_long_line(raw, limits.max_line_bytes):
        raise Refusal(refusals.LINE_TOO_LONG)
    return found.end() if found else None


# A Content-Type field (folded lines included) anywhere at the start of a line, and a boundary line.
_CONTENT_TYPE = re.compile(rb"^content-type:[ \t]*((?:[^\r\n]|\r?\n[ \t])*)", re.IGNORECASE | re.MULTILINE)
_CONTAINER = re.compile(rb"\s*(multipart|message)/", re.IGNORECASE)
_BOUNDARY = re.compile(rb';\s*boundary\s*=\s*(?:"([^"\r\n]{1,200})"|([^;\s"]{1,200}))', re.IGNORECASE)
_DELIMITER = re.compile(rb"^--([^\r\n]{1,202})\r?$", re.MULTILINE)


def _check_nesting(raw: bytes, max_depth: int) -> None:
    """Refuse nesting deeper than the limit before the email package's recursive parser sees it.

    That parser recurses once per nested multipart or message/*: about 1,000 levels exhaust
    Python's stack (RecursionError, which would be a temporary failure and a retry for days).
    Fewer containers than the limit cannot nest deeper: the common case costs one regex pass.
    Otherwise the containers and the boundary lines are walked in order, byte-level, as the
    parser would nest them (a delimiter of an enclosing part closes everything opened inside).
    """
    containers = [m for m in _CONTENT_TYPE.finditer(raw) if _CONTAINER.match(m[1])]
    if len(containers) <= max_depth:
        return
    events = [(m.start(), 0, m[1]) for m in containers]
    events += [(m.start(), 1, m[1]) for m in _DELIMITER.finditer(raw)]
    events.sort(key=lambda e: (e[0], e[1]))
    stack: list[bytes | None] = []  # open containers: a multipart's boundary, None for message/*
    for _, kind, value in events:
        if kind == 0:
            found = _BOUNDARY.search(value)
            stack.append((found[1] or found[2]) if found else None)
            if len(stack) > max_depth:
                raise Refusal(refusals.MALFORMED_MIME, "nesting too deep")
            continue
        closing = value.endswith(b"--") and value[:-2] in stack
        boundary = value[:-2] if closing else value
        if boundary not in stack:
            continue  # a line that happens to start with "--"
        while stack and stack[-1] != boundary:
            stack.pop()  # the parts nested in the one that just ended
        if closing:
            stack.pop()


# Storing only: a header line that is not a field makes the parser take the rest for the body.
# The stored bytes are what the client gave (IMAP reads them itself); the parse only feeds the summary.
_FATAL_WHEN_STORING = tuple(d for d in _FATAL_DEFECTS if d is not email.errors.MissingHeaderBodySeparatorDefect)


# The email package's header parser has inputs it fails on with an internal error instead of a defect (e.g. a
# parameter name ending in `*` with nothing after it: IndexError, found by tests/fuzz). A message whose
# structure the package cannot read is refused as malformed, permanently, not failed as a temporary error.
_PARSER_FAILURES = (IndexError, AttributeError, TypeError, ValueError, HeaderParseError)
# Fields with parameters that the hub reads later on every part (type, charset, file name): read once here.
_PARAMETER_FIELDS = ("Content-Type", "Content-Disposition")


def _walk(message: EmailMessage, limits: Limits, fatal: tuple = _FATAL_DEFECTS) -> None:
    parts = 0
    stack = [(message, 0)]
    while stack:
        part, depth = stack.pop()
        parts += 1
        if parts > limits.max_mime_parts:
            raise Refusal(refusals.TOO_MANY_PARTS)
        if depth > limits.max_mime_depth:
            raise Refusal(refusals.MALFORMED_MIME, "nesting too deep")
        if any(isinstance(d, fatal) for d in part.defects):
            raise Refusal(refusals.MALFORMED_MIME)
        if len(part.keys()) > limits.max_header_fields:
            raise Refusal(refusals.TOO_MANY_HEADERS)
        for field in _PARAMETER_FIELDS:
            if field in part:
                try:
                    part.get(field).params
                except _PARSER_FAILURES:
                    raise Refusal(refusals.MALFORMED_MIME, f"unreadable {field}") from None
        if part.is_multipart():
            payload = part.get_payload()
            if not isinstance(payload, list):
                raise Refusal(refusals.MALFORMED_MIME)
            stack.extend((child, depth + 1) for child in payload)


_MISSING = object()
# Content-Type lets a listing mark messages with attachments without opening their bodies.
SUMMARY_HEADERS = ("Subject", "From", "To", "Cc", "Date", "Message-ID", "In-Reply-To", "References", "Reply-To",
                   "Content-Type")


class ParsedMessage(EmailMessage):
    """An EmailMessage that parses each header field once.

    The default policy builds a header object (a full RFC 5322 parse) on every access;
    policy, notifications and classification ask for the same few fields many times.
    Parsed messages are never modified, but a change clears the cache all the same.
    """

    def get(self, name, failobj=None):
        cache = self.__dict__.setdefault("_parsed_headers", {})
        key = name.lower()
        if key not in cache:
            cache[key] = super().get(name, _MISSING)
        value = cache[key]
        return failobj if value is _MISSING else value

    def __setitem__(self, name, value) -> None:
        self.__dict__.pop("_parsed_headers", None)
        super().__setitem__(name, value)

    def __delitem__(self, name) -> None:
        self.__dict__.pop("_parsed_headers", None)
        super().__delitem__(name)


def parse(raw: bytes, limits: Limits, storing: bool = False, crlf_only: bool = False) -> ParsedMessage:
    """A parsed message, or Refusal with the reason.

    `storing`: the message goes into its owner's own folder (IMAP APPEND: drafts, imports,
    migrations; envelope.NOT_SENDING), not to someone else. RFC 3501 §6.3.11 has the server store
    what the client gives: the size and structure limits apply (they bound memory and work), the
    rules of delivery do not (From present, header lines in RFC 5322 field syntax, UTF-8 header).
    `crlf_only`: a bare CR or LF is refused (what came by SMTP).
    """
    body_start = pre_scan(raw, limits, storing, crlf_only)
    try:
        message = _parse(raw, body_start, limits)
    except _PARSER_FAILURES:
        raise Refusal(refusals.MALFORMED_MIME, "unreadable structure") from None
    _walk(message, limits, _FATAL_WHEN_STORING if storing else _FATAL_DEFECTS)
    if "From" not in message and not storing:  # presence only: message["From"] would parse the address list (costly)
        raise Refusal(refusals.MISSING_FROM)
    return message


def _parse(raw: bytes, body_start: int | None, limits: Limits) -> ParsedMessage:
    parser = BytesParser(_class=ParsedMessage, policy=email.policy.default)
    message = None
    if body_start is not None:
        # A single-part body is opaque to the parser, which would still walk it line by line
        # (1.7 ms for 200 KB): parse the header section alone and hand it the body as the parser
        # would (bytes as ASCII with surrogate escapes). Multiparts and message/* get the full parse.
        head = parser.parsebytes(raw[:body_start])
        if head.get_content_maintype() not in ("multipart", "message"):
            head.set_payload(raw[body_start:].decode("ascii", "surrogateescape"))
            message = head
    if message is None:
        _check_nesting(raw, limits.max_mime_depth)
        message = parser.parsebytes(raw)
    return message


def _decoded(raw_value: str) -> str:
    """A raw header value unfolded, its UTF-8 bytes and RFC 2047 encoded words decoded."""
    value = "".join(raw_value.splitlines())
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # the parser keeps 8-bit bytes as surrogates
        value = value.encode("ascii", "surrogateescape").decode("utf-8", "replace")
    if "=?" in value:
        try:
            value = str(make_header(decode_header(value)))
        except (HeaderParseError, email.errors.CharsetError, LookupError, UnicodeError, ValueError):
            # An encoded word naming a charset the email package refuses (CharsetError: a non-ASCII name,
            # found by tests/fuzz) is kept as written.
            pass
    return value.strip()


def summary_fields(message: EmailMessage) -> dict[str, str]:
    """What a mailbox listing and header SEARCH need; stored encrypted beside the body.

    Built from the raw fields (decoded text, first occurrence), not from header objects:
    cheaper by an order of magnitude and enough for listing and searching.
    """
    wanted = {name.lower(): name for name in SUMMARY_HEADERS}
    summary = dict.fromkeys((name.lower() for name in SUMMARY_HEADERS), "")
    for name, value in message.raw_items():
        key = name.lower()
        if key in wanted and not summary[key]:
            summary[key] = _decoded(value)
    return summary


# --- ENVELOPE in the summary ----------------------------------------------------------------------------
# IMAP's ENVELOPE (RFC 3501 §7.4.2) is built from these fields' raw values, first occurrence, unfolded as
# raw_fields unfolds them: kept in the summary, a listing of ENVELOPEs opens no body (imap/fetch.py). Values
# as written (not decoded): imap/mimetree.envelope makes the same answer from them as from the body.
ENVELOPE_KEY = "envelope"
ENVELOPE_FIELDS = (b"date", b"subject", b"from", b"sender", b"reply-to", b"to", b"cc", b"bcc", b"in-reply-to",
                   b"message-id")
MAX_ENVELOPE_BYTES = 16 * 1024  # larger: not kept, that body is opened to list it (headers go up to 256 KiB)


def split_header(raw: bytes) -> tuple[bytes, bytes]:
    """(header section with its final blank line, body); no blank line: all header."""
    found = _HEADER_END.search(raw)
    return (raw[: found.end()], raw[found.end():]) if found else (raw, b"")


def raw_fields(header: bytes) -> list[tuple[bytes, bytes]]:
    """(lower-case name, value) of each header field as written: folded lines joined by one space."""
    out: list[tuple[bytes, bytes]] = []
    for line in re.split(rb"\r?\n", header):
        if not line:
            continue
        if line[:1] in (b" ", b"\t") and out:
            name, value = out[-1]
            out[-1] = (name, value + b" " + line.strip())
        elif b":" in line:
            name, _, value = line.partition(b":")
            out.append((name.strip().lower(), value.strip()))
    return out


def envelope_fields(raw: bytes) -> dict[str, str] | None:
    """The ENVELOPE fields present in a message's header (first occurrence, raw), or None when they are
    not UTF-8 (a stored draft may have any bytes) or larger than MAX_ENVELOPE_BYTES."""
    found: dict[bytes, bytes] = {}
    for name, value in raw_fields(split_header(raw)[0]):
        if name in ENVELOPE_FIELDS and name not in found:
            found[name] = value
    if sum(len(v) for v in found.values()) > MAX_ENVELOPE_BYTES:
        return None
    try:
        return {name.decode("ascii"): value.decode("utf-8") for name, value in found.items()}
    except UnicodeDecodeError:
        return None


def with_envelope(summary: dict, raw: bytes) -> dict:
    """The summary, with the ENVELOPE fields of `raw` (the stored bytes) when they can be kept."""
    fields = envelope_fields(raw)
    if fields is not None:
        summary[ENVELOPE_KEY] = fields
    return summary
