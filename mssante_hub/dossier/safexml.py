"""XML from outside, parsed under limits: no DTD, no entities, bounded size, depth and element count.

Every XML document the dossier reads (XDM metadata, CDA) comes from a sender we do not
control; defusedxml refuses DTDs and entities (billion laughs, external entities) and this
module adds what it does not bound: the number of bytes, the nesting depth and the number
of elements, counted while expat reads, so a hostile document is refused part-way through.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import defusedxml
import defusedxml.ElementTree as SafeET


class XmlRefused(ValueError):
    """The XML is malformed, declares a DTD or entities, or exceeds a limit (no content in the message)."""


@dataclass(frozen=True)
class XmlLimits:
    max_bytes: int
    max_depth: int
    max_elements: int


def parse(data: bytes, limits: XmlLimits, stop_at: str | None = None) -> ET.Element:
    """The root element, or XmlRefused.

    `stop_at` is a Clark-notation tag (`{ns}local`): reading ends when such an element
    starts as a child of the root, leaving its siblings before it complete. The CDA header
    reader uses it to skip the body, which can be most of the document.
    """
    if len(data) > limits.max_bytes:
        raise XmlRefused("document larger than the limit")
    root: ET.Element | None = None
    depth = elements = 0
    try:
        for event, element in SafeET.iterparse(io.BytesIO(data), events=("start", "end"), forbid_dtd=True,
                                                forbid_entities=True, forbid_external=True):
            if event == "end":
                depth -= 1
                continue
            depth += 1
            elements += 1
            if root is None:
                root = element
            if depth > limits.max_depth:
                raise XmlRefused("nesting deeper than the limit")
            if elements > limits.max_elements:
                raise XmlRefused("more elements than the limit")
            if depth == 2 and stop_at is not None and element.tag == stop_at:
                break
    except XmlRefused:
        raise
    except defusedxml.DefusedXmlException as exc:
        raise XmlRefused(f"forbidden construct ({type(exc).__name__})") from None
    except (ET.ParseError, ValueError, UnicodeError, LookupError) as exc:
        # The parser's message can quote the document (line contents): keep the type only. LookupError is an
        # encoding the XML declaration names and Python does not know (found by tests/fuzz).
        raise XmlRefused(f"not well-formed XML ({type(exc).__name__})") from None
    if root is None:
        raise XmlRefused("no root element")
    return root
