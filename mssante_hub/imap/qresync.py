"""QRESYNC (RFC 7162 §3.2): a client that knows a folder's MODSEQ learns only what changed.

Expunged UIDs are remembered with the MODSEQ of their removal (imap_expunged), so
SELECT ... (QRESYNC (uidvalidity modseq [known-uids])) and UID FETCH ... (CHANGEDSINCE
m VANISHED) can answer VANISHED (EARLIER); once QRESYNC is enabled, expunges are told
as VANISHED instead of EXPUNGE. Expunges older than `imap.vanished_keep_days` are forgotten
by the daily job (storage.sync.purge_expunged); a client whose MODSEQ predates that horizon is
told every UID it may hold that the folder lacks, which RFC 7162 allows (the client ignores
UIDs it does not know).
"""

from __future__ import annotations

import bisect

from mssante_hub.imap import responses
from mssante_hub.imap.mailbox import SelectedFolder
from mssante_hub.imap.server import Bad, Session
from mssante_hub.imap.syntax import Atom, format_uid_set, in_ranges, is_atom, number, parse_sequence_set
from storage import sync

CAPABILITY = b"QRESYNC"


def select_parameter(args: list) -> tuple[int, int, list[tuple[int, int]] | None] | None:
    """(uidvalidity, modseq, known UIDs) of a SELECT's (QRESYNC (...)) parameter, if any."""
    if len(args) != 2 or not isinstance(args[1], list):
        return None
    params = args[1]
    for i, item in enumerate(params):
        if is_atom(item, b"QRESYNC"):
            if i + 1 >= len(params) or not isinstance(params[i + 1], list) or len(params[i + 1]) < 2:
                raise Bad(responses.BAD_SYNTAX)
            values = params[i + 1]
            known = None
            if len(values) >= 3 and isinstance(values[2], Atom):
                known = parse_sequence_set(bytes(values[2]), 0xFFFFFFFF)
            return number(values[0]), number(values[1]), known
    return None


async def resync(s: Session, view: SelectedFolder, uidvalidity: int, modseq: int,
                 known: list[tuple[int, int]] | None) -> None:
    """After SELECT: what vanished since `modseq`, then the messages changed since."""
    if uidvalidity != view.folder.uidvalidity:
        return  # the client's cache is void; it starts over
    vanished = await s.hub.read(lambda conn: sync.vanished_since(conn, view.id, modseq))
    if vanished is None:
        _untag_absent(s, view, known)
    else:
        if known is not None:
            vanished = [u for u in vanished if in_ranges(u, known)]
        if vanished:
            s.untagged(b"VANISHED (EARLIER) " + format_uid_set(vanished))
    for uid in view.uids:
        if view.modseqs.get(uid, 0) > modseq:
            s.untagged(view.fetch_flags_line(uid, with_uid=True))


async def vanished_earlier(s: Session, view: SelectedFolder, ranges: list[tuple[int, int]], modseq: int) -> None:
    """UID FETCH ... (CHANGEDSINCE m VANISHED): the requested UIDs expunged since m."""
    vanished = await s.hub.read(lambda conn: sync.vanished_since(conn, view.id, modseq))
    if vanished is None:
        _untag_absent(s, view, ranges)
        return
    vanished = [u for u in vanished if in_ranges(u, ranges)]
    if vanished:
        s.untagged(b"VANISHED (EARLIER) " + format_uid_set(vanished))


def _untag_absent(s: Session, view: SelectedFolder, ranges: list[tuple[int, int]] | None) -> None:
    """The client's MODSEQ is older than what the folder remembers of its expunges: every UID the client may
    hold (its known UIDs, else all given so far) that the folder lacks is told as vanished."""
    absent = absent_ranges(view.uids, ranges or [(1, view.folder.uidnext - 1)], view.folder.uidnext - 1)
    if absent:
        s.untagged(b"VANISHED (EARLIER) " + b",".join(
            b"%d" % low if low == high else b"%d:%d" % (low, high) for low, high in absent))


def absent_ranges(present: list[int], ranges: list[tuple[int, int]], last_uid: int) -> list[tuple[int, int]]:
    """The parts of `ranges` (sorted, up to `last_uid`) holding no UID of `present` (sorted), as ranges:
    computed over the present UIDs, never by listing every absent one (a range may span millions)."""
    out: list[tuple[int, int]] = []
    i = 0
    for low, high in ranges:
        high = min(high, last_uid)
        i = bisect.bisect_left(present, low, i)
        cursor = low
        while cursor <= high:
            if i < len(present) and present[i] <= high:
                if present[i] > cursor:
                    out.append((cursor, present[i] - 1))
                cursor = present[i] + 1
                i += 1
            else:
                out.append((cursor, high))
                break
    return out
