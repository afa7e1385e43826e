"""Mail store repository: folders, blobs, wrapped keys, messages.

Plain functions over a SQLAlchemy Connection, so that callers choose the
transaction: the group committer runs many deliveries in one.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import Connection, func, insert, select

from storage import driver
from storage.models import Account, Blob, Folder, Message, OutboundItem, WrappedKey

# Special-use folders every mailbox starts with (RFC 6154 attributes).
DEFAULT_FOLDERS: tuple[tuple[str, str | None], ...] = (
    ("INBOX", None),
    ("Sent", "\\Sent"),
    ("Drafts", "\\Drafts"),
    ("Trash", "\\Trash"),
    ("Junk", "\\Junk"),
    ("Archive", "\\Archive"),
)
INBOX = "INBOX"

# The delivery path's own statements run on the driver (storage/driver.py): every message
# waits for the group committer, and SQLAlchemy's execution cost several times the query.
_F, _A = Folder.__tablename__, Account.__tablename__
_ALLOCATE_UIDS_SQL = (f"UPDATE {_F} SET uidnext = uidnext + ?, highestmodseq = highestmodseq + 1 WHERE id = ? "
                      "RETURNING uidnext, highestmodseq")
_FOLDER_IDS_SQL = (f"SELECT f.id, f.account_id, f.name, a.status FROM {_F} f JOIN {_A} a ON a.id = f.account_id "
                   "WHERE f.account_id IN ({accounts}) AND f.name IN ({names})")
_INSERT_BLOB = insert(Blob)
_INSERT_WRAPPED = insert(WrappedKey)
_INSERT_MESSAGE = insert(Message)
_INSERT_OUTBOUND = insert(OutboundItem)


def new_uidvalidity() -> int:
    # Random rather than time-based: two folders recreated in the same second still differ.
    return secrets.randbelow(2**31 - 1) + 1


def create_folder(conn: Connection, account_id: int, name: str, special_use: str | None = None) -> int:
    result = conn.execute(
        insert(Folder).values(
            account_id=account_id, name=name, uidvalidity=new_uidvalidity(), uidnext=1, highestmodseq=1,
            special_use=special_use, subscribed=True,
        )
    )
    return result.inserted_primary_key[0]


def create_default_folders(conn: Connection, account_id: int) -> None:
    conn.execute(
        insert(Folder),
        [
            dict(account_id=account_id, name=name, uidvalidity=new_uidvalidity(), uidnext=1, highestmodseq=1,
                 special_use=use, subscribed=True)
            for name, use in DEFAULT_FOLDERS
        ],
    )


def folder_id(conn: Connection, account_id: int, name: str) -> int | None:
    return conn.execute(
        select(Folder.id).where(Folder.account_id == account_id, Folder.name == name)
    ).scalar_one_or_none()


def allocate_uids(conn: Connection, folder: int, count: int = 1) -> tuple[int, int]:
    """Reserve `count` UIDs and one new MODSEQ atomically; returns (first uid, modseq)."""
    uidnext, modseq = driver.rows(conn, _ALLOCATE_UIDS_SQL, (count, folder))[0]
    return uidnext - count, modseq


def folder_ids(conn: Connection, wanted: set[tuple[int, str]]) -> dict[tuple[int, str], tuple[int, str]]:
    """(folder id, account status) for many (account id, folder name) pairs in one query.

    The status is read in the writer's transaction: a delivery prepared from a slightly
    older view of the account learns here whether it is still active.
    """
    if not wanted:
        return {}
    accounts, names = sorted({a for a, _ in wanted}), sorted({n for _, n in wanted})
    sql = _FOLDER_IDS_SQL.format(accounts=driver.placeholders(len(accounts)), names=driver.placeholders(len(names)))
    found = driver.rows(conn, sql, (*accounts, *names))
    return {(account, name): (folder, status) for folder, account, name, status in found if (account, name) in wanted}


@dataclass(frozen=True)
class StoredBlob:
    id: str
    body: bytes
    summary: bytes
    size: int


def insert_blobs(conn: Connection, blobs: list[StoredBlob]) -> None:
    conn.execute(_INSERT_BLOB, [dict(id=b.id, body=b.body, summary=b.summary, size=b.size) for b in blobs])


def insert_wrapped_keys(conn: Connection, rows: list[tuple[str, int, bytes]]) -> None:
    """(blob id, reader account id, wrapped content key) rows."""
    conn.execute(_INSERT_WRAPPED, [dict(blob_id=b, account_id=a, wrapped=w) for b, a, w in rows])


def insert_messages(conn: Connection, rows: list[dict]) -> None:
    """Rows with folder_id, uid, modseq, flags, internal_date, size, blob_id (UIDs already allocated)."""
    if rows:
        conn.execute(_INSERT_MESSAGE, rows)


def insert_message(
    conn: Connection, folder: int, blob_id: str, size: int, internal_date: dt.datetime, flags: str = ""
) -> tuple[int, int]:
    """Place a stored blob in a folder; returns (message id, uid)."""
    uid, modseq = allocate_uids(conn, folder)
    result = conn.execute(
        insert(Message).values(
            folder_id=folder, uid=uid, modseq=modseq, flags=flags, internal_date=internal_date, size=size,
            blob_id=blob_id,
        )
    )
    return result.inserted_primary_key[0], uid


def insert_outbound(conn: Connection, rows: list[dict]) -> None:
    if rows:
        conn.execute(_INSERT_OUTBOUND, rows)


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
