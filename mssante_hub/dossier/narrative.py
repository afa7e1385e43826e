"""A safe HTML rendering of a CDA document's narrative (the human-readable `section/text` blocks).

The CDA is hostile input: it is parsed under safexml's limits and the HTML is *built*, never
copied: each narrative element of a short allow-list becomes a fixed HTML tag with no
attribute at all, every text is escaped, and everything else (renderMultiMedia, linkHtml's
href, styles, ids, any script or external reference) is dropped, keeping its text only when
it is text. The result needs no sanitiser: nothing from the document reaches the page as markup.
"""

from __future__ import annotations

import html
from xml.etree.ElementTree import Element

from mssante_hub.dossier import cda, safexml

# CDA narrative block elements (urn:hl7-org:v3) -> the HTML tag written for them.
_TAGS = {
    "paragraph": "p", "br": "br", "list": "ul", "item": "li", "table": "table", "thead": "thead",
    "tbody": "tbody", "tfoot": "tfoot", "tr": "tr", "th": "th", "td": "td", "caption": "caption",
    "content": "span", "sub": "sub", "sup": "sup", "linkHtml": "span", "footnote": "small",
}
_ORDERED_LIST = "ordered"
_DROPPED = {"renderMultiMedia", "footnoteRef", "col", "colgroup"}
MAX_HTML_CHARS = 2 * 1024 * 1024  # a rendering larger than this is cut (a record of many pages, say)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1] if tag.startswith(f"{{{cda.HL7}}}") else ""


def _block(element: Element, out: list[str]) -> None:
    name = _local(element.tag)
    if name in _DROPPED or not name:
        return
    tag = _TAGS.get(name)
    if name == "list" and (element.get("listType") or "") == _ORDERED_LIST:
        tag = "ol"
    if tag == "br":
        out.append("<br>")
        return
    if tag:
        out.append(f"<{tag}>")
    if element.text:
        out.append(html.escape(element.text))
    for child in element:
        _block(child, out)
        if child.tail:
            out.append(html.escape(child.tail))
    if tag:
        out.append(f"</{tag}>")


def _section(section: Element, out: list[str], depth: int) -> None:
    title = section.find(f"{{{cda.HL7}}}title")
    if title is not None:
        heading = min(2 + depth, 6)
        out.append(f"<h{heading}>{html.escape(' '.join(''.join(title.itertext()).split()))}</h{heading}>")
    text = section.find(f"{{{cda.HL7}}}text")
    if text is not None:
        out.append("<div>")
        if text.text:
            out.append(html.escape(text.text))
        for child in text:
            _block(child, out)
            if child.tail:
                out.append(html.escape(child.tail))
        out.append("</div>")
    for inner in section.iterfind(f"{{{cda.HL7}}}component/{{{cda.HL7}}}section"):
        _section(inner, out, depth + 1)


def render(data: bytes) -> str:
    """The narrative of a level-3 CDA as inert HTML ("" for a level-1 document: its PDF is the text)."""
    root = safexml.parse(data, cda.CDA_LIMITS)
    out: list[str] = []
    body = root.find(f"{{{cda.HL7}}}component/{{{cda.HL7}}}structuredBody")
    if body is None:
        return ""
    for section in body.iterfind(f"{{{cda.HL7}}}component/{{{cda.HL7}}}section"):
        _section(section, out, 0)
    rendered = "".join(out)
    return rendered[:MAX_HTML_CHARS]
