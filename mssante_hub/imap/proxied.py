"""IMAP behind HAProxy: read the PROXY header, then connect the session as if from the real client.

A Twisted protocol wrapper below the session (and below TLS on imaps: the header comes before
the ClientHello). The wrapped protocol is connected only once the header is read, so the
session's per-address cap, its log lines and the audit trail see the client the header names
(`getPeer`). What is refused (mssante_hub/proxy_header.py) is closed without a word.
"""

from __future__ import annotations

import asyncio

from twisted.internet import address
from twisted.internet.protocol import Protocol
from twisted.protocols import policies
from zope.interface import directlyProvides, providedBy

from mssante_hub import proxy_header


class ProxiedConnection(policies.ProtocolWrapper):
    factory: "ProxiedFactory"

    def __init__(self, factory: "ProxiedFactory", wrapped) -> None:
        super().__init__(factory, wrapped)
        self._header = proxy_header.HeaderBuffer()
        self._peer = None
        self._inner_connected = False
        self._reading: asyncio.Task | None = None

    def makeConnection(self, transport) -> None:  # noqa: N802 - Twisted's naming
        # ProtocolWrapper's own, minus connecting the wrapped protocol: that waits for the header.
        directlyProvides(self, providedBy(transport))
        Protocol.makeConnection(self, transport)
        self.factory.registerProtocol(self)
        policy = self.factory.policy
        source = getattr(transport.getPeer(), "host", "")
        if not policy.admits(source):
            proxy_header.refuse(policy.listener, source, proxy_header.REFUSED_UNTRUSTED, "not a trusted PROXY source")
            transport.loseConnection()
            return
        self._reading = asyncio.ensure_future(self._read_header(source))

    async def _read_header(self, source: str) -> None:
        policy = self.factory.policy
        data = await proxy_header.read_header(self._header, policy.timeout_s)
        if self.transport is None or self.disconnecting or not getattr(self.transport, "connected", True):
            return
        if not data:
            proxy_header.refuse(policy.listener, source, proxy_header.REFUSED_BAD_HEADER,
                                data.error or "no valid PROXY header")
            self.transport.loseConnection()
            return
        client = proxy_header.real_client(data)
        if client is not None:
            kind = address.IPv6Address if ":" in client[0] else address.IPv4Address
            self._peer = kind("TCP", client[0], client[1])
        rest = self._header.rest()
        self._inner_connected = True
        self.wrappedProtocol.makeConnection(self)
        if rest and self.wrappedProtocol is not None:
            self.wrappedProtocol.dataReceived(rest)

    def getPeer(self):  # noqa: N802
        return self._peer if self._peer is not None else self.transport.getPeer()

    def dataReceived(self, data: bytes) -> None:  # noqa: N802
        if self._inner_connected:
            self.wrappedProtocol.dataReceived(data)
        else:
            self._header.feed(data)

    def connectionLost(self, reason) -> None:  # noqa: N802
        self._header.close()
        if self._reading is not None and not self._reading.done():
            self._reading.cancel()
        if self._inner_connected:
            super().connectionLost(reason)
        else:
            self.factory.unregisterProtocol(self)
            self.wrappedProtocol = None


class ProxiedFactory(policies.WrappingFactory):
    protocol = ProxiedConnection

    def __init__(self, policy: proxy_header.ProxyPolicy, wrapped) -> None:
        super().__init__(wrapped)
        self.policy = policy
