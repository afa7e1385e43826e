"""The relay worker: takes due items from the durable queue and delivers them to their next hop.

Retries follow a schedule; a delay DSN goes once after `delay_warning_s`; a failure DSN
after a permanent refusal or once the item is older than `max_age_s`; a success DSN when
the sender asked NOTIFY=SUCCESS and the next hop cannot report it itself. Reports go back
into the hub through the `report` callable handed at start-up (relays never imports the hub).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import ssl
from dataclasses import dataclass
from typing import Awaitable, Callable

from sqlalchemy import Engine

from relays import client
from relays.client import Hop, Outcome
from relays.reports import RecipientStatus, delivery_status_notification
from relays.routing import DnsSettings, MxResolver, NoRoute, Router
from storage import outbound
from storage.outbound import Claimed
from relays import status as relay_status

log = logging.getLogger("relays.worker")
DEFAULT_NOTIFY = ("FAILURE", "DELAY")  # RFC 3461 §4.1 leaves the default to us
CLAIM_PER_WORKER_SLOT = 4


@dataclass(frozen=True)
class RelaySettings:
    hostname: str
    postmaster: str
    routes: dict[str, Hop]
    retry_schedule_s: tuple[float, ...] = (60, 300, 900, 1800, 3600)
    max_age_s: float = 5 * 86400
    delay_warning_s: float = 4 * 3600
    poll_interval_s: float = 5.0
    concurrency: int = 4
    lease_s: float = 600
    timeout_s: float = 30.0
    dns: DnsSettings | None = None  # None: static routes only


def parse_routes(entries: list[str]) -> dict[str, Hop]:
    """'domain=host:port' entries; '*' is the default route."""
    routes = {}
    for entry in entries:
        domain, _, hop = entry.partition("=")
        host, _, port = hop.rpartition(":")
        routes[domain.strip().lower()] = Hop(host.strip("[]"), int(port))
    return routes


def wants(notify: str, event: str) -> bool:
    if notify == "NEVER":
        return False
    return event in (notify.split(",") if notify else DEFAULT_NOTIFY)


OpenMessage = Callable[[str], bytes]  # blob id -> plaintext (blocking; run in a thread)
Report = Callable[[str, bytes], Awaitable[None]]  # recipient, report bytes -> stored in the hub


class RelayWorker:
    def __init__(self, engine: Engine, settings: RelaySettings, tls: ssl.SSLContext, open_message: OpenMessage,
                 report: Report, clock: Callable[[], dt.datetime] | None = None) -> None:
        self.engine = engine
        self.settings = settings
        self.tls = tls
        self.open_message = open_message
        self.report = report
        self.clock = clock or (lambda: dt.datetime.now(dt.timezone.utc))
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None
        self._stopping = False
        self.on_outcome: Callable[[str], None] | None = None  # told each attempt's kind (the hub's metrics)
        self.router = Router(settings.routes, MxResolver(settings.dns) if settings.dns is not None else None)

    # -- running ---------------------------------------------------------------------
    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.ensure_future(self._run())

    def wake(self, *_: object) -> None:
        """Safe from any thread: a new item was queued."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await asyncio.wait([self._task], timeout=self.settings.timeout_s + 5)
            if not self._task.done():
                self._task.cancel()

    async def _run(self) -> None:
        while not self._stopping:
            # Cleared before the pass, not after the wait: an item queued while the pass runs
            # sets it again, and the next wait returns at once.
            self._wake.clear()
            try:
                busy = await self.run_once()
            except Exception:  # noqa: BLE001 - the worker keeps going; the lease will lapse
                log.exception("relay pass failed")
                busy = 0
            if busy or self._stopping:
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), self.settings.poll_interval_s)
            except asyncio.TimeoutError:
                pass

    async def run_once(self) -> int:
        """Claim what is due now and deliver it; the number of items handled."""
        loop = asyncio.get_running_loop()
        limit = self.settings.concurrency * CLAIM_PER_WORKER_SLOT
        items = await loop.run_in_executor(None, outbound.claim_due, self.engine, self.clock(),
                                           self.settings.lease_s, limit)
        if not items:
            return 0
        slots = asyncio.Semaphore(self.settings.concurrency)

        async def one(item: Claimed) -> None:
            async with slots:
                try:
                    await self.handle(item)
                except Exception:  # noqa: BLE001 - one bad item must not stop the others
                    log.exception("relay item %s failed", item.id)

        await asyncio.gather(*(one(item) for item in items))
        return len(items)

    # -- one item --------------------------------------------------------------------
    async def handle(self, item: Claimed) -> None:
        loop = asyncio.get_running_loop()
        raw = await loop.run_in_executor(None, self.open_message, item.blob_id)
        try:
            hops = await self.router.hops(item.rcpt_to)
        except NoRoute as problem:
            outcome = Outcome(problem.kind, problem.reply, problem.status)
            log.info("relay item %s (message %s) to domain %s: no route, %s %s", item.id, item.blob_id,
                     item.rcpt_to.rpartition("@")[2], problem.kind, problem.status)
        else:
            # Next hops in order until one answers for good (sent, or refused with a 5xx): RFC 5321 §5.1.
            for hop in hops:
                outcome = await client.attempt(hop, self.tls, self.settings.hostname, item.mail_from, item.rcpt_to,
                                               raw, notify=item.dsn_notify, orcpt=item.dsn_orcpt, ret=item.dsn_ret,
                                               envid=item.dsn_envid, timeout=self.settings.timeout_s)
                log.info("relay item %s (message %s) to domain %s via %s:%d: %s %s", item.id, item.blob_id,
                         item.rcpt_to.rpartition("@")[2], hop.host, hop.port, outcome.kind, outcome.status)
                if outcome.kind != client.TEMPORARY:
                    break
        if self.on_outcome is not None:
            self.on_outcome(outcome.kind)
        await self.settle(item, raw, outcome)

    async def settle(self, item: Claimed, raw: bytes, outcome: Outcome) -> None:
        loop = asyncio.get_running_loop()
        now = self.clock()
        age = (now - item.created_at).total_seconds()
        if outcome.kind == client.SENT:
            await loop.run_in_executor(None, outbound.mark_sent, self.engine, item)
            if wants(item.dsn_notify, "SUCCESS") and not outcome.dsn_passed_on:
                await self.send_report(item, raw, "relayed", outcome)
            return
        if outcome.kind == client.PERMANENT or age >= self.settings.max_age_s:
            # Report first: if we die between the two, the sender may get two reports, never none.
            if wants(item.dsn_notify, "FAILURE"):
                await self.send_report(item, raw, "failed", outcome)
            await loop.run_in_executor(None, outbound.mark_failed, self.engine, item, outcome.reply)
            return
        schedule = self.settings.retry_schedule_s
        wait = schedule[min(item.attempts, len(schedule) - 1)]
        notify_delay = not item.delay_notified and age >= self.settings.delay_warning_s
        if notify_delay and wants(item.dsn_notify, "DELAY"):
            await self.send_report(item, raw, "delayed", outcome)
        # Never wait past the maximum age: the failure report is due then, not an hour later.
        expiry = item.created_at + dt.timedelta(seconds=self.settings.max_age_s)
        next_attempt = max(now, min(now + dt.timedelta(seconds=wait), expiry))
        await loop.run_in_executor(None, outbound.mark_retry, self.engine, item, outcome.reply, next_attempt,
                                   item.delay_notified or notify_delay)

    async def send_report(self, item: Claimed, raw: bytes, action: str, outcome: Outcome) -> None:
        if not item.mail_from:
            return  # never report on a report (null sender)
        status = {"relayed": relay_status.RELAYED, "delayed": relay_status.DELAYED}.get(
            action, outcome.status if outcome.status[0] == "5" else relay_status.EXPIRED)
        until = item.created_at + dt.timedelta(seconds=self.settings.max_age_s) if action == "delayed" else None
        report = delivery_status_notification(
            reporting_mta=self.settings.hostname, postmaster=self.settings.postmaster, sender=item.mail_from,
            recipients=[RecipientStatus(item.rcpt_to, action, status, outcome.reply, outcome.remote_mta,
                                        item.dsn_orcpt, until)],
            original=raw, ret=item.dsn_ret, envid=item.dsn_envid, arrival=item.created_at,
        )
        try:
            await self.report(item.mail_from, report)
        except Exception:  # noqa: BLE001 - a report that cannot be stored is logged, the item still settles
            log.exception("could not store a %s report for item %s", action, item.id)
