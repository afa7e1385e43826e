"""A started listener, whatever the library behind it (Twisted or asyncio)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Awaitable, Callable

ANNOUNCED_ATTRIBUTE = "announced_listeners"


@dataclass
class Listener:
    host: str
    port: int
    close: Callable[[], Awaitable[None]]

    @classmethod
    def from_twisted(cls, listening) -> "Listener":
        address = listening.getHost()

        async def close() -> None:
            result = listening.stopListening()
            if result is not None:
                await result.asFuture(asyncio.get_running_loop())

        return cls(address.host, address.port, close)

    @classmethod
    def from_asyncio(cls, server: asyncio.AbstractServer) -> "Listener":
        host, port = server.sockets[0].getsockname()[:2]

        async def close() -> None:
            server.close()
            await server.wait_closed()

        return cls(host, port, close)


def announce(hub, name: str, listener: Listener) -> None:
    """Record where `serve` really listens (port 0 resolved): autoconfig tells clients the same."""
    found = getattr(hub, ANNOUNCED_ATTRIBUTE, None)
    if found is None:
        found = {}
        setattr(hub, ANNOUNCED_ATTRIBUTE, found)
    found[name] = (listener.host, listener.port)


def announced(hub) -> dict[str, tuple[str, int]]:
    """The listeners this process announced so far (none outside `serve`)."""
    return dict(getattr(hub, ANNOUNCED_ATTRIBUTE, None) or {})


def listen_tcp(reactor, factory, host: str, port: int, sock=None) -> Listener:
    """A Twisted listener on host:port, or on `sock`, a listening socket the supervisor handed down
    (`serve --workers N`: every worker accepts on the same socket)."""
    if sock is None:
        return Listener.from_twisted(reactor.listenTCP(port, factory, interface=host))
    return Listener.from_twisted(reactor.adoptStreamPort(sock.fileno(), sock.family, factory))


def listen_ssl(reactor, factory, context_factory, host: str, port: int, sock=None) -> Listener:
    """Like listen_tcp, TLS from the first byte (what reactor.listenSSL does, on an inherited socket too)."""
    if sock is None:
        return Listener.from_twisted(reactor.listenSSL(port, factory, context_factory, interface=host))
    from twisted.protocols.tls import TLSMemoryBIOFactory

    return listen_tcp(reactor, TLSMemoryBIOFactory(context_factory, False, factory), host, port, sock)


async def create_server(make, host: str, port: int, sock=None) -> Listener:
    """An asyncio listener (the SMTP doors) on host:port or on an inherited socket."""
    loop = asyncio.get_running_loop()
    if sock is None:
        return Listener.from_asyncio(await loop.create_server(make, host, port))
    return Listener.from_asyncio(await loop.create_server(make, sock=sock))
