"""What only IMAP synchronisation needs: a folder's changes since a MODSEQ, expunged UIDs (QRESYNC
VANISHED), \\Recent claims.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import (
    BigInteger, Connection, DateTime, ForeignKey, Index, Integer, String, bindparam, delete, func, insert, select,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage import driver
from storage.models import Base, Folder, Message


class ExpungedUid(Base):
    """A UID removed from a folder, and the MODSEQ of its removal: what QRESYNC reports as VANISHED."""

    __tablename__ = "imap_expunged"
    __table_args__ = (Index("ix_imap_expunged_folder_modseq", "folder_id", "modseq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    folder_id: Mapped[int] = mapped_column(ForeignKey("folders.id", ondelete="CASCADE"))
    uid: Mapped[int] = mapped_column(BigInteger)
    modseq: Mapped[int] = mapped_column(BigInteger)
    # Set by the database, so that the committer's bulk insert stays as it is; read only by the purge.
    expunged_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ExpungeHorizon(Base):
    """The highest MODSEQ of a folder's expunges no longer remembered one by one (purged past
    `imap.vanished_keep_days`). A client that knows an older MODSEQ is told as VANISHED (EARLIER)
    every UID it may hold that the folder no longer has (RFC 7162 lets the server say more, never less)."""

    __tablename__ = "imap_expunge_horizons"

    folder_id: Mapped[int] = mapped_column(ForeignKey("folders.id", ondelete="CASCADE"), primary_key=True)
    modseq: Mapped[int] = mapped_column(BigInteger)


class LingeringSubscription(Base):
    """A subscription to a name that has no folder (deleted since, or never created): RFC 3501
    §6.3.6 has DELETE leave subscriptions alone, and LIST (SUBSCRIBED) shows them \\NonExistent.
    A subscribed folder that exists says so in its own row (folders.subscribed)."""

    __tablename__ = "imap_subscriptions"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(400), primary_key=True)


def lingering_subscriptions(conn: Connection, account_id: int) -> set[str]:
    return set(conn.execute(select(LingeringSubscription.name)
                            .where(LingeringSubscription.account_id == account_id)).scalars())


def keep_subscription(conn: Connection, account_id: int, name: str, subscribed: bool) -> None:
    """Record (or forget) a subscription to a name without a folder."""
    conn.execute(delete(LingeringSubscription).where(LingeringSubscription.account_id == account_id,
                                                     LingeringSubscription.name == name))
    if subscribed:
        conn.execute(insert(LingeringSubscription).values(account_id=account_id, name=name))


class MessageState(NamedTuple):
    # A tuple, not a dataclass: SELECT builds one per message of the folder.
    uid: int
    flags: str
    modseq: int


# The reads every session repeats (catching up, SELECT) go to the driver's cursor directly: plain
# integers and text, no type conversion to do, and SQLAlchemy's execution costs several times the
# query. They need no transaction either (see changes_since), so none is begun for them.
_M, _F, _E = Message.__tablename__, Folder.__tablename__, ExpungedUid.__tablename__

_STATES_SQL = f"SELECT uid, flags, modseq FROM {_M} WHERE folder_id = ? ORDER BY uid"
_WATERMARK_SQL = f"SELECT highestmodseq, (SELECT count(*) FROM {_M} WHERE folder_id = ?) FROM {_F} WHERE id = ?"
_CHANGED_SQL = (f"SELECT uid, flags, modseq FROM {_M} WHERE folder_id = ? AND modseq > ? AND modseq <= ? "
                "ORDER BY uid")
_VANISHED_SQL = f"SELECT uid FROM {_E} WHERE folder_id = ? AND modseq > ? AND modseq <= ?"


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

_INSERT_EXPUNGED = insert(ExpungedUid)


def record_expunged(conn: Connection, folder_id: int, uids: list[int], modseq: int) -> None:
    if uids:
        conn.execute(_INSERT_EXPUNGED, [dict(folder_id=folder_id, uid=u, modseq=modseq) for u in uids])


def vanished_since(conn: Connection, folder_id: int, modseq: int) -> list[int] | None:
    """UIDs expunged from a folder after `modseq` (QRESYNC VANISHED (EARLIER)); None when `modseq` is older
    than the folder's horizon: some of those expunges are forgotten, the caller must assume every absent UID."""
    horizon = conn.execute(select(ExpungeHorizon.modseq).where(ExpungeHorizon.folder_id == folder_id)).scalar()
    if horizon is not None and modseq < horizon:
        return None
    return sorted(set(conn.execute(select(ExpungedUid.uid).where(
        ExpungedUid.folder_id == folder_id, ExpungedUid.modseq > modseq)).scalars()))


def purge_expunged(conn: Connection, before: dt.datetime) -> int:
    """Forget the expunges recorded before `before`, each folder's horizon raised to what was forgotten."""
    forgotten = conn.execute(select(ExpungedUid.folder_id, func.max(ExpungedUid.modseq))
                             .where(ExpungedUid.expunged_at < before).group_by(ExpungedUid.folder_id)).all()
    if not forgotten:
        return 0
    held = dict(conn.execute(select(ExpungeHorizon.folder_id, ExpungeHorizon.modseq).where(
        ExpungeHorizon.folder_id.in_([folder for folder, _ in forgotten]))).all())
    for folder, modseq in forgotten:
        if folder not in held:
            conn.execute(insert(ExpungeHorizon).values(folder_id=folder, modseq=modseq))
        elif modseq > held[folder]:
            conn.execute(update(ExpungeHorizon).where(ExpungeHorizon.folder_id == folder).values(modseq=modseq))
    return conn.execute(delete(ExpungedUid).where(ExpungedUid.expunged_at < before)).rowcount
