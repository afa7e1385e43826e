"""What the webmail reads: one page of a folder's summaries, one message of the owner's folders.

Both queries are scoped to the owner's folders (a reader who shares a body with
another mailbox still sees only its own messages) and fetch only the columns the
page needs: a listing decrypts summaries, never bodies.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, select

from storage.models import Blob, Folder, Message, WrappedKey


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


@dataclass(frozen=True)
class FolderRow:
    name: str
    special_use: str | None


def folders(conn: Connection, account_id: int) -> list[FolderRow]:
    rows = conn.execute(select(Folder.name, Folder.special_use).where(Folder.account_id == account_id)
                        .order_by(Folder.name)).all()
    return [FolderRow(r.name, r.special_use) for r in rows]


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


def folder_id(conn: Connection, account_id: int, name: str) -> int | None:
    return conn.execute(select(Folder.id).where(Folder.account_id == account_id, Folder.name == name)).scalar()
