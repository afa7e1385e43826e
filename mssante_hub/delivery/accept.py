"""accept(): the orchestration of the one path every incoming message takes.

parse under limits -> rules -> encrypt once -> wrap the content key for each reader
(delivery/prepare.py) -> the store step (storage/deliveries.py) in ONE transaction,
group-committed. Only when that transaction is durable does :func:`accept` return; front
doors say yes (SMTP 250, IMAP OK, HTTP 201) after it and never before.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
from typing import Callable

from sqlalchemy import Connection

from mssante_hub.agenda import filing as agenda_filing
from mssante_hub.catalogue import measures
from mssante_hub.delivery import prepare_pool
from mssante_hub.delivery.prepare import Prepared, prepare
from mssante_hub.dossier import filing
from mssante_hub.envelope import Delivered, Envelope, Identity
from mssante_hub.hub import Hub
from mssante_hub.observe import metrics
from mssante_hub.rules import policy, refusals
from mssante_hub.rules.refusals import Refusal
from storage import deliveries

# Messages up to this size are parsed, checked and encrypted in the group committer's
# thread (see accept); larger ones in the parse threads. ~1 ms of work at this size.
PREPARE_IN_WRITER_MAX_BYTES = 64 * 1024
log = logging.getLogger(__name__)


def _split_recipients(hub: Hub, rcpt_to: tuple[str, ...]) -> tuple[list[str], list[str]]:
    local, remote, seen = [], [], set()
    for rcpt in rcpt_to:
        key = rcpt.lower()
        if key in seen:
            continue
        seen.add(key)
        (local if hub.is_local(key) else remote).append(key)
    return local, remote


def _store_many(conn: Connection, items: list[Prepared]) -> list[tuple[Prepared, list[int | None]]]:
    """The committer's batch function: the store step, its refusals worded by the rules.

    Each item's result is the prepared message with its placements' UIDs: the caller of a message
    prepared in the writer thread learns of it here, with no out-parameter. A message's filed
    documents (Prepared.extra_units) are stored with it: one commit holds both.
    """
    units, firsts = [], []
    for item in items:
        firsts.append(len(units))
        units.append(item.unit)
        units.extend(item.extra_units)
    try:
        results = deliveries.store_many(conn, units)
        return [(item, results[first]) for item, first in zip(items, firsts)]
    except deliveries.Unavailable as missing:
        if missing.status is None:
            raise Refusal(refusals.MAILBOX_UNAVAILABLE, f"no folder {missing.folder!r}") from None
        # Changed since prepare() looked (its view of the account may be a few seconds old):
        # refused for what the mailbox is now, as RCPT would have been.
        account_type = next((i.account_types[missing.address] for i in items if missing.address in i.account_types),
                            None)
        raise Refusal(policy.recipient_reason(account_type, missing.status) or refusals.MAILBOX_UNAVAILABLE,
                      missing.address) from None


def _prepare_then_store(hub: Hub, done: concurrent.futures.Future, prepare_it: Callable[[], Prepared]) -> None:
    """In a parse thread: prepare, then queue the unit for the committer, which resolves `done`."""
    try:
        prepared = prepare_it()
    except BaseException as exc:  # noqa: BLE001 - handed to the waiting caller (Refusal, mostly)
        if done.set_running_or_notify_cancel():
            done.set_exception(exc)
        return
    hub.committer.submit_batched(_store_many, prepared, done)


async def accept(hub: Hub, envelope: Envelope, raw: bytes, identity: Identity | None = None) -> Delivered:
    """Parse, check, encrypt and store one message durably, or raise Refusal.

    A refused message leaves nothing behind: all writes are in one transaction. Each outcome is
    one log line: the door, counts, size, the stored id or the refusal's codes; no address, no content.
    """
    channel = getattr(envelope.channel, "value", envelope.channel)
    try:
        result = await _accept(hub, envelope, raw, identity)
    except Refusal as refusal:
        metrics.refused(channel, refusal.reason)
        log.info("refused on %s: %d %s (%d recipients, %d bytes)", channel, refusal.reason.code,
                 refusal.reason.status, len(envelope.rcpt_to), len(raw))
        raise
    metrics.delivered(channel)
    if log.isEnabledFor(logging.INFO):
        log.info("delivered on %s: id %s, %d local, %d remote, %d bytes", channel, result.blob_id,
                 len(result.uids), len(result.queued), len(raw))
    return result


async def _accept(hub: Hub, envelope: Envelope, raw: bytes, identity: Identity | None) -> Delivered:
    if max(envelope.declared_size or 0, len(raw)) > hub.limits.max_message_bytes:
        raise Refusal(refusals.MESSAGE_TOO_BIG)
    local, remote = _split_recipients(hub, envelope.rcpt_to)
    if len(local) + len(remote) > hub.config.get("limits.max_recipients"):
        raise Refusal(refusals.TOO_MANY_RECIPIENTS)
    pool = prepare_pool.of(hub)
    if pool is not None:
        pooled = await pool.prepare(envelope, raw, local, remote, identity)
        prepared, uids = await hub.write_batched(_store_many, pooled)
    else:
        # The loop wakes once, when the message is committed (or refused), not also in between.
        done: concurrent.futures.Future = concurrent.futures.Future()
        prepare_it = functools.partial(prepare, hub, envelope, raw, local, remote, identity)
        if len(raw) <= PREPARE_IN_WRITER_MAX_BYTES and not filing.may_carry_documents(raw) and \
                not agenda_filing.may_carry_calendar(raw) and not measures.may_carry_measures(raw):
            # A small message is prepared by the writer thread itself, just before its batch: handing it
            # to a parse thread first cost more than preparing it (each hand-over between threads waits
            # for the GIL and for the other thread to be scheduled: ~2 ms on a small virtual machine).
            hub.committer.submit_batched(_store_many, None, done, before=prepare_it)
        else:
            # A large one is parsed and encrypted in a parse thread, so that it never holds up the writer;
            # so is a document message (unzipping and XML reading: milliseconds to a second) and a calendar
            # (bounded by agenda/ical.py, but up to seconds for a hostile one), and FHIR measures (validation).
            hub.parse_pool.submit(_prepare_then_store, hub, done, prepare_it)
        prepared, uids = await asyncio.wrap_future(done)
    result = _delivered(prepared, uids)
    _tell_listeners(hub, result)
    return result


def _delivered(prepared: Prepared, uids: list[int | None]) -> Delivered:
    places = prepared.unit.placements
    recipients = {places[i].address: uids[i] for i in range(prepared.recipient_places)}
    copy_uid = uids[prepared.recipient_places] if len(places) > prepared.recipient_places else None
    return Delivered(prepared.unit.body.blob_id, recipients, tuple(prepared.remote), copy_uid, prepared.filing)


async def accept_all(hub: Hub, messages: list[tuple[Envelope, bytes]], identity: Identity | None = None
                     ) -> list[Delivered]:
    """Several messages stored together or not at all (IMAP MULTIAPPEND, RFC 3502), or raise Refusal.

    Each is parsed, checked and encrypted as accept() does one (prepare(), in the parse threads or the
    prepare pool); then all are stored by ONE unit of the group committer (its own savepoint in a shared
    batch): a refusal of any message, at prepare or at the store step, leaves none of them behind.
    """
    channel = getattr(messages[0][0].channel, "value", messages[0][0].channel) if messages else ""
    total = sum(len(raw) for _, raw in messages)
    try:
        results = await _accept_all(hub, messages, identity)
    except Refusal as refusal:
        metrics.refused(channel, refusal.reason)
        log.info("refused on %s: %d %s (%d messages together, %d bytes)", channel, refusal.reason.code,
                 refusal.reason.status, len(messages), total)
        raise
    for result in results:
        metrics.delivered(channel)
        _tell_listeners(hub, result)
    log.info("delivered on %s: %d messages together, %d bytes", channel, len(results), total)
    return results


async def _accept_all(hub: Hub, messages: list[tuple[Envelope, bytes]], identity: Identity | None
                      ) -> list[Delivered]:
    loop = asyncio.get_running_loop()
    pool = prepare_pool.of(hub)
    waits = []
    for envelope, raw in messages:
        if max(envelope.declared_size or 0, len(raw)) > hub.limits.max_message_bytes:
            raise Refusal(refusals.MESSAGE_TOO_BIG)
        local, remote = _split_recipients(hub, envelope.rcpt_to)
        if len(local) + len(remote) > hub.config.get("limits.max_recipients"):
            raise Refusal(refusals.TOO_MANY_RECIPIENTS)
        if pool is not None:
            waits.append(pool.prepare(envelope, raw, local, remote, identity))
        else:
            waits.append(loop.run_in_executor(hub.parse_pool, functools.partial(
                prepare, hub, envelope, raw, local, remote, identity)))
    outcomes = await asyncio.gather(*waits, return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome  # the first refused message in the client's order: nothing was stored
    prepared: list[Prepared] = list(outcomes)
    stored = await hub.write(lambda conn: _store_many(conn, prepared))
    return [_delivered(item, uids) for item, uids in stored]


def _tell_listeners(hub: Hub, result: Delivered) -> None:
    """After the commit: a listener's failure is logged and counted, never turned into a refusal (the
    message is durable; a 4xx now would make the sender deliver it twice)."""
    for listener in hub.delivery_listeners:
        try:
            listener(result)
        except Exception as exc:  # noqa: BLE001 - the exception type only: its text may quote content
            hub.listener_failures += 1
            log.error("after-delivery listener %s failed (%s)", getattr(listener, "__qualname__", "?"),
                      type(exc).__name__)
