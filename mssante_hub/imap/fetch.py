"""FETCH: which attributes were asked, and their answers built from the decrypted message.

Decryption, MIME parsing and formatting run in the read pool, off the event loop;
the plaintext lives only in memory for the time of the answer.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from dataclasses import dataclass

from mssante_hub.mime import ENVELOPE_KEY
from mssante_hub.reader import Reader
from mssante_hub.imap import acl, binary, envelopes, mimetree, qresync, responses, wire
from mssante_hub.imap.messages import enable_condstore, selected_uids
from mssante_hub.imap.server import SELECTED, Bad, No, Session, command
from mssante_hub.imap.syntax import Atom, format_date_time, is_atom, number, parse_sequence_set
from storage import messages

MACROS = {b"ALL": [b"FLAGS", b"INTERNALDATE", b"RFC822.SIZE", b"ENVELOPE"],
          b"FAST": [b"FLAGS", b"INTERNALDATE", b"RFC822.SIZE"],
          b"FULL": [b"FLAGS", b"INTERNALDATE", b"RFC822.SIZE", b"ENVELOPE", b"BODY"]}
SIMPLE = {b"FLAGS", b"UID", b"INTERNALDATE", b"RFC822.SIZE", b"ENVELOPE", b"BODY", b"BODYSTRUCTURE", b"RFC822",
          b"RFC822.HEADER", b"RFC822.TEXT", b"MODSEQ"}
NEEDS_BODY = {b"ENVELOPE", b"BODY", b"BODYSTRUCTURE", b"RFC822", b"RFC822.HEADER", b"RFC822.TEXT"}
SETS_SEEN = {b"RFC822", b"RFC822.TEXT"}
MAX_ITEMS = 50
BODY_BATCH = 16  # messages per read-pool trip when bodies are opened (FETCH answers written batch by batch)
BATCH_BYTES = 1024 * 1024  # and a batch's answers stop past this much (big messages: fewer per batch)
LISTING_BATCH = 1000  # the same without bodies: flags, dates and sizes only
SUMMARY_BATCH = 250  # the same with summaries opened (ENVELOPE): a key unwrap each
SMALL_LISTING = 50  # a FETCH without bodies of at most this many messages reads on the loop (Hub.read small)
SMALL_BODY_BYTES = 64 * 1024  # and one of a single message this size or smaller, bodies included
MEMORY_ITEMS = {b"FLAGS", b"UID", b"MODSEQ"}
WHOLE_MESSAGE_ITEMS = MEMORY_ITEMS | {b"RFC822", b"RFC822.SIZE", b"INTERNALDATE"}
_SECTION = re.compile(rb"^(BODY|BODY\.PEEK|BINARY|BINARY\.PEEK)\[([^\]]*)\](?:<(\d{1,10})\.(\d{1,10})>)?$")
_PART = re.compile(rb"^(\d{1,4}(?:\.\d{1,4}){0,19})?(?:\.?(HEADER|HEADER\.FIELDS|HEADER\.FIELDS\.NOT|TEXT|MIME))?"
                   rb"(?: \((.*)\))?$")


@dataclass(frozen=True)
class Item:
    name: bytes  # FLAGS, UID, ..., or BODY / BINARY for a section
    section: bytes = b""
    peek: bool = True
    partial: tuple[int, int] | None = None
    bracket: bool = False  # BODY[...] (content) rather than BODY (structure)

    @property
    def needs_body(self) -> bool:
        return self.name in NEEDS_BODY or self.name in binary.NAMES or (self.name == b"BODY" and self.section != b"")

    @property
    def sets_seen(self) -> bool:
        return self.name in SETS_SEEN or (self.bracket and not self.peek)


def parse_items(token) -> list[Item]:
    tokens = token if isinstance(token, list) else [token]
    if not tokens or len(tokens) > MAX_ITEMS:
        raise Bad(responses.BAD_SYNTAX)
    items: list[Item] = []
    for t in tokens:
        if not isinstance(t, Atom):
            raise Bad(responses.BAD_SYNTAX)
        word = t.upper()
        if word in MACROS and not isinstance(token, list):
            items += [Item(w) for w in MACROS[word]]
        elif word in SIMPLE:
            items.append(Item(word))
        elif binary.is_binary_item(word):  # RFC 3516: binary.py
            try:
                name, section, peek, partial = binary.parse_item(word)
            except binary.BadItem:
                raise Bad(responses.BAD_SYNTAX) from None
            items.append(Item(name, section, peek, partial, True))
        else:
            found = _SECTION.match(_upper_head(t))
            if not found:
                raise Bad(responses.BAD_SYNTAX)
            kind, section = found[1].upper(), found[2]
            part = _PART.match(section.upper()) if section else None
            if section and not part:
                raise Bad(responses.BAD_SYNTAX)
            partial = (int(found[3]), int(found[4])) if found[3] else None
            items.append(Item(kind.split(b".")[0], section, kind.endswith(b".PEEK"), partial, True))
    return items


def _upper_head(token: bytes) -> bytes:
    """Upper-case the item name and section keywords, not header field names."""
    head, sep, rest = token.partition(b"(")
    return head.upper() + sep + rest


@command("FETCH", SELECTED)
async def fetch(s: Session, tag: bytes, args: list, uid: bool) -> bytes:
    if len(args) not in (2, 3):
        raise Bad(responses.BAD_SYNTAX)
    view = s.selected
    uids = selected_uids(s, args[0], uid)
    items = parse_items(args[1])
    changed_since = None
    if len(args) == 3:
        mods = args[2]
        vanished = isinstance(mods, list) and len(mods) == 3 and is_atom(mods[2], b"VANISHED")
        if not isinstance(mods, list) or len(mods) != 2 + vanished or not is_atom(mods[0], b"CHANGEDSINCE"):
            raise Bad(responses.BAD_SYNTAX)
        changed_since = number(mods[1])
        enable_condstore(s)
        if vanished:
            if not uid or not view.qresync:
                raise Bad(responses.BAD_SYNTAX)  # RFC 7162 §3.2.6: UID FETCH, QRESYNC enabled
            await qresync.vanished_earlier(s, view, parse_sequence_set(bytes(args[0]), view.largest(True)),
                                           changed_since)
    if any(i.name == b"MODSEQ" for i in items):
        enable_condstore(s)
    if uid and not any(i.name == b"UID" for i in items):
        items.insert(0, Item(b"UID"))
    if view.condstore and (changed_since is not None) and not any(i.name == b"MODSEQ" for i in items):
        items.append(Item(b"MODSEQ"))
    if changed_since is not None:
        uids = [u for u in uids if view.modseqs.get(u, 0) > changed_since]
    if not uids:
        return responses.OK_DONE
    seen_now: set[int] = set()
    if not view.read_only and any(i.sets_seen for i in items):
        unseen = [u for u in uids if "\\Seen" not in view.flags.get(u, "").split()]
        if unseen:
            states, _ = await s.hub.write(lambda conn: messages.store_flags(conn, view.id, unseen, "add", ["\\Seen"]))
            view.apply_states(states)
            seen_now = {st.uid for st in states}
            s.changed(view.id)
    if any(i.name == b"FLAGS" for i in items):
        seen_now = set()
    if all(i.name in MEMORY_ITEMS for i in items):
        # Flags, UIDs and MODSEQ are in the session's view, kept current by the notifier:
        # the common "FETCH 1:* (UID FLAGS)" of a client's resync needs no database read.
        await s.send_updates(allow_expunge=False)
        s.emit(_lines_from_view(view, uids, [i.name for i in items]))
        return responses.OK_DONE
    with_body = any(i.needs_body for i in items)
    # ENVELOPE is the only item that needs the body: its fields are in the summaries (mime.envelope_fields).
    from_summaries = with_body and all(i.name == b"ENVELOPE" or not i.needs_body for i in items)
    reader_id, reader = view.owner.id, acl.reader_of(s, view.owner)
    snapshot = {u: (view.seq_of(u), view.flag_text(u), view.modseqs.get(u, 0)) for u in uids}

    with_date = any(i.name == b"INTERNALDATE" for i in items)

    def work(batch: list[int]) -> tuple[list[bytes], int]:
        """The answers of a batch's first messages, up to BATCH_BYTES of them, and how many UIDs they took."""
        def run(conn) -> tuple[list[bytes], int]:
            if from_summaries:
                return _answers_from_summaries(conn, reader_id, view.id, batch, snapshot, items, reader, seen_now,
                                               with_date), len(batch)
            if with_body and not with_date:
                rows = messages.fetch_bodies(conn, reader_id, view.id, batch)
            else:
                rows = messages.fetch_rows(conn, reader_id, view.id, batch, with_body)
            lines, size, last = [], 0, None
            for row in rows:
                if row.uid not in snapshot:
                    continue
                lines.append(_answer(row, snapshot[row.uid], items, reader, row.uid in seen_now))
                size, last = size + len(lines[-1]), row.uid
                if size >= BATCH_BYTES:
                    break
            return lines, (batch.index(last) + 1 if size >= BATCH_BYTES else len(batch))
        return run

    # In batches, each written before the next is read: while the client does not read, the
    # output gate is paused and the next batch waits (backpressure.py), so one FETCH 1:* of a
    # big folder holds about one batch in the server, not the folder.
    size = SUMMARY_BATCH if from_summaries else BODY_BATCH if with_body else LISTING_BATCH
    bulk, lane = with_body and len(uids) > 1, bulk_lane(s.hub)
    start = 0
    # Only where small reads run on the loop: elsewhere the size check would be one more statement for nothing.
    if s.hub.small_reads_on_loop and (len(uids) == 1 or (not with_body and len(uids) <= SMALL_LISTING)):
        # The common small FETCH (one message, or a few without bodies): read on the loop when the
        # database allows it, a big single message excepted (its decryption belongs to the pool).
        await s.answer_room()
        try:
            found = await s.hub.read(_if_small(view.id, uids, with_body, work(uids)), small=True)
        except binary.UnknownEncoding:
            raise No(responses.NO_UNKNOWN_CTE) from None
        if found is not None:
            lines, start = found
            for line in lines:
                s.emit(line)
            del lines
            if start >= len(uids):
                return responses.OK_DONE
            await s.drain()
    while start < len(uids):
        if s.transport is None:
            break  # the connection is gone
        await s.answer_room()  # the hub-wide budget of unread answers (answers.py)
        if s.transport is None or s.gate.stopped:
            break
        try:
            if bulk:
                async with lane:  # many-message FETCHes share part of the read pool: small reads keep the rest
                    lines, taken = await s.hub.read(work(uids[start:start + size]))
            else:
                lines, taken = await s.hub.read(work(uids[start:start + size]))
        except binary.UnknownEncoding:
            raise No(responses.NO_UNKNOWN_CTE) from None
        start += taken
        for line in lines:
            s.emit(line)
        del lines  # not held while the client reads: one batch in the server, not two
        await s.drain()
    return responses.OK_DONE


def _if_small(folder_id: int, uids: list[int], with_body: bool, run):
    """`run`, unless the messages' bodies are more than SMALL_BODY_BYTES (then None: read them in the pool)."""
    def guarded(conn):
        if with_body and messages.size_between(conn, folder_id, uids[0], uids[-1]) > SMALL_BODY_BYTES:
            return None
        return run(conn)
    return guarded


def bulk_lane(hub) -> asyncio.Semaphore:
    """Read-pool trips of FETCHes with bodies of several messages at once, per hub: half the pool.

    Without it, clients fetching whole folders (or many that fetch and never read) took every read
    thread, and a LOGIN, a SELECT or a FETCH of one message waited behind their batches."""
    found = getattr(hub, "imap_bulk_lane", None)
    if found is None:
        found = hub.imap_bulk_lane = asyncio.Semaphore(max(1, hub.config.get("storage.db_threads") // 2))
    return found


_VIEW_TEMPLATES = {b"FLAGS": b"FLAGS %b", b"UID": b"UID %d", b"MODSEQ": b"MODSEQ (%d)"}


def _lines_from_view(view, uids: list[int], names: list[bytes]) -> bytes:
    """FETCH lines of items the view holds: one format per message (a resync fetches them all)."""
    template = b"* %d FETCH (" + b" ".join(_VIEW_TEMPLATES[n] for n in names) + b")\r\n"
    flag_text, modseqs = view.flag_text, view.modseqs
    seqs = range(1, len(uids) + 1) if uids == view.uids else view.seqs_of(uids)  # 1:* is the common case
    if names == [b"UID", b"FLAGS"]:  # "FETCH 1:* (UID FLAGS)": most clients' resync
        # Formatted once per distinct flag set, as flag_text would give it; a message this session
        # sees as \Recent (any it appended, say) has a key of its own, a 1-tuple.
        texts: dict[str | tuple[str], bytes] = {}
        flags, recent, out = view.flags, view.recent, []
        for u, seq in zip(uids, seqs):
            if seq is not None:
                f = flags.get(u, "")
                if recent and u in recent:
                    f = (f,)
                text = texts.get(f)
                if text is None:
                    text = texts[f] = flag_text(u)
                out.append(template % (seq, u, text))
        return b"".join(out)
    getters = [{b"FLAGS": flag_text, b"UID": int, b"MODSEQ": lambda u: modseqs.get(u, 0)}[n] for n in names]
    return b"".join([template % (seq, *[get(u) for get in getters]) for u, seq in zip(uids, seqs) if seq is not None])


def _answers_from_summaries(conn, reader_id: int, folder_id: int, batch: list[int], snapshot: dict,
                            items: list[Item], reader: Reader, seen_now: set[int], with_date: bool) -> list[bytes]:
    """The answers of one batch, ENVELOPE built from the summaries (or kept from an earlier listing:
    imap/envelopes.py); the bodies of messages stored before summaries held its fields (or whose fields
    were not kept: mime.envelope_fields) are opened instead."""
    rows = [r for r in messages.fetch_keys(conn, reader_id, folder_id, batch, with_date) if r.uid in snapshot]
    answers: dict[int, bytes] = {}
    who = reader.account.id
    to_open = []
    for row in rows:
        if not reader.can_open(row):
            answers[row.uid] = wire.value(mimetree.envelope(mimetree.parse(b"")))  # as for a body it cannot open
            continue
        answer = envelopes.cached(who, row.blob_id, row.wrapped)
        if answer is None:
            to_open.append(row)
        else:
            answers[row.uid] = answer
    sealed = messages.summaries(conn, [r.blob_id for r in to_open]) if to_open else {}
    memo: dict = {}  # formatted address lists of this batch, by field value (plaintext: this answer's only)
    for row in to_open:
        if row.blob_id not in sealed:
            continue  # gone since the first read
        fields = reader.summary(dataclasses.replace(row, summary=sealed[row.blob_id])).get(ENVELOPE_KEY)
        if isinstance(fields, dict):
            answers[row.uid] = answer = wire.value(mimetree.summary_envelope(fields, memo))
            envelopes.keep(who, row.blob_id, row.wrapped, answer)
    older = [r.uid for r in rows if r.uid not in answers]
    bodies = {r.uid: r for r in messages.fetch_rows(conn, reader_id, folder_id, older, True)} if older else {}
    out = []
    for row in rows:
        if row.uid in answers:
            out.append(_answer(row, snapshot[row.uid], items, reader, row.uid in seen_now, answers[row.uid]))
        elif row.uid in bodies:  # (gone since the first read: left out, as any expunged message)
            out.append(_answer(bodies[row.uid], snapshot[row.uid], items, reader, row.uid in seen_now))
    return out


def _answer(row: messages.FetchRow, known: tuple, items: list[Item], reader: Reader, add_flags: bool,
            envelope: bytes | None = None) -> bytes:
    seq, flags, modseq = known
    raw = entity = None
    if row.body is not None:
        raw = reader.body(row) if reader.can_open(row) else b""
        # The MIME tree only when an item looks inside: BODY[] and RFC822 need the bytes alone.
        if any(i.name not in WHOLE_MESSAGE_ITEMS and not (i.bracket and i.section == b"") for i in items):
            entity = mimetree.parse(raw)
    parts: list[bytes] = []
    if add_flags:
        parts.append(b"FLAGS " + flags)
    for item in items:
        if envelope is not None and item.name == b"ENVELOPE":
            parts.append(b"ENVELOPE " + envelope)
        else:
            parts.append(_one(item, row, flags, modseq, raw, entity))
    return b"* %d FETCH (%s)\r\n" % (seq, b" ".join(parts))


def _one(item: Item, row, flags: bytes, modseq: int, raw: bytes | None, entity) -> bytes:
    name = item.name
    if name == b"FLAGS":
        return b"FLAGS " + flags
    if name == b"UID":
        return b"UID %d" % row.uid
    if name == b"MODSEQ":
        return b"MODSEQ (%d)" % modseq
    if name == b"INTERNALDATE":
        return b"INTERNALDATE " + format_date_time(row.internal_date)
    if name == b"RFC822.SIZE":
        return b"RFC822.SIZE %d" % (len(raw) if raw is not None else row.size)
    if name == b"ENVELOPE":
        return b"ENVELOPE " + wire.value(mimetree.envelope(entity))
    if name == b"BODYSTRUCTURE":
        return b"BODYSTRUCTURE " + wire.value(mimetree.body_structure(entity, True))
    if name == b"BODY" and not item.bracket:
        return b"BODY " + wire.value(mimetree.body_structure(entity, False))
    if name == b"RFC822":
        return b"RFC822 " + _literal(raw)
    if name == b"RFC822.HEADER":
        return b"RFC822.HEADER " + _literal(entity.header)
    if name == b"RFC822.TEXT":
        return b"RFC822.TEXT " + _literal(entity.body)
    if name in binary.NAMES:
        return binary.answer(name, item.section, item.partial, entity, raw)
    data = _section(entity, raw, item.section)
    label = b"%s[%s]" % (name, item.section)
    if item.partial is not None:
        start, length = item.partial
        data = data[start:start + length]
        label += b"<%d>" % start
    return label + b" " + _literal(data)


def _literal(data: bytes | None) -> bytes:
    if data is None:
        return b"NIL"
    return b"{%d}\r\n%b" % (len(data), data)


def _section(entity, raw: bytes, section: bytes) -> bytes | None:
    if not section:
        return raw
    found = _PART.match(section.upper())
    numbers = [int(n) for n in found[1].split(b".")] if found[1] else []
    what = found[2]
    try:
        target = mimetree.part(entity, numbers) if numbers else entity
    except mimetree.NoSuchPart:
        return b""
    if numbers and what in (b"HEADER", b"HEADER.FIELDS", b"HEADER.FIELDS.NOT", b"TEXT") and target.message:
        target = target.message  # n.HEADER, n.TEXT: of the message a message/rfc822 part encloses
    if what is None:
        return target.body if numbers else raw  # BODY[n]: the part's content, without its MIME header
    if what == b"MIME" or what == b"HEADER":
        return target.header
    if what == b"TEXT":
        return target.body
    names = [n.strip(b'"') for n in (found[3] or b"").split()]
    original = re.search(rb"\((.*)\)", section)
    names = [n.strip(b'"') for n in original[1].split()] if original else names
    return mimetree.header_fields(target, names, exclude=what.endswith(b".NOT"))
