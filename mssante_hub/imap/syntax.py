"""IMAP syntax: tokens, sequence sets, mailbox names, dates. Every input is hostile.

Nesting depth and the number of ranges in a sequence set are bounded; a modified
UTF-7 mailbox name must round-trip exactly, or it is refused.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import re
import unicodedata

import twisted.mail.imap4  # noqa: F401 - registers the "imap4-utf-7" codec

MAX_NESTING = 32  # parentheses and brackets in one command
MAX_SEQUENCE_RANGES = 10_000  # ranges in one sequence set
MAX_MAILBOX_NAME = 400  # characters, as the folders table holds


class SyntaxProblem(Exception):
    """The command cannot be parsed; the message says why (sent with BAD)."""


class Atom(bytes):
    """An unquoted token (NIL, flags, command names, fetch items)."""


class String(bytes):
    """A quoted string or a literal."""


class Literal(String):
    """A string sent as a literal ({n}): APPEND tells a message (a literal) from a date-time (quoted)."""


class Literal8(bytes):
    """A literal8 (~{n}, RFC 3516): any octets, NUL included; valid as APPEND data only, so not a String
    (any other command given one answers BAD)."""


_ATOM_END = set(b' ()"{')
# Atoms whose brackets enclose a section that may hold spaces and parentheses (FETCH's
# BODY[HEADER.FIELDS (A B)]); elsewhere "[" is an atom character like any other (RFC 3501 §9:
# a mailbox name such as "a[b" is an astring, and must not swallow the rest of the line).
_SECTION_ATOMS = {b"BODY", b"BODY.PEEK", b"BINARY", b"BINARY.PEEK", b"BINARY.SIZE"}


def tokenize(segments: list[bytes]) -> list:
    """Tokens of one command: Atom, String, and nested lists of them.

    `segments` alternate lines and literals, as framing.Command holds them.
    Brackets inside an atom (BODY[HEADER.FIELDS (A B)]<0.10>) stay part of it.
    """
    stack: list[list] = [[]]
    for index in range(0, len(segments), 2):
        line = segments[index]
        literal = segments[index + 1] if index + 1 < len(segments) else None
        body = line
        binary = False
        if literal is not None:
            found = re.search(rb"\{\d+\+?\}$", line)
            body = line[: found.start()]
            binary = body.endswith(b"~") and (len(body) == 1 or body[-2:-1] in b" (")
            if binary:
                body = body[:-1]
        _scan(body, stack)
        if literal is not None:
            stack[-1].append(Literal8(literal) if binary else Literal(literal))
    if len(stack) != 1:
        raise SyntaxProblem("unbalanced parentheses")
    return stack[0]


def _scan(line: bytes, stack: list[list]) -> None:
    i, n = 0, len(line)
    while i < n:
        c = line[i]
        if c == 0x20:
            i += 1
        elif c == 0x28:  # (
            if len(stack) > MAX_NESTING:
                raise SyntaxProblem("too deeply nested")
            new: list = []
            stack[-1].append(new)
            stack.append(new)
            i += 1
        elif c == 0x29:  # )
            if len(stack) == 1:
                raise SyntaxProblem("unbalanced parentheses")
            stack.pop()
            i += 1
        elif c == 0x22:  # "
            out = bytearray()
            i += 1
            while True:
                if i >= n:
                    raise SyntaxProblem("unterminated quoted string")
                c = line[i]
                if c == 0x5C and i + 1 < n:
                    out.append(line[i + 1])
                    i += 2
                elif c == 0x22:
                    i += 1
                    break
                else:
                    out.append(c)
                    i += 1
            stack[-1].append(String(out))
        elif c == 0x7B:  # { not at the end of a line
            raise SyntaxProblem("misplaced literal")
        else:
            start, depth = i, 0
            while i < n and (depth or line[i] not in _ATOM_END):
                if line[i] == 0x5B and (depth or line[start:i].upper() in _SECTION_ATOMS):
                    depth += 1
                    if depth > MAX_NESTING:
                        raise SyntaxProblem("too deeply nested")
                elif line[i] == 0x5D and depth:
                    depth -= 1
                i += 1
            stack[-1].append(Atom(line[start:i]))


def is_atom(token, word: bytes | None = None) -> bool:
    return isinstance(token, Atom) and (word is None or token.upper() == word)


def astring(token) -> bytes:
    if isinstance(token, (Atom, String)):
        return bytes(token)
    raise SyntaxProblem("string expected")


def number(token) -> int:
    if isinstance(token, Atom) and token.isdigit() and len(token) < 20:
        return int(token)
    raise SyntaxProblem("number expected")


# --- sequence sets -------------------------------------------------------------

def parse_sequence_set(text: bytes, largest: int) -> list[tuple[int, int]]:
    """Sorted, merged (low, high) ranges; '*' is `largest` (the last sequence number or UID).

    Ranges beyond `largest` are kept: the caller intersects with what exists.
    """
    if not text or not isinstance(text, bytes):
        raise SyntaxProblem("sequence set expected")
    parts = text.split(b",")
    if len(parts) > MAX_SEQUENCE_RANGES:
        raise SyntaxProblem("too many ranges")
    ranges = []
    for part in parts:
        low, sep, high = part.partition(b":")
        a = _seq_number(low, largest)
        b = _seq_number(high, largest) if sep else a
        ranges.append((min(a, b), max(a, b)))
    ranges.sort()
    merged: list[tuple[int, int]] = []
    for low, high in ranges:
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return merged


def _seq_number(text: bytes, largest: int) -> int:
    if text == b"*":
        return max(largest, 1) if largest else 0
    if not text.isdigit() or len(text) > 10 or int(text) == 0 or int(text) > 0xFFFFFFFF:
        raise SyntaxProblem("invalid sequence number")
    return int(text)


def in_ranges(value: int, ranges: list[tuple[int, int]]) -> bool:
    import bisect

    i = bisect.bisect_right(ranges, (value, float("inf"))) - 1
    return i >= 0 and ranges[i][0] <= value <= ranges[i][1]


def format_uid_set(uids: list[int]) -> bytes:
    """Compact UID set (1:3,7) of sorted UIDs, as UIDPLUS responses carry."""
    out, start, prev = [], None, None
    for uid in uids:
        if start is None:
            start = prev = uid
        elif uid == prev + 1:
            prev = uid
        else:
            out.append(b"%d" % start if start == prev else b"%d:%d" % (start, prev))
            start = prev = uid
    if start is not None:
        out.append(b"%d" % start if start == prev else b"%d:%d" % (start, prev))
    return b",".join(out)


# --- mailbox names ---------------------------------------------------------------

_PRINTABLE = re.compile(rb"^[\x20-\x7e]*$")


# Set by the session for each command it runs (its own asyncio task): True once the client enabled
# IMAP4rev2 or UTF8=ACCEPT, when mailbox names travel as UTF-8 rather than modified UTF-7.
UTF8_NAMES: contextvars.ContextVar[bool] = contextvars.ContextVar("imap_utf8_names", default=False)
_NOT_IN_NAMES = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")  # controls (RFC 5198: Net-Unicode)


def mailbox_text(raw: bytes) -> str:
    """The text of a mailbox name or LIST pattern from the wire, in the session's encoding."""
    if UTF8_NAMES.get():
        try:
            return unicodedata.normalize("NFC", raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise SyntaxProblem("bad mailbox name") from None
    try:
        return raw.decode("imap4-utf-7")
    except (UnicodeDecodeError, ValueError):
        raise SyntaxProblem("bad mailbox name") from None


def decode_mailbox(raw: bytes) -> str:
    """A mailbox name from the wire (modified UTF-7, RFC 3501 §5.1.3, or UTF-8 once enabled), strictly."""
    if UTF8_NAMES.get():
        name = mailbox_text(raw)
        if not name or len(name) > MAX_MAILBOX_NAME or _NOT_IN_NAMES.search(name):
            raise SyntaxProblem("bad mailbox name")
        return "INBOX" if name.upper() == "INBOX" else name
    if not raw or not _PRINTABLE.match(raw):
        raise SyntaxProblem("bad mailbox name")
    try:
        name = raw.decode("imap4-utf-7")
    except (UnicodeDecodeError, ValueError):
        raise SyntaxProblem("bad mailbox name") from None
    if encode_mailbox(name) != raw or len(name) > MAX_MAILBOX_NAME or any(ord(ch) < 0x20 for ch in name):
        raise SyntaxProblem("bad mailbox name")
    if name.upper() == "INBOX":
        return "INBOX"
    return name


def encode_mailbox(name: str) -> bytes:
    return name.encode("utf-8") if UTF8_NAMES.get() else name.encode("imap4-utf-7")


# --- dates -------------------------------------------------------------------------

_MONTHS = {m: i + 1 for i, m in enumerate(
    [b"JAN", b"FEB", b"MAR", b"APR", b"MAY", b"JUN", b"JUL", b"AUG", b"SEP", b"OCT", b"NOV", b"DEC"])}
_DATE_TIME = re.compile(rb"^ ?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)$")
_DATE = re.compile(rb"^(\d{1,2})-([A-Za-z]{3})-(\d{4})$")


def parse_date_time(text: bytes) -> dt.datetime:
    """An APPEND date-time ("17-Jul-1996 02:44:25 -0700")."""
    found = _DATE_TIME.match(text)
    month = _MONTHS.get(found[2].upper()) if found else None
    if not found or month is None:
        raise SyntaxProblem("bad date-time")
    offset = dt.timedelta(hours=int(found[8]), minutes=int(found[9]))
    tz = dt.timezone(-offset if found[7] == b"-" else offset)
    try:
        return dt.datetime(int(found[3]), month, int(found[1]), int(found[4]), int(found[5]), int(found[6]),
                           tzinfo=tz)
    except ValueError:
        raise SyntaxProblem("bad date-time") from None


def parse_date(text: bytes) -> dt.date:
    """A SEARCH date ("1-Feb-1994")."""
    found = _DATE.match(text)
    month = _MONTHS.get(found[2].upper()) if found else None
    if not found or month is None:
        raise SyntaxProblem("bad date")
    try:
        return dt.date(int(found[3]), month, int(found[1]))
    except ValueError:
        raise SyntaxProblem("bad date") from None


def format_date_time(value: dt.datetime) -> bytes:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    month = [k for k, v in _MONTHS.items() if v == value.month][0].title()
    offset = value.utcoffset() or dt.timedelta()
    sign = b"-" if offset < dt.timedelta() else b"+"
    minutes = abs(int(offset.total_seconds())) // 60
    return b'"%2d-%s-%04d %02d:%02d:%02d %s%02d%02d"' % (
        value.day, month, value.year, value.hour, value.minute, value.second, sign, minutes // 60, minutes % 60)
