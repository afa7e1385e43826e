"""IMAP state in the store: folder listings, flags, expunge, copy/move, quota.

Plain functions over a Connection, as in mailstore.py: writes are run by the hub's
group committer (hub.write), so nothing is acknowledged before it is durable.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import Connection, and_, bindparam, case, delete, func, insert, or_, select, update

from storage import driver
from storage.imap_models import ExpungedUid, FolderGrant
from storage.mailstore import allocate_uids
from storage.models import Blob, Folder, Message, OutboundItem, WrappedKey

SQL_RANGES_MAX = 64  # beyond this many UID ranges, filter in Python rather than in one huge WHERE


@dataclass(frozen=True)
class FolderRow:
    id: int
    account_id: int
    name: str
    uidvalidity: int
    uidnext: int
    highestmodseq: int
    special_use: str | None
    subscribed: bool
    recent_uid: int


_FOLDER_COLUMNS = (Folder.id, Folder.account_id, Folder.name, Folder.uidvalidity, Folder.uidnext,
                   Folder.highestmodseq, Folder.special_use, Folder.subscribed, Folder.recent_uid)


class MessageState(NamedTuple):
    # A tuple, not a dataclass: SELECT builds one per message of the folder.
    uid: int
    flags: str
    modseq: int


# Hot-path statements are built once (as in mailstore.py): on this kind of machine building
# a statement and its cache key costs more than SQLite running it.
_FOLDER_BY_ID = select(*_FOLDER_COLUMNS).where(Folder.id == bindparam("folder"))
_FOLDER_BY_NAME = select(*_FOLDER_COLUMNS).where(Folder.account_id == bindparam("account"),
                                                 Folder.name == bindparam("name"))
# The reads every session repeats (catching up, SELECT) go to the driver's cursor directly: plain
# integers and text, no type conversion to do, and SQLAlchemy's execution costs several times the
# query. They need no transaction either (see changes_since), so none is begun for them.
_M, _F, _E = Message.__tablename__, Folder.__tablename__, ExpungedUid.__tablename__
_STATES_SQL = f"SELECT uid, flags, modseq FROM {_M} WHERE folder_id = ? ORDER BY uid"
_WATERMARK_SQL = f"SELECT highestmodseq, (SELECT count(*) FROM {_M} WHERE folder_id = ?) FROM {_F} WHERE id = ?"
_CHANGED_SQL = (f"SELECT uid, flags, modseq FROM {_M} WHERE folder_id = ? AND modseq > ? AND modseq <= ? "
                "ORDER BY uid")
_VANISHED_SQL = f"SELECT uid FROM {_E} WHERE folder_id = ? AND modseq > ? AND modseq <= ?"
# STORE, a fifth of a mail client's commands, runs in the group committer's single thread: three
# statements through SQLAlchemy cost it ~0.5 ms of Python each time, the driver a fraction of that.
_STORE_ROWS_SQL = (f"SELECT id, uid, flags, modseq FROM {_M} WHERE folder_id = ? AND uid BETWEEN ? AND ? "
                   "ORDER BY uid")
_NEW_MODSEQ_SQL = f"UPDATE {_F} SET highestmodseq = highestmodseq + 1 WHERE id = ? RETURNING highestmodseq"
_SET_FLAGS_SQL = f"UPDATE {_M} SET flags = ?, modseq = ? WHERE id = ?"


_NEW_MODSEQ = (update(Folder).where(Folder.id == bindparam("folder"))
               .values(highestmodseq=Folder.highestmodseq + 1).returning(Folder.highestmodseq))


def folders_of(conn: Connection, account_id: int) -> list[FolderRow]:
    rows = conn.execute(select(*_FOLDER_COLUMNS).where(Folder.account_id == account_id).order_by(Folder.name))
    return [FolderRow(*r) for r in rows]


def folder_by_name(conn: Connection, account_id: int, name: str) -> FolderRow | None:
    row = conn.execute(_FOLDER_BY_NAME, {"account": account_id, "name": name}).one_or_none()
    return FolderRow(*row) if row else None


def folder_by_id(conn: Connection, folder_id: int) -> FolderRow | None:
    row = conn.execute(_FOLDER_BY_ID, {"folder": folder_id}).one_or_none()
    return FolderRow(*row) if row else None


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


def message_states(conn: Connection, folder_id: int) -> list[MessageState]:
    return list(map(MessageState._make, driver.rows(conn, _STATES_SQL, (folder_id,))))


def folder_state(conn: Connection, folder_id: int) -> tuple[int, list[MessageState]]:
    """(the folder's HIGHESTMODSEQ, then every message's state): the states include at least
    every change up to that MODSEQ (see changes_since). (0, []) if the folder is gone."""
    rows = driver.rows(conn, _WATERMARK_SQL, (folder_id, folder_id))
    if not rows:
        return 0, []
    return rows[0][0], message_states(conn, folder_id)


@dataclass(frozen=True)
class Changes:
    """What happened to a folder between two MODSEQs (see changes_since)."""

    upto: int  # the folder's HIGHESTMODSEQ: every change up to it is in `changed` or `vanished`
    count: int  # messages in the folder at `upto`
    changed: list[MessageState]  # new or changed messages, ascending UID
    vanished: list[int]  # UIDs expunged


def changes_since(conn: Connection, folder_id: int, since: int) -> Changes | None:
    """Changes after MODSEQ `since`, or None if the folder is gone.

    The folder's HIGHESTMODSEQ is read first: MODSEQs are taken by updating the folder
    row, which serialises writers on it, so a value seen committed means every change up
    to it is committed too (on PostgreSQL's per-statement snapshots as on SQLite's).
    Changes after it are left for next time, so the caller's view is exactly the folder
    at `upto` and its size must equal `count` (callers re-read everything otherwise).
    """
    rows = driver.rows(conn, _WATERMARK_SQL, (folder_id, folder_id))
    if not rows:
        return None
    upto, count = rows[0]
    if upto <= since:
        return Changes(since, count, [], [])
    params = (folder_id, since, upto)
    changed = list(map(MessageState._make, driver.rows(conn, _CHANGED_SQL, params)))
    vanished = [r[0] for r in driver.rows(conn, _VANISHED_SQL, params)]
    return Changes(upto, count, changed, vanished)


_CLAIM_RECENT = update(Folder).where(Folder.id == bindparam("folder"), Folder.recent_uid < bindparam("upto")).values(
    recent_uid=bindparam("upto"))


def claim_recent(conn: Connection, folder_id: int, upto: int) -> None:
    """Messages up to UID `upto` are no longer \\Recent for later sessions (one statement)."""
    conn.execute(_CLAIM_RECENT, {"folder": folder_id, "upto": upto})


def folder_status(conn: Connection, folder_id: int) -> dict[str, int]:
    """Counts for STATUS: messages, unseen, size."""
    row = conn.execute(
        select(
            func.count(),
            func.sum(func.coalesce(Message.size, 0)),
            func.sum(case((has_flag("\\Seen"), 0), else_=1)),
        ).where(Message.folder_id == folder_id)
    ).one()
    return {"messages": row[0] or 0, "size": int(row[1] or 0), "unseen": int(row[2] or 0)}


def account_usage(conn: Connection, account_id: int) -> int:
    """Bytes stored in an account's folders (QUOTA STORAGE counts message sizes)."""
    return int(conn.execute(
        select(func.coalesce(func.sum(Message.size), 0)).join(Folder, Folder.id == Message.folder_id)
        .where(Folder.account_id == account_id)
    ).scalar_one())


def new_modseq(conn: Connection, folder_id: int) -> int:
    return conn.execute(_NEW_MODSEQ, {"folder": folder_id}).scalar_one()


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
_INSERT_EXPUNGED = insert(ExpungedUid)


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


def rename_folder(conn: Connection, account_id: int, old: str, new: str, delimiter: str = "/") -> None:
    """Rename a folder and its children; INBOX itself is handled by the caller."""
    rows = conn.execute(select(Folder.id, Folder.name).where(
        Folder.account_id == account_id, or_(Folder.name == old, Folder.name.startswith(old + delimiter))
    )).all()
    for row in rows:
        conn.execute(update(Folder).where(Folder.id == row.id).values(name=new + row.name[len(old):]))


def delete_folder(conn: Connection, folder_id: int) -> None:
    rows = conn.execute(select(Message.id, Message.uid, Message.blob_id).where(Message.folder_id == folder_id)).all()
    remove_messages(conn, folder_id, rows)
    conn.execute(delete(Folder).where(Folder.id == folder_id))


def set_subscribed(conn: Connection, folder_id: int, subscribed: bool) -> None:
    conn.execute(update(Folder).where(Folder.id == folder_id).values(subscribed=subscribed))


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


def fetch_rows(conn: Connection, reader_id: int, folder_id: int, uids: list[int], with_body: bool) -> list[FetchRow]:
    if not uids:
        return []
    wanted = set(uids)
    params = {"folder": folder_id, "low": min(uids), "high": max(uids)}
    if with_body:
        rows = conn.execute(_FETCH_WITH_BODY, {**params, "reader": reader_id})
        return [FetchRow(*r) for r in rows if r[0] in wanted]
    return [FetchRow(*r, None, None) for r in conn.execute(_FETCH, params) if r[0] in wanted]


def grants_for(conn: Connection, grantee_id: int) -> list[tuple[int, str]]:
    """(folder id, rights) of every folder shared with this account."""
    return [(r.folder_id, r.rights) for r in conn.execute(
        select(FolderGrant.folder_id, FolderGrant.rights).where(FolderGrant.grantee_id == grantee_id))]


def grant(conn: Connection, folder_id: int, grantee_id: int, rights: str) -> None:
    conn.execute(delete(FolderGrant).where(FolderGrant.folder_id == folder_id, FolderGrant.grantee_id == grantee_id))
    if rights:
        conn.execute(insert(FolderGrant).values(folder_id=folder_id, grantee_id=grantee_id, rights=rights))


def grants_on(conn: Connection, folder_id: int) -> list[tuple[int, str]]:
    """(grantee account id, rights) of every grant on one folder."""
    return [(r.grantee_id, r.rights) for r in conn.execute(
        select(FolderGrant.grantee_id, FolderGrant.rights).where(FolderGrant.folder_id == folder_id))]


def record_expunged(conn: Connection, folder_id: int, uids: list[int], modseq: int) -> None:
    if uids:
        conn.execute(_INSERT_EXPUNGED, [dict(folder_id=folder_id, uid=u, modseq=modseq) for u in uids])


def vanished_since(conn: Connection, folder_id: int, modseq: int) -> list[int]:
    """UIDs expunged from a folder after `modseq` (QRESYNC VANISHED (EARLIER))."""
    return sorted(set(conn.execute(select(ExpungedUid.uid).where(
        ExpungedUid.folder_id == folder_id, ExpungedUid.modseq > modseq)).scalars()))
