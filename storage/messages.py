"""Messages in folders: their states and flags, listings and look-ups, copy, move, expunge, removal.

Every read is scoped to one reader (a wrapped key for that account, or none) and fetches only
the columns its caller needs: a listing carries summaries, never bodies. Writes are run by the
group committer (hub.write), so nothing is acknowledged before it is durable.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

from sqlalchemy import Connection, and_, bindparam, case, delete, func, insert, or_, select

from storage import blobstore, driver
from storage.folders import allocate_uids, new_modseq
from storage.models import Blob, Folder, Message, OutboundItem, WrappedKey
from storage.sync import MessageState, record_expunged

SQL_RANGES_MAX = 64  # beyond this many UID ranges, filter in Python rather than in one huge WHERE

_M, _F = Message.__tablename__, Folder.__tablename__

# STORE, a fifth of a mail client's commands, runs in the group committer's single thread: three
# statements through SQLAlchemy cost it ~0.5 ms of Python each time, the driver a fraction of that.
_STORE_ROWS_SQL = (f"SELECT id, uid, flags, modseq FROM {_M} WHERE folder_id = ? AND uid BETWEEN ? AND ? "
                   "ORDER BY uid")
_NEW_MODSEQ_SQL = f"UPDATE {_F} SET highestmodseq = highestmodseq + 1 WHERE id = ? RETURNING highestmodseq"
_SET_FLAGS_SQL = f"UPDATE {_M} SET flags = ?, modseq = ? WHERE id = ?"


def has_flag(flag: str):
    """SQL: the message carries this flag (flags are stored space-separated; case as stored)."""
    # autoescape: a backslash would otherwise be LIKE's escape character on PostgreSQL.
    return (" " + Message.flags + " ").contains(f" {flag} ", autoescape=True)


def uid_condition(ranges: list[tuple[int, int]]):
    """SQL for `uid in ranges`, or None when there are too many ranges for one statement."""
    if len(ranges) > SQL_RANGES_MAX:
        return None
    if not ranges:
        return Message.uid < 0
    return or_(*[Message.uid.between(low, high) if low != high else Message.uid == low for low, high in ranges])

_DELETED = (select(Message.id, Message.uid, Message.blob_id)
            .where(Message.folder_id == bindparam("folder"), has_flag("\\Deleted")).order_by(Message.uid))


def store_flags(
    conn: Connection, folder_id: int, uids: list[int], mode: str, flags: list[str],
    unchanged_since: int | None = None,
) -> tuple[list[MessageState], list[int]]:
    """Apply a STORE (mode: set, add, remove) to these UIDs.

    Returns (every targeted message's state after the store, UIDs refused by UNCHANGEDSINCE).
    """
    if not uids:
        return [], []
    wanted_uids = set(uids)
    rows = [r for r in driver.rows(conn, _STORE_ROWS_SQL, (folder_id, min(uids), max(uids)))
            if r[1] in wanted_uids]
    modseq = None
    result, failed, updates = [], [], []
    wanted = {f.lower(): f for f in flags}
    for message_id, uid, stored, stored_modseq in rows:
        current = stored.split()
        if unchanged_since is not None and stored_modseq > unchanged_since:
            failed.append(uid)
            result.append(MessageState(uid, stored, stored_modseq))
            continue
        if mode == "set":
            new = list(wanted.values())
        elif mode == "add":
            have = {f.lower() for f in current}
            new = current + [f for k, f in wanted.items() if k not in have]
        else:
            new = [f for f in current if f.lower() not in wanted]
        text = " ".join(new)
        if {f.lower() for f in new} == {f.lower() for f in current}:
            result.append(MessageState(uid, stored, stored_modseq))
            continue
        if modseq is None:
            modseq = driver.rows(conn, _NEW_MODSEQ_SQL, (folder_id,))[0][0]
        updates.append((text, modseq, message_id))
        result.append(MessageState(uid, text, modseq))
    if updates:
        driver.many(conn, _SET_FLAGS_SQL, updates)
    return result, failed


@functools.lru_cache(maxsize=32)
def _uid_range_query(columns: tuple):
    # One statement per column set (a handful of call sites), built once.
    return select(*columns).where(
        Message.folder_id == bindparam("folder"), Message.uid.between(bindparam("low"), bindparam("high"))
    ).order_by(Message.uid)


def _rows_for_uids(conn: Connection, folder_id: int, uids: list[int], *columns):
    wanted = set(uids)
    rows = conn.execute(_uid_range_query(columns), {"folder": folder_id, "low": min(uids), "high": max(uids)}).all()
    return [r for r in rows if r.uid in wanted]


def expunge(conn: Connection, folder_id: int, uids: list[int] | None = None) -> list[int]:
    """Remove \\Deleted messages (only among `uids` if given); returns the UIDs removed."""
    rows = conn.execute(_DELETED, {"folder": folder_id}).all()
    if uids is not None:
        wanted = set(uids)
        rows = [r for r in rows if r.uid in wanted]
    remove_messages(conn, folder_id, rows)
    return [r.uid for r in rows]


def _ids():
    return bindparam("ids", expanding=True)

_DELETE_MESSAGES = delete(Message).where(Message.id.in_(_ids()))

_BLOBS_IN_MESSAGES = select(Message.blob_id).where(Message.blob_id.in_(_ids()))

_BLOBS_QUEUED = select(OutboundItem.blob_id).where(OutboundItem.blob_id.in_(_ids()))

_DELETE_WRAPPED = delete(WrappedKey).where(WrappedKey.blob_id.in_(_ids()))

_DELETE_BLOBS = delete(Blob).where(Blob.id.in_(_ids()))


def remove_messages(conn: Connection, folder_id: int, rows) -> None:
    """Delete message rows, then any blob no message or queued relay still needs (with its keys)."""
    if not rows:
        return
    ids = [r.id for r in rows]
    for start in range(0, len(ids), 500):
        conn.execute(_DELETE_MESSAGES, {"ids": ids[start:start + 500]})
    record_expunged(conn, folder_id, [r.uid for r in rows], new_modseq(conn, folder_id))
    blob_ids = sorted({r.blob_id for r in rows})
    for start in range(0, len(blob_ids), 500):
        chunk = {"ids": blob_ids[start:start + 500]}
        still_used = set(conn.execute(_BLOBS_IN_MESSAGES, chunk).scalars())
        still_used |= set(conn.execute(_BLOBS_QUEUED, chunk).scalars())
        orphans = [b for b in chunk["ids"] if b not in still_used]
        if orphans:
            conn.execute(_DELETE_WRAPPED, {"ids": orphans})
            conn.execute(_DELETE_BLOBS, {"ids": orphans})
            blobstore.of(conn).forget(orphans)


def copy_messages(conn: Connection, source: int, target: int, uids: list[int]) -> tuple[list[int], list[int]]:
    """Copy messages (same blobs, new rows and UIDs); returns (source UIDs, new UIDs) in order."""
    if not uids:
        return [], []
    rows = _rows_for_uids(conn, source, uids, Message.id, Message.uid, Message.flags, Message.internal_date,
                          Message.size, Message.blob_id)
    if not rows:
        return [], []
    first, modseq = allocate_uids(conn, target, len(rows))
    conn.execute(insert(Message), [
        dict(folder_id=target, uid=first + i, modseq=modseq, flags=r.flags, internal_date=r.internal_date,
             size=r.size, blob_id=r.blob_id)
        for i, r in enumerate(rows)
    ])
    return [r.uid for r in rows], list(range(first, first + len(rows)))


def move_messages(conn: Connection, source: int, target: int, uids: list[int]) -> tuple[list[int], list[int]]:
    """COPY then remove from the source, in one transaction (RFC 6851)."""
    moved, new = copy_messages(conn, source, target, uids)
    if moved:
        rows = _rows_for_uids(conn, source, moved, Message.id, Message.uid, Message.blob_id)
        ids = [r.id for r in rows]
        for start in range(0, len(ids), 500):
            conn.execute(_DELETE_MESSAGES, {"ids": ids[start:start + 500]})
        record_expunged(conn, source, [r.uid for r in rows], new_modseq(conn, source))
    return moved, new


def delete_folder(conn: Connection, folder_id: int) -> None:
    rows = conn.execute(select(Message.id, Message.uid, Message.blob_id).where(Message.folder_id == folder_id)).all()
    remove_messages(conn, folder_id, rows)
    conn.execute(delete(Folder).where(Folder.id == folder_id))


@dataclass(frozen=True)
class FetchRow:
    uid: int
    flags: str
    modseq: int
    internal_date: dt.datetime
    size: int
    blob_id: str
    body: bytes | None
    wrapped: bytes | None
    summary: bytes | None = None  # a listing of ENVELOPEs: imap/fetch.py

_FETCH_COLUMNS = (Message.uid, Message.flags, Message.modseq, Message.internal_date, Message.size, Message.blob_id)

_FETCH = (select(*_FETCH_COLUMNS)
          .where(Message.folder_id == bindparam("folder"), Message.uid.between(bindparam("low"), bindparam("high")))
          .order_by(Message.uid))

_FETCH_WITH_BODY = (
    select(*_FETCH_COLUMNS, Blob.body, WrappedKey.wrapped)
    .join(Blob, Blob.id == Message.blob_id)
    .outerjoin(WrappedKey, and_(WrappedKey.blob_id == Blob.id, WrappedKey.account_id == bindparam("reader")))
    .where(Message.folder_id == bindparam("folder"), Message.uid.between(bindparam("low"), bindparam("high")))
    .order_by(Message.uid)
)

_BODIES_SQL = (
    f"SELECT m.uid, m.flags, m.modseq, m.size, m.blob_id, b.body, w.wrapped FROM {_M} m "
    f"JOIN {Blob.__tablename__} b ON b.id = m.blob_id "
    f"LEFT JOIN {WrappedKey.__tablename__} w ON w.blob_id = b.id AND w.account_id = ? "
    "WHERE m.folder_id = ? AND m.uid BETWEEN ? AND ? ORDER BY m.uid"
)


def fetch_bodies(conn: Connection, reader_id: int, folder_id: int, uids: list[int]) -> list[FetchRow]:
    """fetch_rows with bodies but no internal date (None), on the driver's cursor: FETCH BODY[] is a
    quarter of a client's commands, and its columns need no conversion (integers, text, bytes)."""
    if not uids:
        return []
    wanted = set(uids)
    rows = driver.rows(conn, _BODIES_SQL, (reader_id, folder_id, min(uids), max(uids)))
    return [FetchRow(uid, flags, modseq, None, size, blob_id, bytes(body), None if wrapped is None else bytes(wrapped))
            for uid, flags, modseq, size, blob_id, body, wrapped in rows if uid in wanted]


_SIZES_SQL = f"SELECT size FROM {_M} WHERE folder_id = ? AND uid BETWEEN ? AND ?"


def size_between(conn: Connection, folder_id: int, low: int, high: int) -> int:
    """Bytes of a folder's messages with UIDs from `low` to `high` (one indexed range read, no body)."""
    return sum(r[0] for r in driver.rows(conn, _SIZES_SQL, (folder_id, low, high)))


def fetch_rows(conn: Connection, reader_id: int, folder_id: int, uids: list[int], with_body: bool) -> list[FetchRow]:
    if not uids:
        return []
    wanted = set(uids)
    params = {"folder": folder_id, "low": min(uids), "high": max(uids)}
    if with_body:
        rows = conn.execute(_FETCH_WITH_BODY, {**params, "reader": reader_id})
        return [FetchRow(*r) for r in rows if r[0] in wanted]
    return [FetchRow(*r, None, None) for r in conn.execute(_FETCH, params) if r[0] in wanted]


_KEYS = (
    select(*_FETCH_COLUMNS, WrappedKey.wrapped)
    .outerjoin(WrappedKey, and_(WrappedKey.blob_id == Message.blob_id, WrappedKey.account_id == bindparam("reader")))
    .where(Message.folder_id == bindparam("folder"), Message.uid.between(bindparam("low"), bindparam("high")))
    .order_by(Message.uid)
)

_KEYS_SQL = (
    f"SELECT m.uid, m.flags, m.modseq, m.size, m.blob_id, w.wrapped FROM {_M} m "
    f"LEFT JOIN {WrappedKey.__tablename__} w ON w.blob_id = m.blob_id AND w.account_id = ? "
    "WHERE m.folder_id = ? AND m.uid BETWEEN ? AND ? ORDER BY m.uid"
)


def fetch_keys(conn: Connection, reader_id: int, folder_id: int, uids: list[int], with_date: bool = True
               ) -> list[FetchRow]:
    """fetch_rows with the reader's wrapped keys but neither bodies nor summaries (a listing of ENVELOPEs reads
    the summaries it needs with `summaries`). Without `with_date` (internal date None) on the driver's cursor."""
    if not uids:
        return []
    wanted = set(uids)
    if not with_date:
        return [FetchRow(uid, flags, modseq, None, size, blob_id, None, None if wrapped is None else bytes(wrapped))
                for uid, flags, modseq, size, blob_id, wrapped
                in driver.rows(conn, _KEYS_SQL, (reader_id, folder_id, min(uids), max(uids))) if uid in wanted]
    rows = conn.execute(_KEYS, {"folder": folder_id, "low": min(uids), "high": max(uids), "reader": reader_id})
    return [FetchRow(*r[:6], None, r[6]) for r in rows if r[0] in wanted]


def summaries(conn: Connection, blob_ids: list[str]) -> dict[str, bytes]:
    """The encrypted summaries of these bodies, by blob id. (A blob row holds its body first: SQLite reads
    through the body's overflow pages to reach the summary, so only the summaries needed are read.)"""
    out: dict[str, bytes] = {}
    unique = sorted(set(blob_ids))
    for start in range(0, len(unique), 500):
        chunk = unique[start:start + 500]
        sql = f"SELECT id, summary FROM {Blob.__tablename__} WHERE id IN ({driver.placeholders(len(chunk))})"
        out.update((blob_id, bytes(summary)) for blob_id, summary in driver.rows(conn, sql, chunk))
    return out


def folder_status(conn: Connection, folder_id: int, recent_after: int = 0) -> dict[str, int]:
    """Counts for STATUS: messages, unseen, deleted, size, and "unclaimed": messages past UID `recent_after`
    (the folder's \\Recent mark: no session has been told of them yet)."""
    row = conn.execute(
        select(
            func.count(),
            func.sum(func.coalesce(Message.size, 0)),
            func.sum(case((has_flag("\\Seen"), 0), else_=1)),
            func.sum(case((Message.uid > recent_after, 1), else_=0)),
            func.sum(case((has_flag("\\Deleted"), 1), else_=0)),
        ).where(Message.folder_id == folder_id)
    ).one()
    return {"messages": row[0] or 0, "size": int(row[1] or 0), "unseen": int(row[2] or 0),
            "unclaimed": int(row[3] or 0), "deleted": int(row[4] or 0)}


@dataclass(frozen=True)
class ListedMessage:
    message_id: int
    uid: int
    flags: str
    internal_date: dt.datetime
    size: int
    blob_id: str
    summary: bytes
    wrapped: bytes | None


def page(conn: Connection, account_id: int, folder: str, limit: int, before_uid: int | None) -> list[ListedMessage]:
    """The newest `limit` messages of one folder (older than `before_uid` when given), newest first."""
    query = (
        select(Message.id, Message.uid, Message.flags, Message.internal_date, Message.size,
               Blob.id.label("blob_id"), Blob.summary, WrappedKey.wrapped)
        .join(Folder, Folder.id == Message.folder_id)
        .join(Blob, Blob.id == Message.blob_id)
        .outerjoin(WrappedKey, (WrappedKey.blob_id == Blob.id) & (WrappedKey.account_id == account_id))
        .where(Folder.account_id == account_id, Folder.name == folder)
        .order_by(Message.uid.desc())
        .limit(limit)
    )
    if before_uid is not None:
        query = query.where(Message.uid < before_uid)
    return [ListedMessage(r.id, r.uid, r.flags, r.internal_date, r.size, r.blob_id, r.summary, r.wrapped)
            for r in conn.execute(query)]


@dataclass(frozen=True)
class OwnedMessage:
    message_id: int
    folder: str
    flags: str
    internal_date: dt.datetime
    blob_id: str
    body: bytes
    summary: bytes
    wrapped: bytes | None


def owned(conn: Connection, account_id: int, message_id: int) -> OwnedMessage | None:
    row = conn.execute(
        select(Message.id, Folder.name, Message.flags, Message.internal_date, Blob.id.label("blob_id"), Blob.body,
               Blob.summary, WrappedKey.wrapped)
        .join(Folder, Folder.id == Message.folder_id)
        .join(Blob, Blob.id == Message.blob_id)
        .outerjoin(WrappedKey, (WrappedKey.blob_id == Blob.id) & (WrappedKey.account_id == account_id))
        .where(Message.id == message_id, Folder.account_id == account_id)
    ).first()
    if row is None:
        return None
    return OwnedMessage(row.id, row.name, row.flags, row.internal_date, row.blob_id, row.body, row.summary,
                        row.wrapped)


@dataclass(frozen=True)
class Located:
    id: int  # the message row
    folder_id: int
    folder: str
    uid: int
    blob_id: str


def locate(conn: Connection, account_id: int, message_id: int) -> Located | None:
    """Where one of the owner's messages sits (folder and UID), without reading its body."""
    row = conn.execute(
        select(Message.id, Message.folder_id, Folder.name, Message.uid, Message.blob_id)
        .join(Folder, Folder.id == Message.folder_id)
        .where(Message.id == message_id, Folder.account_id == account_id)
    ).first()
    return Located(row.id, row.folder_id, row.name, row.uid, row.blob_id) if row else None


@dataclass(frozen=True)
class StoredBody:
    """A body and the one wrapped key a reader holds for it (the relay's read of a queued message)."""

    blob_id: str
    wrapped: bytes | None
    body: bytes


@dataclass(frozen=True)
class ReadableMessage:
    message_id: int
    uid: int
    blob_id: str
    body: bytes
    summary: bytes
    wrapped: bytes | None
    flags: str
    internal_date: dt.datetime
    size: int


def _readable(conn: Connection, reader_id: int, where) -> list[ReadableMessage]:
    rows = conn.execute(
        select(
            Message.id, Message.uid, Message.flags, Message.internal_date, Message.size,
            Blob.id.label("blob_id"), Blob.body, Blob.summary, WrappedKey.wrapped,
        )
        .join(Blob, Blob.id == Message.blob_id)
        .outerjoin(WrappedKey, (WrappedKey.blob_id == Blob.id) & (WrappedKey.account_id == reader_id))
        .where(where)
        .order_by(Message.uid)
    ).all()
    return [
        ReadableMessage(r.id, r.uid, r.blob_id, r.body, r.summary, r.wrapped, r.flags, r.internal_date, r.size)
        for r in rows
    ]


def messages_in_folder(conn: Connection, reader_id: int, folder: int) -> list[ReadableMessage]:
    return _readable(conn, reader_id, Message.folder_id == folder)


def message_by_id(conn: Connection, reader_id: int, message_id: int) -> ReadableMessage | None:
    found = _readable(conn, reader_id, Message.id == message_id)
    return found[0] if found else None


def count_messages(conn: Connection) -> int:
    return conn.execute(select(func.count()).select_from(Message)).scalar_one()


def count_blobs(conn: Connection) -> int:
    return conn.execute(select(func.count()).select_from(Blob)).scalar_one()
