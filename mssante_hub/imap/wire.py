"""How values go back to the client: NIL, numbers, quoted strings, literals, lists.

A value that is not plain printable ASCII (a raw UTF-8 header, say) is sent as a
literal, which may carry any octet but NUL: clients then get the bytes unharmed.
"""

from __future__ import annotations

import re

_QUOTABLE = re.compile(rb"^[\x20-\x7e]{0,1000}$")


class Raw(bytes):
    """Already formatted: goes out as is (atoms, flags, nested answers built elsewhere)."""


def string(value: bytes | str | None) -> bytes:
    if value is None:
        return b"NIL"
    if isinstance(value, str):
        value = value.encode("utf-8", "surrogateescape")
    value = value.replace(b"\x00", b"")
    if _QUOTABLE.match(value):
        return b'"' + value.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
    return b"{%d}\r\n%b" % (len(value), value)


def value(item) -> bytes:
    if item is None:
        return b"NIL"
    if isinstance(item, Raw):
        return bytes(item)
    if isinstance(item, bool):
        raise TypeError("no booleans in IMAP")
    if isinstance(item, int):
        return b"%d" % item
    if isinstance(item, (bytes, str)):
        return string(item)
    return b"(" + b" ".join(value(i) for i in item) + b")"


def flag_list(flags) -> bytes:
    return b"(" + b" ".join(f.encode() if isinstance(f, str) else f for f in flags) + b")"
