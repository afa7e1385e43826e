"""The one path every incoming message takes (DESIGN.md "One path for every message").

parse under limits -> policy -> encrypt once -> wrap the content key for each reader
-> place in folders, queue remote recipients, audit -> ONE transaction, group-committed.
Only when that transaction is durable does :func:`accept` return; front doors say
yes (SMTP 250, IMAP OK, HTTP 201) after it and never before.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import secrets
from dataclasses import dataclass, field

from sqlalchemy import Connection

from crypto.envelope import SealedMessage, encrypt_message, wrap_key
from mssante_hub import audit, policy, refusals
from mssante_hub.hub import Hub
from mssante_hub.mime import parse, summary_fields
from mssante_hub.refusals import Refusal
from storage import accounts as account_repo
from storage import mailstore
from storage.models import AccountStatus


@dataclass(frozen=True)
class Envelope:
    """What the front door knows besides the bytes."""

    mail_from: str
    rcpt_to: tuple[str, ...]
    channel: str = "internal"  # mx, submission, imap, web, internal
    peer: str = ""
    folder: str = mailstore.INBOX  # IMAP APPEND names its folder
    flags: str = ""
    internal_date: dt.datetime | None = None
    dsn: dict[str, str] = field(default_factory=dict)  # notify, ret, envid (RFC 3461)


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


def _prepare(hub: Hub, envelope: Envelope, raw: bytes, local: list[str], remote: list[str]) -> _Prepared:
    """Everything before the write, in one worker thread: lookups, parsing, policy, crypto.

    Kept off the event loop as a whole: libsodium releases the GIL, and taking it back
    on a busy loop thread costs milliseconds per call.
    """
    message = parse(raw, hub.limits)
    decision = policy.check(message, envelope.mail_from, local, remote, hub.config.get("limits.max_recipients"))
    readers = hub.read_sync(lambda conn: account_repo.by_addresses(conn, decision.local))
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
    return _Prepared(sealed, len(raw), readers, wrapped, decision.remote)


def _split_recipients(hub: Hub, rcpt_to: tuple[str, ...]) -> tuple[list[str], list[str]]:
    local, remote, seen = [], [], set()
    for rcpt in rcpt_to:
        key = rcpt.lower()
        if key in seen:
            continue
        seen.add(key)
        (local if hub.is_local(key) else remote).append(key)
    return local, remote


def _store(conn: Connection, prepared: _Prepared, envelope: Envelope, actor: str) -> dict[str, int]:
    sealed = prepared.sealed
    mailstore.insert_blob(conn, mailstore.StoredBlob(sealed.blob_id, sealed.body, sealed.summary, prepared.size))
    mailstore.insert_wrapped_keys(conn, sealed.blob_id, prepared.wrapped)
    internal_date = envelope.internal_date or dt.datetime.now(dt.timezone.utc)
    uids: dict[str, int] = {}
    events = []
    for address, account in prepared.readers.items():
        folder = mailstore.folder_id(conn, account.id, envelope.folder)
        if folder is None:
            raise Refusal(refusals.MAILBOX_UNAVAILABLE, f"no folder {envelope.folder!r}")
        _, uids[address] = mailstore.insert_message(
            conn, folder, sealed.blob_id, prepared.size, internal_date, envelope.flags
        )
        events.append(dict(actor=actor, actor_type=envelope.channel, action=audit.DELIVER,
                           subject_account_id=account.id, target=f"blob:{sealed.blob_id}", outcome="ok"))
    mailstore.insert_outbound(conn, [
        dict(blob_id=sealed.blob_id, mail_from=envelope.mail_from, rcpt_to=rcpt,
             dsn_notify=envelope.dsn.get("notify", ""), dsn_ret=envelope.dsn.get("ret", ""),
             dsn_envid=envelope.dsn.get("envid", ""))
        for rcpt in prepared.remote
    ])
    for rcpt in prepared.remote:
        events.append(dict(actor=actor, actor_type=envelope.channel, action=audit.SEND, subject_account_id=None,
                           target=f"blob:{sealed.blob_id} to:{rcpt.rpartition('@')[2]}", outcome="queued"))
    audit.record_many(conn, events)
    return uids


async def accept(hub: Hub, envelope: Envelope, raw: bytes, identity: Identity | None = None) -> Delivered:
    """Parse, check, encrypt and store one message durably, or raise Refusal.

    A refused message leaves nothing behind: all writes are in one transaction.
    """
    local, remote = _split_recipients(hub, envelope.rcpt_to)
    if len(local) + len(remote) > hub.config.get("limits.max_recipients"):
        raise Refusal(refusals.TOO_MANY_RECIPIENTS)
    prepared = await asyncio.get_running_loop().run_in_executor(
        hub.parse_pool, _prepare, hub, envelope, raw, local, remote
    )
    actor = identity.address if identity else envelope.mail_from or "<>"
    uids = await hub.write(lambda conn: _store(conn, prepared, envelope, actor))
    result = Delivered(prepared.sealed.blob_id, uids, tuple(prepared.remote))
    for listener in hub.delivery_listeners:
        listener(result)
    return result
