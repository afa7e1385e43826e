"""The one path every incoming message takes (DESIGN.md "One path for every message").

parse under limits -> policy -> encrypt once -> wrap the content key for each reader
-> place in folders, queue remote recipients, audit -> ONE transaction, group-committed.
Only when that transaction is durable does :func:`accept` return; front doors say
yes (SMTP 250, IMAP OK, HTTP 201) after it and never before.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import functools
import json
import secrets
from dataclasses import dataclass, field
from typing import Callable

from sqlalchemy import Connection

from crypto.envelope import SealedMessage, encrypt_message, wrap_key
from mssante_hub import audit, policy, refusals
from mssante_hub.hub import Hub
from mssante_hub.mime import parse, summary_fields
from mssante_hub.refusals import Refusal
from storage import accounts as account_repo
from storage import folders
from storage.bulk import insert_rows
from storage.models import AccountStatus, AuditEvent, Blob, Message, OutboundItem, WrappedKey


# Messages up to this size are parsed, checked and encrypted in the group committer's
# thread (see accept); larger ones in the parse threads. ~1 ms of work at this size.
PREPARE_IN_WRITER_MAX_BYTES = 64 * 1024


@dataclass(frozen=True)
class Envelope:
    """What the front door knows besides the bytes."""

    mail_from: str
    rcpt_to: tuple[str, ...]
    channel: str = "internal"  # mx, submission, imap, web, internal
    peer: str = ""
    folder: str = folders.INBOX  # IMAP APPEND names its folder
    flags: str = ""
    internal_date: dt.datetime | None = None
    dsn: dict[str, str] = field(default_factory=dict)  # notify, ret, envid (RFC 3461)
    declared_size: int | None = None  # SMTP SIZE=, checked before a byte is read
    rcpt_dsn: dict[str, dict[str, str]] = field(default_factory=dict)  # lower-case rcpt -> notify, orcpt


@dataclass(frozen=True)
class Identity:
    """Who authenticated on the front door (None for an anonymous peer)."""

    address: str
    account_id: int | None = None
    type: str = ""


@dataclass(frozen=True)
class Delivered:
    blob_id: str
    uids: dict[str, int]  # local recipient -> UID in its folder
    queued: tuple[str, ...]  # remote recipients handed to the relay


@dataclass
class _Prepared:
    sealed: SealedMessage
    size: int
    readers: dict[str, account_repo.AccountRow]
    wrapped: list[tuple[int, bytes]]
    remote: list[str]
    writes: list = field(default_factory=list)  # policy's state writes, run in the delivery's transaction


def prepare(hub: Hub, envelope: Envelope, raw: bytes, local: list[str], remote: list[str],
            identity: Identity | None = None) -> _Prepared:
    """Everything before the write, in one worker thread or process: lookups, parsing, policy, crypto.

    Kept off the event loop as a whole: libsodium releases the GIL, and taking it back
    on a busy loop thread costs milliseconds per call. Reads only; returns plain data.
    """
    message = parse(raw, hub.limits)
    decision = policy.check(hub, envelope, identity, message, local, remote)
    if decision.accounts is not None:
        readers = {a: decision.accounts[a] for a in decision.local if a in decision.accounts}
    else:
        readers = hub.accounts_by_address(decision.local)
    for address in decision.local:
        account = readers.get(address)
        if account is None:
            raise Refusal(refusals.UNKNOWN_RECIPIENT, address)
        if account.status != AccountStatus.ACTIVE.value:
            raise Refusal(refusals.MAILBOX_UNAVAILABLE, address)
    key_holders = {a.id: a for a in readers.values()}
    if decision.remote:
        system = hub.system_account()
        if system is None:
            raise Refusal(refusals.TEMPORARY_FAILURE, "no relay key")
        key_holders[system.id] = system
    summary = json.dumps(summary_fields(message), ensure_ascii=False).encode()
    sealed = encrypt_message(secrets.token_hex(16), raw, summary)
    wrapped = [
        (a.id, wrap_key(sealed.content_key, sealed.blob_id, hub.keyring.public_key(a.public_key)))
        for a in key_holders.values()
    ]
    return _Prepared(sealed, len(raw), readers, wrapped, decision.remote, decision.writes)


def _split_recipients(hub: Hub, rcpt_to: tuple[str, ...]) -> tuple[list[str], list[str]]:
    local, remote, seen = [], [], set()
    for rcpt in rcpt_to:
        key = rcpt.lower()
        if key in seen:
            continue
        seen.add(key)
        (local if hub.is_local(key) else remote).append(key)
    return local, remote


@dataclass
class _StoreUnit:
    prepared: _Prepared
    envelope: Envelope
    actor: str


_BLOB_COLUMNS = ("id", "body", "summary", "size")
_WRAPPED_COLUMNS = ("blob_id", "account_id", "wrapped")
_MESSAGE_COLUMNS = ("folder_id", "uid", "modseq", "flags", "internal_date", "size", "blob_id")
_OUTBOUND_COLUMNS = ("blob_id", "mail_from", "rcpt_to", "dsn_notify", "dsn_ret", "dsn_envid", "dsn_orcpt")
_AUDIT_COLUMNS = ("actor", "actor_type", "action", "subject_account_id", "target", "outcome")


def _store_many(conn: Connection, units: list[_StoreUnit]) -> list[dict[str, int]]:
    """Write many accepted messages with one statement per table and one UID allocation per folder."""
    now = dt.datetime.now(dt.timezone.utc)
    wanted = {(a.id, u.envelope.folder) for u in units for a in u.prepared.readers.values()}
    found_folders = folders.folder_ids(conn, wanted)
    placements: dict[int, list[tuple[int, str]]] = {}  # folder -> [(unit index, address)]
    for index, unit in enumerate(units):
        for address, account in unit.prepared.readers.items():
            found = found_folders.get((account.id, unit.envelope.folder))
            if found is None:
                raise Refusal(refusals.MAILBOX_UNAVAILABLE, f"no folder {unit.envelope.folder!r}")
            folder, status = found
            if status != AccountStatus.ACTIVE.value:
                # Changed since prepare() looked (its view of the account may be a few seconds old):
                # refused for what the mailbox is now, as RCPT would have been.
                raise Refusal(policy.recipient_reason(account.type, status) or refusals.MAILBOX_UNAVAILABLE, address)
            placements.setdefault(folder, []).append((index, address))

    # Rows as tuples, straight to the driver as multi-row INSERTs (storage.bulk): SQLAlchemy's per-row parameter
    # handling cost more than the inserts themselves here.
    results: list[dict[str, int]] = [{} for _ in units]
    message_rows, audit_rows, outbound_rows = [], [], []
    for folder, placed in placements.items():
        first_uid, modseq = folders.allocate_uids(conn, folder, len(placed))
        for offset, (index, address) in enumerate(placed):
            unit = units[index]
            uid = first_uid + offset
            results[index][address] = uid
            blob_id = unit.prepared.sealed.blob_id
            message_rows.append((folder, uid, modseq, unit.envelope.flags, unit.envelope.internal_date or now,
                                 unit.prepared.size, blob_id))
            audit_rows.append((unit.actor, unit.envelope.channel, audit.DELIVER, unit.prepared.readers[address].id,
                               f"blob:{blob_id}", "ok"))
    for unit in units:
        blob_id, dsn = unit.prepared.sealed.blob_id, unit.envelope.dsn
        for rcpt in unit.prepared.remote:
            rcpt_dsn = unit.envelope.rcpt_dsn.get(rcpt, {})
            outbound_rows.append((blob_id, unit.envelope.mail_from, rcpt, rcpt_dsn.get("notify", dsn.get("notify", "")),
                                  dsn.get("ret", ""), dsn.get("envid", ""), rcpt_dsn.get("orcpt", "")))
            audit_rows.append((unit.actor, unit.envelope.channel, audit.SEND, None,
                               f"blob:{blob_id} to:{rcpt.rpartition('@')[2]}", "queued"))

    insert_rows(conn, Blob.__table__, _BLOB_COLUMNS, [
        (u.prepared.sealed.blob_id, u.prepared.sealed.body, u.prepared.sealed.summary, u.prepared.size)
        for u in units
    ])
    insert_rows(conn, WrappedKey.__table__, _WRAPPED_COLUMNS, [
        (u.prepared.sealed.blob_id, account_id, wrapped) for u in units for account_id, wrapped in u.prepared.wrapped
    ])
    insert_rows(conn, Message.__table__, _MESSAGE_COLUMNS, message_rows)
    insert_rows(conn, OutboundItem.__table__, _OUTBOUND_COLUMNS, outbound_rows)
    insert_rows(conn, AuditEvent.__table__, _AUDIT_COLUMNS, audit_rows)
    for unit in units:
        for write in unit.prepared.writes:
            write(conn)
    return results


def _prepare_unit(hub: Hub, holder: list, envelope: Envelope, raw: bytes, local: list[str], remote: list[str],
                  identity: Identity | None, actor: str) -> _StoreUnit:
    """Prepare a message into its store unit (the prepared message also goes to `holder`)."""
    prepared = prepare(hub, envelope, raw, local, remote, identity)
    holder.append(prepared)
    return _StoreUnit(prepared, envelope, actor)


def _prepare_then_store(hub: Hub, done: concurrent.futures.Future, unit_of: Callable[[], _StoreUnit]) -> None:
    """In a parse thread: prepare, then queue the unit for the committer, which resolves `done`."""
    try:
        unit = unit_of()
    except BaseException as exc:  # noqa: BLE001 - handed to the waiting caller (Refusal, mostly)
        if done.set_running_or_notify_cancel():
            done.set_exception(exc)
        return
    hub.committer.submit_batched(_store_many, unit, done)


async def accept(hub: Hub, envelope: Envelope, raw: bytes, identity: Identity | None = None) -> Delivered:
    """Parse, check, encrypt and store one message durably, or raise Refusal.

    A refused message leaves nothing behind: all writes are in one transaction.
    """
    if max(envelope.declared_size or 0, len(raw)) > hub.limits.max_message_bytes:
        raise Refusal(refusals.MESSAGE_TOO_BIG)
    local, remote = _split_recipients(hub, envelope.rcpt_to)
    if len(local) + len(remote) > hub.config.get("limits.max_recipients"):
        raise Refusal(refusals.TOO_MANY_RECIPIENTS)
    actor = identity.address if identity else envelope.mail_from or "<>"
    if hub.prepare_pool is not None:
        prepared = await hub.prepare_pool.prepare(envelope, raw, local, remote, identity)
        uids = await hub.write_batched(_store_many, _StoreUnit(prepared, envelope, actor))
    else:
        # The loop wakes once, when the message is committed (or refused), not also in between.
        done: concurrent.futures.Future = concurrent.futures.Future()
        holder: list[_Prepared] = []
        unit_of = functools.partial(_prepare_unit, hub, holder, envelope, raw, local, remote, identity, actor)
        if len(raw) <= PREPARE_IN_WRITER_MAX_BYTES:
            # A small message is prepared by the writer thread itself, just before its batch: handing it
            # to a parse thread first cost more than preparing it (each hand-over between threads waits
            # for the GIL and for the other thread to be scheduled: ~2 ms on a small virtual machine).
            hub.committer.submit_batched(_store_many, None, done, before=unit_of)
        else:
            # A large one is parsed and encrypted in a parse thread, so that it never holds up the writer.
            hub.parse_pool.submit(_prepare_then_store, hub, done, unit_of)
        uids = await asyncio.wrap_future(done)
        prepared = holder[0]
    result = Delivered(prepared.sealed.blob_id, uids, tuple(prepared.remote))
    for listener in hub.delivery_listeners:
        listener(result)
    return result
