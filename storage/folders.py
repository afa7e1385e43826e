"""Folders: creation, look-ups, UID and MODSEQ allocation, renaming, subscription, counts.

Plain functions over a SQLAlchemy Connection, so that callers choose the transaction: the
group committer runs many deliveries in one, and nothing is acknowledged before it is durable.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, func, insert, or_, select, update

from storage import driver
from storage.models import Account, Folder, Message

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

# Hot-path statements are built once (as the delivery's below): on this kind of machine building
# a statement and its cache key costs more than SQLite running it.
_FOLDER_BY_ID = select(*_FOLDER_COLUMNS).where(Folder.id == bindparam("folder"))
_FOLDER_BY_NAME = select(*_FOLDER_COLUMNS).where(Folder.account_id == bindparam("account"),
                                                 Folder.name == bindparam("name"))

_NEW_MODSEQ = (update(Folder).where(Folder.id == bindparam("folder"))
               .values(highestmodseq=Folder.highestmodseq + 1).returning(Folder.highestmodseq))

# The delivery path's own statements run on the driver (storage/driver.py): every message
# waits for the group committer, and SQLAlchemy's execution cost several times the query.
_F, _A = Folder.__tablename__, Account.__tablename__
_ALLOCATE_UIDS_SQL = (f"UPDATE {_F} SET uidnext = uidnext + ?, highestmodseq = highestmodseq + 1 WHERE id = ? "
                      "RETURNING uidnext, highestmodseq")
_FOLDER_IDS_SQL = (f"SELECT f.id, f.account_id, f.name, a.status FROM {_F} f JOIN {_A} a ON a.id = f.account_id "
                   "WHERE f.account_id IN ({accounts}) AND f.name IN ({names})")


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


def folders_of(conn: Connection, account_id: int) -> list[FolderRow]:
    rows = conn.execute(select(*_FOLDER_COLUMNS).where(Folder.account_id == account_id).order_by(Folder.name))
    return [FolderRow(*r) for r in rows]


def folder_by_name(conn: Connection, account_id: int, name: str) -> FolderRow | None:
    row = conn.execute(_FOLDER_BY_NAME, {"account": account_id, "name": name}).one_or_none()
    return FolderRow(*row) if row else None


def folder_by_id(conn: Connection, folder_id: int) -> FolderRow | None:
    row = conn.execute(_FOLDER_BY_ID, {"folder": folder_id}).one_or_none()
    return FolderRow(*row) if row else None


def new_modseq(conn: Connection, folder_id: int) -> int:
    return conn.execute(_NEW_MODSEQ, {"folder": folder_id}).scalar_one()


def account_usage(conn: Connection, account_id: int) -> int:
    """Bytes stored in an account's folders (QUOTA STORAGE counts message sizes)."""
    return int(conn.execute(
        select(func.coalesce(func.sum(Message.size), 0)).join(Folder, Folder.id == Message.folder_id)
        .where(Folder.account_id == account_id)
    ).scalar_one())


def rename_folder(conn: Connection, account_id: int, old: str, new: str, delimiter: str = "/") -> None:
    """Rename a folder and its children; INBOX itself is handled by the caller."""
    rows = conn.execute(select(Folder.id, Folder.name).where(
        Folder.account_id == account_id, or_(Folder.name == old, Folder.name.startswith(old + delimiter))
    )).all()
    for row in rows:
        conn.execute(update(Folder).where(Folder.id == row.id).values(name=new + row.name[len(old):]))


def set_subscribed(conn: Connection, folder_id: int, subscribed: bool) -> None:
    conn.execute(update(Folder).where(Folder.id == folder_id).values(subscribed=subscribed))
