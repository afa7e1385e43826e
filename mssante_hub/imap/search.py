"""SEARCH (and ESEARCH, RFC 4731) run in the database.

Flags, dates, sizes, UIDs and MODSEQ become SQL. Header criteria open only the
small encrypted summaries (subject, from, to, cc, date, ids); BODY and TEXT open
bodies, and only of the messages SQL has not already ruled out.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import email.utils
from dataclasses import dataclass

from sqlalchemy import and_, not_, or_, select

from mssante_hub.reader import Reader
from mssante_hub.imap import acl, responses, wire
from mssante_hub.imap.messages import SAVED_RESULT, enable_condstore
from mssante_hub.imap.server import SELECTED, Bad, No, Session, command
from mssante_hub.imap.syntax import Atom, String, format_uid_set, is_atom, number, parse_date, parse_sequence_set
from storage.messages import has_flag, uid_condition
from storage.models import Blob, Message, WrappedKey

FLAG_KEYS = {b"ANSWERED": ("\\Answered", True), b"DELETED": ("\\Deleted", True), b"DRAFT": ("\\Draft", True),
             b"FLAGGED": ("\\Flagged", True), b"SEEN": ("\\Seen", True), b"UNANSWERED": ("\\Answered", False),
             b"UNDELETED": ("\\Deleted", False), b"UNDRAFT": ("\\Draft", False), b"UNFLAGGED": ("\\Flagged", False),
             b"UNSEEN": ("\\Seen", False)}
SUMMARY_HEADERS = {b"FROM": "from", b"TO": "to", b"CC": "cc", b"SUBJECT": "subject"}
ADDRESS_FIELDS = {"from", "to", "cc", "bcc", "reply-to", "sender"}
SUMMARY_FIELDS = {"subject", "from", "to", "cc", "date", "message-id", "in-reply-to", "references", "reply-to"}
CHARSETS = {b"UTF-8", b"US-ASCII"}
MAX_KEYS = 200
ESEARCH_OPTIONS = {b"MIN", b"MAX", b"COUNT", b"ALL", b"SAVE"}


@dataclass
class Node:
    kind: str  # and, or, not, flag, uids, date, size, modseq, header, text, body, sent, all, none
    args: tuple = ()
    children: list["Node"] | None = None

    @property
    def needs(self) -> set[str]:
        if self.kind == "header":
            own = {"summary"} if self.args[0] in SUMMARY_FIELDS else {"body"}
        else:
            own = {"sent": {"summary"}, "text": {"body"}, "body": {"body"}}.get(self.kind, set())
        for child in self.children or []:
            own = own | child.needs
        return own


class _Parser:
    def __init__(self, tokens: list, s: Session, uid: bool) -> None:
        self.tokens, self.i, self.s, self.count = tokens, 0, s, 0

    def more(self) -> bool:
        return self.i < len(self.tokens)

    def take(self):
        if not self.more():
            raise Bad(responses.BAD_SYNTAX)
        self.i += 1
        return self.tokens[self.i - 1]

    def string(self) -> str:
        token = self.take()
        if not isinstance(token, (Atom, String)):
            raise Bad(responses.BAD_SYNTAX)
        return bytes(token).decode("utf-8", "replace")

    def key(self) -> Node:
        self.count += 1
        if self.count > MAX_KEYS:
            raise Bad(responses.BAD_SYNTAX)
        token = self.take()
        if isinstance(token, list):
            sub = _Parser(token, self.s, False)
            sub.count = self.count
            nodes = []
            while sub.more():
                nodes.append(sub.key())
            self.count = sub.count
            return Node("and", children=nodes)
        if not isinstance(token, Atom):
            raise Bad(responses.BAD_SYNTAX)
        word = token.upper()
        view = self.s.selected
        if word == b"ALL":
            return Node("all")
        if word in FLAG_KEYS:
            return Node("flag", FLAG_KEYS[word])
        if word in (b"KEYWORD", b"UNKEYWORD"):
            return Node("flag", (self.string(), word == b"KEYWORD"))
        if word in (b"NEW", b"OLD", b"RECENT"):
            recent = Node("uids", (_ranges(sorted(view.recent)),))
            if word == b"RECENT":
                return recent
            if word == b"OLD":
                return Node("not", children=[recent])
            return Node("and", children=[recent, Node("flag", ("\\Seen", False))])
        if word == b"NOT":
            return Node("not", children=[self.key()])
        if word == b"OR":
            return Node("or", children=[self.key(), self.key()])
        if word in (b"BEFORE", b"ON", b"SINCE", b"SENTBEFORE", b"SENTON", b"SENTSINCE"):
            date = parse_date(bytes(self.take()))
            if word.startswith(b"SENT"):
                return Node("sent", (word[4:].decode().lower(), date))
            return Node("date", (word.decode().lower(), date))
        if word in (b"LARGER", b"SMALLER"):
            return Node("size", (word == b"LARGER", number(self.take())))
        if word == b"MODSEQ":
            value = self.take()
            if isinstance(value, String):  # entry-name and type, then the number
                self.take()
                value = self.take()
            enable_condstore(self.s)
            return Node("modseq", (number(value),))
        if word == b"UID":
            uids = self.take()
            if uids == SAVED_RESULT:
                return Node("uids", (self.s.saved_result,))
            return Node("uids", (parse_sequence_set(bytes(uids), view.largest(True)),))
        if word in SUMMARY_HEADERS:
            return Node("header", (SUMMARY_HEADERS[word], self.string()))
        if word == b"BCC":
            return Node("header", ("bcc", self.string()))
        if word == b"HEADER":
            name = self.string().lower()
            return Node("header", (name, self.string()))
        if word in (b"BODY", b"TEXT"):
            return Node(word.decode().lower(), (self.string(),))
        if token == SAVED_RESULT:
            return Node("uids", (self.s.saved_result,))
        if token[:1].isdigit() or token[:1] == b"*":
            ranges = parse_sequence_set(bytes(token), view.largest(False))
            return Node("uids", (_ranges(view.select(ranges, False)),))
        raise Bad(responses.BAD_SYNTAX)


def _ranges(uids: list[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for uid in uids:
        if out and uid == out[-1][1] + 1:
            out[-1] = (out[-1][0], uid)
        else:
            out.append((uid, uid))
    return out


def _day(date: dt.date) -> dt.datetime:
    return dt.datetime(date.year, date.month, date.day, tzinfo=dt.timezone.utc)


def to_sql(node: Node):
    """SQL for a node, or None if it needs decrypted content."""
    k, a = node.kind, node.args
    if k == "all":
        return Message.uid > 0
    if k == "flag":
        return has_flag(a[0]) if a[1] else not_(has_flag(a[0]))
    if k == "uids":
        return uid_condition(a[0])
    if k == "date":
        start, end = _day(a[1]), _day(a[1]) + dt.timedelta(days=1)
        return {"before": Message.internal_date < start, "since": Message.internal_date >= start,
                "on": and_(Message.internal_date >= start, Message.internal_date < end)}[a[0]]
    if k == "size":
        return Message.size > a[1] if a[0] else Message.size < a[1]
    if k == "modseq":
        return Message.modseq >= a[0]
    if k in ("and", "or", "not"):
        parts = [to_sql(c) for c in node.children]
        if any(p is None for p in parts):
            return None
        if k == "not":
            return not_(parts[0])
        if not parts:
            return Message.uid > 0
        return and_(*parts) if k == "and" else or_(*parts)
    return None


class _Row:
    """One candidate message, with its summary and body opened only if asked."""

    def __init__(self, row, reader: Reader) -> None:
        self.row, self.reader, self._key = row, reader, None
        self._summary: dict | None = None
        self._message = None

    def key(self) -> bytes:
        if self._key is None:
            self._key = self.reader.key(self.row)
        return self._key

    def summary(self) -> dict:
        if self._summary is None:
            self._summary = self.reader.summary(self.row, self.key())
        return self._summary

    def message(self):
        if self._message is None:
            raw = self.reader.body(self.row, self.key())
            self._message = email.message_from_bytes(raw, policy=email.policy.default)
        return self._message

    def body_text(self) -> str:
        texts = []
        for part in self.message().walk():
            if part.get_content_maintype() == "text":
                try:
                    texts.append(part.get_content())
                except (LookupError, ValueError):
                    texts.append(str(part.get_payload()))
        return "\n".join(texts)

    def header_text(self, name: str) -> str:
        if name in SUMMARY_FIELDS:
            return self.summary().get(name, "")
        return " ".join(str(v) for v in self.message().get_all(name, []))


def matches(node: Node, r: _Row) -> bool:
    k, a, row = node.kind, node.args, r.row
    if k == "all":
        return True
    if k == "and":
        return all(matches(c, r) for c in node.children)
    if k == "or":
        return any(matches(c, r) for c in node.children)
    if k == "not":
        return not matches(node.children[0], r)
    if k == "flag":
        return (a[0].lower() in {f.lower() for f in row.flags.split()}) == a[1]
    if k == "uids":
        from mssante_hub.imap.syntax import in_ranges

        return in_ranges(row.uid, a[0])
    if k == "date":
        day = row.internal_date.astimezone(dt.timezone.utc).date() if row.internal_date.tzinfo else \
            row.internal_date.date()
        return {"before": day < a[1], "on": day == a[1], "since": day >= a[1]}[a[0]]
    if k == "size":
        return row.size > a[1] if a[0] else row.size < a[1]
    if k == "modseq":
        return row.modseq >= a[0]
    if k == "header":
        needle, text = a[1].casefold(), r.header_text(a[0])
        if needle in text.casefold():
            return True
        # An address field also matches its addresses as written without comments or folding
        # (`<user (comment)@ (comment) domain.org>` contains "user@domain.org").
        return a[0] in ADDRESS_FIELDS and needle in _normalized_addresses(text).casefold()
    if k == "sent":
        try:
            day = email.utils.parsedate_to_datetime(r.summary().get("date", "")).date()
        except (TypeError, ValueError):
            return False
        return {"before": day < a[1], "on": day == a[1], "since": day >= a[1]}[a[0]]
    if k == "body":
        return a[0].casefold() in r.body_text().casefold()
    if k == "text":
        headers = " ".join(f"{n}: {v}" for n, v in r.message().items())
        return a[0].casefold() in (headers + "\n" + r.body_text()).casefold()
    return False


def _normalized_addresses(text: str) -> str:
    return ", ".join(f"{name} <{address}>" if name else address for name, address in email.utils.getaddresses([text]))


def run(conn, folder_id: int, reader_id: int, reader: Reader, tree: Node) -> list[tuple[int, int]]:
    """(uid, modseq) of matching messages, ascending."""
    where = to_sql(tree)
    residual = None
    if where is None and tree.kind == "and":
        sql_parts = [p for p in (to_sql(c) for c in tree.children) if p is not None]
        residual = Node("and", children=[c for c in tree.children if to_sql(c) is None])
        where = and_(*sql_parts) if sql_parts else None
    elif where is None:
        residual = tree
    needs = residual.needs if residual else set()
    columns = [Message.uid, Message.flags, Message.internal_date, Message.size, Message.modseq, Message.blob_id]
    query = select(Message.uid, Message.modseq)  # all in SQL: nothing else is looked at
    if residual is not None:
        query = select(*columns, WrappedKey.wrapped, Blob.summary, *([Blob.body] if "body" in needs else [])) \
            .join(Blob, Blob.id == Message.blob_id) \
            .outerjoin(WrappedKey, and_(WrappedKey.blob_id == Blob.id, WrappedKey.account_id == reader_id))
    query = query.where(Message.folder_id == folder_id)
    if where is not None:
        query = query.where(where)
    out = []
    for row in conn.execute(query.order_by(Message.uid)):
        if residual is None or (row.wrapped is not None and matches(residual, _Row(row, reader))):
            out.append((row.uid, row.modseq))
    return out


def parse_criteria(s: Session, args: list, uid: bool) -> Node:
    """The search-key tree of SEARCH (and of SORT and THREAD, after their own arguments)."""
    if not args:
        raise Bad(responses.BAD_SYNTAX)
    parser = _Parser(args, s, uid)
    nodes = []
    while parser.more():
        nodes.append(parser.key())
    return nodes[0] if len(nodes) == 1 else Node("and", children=nodes)


def check_charset(token) -> None:
    """SORT and THREAD name a charset (RFC 5256 §3); SEARCH's CHARSET says the same."""
    if not isinstance(token, (Atom, String)):
        raise Bad(responses.BAD_SYNTAX)
    if bytes(token).upper() not in CHARSETS:
        raise No(responses.NO_SEARCH_CHARSET)


@command("SEARCH", SELECTED)
async def search(s: Session, tag: bytes, args: list, uid: bool) -> bytes:
    options = None
    if len(args) >= 2 and is_atom(args[0], b"RETURN") and isinstance(args[1], list):
        options = [o.upper() for o in args[1] if isinstance(o, Atom)] or [b"ALL"]
        if any(o not in ESEARCH_OPTIONS for o in options):
            raise Bad(responses.BAD_SYNTAX)
        args = args[2:]
    elif s.rev2:
        options = [b"ALL"]  # RFC 9051 §6.4.4: a SEARCH without RETURN is answered in ESEARCH form, as ALL
    if len(args) >= 2 and is_atom(args[0], b"CHARSET"):
        if bytes(args[1]).upper() not in CHARSETS:
            raise No(responses.NO_SEARCH_CHARSET)
        args = args[2:]
    save = options is not None and b"SAVE" in options
    try:
        tree = parse_criteria(s, args, uid)  # may name $, the result saved before this one
        view = s.selected
        reader_id, reader = view.owner.id, acl.reader_of(s, view.owner)
        found = await s.hub.read(lambda conn: run(conn, view.id, reader_id, reader, tree))
    except BaseException:
        if save:
            s.saved_result = []  # RFC 5182 §2.1: a SEARCH that fails leaves nothing saved
        raise
    found = [(u, m) for u, m in found if view.seq_of(u) is not None]
    numbers = [u if uid else view.seq_of(u) for u, _ in found]
    modseq = max((m for _, m in found), default=0) if "modseq" in _kinds(tree) else None
    if save:
        kept = [u for u, _ in found]
        if kept and not {b"ALL", b"COUNT"} & set(options) and {b"MIN", b"MAX"} & set(options):
            # SAVE with MIN and/or MAX alone keeps just those messages (RFC 5182 §2.1).
            kept = sorted({kept[0] if o == b"MIN" else kept[-1] for o in options if o in (b"MIN", b"MAX")})
        s.saved_result = _ranges(kept)
        options = [o for o in options if o != b"SAVE"]
        if not options:
            return responses.OK_DONE  # SAVE alone: no ESEARCH response
    if options is None:
        line = b"SEARCH" + b"".join(b" %d" % n for n in numbers)
        if modseq and numbers:
            line += b" (MODSEQ %d)" % modseq
        s.untagged(line)
    else:
        parts = [b"(TAG " + wire.string(tag) + b")"] + ([b"UID"] if uid else [])
        if numbers:
            if b"MIN" in options:
                parts.append(b"MIN %d" % min(numbers))
            if b"MAX" in options:
                parts.append(b"MAX %d" % max(numbers))
            if b"ALL" in options:
                parts.append(b"ALL " + format_uid_set(sorted(numbers)))
        if b"COUNT" in options:
            parts.append(b"COUNT %d" % len(numbers))
        if modseq and numbers:
            parts.append(b"MODSEQ %d" % modseq)
        s.untagged(b"ESEARCH " + b" ".join(parts))
    return responses.OK_DONE


def _kinds(node: Node) -> set[str]:
    out = {node.kind}
    for child in node.children or []:
        out |= _kinds(child)
    return out

