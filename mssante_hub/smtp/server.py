"""The SMTP protocol engine shared by both front doors: aiosmtpd plus what the hub needs.

aiosmtpd handles the connection, line reading, STARTTLS and the AUTH exchange. This
subclass takes over EHLO (to advertise PIPELINING, ENHANCEDSTATUSCODES, DSN), MAIL and
RCPT (DSN parameters, null sender, our replies) and DATA (CRLF.CRLF only, size cap
without holding an oversized message; a bare CR/LF inside is refused by delivery's first
scan). What is allowed is asked of a *door* object (mx or submission) which owns the
policy of its listener.
"""

from __future__ import annotations

import asyncio
import collections
import ipaddress
import logging
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiosmtpd.proxy_protocol import ProxyData
from aiosmtpd.smtp import SMTP

from mssante_hub.smtp import aiosmtpd_internals as internals
from mssante_hub.smtp import replies
from mssante_hub.smtp.params import MailParams, ParamError, RcptParams, parse_mail, parse_rcpt
from mssante_hub.accounts.throttle import LoginGuard
from mssante_hub.envelope import MAX_ADDRESS_CHARS
from mssante_hub.observe import metrics, trace
from mssante_hub import proxy_header
from mssante_hub.proxy_header import ProxyPolicy


class _QuietDeprecations(logging.Filter):
    """aiosmtpd warns on every successful AUTH that a field it sets itself is deprecated."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "login_data is deprecated" not in record.getMessage()


logging.getLogger("mail.log").addFilter(_QuietDeprecations())
log = logging.getLogger("mssante_hub.smtp")  # sessions opened and refused (admin/logs.py)

COMMAND_LIMIT = 512  # RFC 5321 §4.5.3.1.4
MAIL_COMMAND_LIMIT = COMMAND_LIMIT + 26 + 10 + 14 + 110 + 20  # SIZE, SMTPUTF8, BODY, ENVID, RET
RCPT_COMMAND_LIMIT = COMMAND_LIMIT + 520 + 40  # ORCPT, NOTIFY
AUTH_COMMAND_LIMIT = 12 * 1024  # an XOAUTH2 initial response carries a whole JWT
CRLF = b"\r\n"
DATA_END = b"\r\n.\r\n"
DATA_CHUNK = 256 * 1024
READER_LIMIT = 64 * 1024
GREETING_IDENT = "ESMTP"  # after the host name; never the library's name and version


@dataclass
class Transaction:
    """One mail transaction: MAIL, RCPTs, DATA. `mail_from` None means no MAIL yet, '' the null sender."""

    mail_from: str | None = None
    mail: MailParams = field(default_factory=MailParams)
    rcpts: list[str] = field(default_factory=list)
    rcpt_params: dict[str, RcptParams] = field(default_factory=dict)


class Door(Protocol):
    """What a listener decides; see mx.py and submission.py."""

    hostname: str
    max_message_bytes: int
    max_recipients: int
    max_junk_commands: int  # NOOP, RSET, HELO/EHLO, HELP, VRFY, EXPN per session
    max_errors: int  # 4xx/5xx replies per session

    def requires_tls(self, server: "HubSMTP") -> bool: ...
    def sasl_mechanisms(self, server: "HubSMTP") -> list[str]: ...
    async def check_mail(self, server: "HubSMTP", address: str, params: MailParams) -> str | None: ...
    async def check_rcpt(self, server: "HubSMTP", address: str, params: RcptParams) -> str | None: ...
    async def deliver(self, server: "HubSMTP", tx: Transaction, raw: bytes) -> str: ...


class SessionLimiter:
    """Concurrent sessions per client address."""

    def __init__(self, max_per_client: int) -> None:
        self.max_per_client = max_per_client
        self._open: collections.Counter[str] = collections.Counter()

    def acquire(self, client: str) -> bool:
        if self._open[client] >= self.max_per_client:
            return False
        self._open[client] += 1
        return True

    def release(self, client: str) -> None:
        self._open[client] -= 1
        if self._open[client] <= 0:
            del self._open[client]


def _clean_address(text: str, smtputf8: bool) -> str | None:
    """The address inside <...>, or None when it is not one we accept."""
    if len(text) > MAX_ADDRESS_CHARS or any(c.isspace() or ord(c) < 32 or c in "<>()[],;:\\\"" for c in text):
        return None
    if not text:
        return ""
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain or "@" in local or "." not in domain.strip("."):
        return None
    if not smtputf8 and not text.isascii():
        return None
    return text


def split_path(arg: str | None, keyword: str) -> tuple[str, str] | None:
    """('address', 'params') from 'FROM:<a@b> SIZE=1', or None on bad syntax."""
    if not arg or arg[: len(keyword)].upper() != keyword:
        return None
    rest = arg[len(keyword):].lstrip()
    if not rest.startswith("<"):
        return None
    end = rest.find(">")
    if end < 0:
        return None
    return rest[1:end], rest[end + 1:].strip()


class DataTooSlow(Exception):
    """DATA did not reach its final dot within smtp.data_timeout_s."""


class CrlfReader(asyncio.StreamReader):
    """Command lines must end in CRLF (RFC 5321 §2.3.8): one ending in a bare LF reads as an empty
    line, which aiosmtpd answers 500 5.5.2, so the command is never acted on. DATA is read in
    chunks (HubSMTP._read_data); its bare line endings are refused by delivery (mime.pre_scan)."""

    async def readuntil(self, separator: bytes = b"\n") -> bytes:
        line = await super().readuntil(separator)
        if separator == b"\n" and not line.endswith(b"\r\n"):
            return b"\r\n"
        return line


class HubSMTP(SMTP):
    """One SMTP connection of a front door."""

    def __init__(self, door: Door, limiter: SessionLimiter, proxy: ProxyPolicy | None = None,
                 **kwargs: Any) -> None:
        if proxy is not None:
            kwargs["proxy_protocol_timeout"] = proxy.timeout_s  # aiosmtpd reads the header before its greeting
        super().__init__(door, **kwargs)
        self.door = door
        self.proxy = proxy
        self.limiter = limiter
        self.tx = Transaction()
        self.client_ip = ""
        self._client_address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None
        self._counted = False
        self._refused = False
        self._header_read = False  # a PROXY listener's header (proxied)
        self._junk = 0
        self._errors = 0
        self._deadline = 0.0
        self._held = 0  # bytes this session holds in the doors' in-flight budget
        self.command_size_limits = collections.defaultdict(
            lambda: COMMAND_LIMIT, {"MAIL": MAIL_COMMAND_LIMIT, "RCPT": RCPT_COMMAND_LIMIT, "AUTH": AUTH_COMMAND_LIMIT}
        )

    @property
    def door_name(self) -> str:
        channel = getattr(self.door, "channel", "smtp")
        return getattr(channel, "value", channel)

    @staticmethod
    def _wire(status: str) -> str:
        # Replies are ASCII (RFC 5321 §4.2): the French texts lose their accents on the wire.
        if not status.isascii():
            status = unicodedata.normalize("NFKD", status).encode("ascii", "ignore").decode("ascii")
        return status

    async def push(self, status: str | bytes) -> None:
        if not isinstance(status, str):
            await super().push(status)
            return
        # aiosmtpd's own replies get our codes and words (ENHANCEDSTATUSCODES on every reply).
        status = self._wire(replies.with_status_code(status, self.hostname))
        await super().push(status)
        if status[0] in "45" and not status.startswith("421"):
            self._errors += 1
            if self._errors >= self.door.max_errors and self.transport is not None:
                await super().push(self._wire(replies.TOO_MANY_ERRORS))
                self.transport.close()

    async def _junk_command(self) -> bool:
        """Count a command that moves no mail; True (and the session closed) once over the limit."""
        self._junk += 1
        if self._junk <= self.door.max_junk_commands:
            return False
        await self.push(replies.TOO_MANY_COMMANDS)
        if self.transport is not None:
            self.transport.close()
        return True

    # -- idle timeout ------------------------------------------------------------------
    # aiosmtpd cancels and re-arms a timer on every command; one timer per session that
    # re-arms itself from the last activity costs less, and the client is told why it goes.
    def _reset_timeout(self, duration: float | None = None) -> None:
        self._deadline = self.loop.time() + (duration or internals.idle_timeout(self))
        if internals.timer_due_after(self, self._deadline):
            internals.rearm_timer(self, self._deadline, self._timeout_check)

    def _timeout_check(self) -> None:
        if self.loop.time() < self._deadline:
            internals.rearm_timer(self, self._deadline, self._timeout_check)
            return
        if self.transport is not None and (self.proxy is None or self._counted):
            # (a connection still owing its PROXY header is a balancer's: closed unanswered)
            self.transport.write(self._wire(replies.TIMEOUT).encode() + b"\r\n")
        internals.expire(self)

    def clone(self) -> "HubSMTP":
        """A fresh connection object made from this never-connected template.

        aiosmtpd's constructor introspects the class and the handler on every connection
        (about 2 ms of event-loop time); the tables it builds are the same each time, so
        they are copied and re-bound to the new object instead.
        """
        # A larger buffer limit than aiosmtpd's 1001: with it the transport paused and
        # resumed (two epoll calls) every 2 KB of DATA. Command lines stay bounded by
        # aiosmtpd's command_size_limits check, and by this limit.
        other = internals.clone_session(self, READER_LIMIT, reader_class=CrlfReader)
        other.command_size_limits = collections.defaultdict(lambda: COMMAND_LIMIT, self.command_size_limits)
        other.tx = Transaction()
        other._junk = other._errors = other._held = 0
        return other

    # -- connection ------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if not self._counted and self.transport is None:
            peer = transport.get_extra_info("peername")
            self._set_client(peer[0] if peer else "")
            self.trace_id = trace.make("smtp")
            if self.proxy is not None:
                if not self.proxy.admits(self.client_ip):
                    self._refused = True
                    proxy_header.refuse(self.proxy.listener, self.client_ip, proxy_header.REFUSED_UNTRUSTED,
                                        "not a trusted PROXY source")
                    transport.close()
                    return
                # Admitted (and counted per address) once the header names the client: proxied().
            elif not self._admit(transport.write):
                self._refused = True
                transport.close()
                return
        # The session's task (created by aiosmtpd here) runs with the trace id: the delivery's lines carry it.
        trace.run_in(getattr(self, "trace_id", ""), super().connection_made, transport)

    def _set_client(self, ip: str) -> None:
        self.client_ip = ip
        try:
            self._client_address = ipaddress.ip_address(ip)
        except ValueError:
            self._client_address = None

    def _admit(self, write) -> bool:
        """Count the session against its client's cap; False (and 421 written) past it."""
        if not self.limiter.acquire(self.client_ip):
            log.warning("session refused on %s from %s: too many sessions from this address",
                        self.door_name, self.client_ip)
            write(replies.TOO_MANY_SESSIONS.encode() + b"\r\n")
            return False
        self._counted = True
        metrics.SMTP_SESSIONS.inc()
        trace.run_in(self.trace_id, log.info, "session opened on %s from %s", self.door_name, self.client_ip)
        return True

    def proxied(self, data: ProxyData) -> bool:
        """The PROXY header was read (aiosmtpd calls the door's handle_PROXY): the session becomes the client's."""
        self._header_read = True
        client = proxy_header.real_client(data)
        if client is not None:
            self._set_client(client[0])
            self.session.peer = client
        return self.transport is not None and self._admit(self.transport.write)

    def connection_lost(self, error: Exception | None) -> None:
        if self._refused:
            return
        if self.proxy is not None and not self._header_read:
            # aiosmtpd closed it on a malformed or late header (it calls handle_PROXY only on a good one)
            proxy_header.refuse(self.proxy.listener, self.client_ip, proxy_header.REFUSED_BAD_HEADER,
                                "no valid PROXY header")
        if self._counted:
            self._counted = False
            metrics.SMTP_SESSIONS.dec()
            self.limiter.release(self.client_ip)
        super().connection_lost(error)

    def _set_rset_state(self) -> None:
        super()._set_rset_state()
        self.tx = Transaction()

    @property
    def tls_active(self) -> bool:
        return internals.tls_active(self)

    def in_networks(self, networks: list) -> bool:
        ip = self._client_address
        return ip is not None and any(ip in net for net in networks)

    # -- commands --------------------------------------------------------------------
    async def smtp_HELO(self, hostname: str) -> None:
        if not await self._junk_command():
            await super().smtp_HELO(hostname)

    async def smtp_NOOP(self, arg: str) -> None:
        if not await self._junk_command():
            await super().smtp_NOOP(arg)

    async def smtp_RSET(self, arg: str) -> None:
        if not await self._junk_command():
            await super().smtp_RSET(arg)

    async def smtp_HELP(self, arg: str) -> None:
        if not await self._junk_command():
            await self.push(replies.HELP)

    async def smtp_VRFY(self, arg: str) -> None:
        # Address harvesting in a health trust space: VRFY says nothing (RFC 5321 §7.3 allows it).
        if not await self._junk_command():
            await self.push(replies.VRFY_DISABLED)

    async def smtp_EXPN(self, arg: str) -> None:
        if not await self._junk_command():
            await self.push(replies.EXPN_DISABLED)

    async def smtp_EHLO(self, hostname: str) -> None:
        if await self._junk_command():
            return
        if not hostname:
            await self.push(replies.SYNTAX_EHLO)
            return
        self._set_rset_state()
        self.session.extended_smtp = True
        self.session.host_name = hostname
        lines = [self.door.hostname, f"SIZE {self.door.max_message_bytes}", "8BITMIME", "SMTPUTF8", "PIPELINING",
                 "ENHANCEDSTATUSCODES", "DSN"]
        if self.tls_context and not self.tls_active:
            lines.append("STARTTLS")
        mechanisms = self.door.sasl_mechanisms(self)
        if mechanisms and self.tls_active:
            lines.append("AUTH " + " ".join(mechanisms))
        # One write for the whole multi-line reply: a system call per line shows in profiles.
        await self.push("\r\n".join([f"250-{line}" for line in lines[:-1]] + [f"250 {lines[-1]}"]))

    async def smtp_STARTTLS(self, arg: str) -> None:
        if self.tls_active:
            await self.push(replies.TLS_ALREADY)
            return
        await super().smtp_STARTTLS(arg)

    async def smtp_AUTH(self, arg: str) -> None:
        if not self.door.sasl_mechanisms(self):
            await self.push(replies.UNKNOWN_COMMAND)
            return
        if not self.tls_active:
            await self.push(replies.AUTH_NEEDS_TLS)
            return
        guard: LoginGuard | None = getattr(self.door, "throttle", None)
        if guard is not None and await guard.address_refused(self.client_ip):
            await self.push(replies.TOO_MANY_FAILED_LOGINS)
            self.transport.close()
            return
        if self.session.authenticated:
            await self.push(replies.AUTH_ALREADY)
            return
        mechanism = (arg or "").split(" ", 1)[0].upper()
        if mechanism not in self.door.sasl_mechanisms(self):
            await self.push(replies.AUTH_UNKNOWN_MECHANISM)
            return
        await super().smtp_AUTH(arg)

    async def _before_transaction(self) -> bool:
        """Common gate of MAIL, RCPT, DATA; pushes the refusal and returns False if any."""
        if not self.session.host_name:
            await self.push(replies.NEED_EHLO)
            return False
        if self.door.requires_tls(self) and not self.tls_active:
            await self.push(replies.NEED_STARTTLS)
            return False
        if self.door.sasl_mechanisms(self) and not self.session.authenticated:
            await self.push(replies.AUTH_REQUIRED)
            return False
        return True

    async def smtp_MAIL(self, arg: str | None) -> None:
        if not await self._before_transaction():
            return
        if self.tx.mail_from is not None:
            await self.push(replies.NESTED_MAIL)
            return
        parts = split_path(arg, "FROM:")
        if parts is None or (parts[1] and not self.session.extended_smtp):
            await self.push(replies.SYNTAX_MAIL)
            return
        try:
            params = parse_mail(parts[1])
        except ParamError as exc:
            await self.push(replies.UNKNOWN_PARAMETER if exc.unknown else replies.BAD_PARAMETER)
            return
        address = _clean_address(parts[0], params.smtputf8)
        if address is None:
            await self.push(replies.BAD_ADDRESS)
            return
        if params.size is not None and params.size > self.door.max_message_bytes:
            await self.push(replies.SIZE_EXCEEDED)
            return
        refusal = await self.door.check_mail(self, address, params)
        if refusal:
            await self.push(refusal)
            return
        self.tx.mail_from, self.tx.mail = address, params
        await self.push(replies.SENDER_OK)

    async def smtp_RCPT(self, arg: str | None) -> None:
        if not await self._before_transaction():
            return
        if self.tx.mail_from is None:
            await self.push(replies.NEED_MAIL)
            return
        parts = split_path(arg, "TO:")
        if parts is None or (parts[1] and not self.session.extended_smtp):
            await self.push(replies.SYNTAX_RCPT)
            return
        try:
            params = parse_rcpt(parts[1])
        except ParamError as exc:
            await self.push(replies.UNKNOWN_PARAMETER if exc.unknown else replies.BAD_PARAMETER)
            return
        address = _clean_address(parts[0], self.tx.mail.smtputf8)
        if not address:
            await self.push(replies.BAD_ADDRESS)
            return
        if len(self.tx.rcpts) >= self.door.max_recipients:
            await self.push(replies.TOO_MANY_RECIPIENTS)
            return
        refusal = await self.door.check_rcpt(self, address, params)
        if refusal:
            log.info("recipient refused on %s from %s: %s", self.door_name, self.client_ip,
                     " ".join(refusal.split()[:2]))  # the codes only: no address, whatever the reply says
            await self.push(refusal)
            return
        self.tx.rcpts.append(address)
        self.tx.rcpt_params[address.lower()] = params
        await self.push(replies.RECIPIENT_OK)

    def _hold(self, size: int) -> bool:
        """Reserve message bytes in the doors' shared pool (smtp.max_buffered_bytes) before holding them."""
        budget = getattr(self.door, "inflight", None)
        if size <= self._held:
            return True
        if budget is not None and not budget.take(size - self._held):
            return False
        self._held = size
        return True

    def _release_held(self) -> None:
        budget = getattr(self.door, "inflight", None)
        if budget is not None and self._held:
            budget.give(self._held)
        self._held = 0

    async def _read_data(self) -> tuple[bytes | None, str]:
        """The dot-unstuffed message, or (None, reply) once the client reached the final dot.

        Reads in chunks and looks for CRLF.CRLF itself (a line-by-line read costs a timer
        and a coroutine step per line). A CRLF is put in front so that a first line of
        "." ends the data too; what follows the final dot (pipelined commands) goes back
        into the reader's buffer.
        """
        limit = self.door.max_message_bytes + len(DATA_END)
        # One deadline for the whole DATA: a byte every few seconds re-arms the idle timeout forever.
        deadline = self.loop.time() + getattr(self.door, "data_timeout_s", 600)
        buf = bytearray(CRLF)
        too_big = busy = False
        scanned = 0
        while True:
            try:
                chunk = await asyncio.wait_for(internals.read_chunk(self, DATA_CHUNK),
                                               max(0.0, deadline - self.loop.time()))
            except asyncio.TimeoutError:
                raise DataTooSlow() from None
            if not chunk:
                raise ConnectionResetError("connection closed during DATA")
            self._reset_timeout()
            buf += chunk
            end = buf.find(DATA_END, max(0, scanned - len(DATA_END)))
            if end >= 0:
                rest = bytes(buf[end + len(DATA_END):])
                if rest:
                    internals.push_back(self, rest)  # pipelined commands after the final dot
                break
            scanned = len(buf)
            if not (too_big or busy) and len(buf) > limit:
                too_big = True
            elif not (too_big or busy) and not self._hold(len(buf) + DATA_CHUNK):
                busy = True  # every door's messages in flight hold the budget: read to the end, hold nothing
            if too_big or busy:
                del buf[: len(buf) - len(DATA_END)]  # keep only what may start the final dot
                scanned = len(buf)
        if too_big:
            return None, replies.SIZE_EXCEEDED
        if busy:
            return None, replies.BUSY_IN_FLIGHT
        body = bytes(memoryview(buf)[2: end + 2])
        if body.startswith(b".") or b"\r\n." in body:
            # RFC 5321 §4.5.2: a line starting with a dot lost its first dot.
            body = (CRLF + body).replace(b"\r\n.", b"\r\n")[2:]
        return body, ""

    async def smtp_DATA(self, arg: str) -> None:
        if not await self._before_transaction():
            return
        if arg:
            await self.push(replies.SYNTAX_DATA)
            return
        if self.tx.mail_from is None:
            await self.push(replies.NEED_MAIL)
            return
        if not self.tx.rcpts:
            await self.push(replies.NEED_RCPT)
            return
        declared = self.tx.mail.size
        if declared and not self._hold(min(declared, self.door.max_message_bytes) + len(DATA_END)):
            await self.push(replies.BUSY_IN_FLIGHT)  # before 354: not a byte is sent for nothing
            return
        try:
            await self.push(replies.START_DATA)
            try:
                raw, problem = await self._read_data()
            except DataTooSlow:
                await self.push(replies.DATA_TOO_SLOW)
                if self.transport is not None:
                    self.transport.close()
                return
            tx, self.tx = self.tx, Transaction()
            if raw is None:
                await self.push(problem)
                return
            # A bare CR or LF (RFC 5321 §2.3.8) is refused by delivery's first scan, off the loop (mime.pre_scan).
            await self.push(await self.door.deliver(self, tx, raw))
        finally:
            self._release_held()


def factory(door: Door, limiter: SessionLimiter, proxy: ProxyPolicy | None = None, **kwargs: Any):
    """A protocol factory for loop.create_server; `proxy`: the listener takes a PROXY header first."""

    kwargs.setdefault("ident", GREETING_IDENT)
    template = HubSMTP(door, limiter, proxy, **kwargs)

    def make() -> HubSMTP:
        return template.clone()

    return make
