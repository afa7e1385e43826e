"""A message's MIME tree over its raw bytes: ENVELOPE, BODYSTRUCTURE, BODY[section].

Works on the bytes themselves (not on a re-serialised email object), so that
sizes and sections are exact and raw UTF-8 headers pass through unharmed.
"""

from __future__ import annotations

import email.utils
import re
from dataclasses import dataclass, field

from mssante_hub.imap.wire import Raw, value as wire_value
# The header split and unfolding are mime.py's: the ENVELOPE kept in a summary is read the same way.
from mssante_hub.mime import raw_fields, split_header

MAX_DEPTH = 20  # messages were checked at delivery; this guards the recursion all the same
_PARAM = re.compile(rb';\s*([^\s=;]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s]*)')


@dataclass
class Entity:
    header: bytes  # the header section, with its final blank line
    body: bytes
    fields: list[tuple[bytes, bytes]]  # (lower-case name, unfolded value)
    children: list["Entity"] = field(default_factory=list)
    message: "Entity | None" = None  # the enclosed message of a message/rfc822 part

    def get(self, name: bytes) -> bytes | None:
        for key, value in self.fields:
            if key == name:
                return value
        return None

    @property
    def content_type(self) -> tuple[bytes, bytes, list[tuple[bytes, bytes]]]:
        raw = self.get(b"content-type") or b"text/plain; charset=us-ascii"
        main = raw.split(b";", 1)[0].strip().lower()
        kind, _, sub = main.partition(b"/")
        if not kind or not sub:
            kind, sub = b"text", b"plain"
        return kind, sub, [(k.lower(), _unquote(v)) for k, v in _PARAM.findall(raw)]


def _unquote(value: bytes) -> bytes:
    if value[:1] == b'"' and value[-1:] == b'"':
        return re.sub(rb"\\(.)", rb"\1", value[1:-1])
    return value


def parse(raw: bytes, depth: int = 0) -> Entity:
    header, body = split_header(raw)
    entity = Entity(header, body, raw_fields(header))
    if depth >= MAX_DEPTH:
        return entity
    kind, sub, params = entity.content_type
    if kind == b"multipart":
        boundary = dict(params).get(b"boundary")
        if boundary:
            entity.children = [parse(part, depth + 1) for part in _split(body, boundary)]
    elif kind == b"message" and sub in (b"rfc822", b"global"):
        entity.message = parse(body, depth + 1)
    return entity


def _split(body: bytes, boundary: bytes) -> list[bytes]:
    delimiter = re.compile(rb"(?:^|\r?\n)--" + re.escape(boundary) + rb"(--)?[ \t]*(?:\r?\n|$)")
    parts, start = [], None
    for found in delimiter.finditer(body):
        if start is not None:
            parts.append(body[start:found.start()])
        if found.group(1):
            return parts
        start = found.end()
    if start is not None:
        parts.append(body[start:])
    return parts


# --- ENVELOPE ------------------------------------------------------------------------

def _split_groups(text: str) -> list[tuple[str | None, str]]:
    """(group name or None, address-list text) pieces of an RFC 5322 address-list: a group is
    `name: members;`. Quoted strings, comments and angle addresses are skipped over, so a colon
    or semicolon inside them is not taken for group syntax."""
    pieces: list[tuple[str | None, str]] = []
    start, group, depth, angle, quoted, i = 0, None, 0, False, False, 0
    while i < len(text):
        ch = text[i]
        if quoted:
            if ch == "\\":
                i += 1
            elif ch == '"':
                quoted = False
        elif depth:
            if ch == "\\":
                i += 1
            elif ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
        elif ch == '"':
            quoted = True
        elif ch == "(":
            depth = 1
        elif ch == "<":
            angle = True
        elif ch == ">":
            angle = False
        elif ch == ":" and not angle and group is None:
            cut = text.rfind(",", start, i)  # the group's name follows the last address before it
            if cut >= 0:
                pieces.append((None, text[start:cut]))
            group, start = text[cut + 1 if cut >= 0 else start:i].strip(), i + 1
        elif ch == ";" and not angle and group is not None:
            pieces.append((group, text[start:i]))
            group, start = None, i + 1
        i += 1
    pieces.append((group, text[start:]))  # an unterminated group ends with the field
    return [(g, t) for g, t in pieces if g is not None or t.strip(" ,")]


def _mailboxes(text: str) -> list:
    out = []
    for name, address in email.utils.getaddresses([text]):
        local, _, domain = address.rpartition("@") if "@" in address else (address, "", "")
        if not local and not domain:
            continue
        out.append([name or None, None, local, domain or None])
    return out


def _addresses(value: bytes | None):
    """An ENVELOPE address list; a group as RFC 3501 §7.4.2 marks it: (NIL NIL "name" NIL) before
    its members, (NIL NIL NIL NIL) after them."""
    if not value:
        return None
    text = value.decode("utf-8", "surrogateescape")
    out = []
    for group, members in _split_groups(text):
        if group is not None:
            out.append([None, None, group, None])
        out += _mailboxes(members)
        if group is not None:
            out.append([None, None, None, None])
    return out or None


def envelope(entity: Entity, addresses=_addresses) -> list:
    get = entity.get
    sender = get(b"sender") or get(b"from")
    reply_to = get(b"reply-to") or get(b"from")
    return [get(b"date"), get(b"subject"), addresses(get(b"from")), addresses(sender), addresses(reply_to),
            addresses(get(b"to")), addresses(get(b"cc")), addresses(get(b"bcc")), get(b"in-reply-to"),
            get(b"message-id")]


def summary_envelope(fields: dict[str, str], memo: dict | None = None) -> list:
    """ENVELOPE from the raw fields a summary keeps (mime.envelope_fields): what the body would give.

    `memo`: address lists already formatted, by field value, for the messages of one answer (a dossier's
    items share their sender and recipient: parsing addresses is most of the cost of a listing)."""
    def addresses(value: bytes | None):
        if memo is None:
            return _addresses(value)
        found = memo.get(value, memo)
        if found is memo:
            parsed = _addresses(value)
            found = memo[value] = None if parsed is None else Raw(wire_value(parsed))
        return found
    return envelope(Entity(b"", b"", [(name.encode(), value.encode()) for name, value in fields.items()]), addresses)


# --- BODYSTRUCTURE -------------------------------------------------------------------

def _params(params: list[tuple[bytes, bytes]], skip: tuple[bytes, ...] = ()):
    flat = [x for k, v in params if k not in skip for x in (k.upper(), v)]
    return flat or None


def _disposition(entity: Entity):
    raw = entity.get(b"content-disposition")
    if not raw:
        return None
    kind = raw.split(b";", 1)[0].strip()
    return [kind.upper(), _params([(k.lower(), _unquote(v)) for k, v in _PARAM.findall(raw)])]


def body_structure(entity: Entity, extended: bool = True) -> list:
    kind, sub, params = entity.content_type
    if entity.children:
        out = [body_structure(child, extended) for child in entity.children]
        out.append(sub.upper())
        if extended:
            out += [_params(params), _disposition(entity), entity.get(b"content-language"), None]
        return out
    encoding = (entity.get(b"content-transfer-encoding") or b"7BIT").upper()
    out = [kind.upper(), sub.upper(), _params(params), entity.get(b"content-id"),
           entity.get(b"content-description"), encoding, len(entity.body)]
    if entity.message is not None:
        out += [envelope(entity.message), body_structure(entity.message, extended), _lines(entity.body)]
    elif kind == b"text":
        out.append(_lines(entity.body))
    if extended:
        out += [entity.get(b"content-md5"), _disposition(entity), entity.get(b"content-language"), None]
    return out


def _lines(body: bytes) -> int:
    return body.count(b"\n") + (1 if body and not body.endswith(b"\n") else 0)


# --- BODY[section] -------------------------------------------------------------------

class NoSuchPart(Exception):
    pass


def part(entity: Entity, numbers: list[int]) -> Entity:
    """The body part at a part number path (1.2.3) of RFC 3501 §6.4.5.

    Numbers index the parts of a message's body: the children of a multipart, or the one
    part a non-multipart body is (the message entity itself, whose `body` is then the
    part's content). A message/rfc822 part is numbered as a part (BODY[n] is the whole
    encapsulated message), and its subparts n.1, n.2 ... are the parts of that message.
    """
    current, is_message = entity, True  # the top level is a message
    for n in numbers:
        if not is_message and current.message is not None:
            current, is_message = current.message, True  # into the encapsulated message
        if current.children:
            if not 1 <= n <= len(current.children):
                raise NoSuchPart()
            current = current.children[n - 1]
        elif not is_message or n != 1:
            raise NoSuchPart()  # a leaf has no subparts; a single-part body has only part 1
        is_message = False
    return current


def header_fields(entity: Entity, names: list[bytes], exclude: bool) -> bytes:
    """The raw header lines of the named fields (or all but them), and the blank line."""
    wanted = {n.lower() for n in names}
    out, keep = [], False
    for line in re.split(rb"(?<=\n)", entity.header):
        if not line.strip():
            continue
        if line[:1] in (b" ", b"\t"):
            if keep:
                out.append(line)
            continue
        name = line.split(b":", 1)[0].strip().lower()
        keep = (name in wanted) != exclude
        if keep:
            out.append(line)
    return b"".join(out) + b"\r\n"


__all__ = ["Entity", "NoSuchPart", "Raw", "body_structure", "envelope", "header_fields", "parse", "part",
           "summary_envelope"]
