"""What both SMTP front doors share: recipient lookups, trace headers, handing over to delivery."""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import logging
import re
import time
from typing import Awaitable, Callable

from mssante_hub.catalogue import consent
from mssante_hub.rules import policy
from mssante_hub.delivery import Channel, Delivered, Envelope, Identity, accept
from mssante_hub.admission import ByteBudget
from mssante_hub.hub import Hub
from mssante_hub.rules.refusals import Refusal
from mssante_hub.smtp import replies
from mssante_hub.smtp.params import MailParams
from mssante_hub.smtp.server import HubSMTP, Transaction
from storage import accounts as account_repo

log = logging.getLogger("mssante_hub.smtp")
_HELO_SAFE = re.compile(r"[^A-Za-z0-9.\-\[\]:_]")
MAX_HELO_IN_TRACE = 100
RECIPIENT_CACHE_S = 5.0
RECIPIENT_CACHE_SIZE = 10_000

# Called after a message is durably accepted (MDN, DSN for local delivery); never delays the 250.
AfterDelivery = Callable[[Envelope, bytes, Delivered], Awaitable[None]]


def destination_limits(entries: list[str]) -> dict[str, int]:
    """'domain=bytes' settings as a dictionary."""
    limits = {}
    for entry in entries:
        domain, _, size = entry.partition("=")
        limits[domain.strip().lower()] = int(size)
    return limits


def inflight_of(hub: Hub) -> ByteBudget:
    """One pool per hub process, shared by mx and submission."""
    found = getattr(hub, "smtp_inflight", None)
    if found is None:
        found = hub.smtp_inflight = ByteBudget(hub.config.get("smtp.max_buffered_bytes"))
    return found


class BaseDoor:
    """Shared by mx.py and submission.py; each adds its own checks of MAIL and RCPT."""

    channel: Channel  # each door says which

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.hostname = hub.config.get("hub.hostname")
        self.max_message_bytes = hub.config.get("limits.max_message_bytes")
        self.max_recipients = hub.config.get("limits.max_recipients")
        self.max_junk_commands = hub.config.get("smtp.max_junk_commands")
        self.max_errors = hub.config.get("smtp.max_errors")
        self.size_limits = destination_limits(hub.config.get("smtp.destination_size_limits"))
        self.data_timeout_s = hub.config.get("smtp.data_timeout_s")
        self.inflight = inflight_of(hub)  # message bytes held by both doors' DATA at once
        self.after_delivery: list[AfterDelivery] = []
        self._tasks: set[asyncio.Task] = set()
        self._active_until: dict[str, float] = {}  # local address -> monotonic expiry of "active"
        self._date_second, self._date_text = 0, ""

    def requires_tls(self, server: HubSMTP) -> bool:
        return True

    def sasl_mechanisms(self, server: HubSMTP) -> list[str]:
        return []

    def size_limit_for(self, address: str) -> int:
        return self.size_limits.get(address.rpartition("@")[2].lower(), self.max_message_bytes)

    async def local_recipient_refusal(self, address: str) -> str | None:
        """A reply if a local address cannot receive mail, else None.

        Active mailboxes are remembered for a few seconds: RCPT is on the hot path, and
        delivery checks every recipient again inside its own transaction anyway.
        """
        key = address.lower()
        now = time.monotonic()
        if self._active_until.get(key, 0.0) > now:
            return None
        account = await self.hub.read(lambda conn: account_repo.by_address(conn, key), small=True)
        # Patients' spaces get their own words (closed space, unknown patient); others the generic ones.
        reason = policy.recipient_reason(account.type if account else None, account.status if account else None)
        if reason is not None:
            return replies.from_reason(reason)
        if len(self._active_until) >= RECIPIENT_CACHE_SIZE:
            self._active_until.clear()
        self._active_until[key] = now + RECIPIENT_CACHE_S
        return None

    async def service_refusal(self, server: HubSMTP, address: str) -> str | None:
        """A reply if the sender is a catalogue service this patient has not (or no longer) consented to, else
        None (catalogue/consent.py); traced on the patient's space. Any other sender costs no look-up."""
        identity = self.identity(server)
        sender = (identity.address if identity is not None else server.tx.mail_from or "").lower()
        if not consent.may_be_a_service(self.hub, self.channel, identity, sender):
            return None
        now = dt.datetime.now(dt.timezone.utc)
        found = await self.hub.read(lambda conn: consent.rcpt_refusal(
            conn, sender, account_repo.by_address(conn, address.lower()), now), small=True)
        if found is None:
            return None
        await consent.trace_refused(self.hub, sender, found[1], [address])
        return replies.from_reason(found[1])

    def size_refusal(self, address: str, params: MailParams) -> str | None:
        if params.size is not None and params.size > self.size_limit_for(address):
            return replies.DESTINATION_SIZE_EXCEEDED
        return None

    def identity(self, server: HubSMTP) -> Identity | None:
        data = server.session.auth_data
        return data if isinstance(data, Identity) else None

    def _date(self) -> str:
        """RFC 5322 date of now, formatted once per second (format_datetime shows in profiles)."""
        second = int(time.time())
        if second != self._date_second:
            self._date_second = second
            self._date_text = email.utils.format_datetime(dt.datetime.fromtimestamp(second, dt.timezone.utc))
        return self._date_text

    async def handle_PROXY(self, server: HubSMTP, session, envelope, data) -> bool:  # noqa: N802 - aiosmtpd's hook
        """A listener in `proxy.listeners` read its PROXY header (mssante_hub/proxy_header.py)."""
        return server.proxied(data)

    def trace_header(self, server: HubSMTP) -> bytes:
        helo = _HELO_SAFE.sub("", server.session.host_name or "")[:MAX_HELO_IN_TRACE]
        protocol = "ESMTP" + ("S" if server.tls_active else "") + ("A" if server.session.authenticated else "")
        date = self._date()
        return (f"Received: from {helo} ([{server.client_ip}])\r\n\tby {self.hostname} with {protocol};"
                f" {date}\r\n").encode()

    def prepare(self, server: HubSMTP, raw: bytes) -> bytes:
        """The bytes to store: trace header first (each door may add more)."""
        return self.trace_header(server) + raw

    def envelope(self, server: HubSMTP, tx: Transaction) -> Envelope:
        dsn = {"ret": tx.mail.ret, "envid": tx.mail.envid}
        rcpt_dsn = {rcpt: {"notify": p.notify, "orcpt": p.orcpt} for rcpt, p in tx.rcpt_params.items()}
        return Envelope(mail_from=tx.mail_from or "", rcpt_to=tuple(tx.rcpts), channel=self.channel,
                        peer=server.client_ip, dsn=dsn, rcpt_dsn=rcpt_dsn, declared_size=tx.mail.size,
                        crlf_only=True)

    async def deliver(self, server: HubSMTP, tx: Transaction, raw: bytes) -> str:
        raw = self.prepare(server, raw)
        for rcpt in tx.rcpts:
            if len(raw) > self.size_limit_for(rcpt):
                return replies.DESTINATION_SIZE_EXCEEDED
        envelope = self.envelope(server, tx)
        try:
            delivered = await accept(self.hub, envelope, raw, self.identity(server))
        except Refusal as refusal:
            if refusal.reason in consent.REFUSALS:  # a service's push refused at DATA: on the patients' history
                await consent.trace_refused(self.hub, consent.sender(envelope, self.identity(server)),
                                            refusal.reason, [r for r in tx.rcpts if self.hub.is_local(r)])
            return replies.from_reason(refusal.reason)
        except Exception:  # noqa: BLE001 - the session goes on; the sender retries
            log.exception("delivery failed on %s", self.channel)
            return replies.TEMPORARY_FAILURE
        for hook in self.after_delivery:
            task = asyncio.ensure_future(hook(envelope, raw, delivered))
            self._tasks.add(task)
            task.add_done_callback(self._done)
        return replies.ACCEPTED.format(id=delivered.blob_id)

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("after-delivery step failed: %r", task.exception())

    # aiosmtpd hooks, so that these replies carry enhanced status codes too.
    async def handle_HELO(self, server: HubSMTP, session, envelope, hostname: str) -> str:
        session.host_name = hostname
        return f"250 {self.hostname}"

    async def handle_NOOP(self, server: HubSMTP, session, envelope, arg: str) -> str:
        return replies.OK

    async def handle_RSET(self, server: HubSMTP, session, envelope) -> str:
        return replies.OK

    async def handle_QUIT(self, server: HubSMTP, session, envelope) -> str:
        return replies.SERVICE_CLOSING

    async def handle_exception(self, error: Exception) -> str:
        log.error("SMTP session error on %s: %r", self.channel, error)
        return replies.TEMPORARY_FAILURE
