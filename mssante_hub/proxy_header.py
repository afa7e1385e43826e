"""The PROXY protocol (v1 text, v2 binary) in front of the TCP doors, behind HAProxy.

A TCP load balancer hides the client: every connection comes from the balancer's address, so
the per-address caps, `mx.trusted_networks`, the trace headers and the audit trail would all
see one client. HAProxy's `send-proxy-v2` puts a header before the client's first byte naming
the real source; a listener in `proxy.listeners` reads it before anything else (before TLS on
imaps) and from then on sees that client.

Only a balancer may speak it: a connection to such a listener from outside
`proxy.trusted_sources` is closed unanswered, as is one whose header is malformed or late
(`proxy.header_timeout_s`). A LOCAL (v2) or UNKNOWN (v1) header, HAProxy's own health check,
keeps the balancer's address. Headers are parsed by aiosmtpd's `get_proxy` for both doors
(IMAP's Twisted protocol feeds it through `HeaderBuffer`): one parser, bounded input.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from dataclasses import dataclass

from aiosmtpd.proxy_protocol import AF, V2_CMD, ProxyData, get_proxy

from mssante_hub.config import Config, ConfigError
from mssante_hub.observe import metrics

V1_MAX_BYTES = 107  # the longest v1 line, CRLF included (HAProxy's proxy-protocol.txt §2.1)
V2_MAX_BYTES = 16 + 0xFFFF  # fixed part + the largest length its 16-bit field can say
REFUSED_UNTRUSTED = "untrusted_source"
REFUSED_BAD_HEADER = "bad_header"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
log = logging.getLogger("mssante_hub.proxy")


@dataclass(frozen=True)
class ProxyPolicy:
    """How one listener takes the header: from whom, and how long it waits."""

    listener: str
    trusted: tuple[Network, ...]
    timeout_s: float

    def admits(self, source: str) -> bool:
        """True when `source` (the TCP peer) is a balancer allowed to send the header."""
        try:
            ip = ipaddress.ip_address(source)
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in network for network in self.trusted)


def policy_for(config: Config, listener: str) -> ProxyPolicy | None:
    """The listener's PROXY policy, or None when it takes connections as they come."""
    if listener not in config.get("proxy.listeners"):
        return None
    trusted = tuple(ipaddress.ip_network(n, strict=False) for n in config.get("proxy.trusted_sources"))
    if not trusted:
        raise ConfigError(f"proxy.listeners names {listener!r} but proxy.trusted_sources is empty: "
                          "every connection would be refused")
    return ProxyPolicy(listener, trusted, float(config.get("proxy.header_timeout_s")))


def refuse(listener: str, source: str, reason: str, why: str) -> None:
    """Log and count a connection closed before its header was taken (the caller closes it, unanswered)."""
    log.warning("%s connection from %s refused: %s", listener, source, why)
    metrics.proxy_refused(listener, reason)


def real_client(data: ProxyData) -> tuple[str, int] | None:
    """(address, port) the header names, or None for the balancer's own connections (LOCAL, UNKNOWN)."""
    if data.version == 2 and data.command != V2_CMD.PROXY:
        return None
    if data.family not in (AF.INET, AF.INET6) or data.src_addr is None:
        return None
    return str(data.src_addr), int(data.src_port or 0)


class HeaderBuffer:
    """aiosmtpd's reader interface (read, readexactly, readuntil) over bytes pushed in by `feed`.

    The IMAP door is a Twisted protocol: what it receives before the header is complete is fed
    here; what came after the header (a TLS ClientHello, a pipelined command) is handed back by
    `rest`. Bounded: a v1 line longer than V1_MAX_BYTES, or more than a v2 header can hold, fails.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._waiter: asyncio.Future | None = None
        self._eof = False
        self.consumed = 0

    def feed(self, data: bytes) -> None:
        self._buffer += data
        self._wake()

    def close(self) -> None:
        self._eof = True
        self._wake()

    def rest(self) -> bytes:
        data, self._buffer = bytes(self._buffer), bytearray()
        return data

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def _more(self) -> None:
        if self._eof:
            raise ConnectionError("connection closed before the PROXY header ended")
        if self.consumed + len(self._buffer) > V2_MAX_BYTES:
            raise ValueError("PROXY header too long")
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    def _take(self, n: int) -> bytes:
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        self.consumed += len(data)
        return data

    async def read(self, n: int = -1) -> bytes:
        while not self._buffer:
            await self._more()
        return self._take(len(self._buffer) if n < 0 else n)

    async def readexactly(self, n: int) -> bytes:
        while len(self._buffer) < n:
            await self._more()
        return self._take(n)

    async def readuntil(self, separator: bytes = b"\n") -> bytes:
        while True:
            end = self._buffer.find(separator)
            if end >= 0:
                return self._take(end + len(separator))
            if self.consumed + len(self._buffer) > V1_MAX_BYTES:
                raise ValueError("PROXY v1 line too long")
            await self._more()


async def read_header(reader: HeaderBuffer, timeout_s: float) -> ProxyData:
    """The parsed header (falsy when malformed, late or cut short)."""
    try:
        return await asyncio.wait_for(get_proxy(reader), timeout_s)
    except (asyncio.TimeoutError, ConnectionError, ValueError, asyncio.IncompleteReadError) as error:
        return ProxyData(version=None).with_error(f"PROXY header not read: {type(error).__name__}")
