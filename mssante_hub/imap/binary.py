"""FETCH BINARY[part]<partial>, BINARY.PEEK and BINARY.SIZE (RFC 3516): a part's content with its
content-transfer-encoding undone, so that a client need not decode base64 or quoted-printable itself.

Runs where FETCH answers are built (the read pool), on the MIME tree of mimetree.py. Decoding is
bounded by the message, itself bounded at APPEND or delivery. An encoding this module does not know
fails the FETCH with `NO [UNKNOWN-CTE]` (the RFC's MUST); data holding a NUL octet is sent as a
literal8 (`~{n}`), anything else as an ordinary literal.
"""

from __future__ import annotations

import binascii
import re

from mssante_hub.imap import mimetree

NAMES = (b"BINARY", b"BINARY.PEEK", b"BINARY.SIZE")
IDENTITY = frozenset({b"7bit", b"8bit", b"binary"})  # no decoding to do (RFC 2045 §6.2)
# section-binary is a part number only (no HEADER, TEXT or MIME); partial's length is non-zero.
_ITEM = re.compile(rb"^(BINARY|BINARY\.PEEK|BINARY\.SIZE)\[(\d{1,4}(?:\.\d{1,4}){0,19})?\]"
                   rb"(?:<(\d{1,10})\.(\d{1,10})>)?$")
_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]")
_BARE_LF = re.compile(rb"(?<!\r)\n")


class UnknownEncoding(Exception):
    """The part's content-transfer-encoding is not one this server can undo."""


class BadItem(Exception):
    """A BINARY item that does not parse (the FETCH is BAD)."""


def is_binary_item(word: bytes) -> bool:
    return word.split(b"[", 1)[0] in NAMES


def parse_item(word: bytes) -> tuple[bytes, bytes, bool, tuple[int, int] | None]:
    """(name, section, peek, partial) of an upper-cased BINARY item; name is BINARY or BINARY.SIZE."""
    found = _ITEM.match(word)
    if not found:
        raise BadItem()
    kind, section = found[1], found[2] or b""
    partial = (int(found[3]), int(found[4])) if found[3] else None
    if partial is not None and (kind == b"BINARY.SIZE" or partial[1] == 0):
        raise BadItem()
    name = b"BINARY.SIZE" if kind == b"BINARY.SIZE" else b"BINARY"
    return name, section, kind != b"BINARY", partial


def decoded(entity: mimetree.Entity | None, raw: bytes, section: bytes) -> bytes | None:
    """The content of part `section` ("1.2"), decoded; the whole message as stored for "" (BINARY[]).
    None for a part the message does not have."""
    if not section:
        return raw
    try:
        target = mimetree.part(entity, [int(n) for n in section.split(b".")])
    except mimetree.NoSuchPart:
        return None
    encoding = (target.get(b"content-transfer-encoding") or b"7bit").strip().lower()
    body = target.body
    if encoding in IDENTITY:
        return body
    if encoding == b"base64":
        data = _base64(body)
        if target.content_type[0] == b"text":
            data = _BARE_LF.sub(b"\r\n", data)  # RFC 3516 §6: text goes out with CRLF line ends
        return data
    if encoding == b"quoted-printable":
        return binascii.a2b_qp(body)
    raise UnknownEncoding()


def _base64(body: bytes) -> bytes:
    """Lenient, as mail readers are: characters outside the alphabet are skipped, padding supplied."""
    text = _NOT_BASE64.sub(b"", body.split(b"=", 1)[0])
    rest = len(text) % 4
    if rest == 1:
        text = text[:-1]  # one character alone carries no whole octet
    elif rest:
        text += b"=" * (4 - rest)
    return binascii.a2b_base64(text)


def answer(name: bytes, section: bytes, partial: tuple[int, int] | None, entity, raw: bytes) -> bytes:
    """The FETCH response item: `BINARY[s]<o> {n}`/`~{n}` data, or `BINARY.SIZE[s] n`."""
    data = decoded(entity, raw, section)
    if name == b"BINARY.SIZE":
        return b"BINARY.SIZE[%s] %d" % (section, len(data) if data is not None else 0)
    label = b"BINARY[%s]" % section
    if data is None:
        return label + b" NIL"
    if partial is not None:
        start, length = partial
        data = data[start:start + length]
        label += b"<%d>" % start
    marker = b"~" if b"\x00" in data else b""
    return b"%s %s{%d}\r\n%s" % (label, marker, len(data), data)
