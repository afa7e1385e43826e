"""SORT (RFC 5256, with SORT=DISPLAY of RFC 5957 and ESORT of RFC 5267) and THREAD (RFC 5256:
REFERENCES, ORDEREDSUBJECT).

The search criteria run as SEARCH runs them (search.py); what is compared comes from SQL
columns (internal date, size) and the encrypted summaries (sortkeys.py), never from bodies.
"""

from __future__ import annotations

from array import array
from typing import Any, Callable

from mssante_hub.imap import acl, responses, sortkeys, threads, wire
from mssante_hub.imap.search import Node, check_charset, parse_criteria, run
from mssante_hub.imap.server import SELECTED, Bad, Session, command
from mssante_hub.imap.syntax import Atom, is_atom

SORT_KEYS = {
    b"ARRIVAL": lambda r: r.arrival,
    b"CC": lambda r: r.keys.cc,
    b"DATE": lambda r: r.sent,
    b"FROM": lambda r: r.keys.from_,
    b"SIZE": lambda r: r.size,
    b"SUBJECT": lambda r: r.keys.subject,
    b"TO": lambda r: r.keys.to,
    b"DISPLAYFROM": lambda r: r.keys.display_from,  # RFC 5957
    b"DISPLAYTO": lambda r: r.keys.display_to,
}
MAX_SORT_KEYS = 20
ALGORITHMS = {b"REFERENCES": threads.references, b"ORDEREDSUBJECT": threads.ordered_subject}
ESORT_OPTIONS = {b"MIN", b"MAX", b"COUNT", b"ALL"}


def _criteria(token) -> list[tuple[bytes, bool]]:
    """(key, reversed) pairs of a sort-criteria list."""
    if not isinstance(token, list) or not token or len(token) > MAX_SORT_KEYS:
        raise Bad(responses.BAD_SYNTAX)
    out, reverse = [], False
    for word in token:
        if not isinstance(word, Atom):
            raise Bad(responses.BAD_SYNTAX)
        word = word.upper()
        if word == b"REVERSE" and not reverse:
            reverse = True
            continue
        if word not in SORT_KEYS:
            raise Bad(responses.BAD_SYNTAX)
        out.append((word, reverse))
        reverse = False
    if reverse:
        raise Bad(responses.BAD_SYNTAX)  # REVERSE must precede a key
    return out


# Answers kept per folder listing (by command, criteria, UID or not): at 10,000 messages a SORT's is
# 40 KiB, a THREAD's ~60 KiB; with sortkeys.FOLDERS_KEPT listings, ~18 MiB at most for such folders.
RESULTS_KEPT = 8
# rows -> (how a row is numbered: UID or sequence number -> the answer).
Compute = Callable[[list[sortkeys.Row]], Callable[[Callable[[sortkeys.Row], int]], Any]]


async def _answer(s: Session, tree: Node, uid: bool, name: tuple, compute: Compute):
    """The answer of `compute` over the sort rows of the messages of the selected folder the criteria
    match (in UID order, only those this session knows of), on the read pool: THREAD of a large folder
    is tens of milliseconds of Python that would hold the event loop. Over a whole unchanged folder
    the answer is taken from, or kept in, the folder's cached listing under `name`. Answers are not
    to be changed by the caller (a kept one is shared)."""
    view = s.selected
    reader_id, reader = view.owner.id, acl.reader_of(s, view.owner)
    everything = tree.kind == "all"
    known = list(view.uids)  # a snapshot: the view changes on the event loop, between commands only

    def work(conn):
        found = sortkeys.listing(conn, view.id, reader_id, reader)
        if everything and known == found.uids:
            # The whole folder as this session knows it: sequence numbers are positions in the listing,
            # the same for every such session, so the answer itself is kept with the listing (it goes
            # when the folder changes).
            held = found.results.get((name, uid))
            if held is None:
                if len(found.results) >= RESULTS_KEPT:
                    found.results.clear()
                position = {r.uid: n for n, r in enumerate(found.rows, 1)}
                held = compute(found.rows)((lambda r: r.uid) if uid else (lambda r: position[r.uid]))
                found.results[(name, uid)] = held
            return held
        rows = found.rows
        if not everything:
            wanted = {u for u, _ in run(conn, view.id, reader_id, reader, tree)}
            rows = [r for r in rows if r.uid in wanted]
        position = dict(zip(known, range(1, len(known) + 1)))
        rows = [r for r in rows if r.uid in position]
        return compute(rows)((lambda r: r.uid) if uid else (lambda r: position[r.uid]))

    return await s.hub.read(work)


def _order(keys: list[tuple[bytes, bool]]) -> Compute:
    def compute(rows: list[sortkeys.Row]):
        ordered = list(rows)
        # Stable sorts from the last key to the first; equal messages stay in sequence order (RFC 5256 §3).
        for key, reverse in reversed(keys):
            ordered.sort(key=SORT_KEYS[key], reverse=reverse)
        # Unsigned 32-bit (UIDs and sequence numbers are): a kept answer is 4 bytes a message.
        return lambda number: array("I", [number(r) for r in ordered])
    return compute


def _threads(algorithm) -> Compute:
    def compute(rows: list[sortkeys.Row]):
        roots = algorithm(rows)
        return lambda number: threads.format_threads(roots, number)
    return compute


@command("SORT", SELECTED)
async def sort(s: Session, tag: bytes, args: list, uid: bool) -> bytes:
    options = None
    if len(args) >= 2 and is_atom(args[0], b"RETURN") and isinstance(args[1], list):  # ESORT, RFC 5267
        options = [o.upper() for o in args[1] if isinstance(o, Atom)]
        if len(options) != len(args[1]) or any(o not in ESORT_OPTIONS for o in options):
            raise Bad(responses.BAD_SYNTAX)
        options = options or [b"ALL"]
        args = args[2:]
    if len(args) < 3:
        raise Bad(responses.BAD_SYNTAX)
    keys = _criteria(args[0])
    check_charset(args[1])
    tree = parse_criteria(s, args[2:], uid)
    numbers = await _answer(s, tree, uid, (b"SORT", tuple(keys)), _order(keys))
    if options is None:
        s.untagged(b" ".join([b"SORT", *map(b"%d".__mod__, numbers)]))
        return responses.OK_DONE
    parts = [b"(TAG " + wire.string(tag) + b")"] + ([b"UID"] if uid else [])
    if numbers:
        if b"MIN" in options:
            parts.append(b"MIN %d" % numbers[0])  # RFC 5267 §3.1: the first in sort order
        if b"MAX" in options:
            parts.append(b"MAX %d" % numbers[-1])
        if b"ALL" in options:
            # In sort order: a sequence set in that order, not a compacted one.
            parts.append(b"ALL " + b",".join(b"%d" % n for n in numbers))
    if b"COUNT" in options:
        parts.append(b"COUNT %d" % len(numbers))
    s.untagged(b"ESEARCH " + b" ".join(parts))
    return responses.OK_DONE


@command("THREAD", SELECTED)
async def thread(s: Session, tag: bytes, args: list, uid: bool) -> bytes:
    if len(args) < 3 or not isinstance(args[0], Atom):
        raise Bad(responses.BAD_SYNTAX)
    algorithm = ALGORITHMS.get(args[0].upper())
    if algorithm is None:
        raise Bad(responses.BAD_SYNTAX)
    check_charset(args[1])
    tree = parse_criteria(s, args[2:], uid)
    data = await _answer(s, tree, uid, (b"THREAD", args[0].upper()), _threads(algorithm))
    s.untagged(b"THREAD" + (b" " + data if data else b""))
    return responses.OK_DONE

