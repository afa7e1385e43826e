"""Storing accepted messages: one body, its wrapped keys, its places in folders, the remote
recipients queued for the relay and the audit rows, for many messages in one transaction.

The one storage step of every message (delivery and bulk provisioning alike); the bodies go to the
install's blob store (storage/blobstore.py: the row, or files written before the commit). Rows go to the
driver as multi-row INSERTs (storage/bulk.py): SQLAlchemy's per-row parameter handling cost more
than the inserts themselves on this path. Nothing here encrypts or decides: the caller hands in
ciphertext and decisions.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Callable

from sqlalchemy import Connection

from storage import blobstore
from storage.bulk import insert_rows
from storage.folders import allocate_uids, create_folder, folder_ids
from storage.models import AccountStatus, AuditEvent, Blob, Message, OutboundItem, WrappedKey


@dataclass(frozen=True)
class Body:
    """One encrypted message body and summary (crypto.envelope.SealedMessage's stored half)."""

    blob_id: str
    body: bytes
    summary: bytes
    size: int


@dataclass(frozen=True)
class Reader:
    """A wrapped content key: who can open the body."""

    account_id: int
    wrapped: bytes


@dataclass(frozen=True)
class Placement:
    """The body placed in one folder of one account (a local recipient, or the sender's own copy)."""

    address: str
    account_id: int
    folder: str
    flags: str = ""
    optional: bool = False  # skipped, not refused, when the folder is missing (the sender's Sent copy)
    create: bool = False  # the folder is made if missing (a dossier category's, on its first document)


@dataclass(frozen=True)
class Queued:
    """A remote recipient handed to the relay, with its DSN parameters (RFC 3461)."""

    rcpt: str
    mail_from: str
    notify: str = ""
    ret: str = ""
    envid: str = ""
    orcpt: str = ""
    next_attempt_at: dt.datetime | None = None


@dataclass(frozen=True)
class Trace:
    """An audit row (never content)."""

    actor: str
    actor_type: str
    action: str
    subject_account_id: int | None
    target: str
    outcome: str


@dataclass
class Unit:
    """Everything one accepted message writes."""

    body: Body
    readers: list[Reader]
    placements: list[Placement]
    queued: list[Queued] = field(default_factory=list)
    traces: list[Trace] = field(default_factory=list)  # each placement's trace is added by store_many
    placement_trace: tuple[str, str, str, str] | None = None  # (actor, actor_type, action, target suffix) per placement
    internal_date: dt.datetime | None = None
    writes: list[Callable[[Connection], None]] = field(default_factory=list)  # the rules' state writes


class Unavailable(Exception):
    """A placement's mailbox is not active (changed since the caller looked), or its folder is missing."""

    def __init__(self, address: str, status: str | None, folder: str) -> None:
        super().__init__(address)
        self.address, self.status, self.folder = address, status, folder


_BLOB_COLUMNS = ("id", "body", "summary", "size")
_WRAPPED_COLUMNS = ("blob_id", "account_id", "wrapped")
_MESSAGE_COLUMNS = ("folder_id", "uid", "modseq", "flags", "internal_date", "size", "blob_id")
_OUTBOUND_COLUMNS = ("blob_id", "mail_from", "rcpt_to", "dsn_notify", "dsn_ret", "dsn_envid", "dsn_orcpt")
_OUTBOUND_DUE_COLUMNS = (*_OUTBOUND_COLUMNS, "next_attempt_at")
_AUDIT_COLUMNS = ("actor", "actor_type", "action", "subject_account_id", "target", "outcome")


def store_many(conn: Connection, units: list[Unit]) -> list[list[int | None]]:
    """Write many messages with one statement per table and one UID allocation per folder.

    Returns, per unit, the UID of each placement in order (None for a skipped optional one).
    Raises Unavailable if a mailbox is not active: the caller's transaction must then be undone.
    """
    now = dt.datetime.now(dt.timezone.utc)
    wanted = {(p.account_id, p.folder) for u in units for p in u.placements}
    found = folder_ids(conn, wanted)  # read in this transaction: the status is the one in force now
    to_create = {(p.account_id, p.folder) for u in units for p in u.placements
                 if p.create and (p.account_id, p.folder) not in found}
    if to_create:
        for account_id, name in sorted(to_create):
            create_folder(conn, account_id, name)
        found = folder_ids(conn, wanted)
    by_folder: dict[int, list[tuple[int, int]]] = {}  # folder -> [(unit index, placement index)]
    results: list[list[int | None]] = [[None] * len(u.placements) for u in units]
    for index, unit in enumerate(units):
        for place_index, place in enumerate(unit.placements):
            hit = found.get((place.account_id, place.folder))
            if hit is None:
                if place.optional:
                    continue
                raise Unavailable(place.address, None, place.folder)
            folder, status = hit
            if status != AccountStatus.ACTIVE.value:
                raise Unavailable(place.address, status, place.folder)
            by_folder.setdefault(folder, []).append((index, place_index))

    message_rows, audit_rows = [], []
    for folder, placed in by_folder.items():
        first_uid, modseq = allocate_uids(conn, folder, len(placed))
        for offset, (index, place_index) in enumerate(placed):
            unit, place = units[index], units[index].placements[place_index]
            uid = first_uid + offset
            results[index][place_index] = uid
            message_rows.append((folder, uid, modseq, place.flags, unit.internal_date or now, unit.body.size,
                                 unit.body.blob_id))
            if unit.placement_trace is not None:
                actor, actor_type, action, suffix = unit.placement_trace
                audit_rows.append((actor, actor_type, action, place.account_id, f"blob:{unit.body.blob_id}{suffix}",
                                   "ok"))
    outbound_rows, outbound_due_rows = [], []
    for unit in units:
        for q in unit.queued:
            row = (unit.body.blob_id, q.mail_from, q.rcpt, q.notify, q.ret, q.envid, q.orcpt)
            if q.next_attempt_at is None:
                outbound_rows.append(row)
            else:
                outbound_due_rows.append((*row, q.next_attempt_at))
        audit_rows.extend((t.actor, t.actor_type, t.action, t.subject_account_id, t.target, t.outcome)
                          for t in unit.traces)

    # The directory store's files are durable before the rows that make them visible are even inserted;
    # a crash from here to the commit leaves files with no row, which its sweeper deletes (storage/blobstore.py).
    blobs = blobstore.of(conn)
    blobs.put_many([(u.body.blob_id, u.body.body) for u in units])
    insert_rows(conn, Blob.__table__, _BLOB_COLUMNS,
                [(u.body.blob_id, blobs.column(u.body.body), u.body.summary, u.body.size) for u in units])
    insert_rows(conn, WrappedKey.__table__, _WRAPPED_COLUMNS,
                [(u.body.blob_id, r.account_id, r.wrapped) for u in units for r in u.readers])
    insert_rows(conn, Message.__table__, _MESSAGE_COLUMNS, message_rows)
    insert_rows(conn, OutboundItem.__table__, _OUTBOUND_COLUMNS, outbound_rows)
    insert_rows(conn, OutboundItem.__table__, _OUTBOUND_DUE_COLUMNS, outbound_due_rows)
    insert_rows(conn, AuditEvent.__table__, _AUDIT_COLUMNS, audit_rows)
    for unit in units:
        for write in unit.writes:
            write(conn)
    return results
