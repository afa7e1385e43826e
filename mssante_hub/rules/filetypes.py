"""What a patient's attachment really is: its name, its declared type and its first bytes agree.

docs/domain.md §5.6 lists the file types a patient may attach by extension. An extension alone
says nothing: `report.pdf` declared `text/html` and holding a script reached professionals
as HTML. A part passes only if its declared type is one the extension allows (or the generic
`application/octet-stream` that many clients send) and its content starts as that format does.
"""

from __future__ import annotations

GENERIC_TYPE = "application/octet-stream"
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Word 97-2003 (.doc) and other compound files
TEXT_PROBE_BYTES = 4096  # how much of a .txt is looked at for markup and binary bytes

# extension -> (declared types allowed, magic prefixes; None: text, checked by _plain_text)
KINDS: dict[str, tuple[frozenset[str], tuple[bytes, ...] | None]] = {
    "jpg": (frozenset({"image/jpeg", "image/pjpeg"}), (b"\xff\xd8\xff",)),
    "jpeg": (frozenset({"image/jpeg", "image/pjpeg"}), (b"\xff\xd8\xff",)),
    "png": (frozenset({"image/png"}), (b"\x89PNG\r\n\x1a\n",)),
    "tiff": (frozenset({"image/tiff"}), (b"II*\x00", b"MM\x00*")),
    "pdf": (frozenset({"application/pdf"}), (b"%PDF-",)),
    "txt": (frozenset({"text/plain"}), None),
    "rtf": (frozenset({"application/rtf", "text/rtf"}), (b"{\\rtf",)),
    "doc": (frozenset({"application/msword"}), (OLE2,)),
}
_MARKUP = (b"<html", b"<script", b"<!doctype", b"<svg", b"<?xml", b"<body", b"<iframe")


def _plain_text(data: bytes) -> bool:
    head = data[:TEXT_PROBE_BYTES]
    if b"\x00" in head:
        return False
    lowered = head.lstrip().lower()
    return not any(marker in lowered for marker in _MARKUP)


def acceptable(extension: str, declared_type: str, data: bytes) -> bool:
    """True if a part named *.extension, declared `declared_type`, holding `data`, is what it says."""
    kind = KINDS.get(extension.lower())
    if kind is None:
        return False
    types, magics = kind
    declared = declared_type.lower()
    if declared != GENERIC_TYPE and declared not in types:
        return False
    if magics is None:
        return _plain_text(data)
    return any(data.startswith(m) for m in magics)
