"""RFC 3461 xtext, as carried by ENVID and ORCPT."""

from __future__ import annotations

import re

_HEX = re.compile(r"\+([0-9A-Fa-f]{2})")


def xtext_decode(value: str) -> str:
    return _HEX.sub(lambda m: chr(int(m[1], 16)), value)
