"""Start an IMAP listener: the protocol factory shared by the STARTTLS and implicit-TLS doors."""

from __future__ import annotations

from twisted.internet import protocol

from mssante_hub.admission import PerAddress
from mssante_hub.hub import Hub
from mssante_hub.imap import acl, append, auth, fetch, folders, general, messages, search, sort  # noqa: F401 - commands
from mssante_hub.imap.notify import notifier_for
from mssante_hub.imap.server import Session
from mssante_hub.imap.tls import context_factory
from mssante_hub.admin.listeners import Listener, listen_ssl, listen_tcp
from mssante_hub.imap.proxied import ProxiedFactory
from mssante_hub import proxy_header
from mssante_hub.accounts.oauth import verifier_from_config


class SessionFactory(protocol.ServerFactory):
    def __init__(self, hub: Hub, implicit_tls: bool) -> None:
        self.hub = hub
        self.implicit_tls = implicit_tls
        self.tls = context_factory(hub)
        self.notifier = notifier_for(hub)
        self.sessions: set[Session] = set()
        self.per_address = per_address_of(hub)  # shared by imap and imaps: one address, one count
        self.tokens = verifier_from_config(hub.config)  # XOAUTH2 / OAUTHBEARER, when configured

    def buildProtocol(self, addr) -> Session:  # noqa: N802 - Twisted's naming
        return Session(self.hub, self.notifier, self.tls, self.implicit_tls, self)


def per_address_of(hub: Hub) -> PerAddress:
    found = getattr(hub, "imap_per_address", None)
    if found is None:
        found = hub.imap_per_address = PerAddress(hub.config.get("imap.max_connections_per_address"))
    return found


async def start_listener(hub: Hub, host: str, port: int, reactor, implicit_tls: bool, sock=None) -> Listener:
    factory = SessionFactory(hub, implicit_tls)
    policy = proxy_header.policy_for(hub.config, "imaps" if implicit_tls else "imap")
    if policy is not None:
        # The header comes first, in clear, before TLS on imaps: the PROXY reader sits below TLS.
        from twisted.protocols.tls import TLSMemoryBIOFactory

        inner = TLSMemoryBIOFactory(factory.tls, False, factory) if implicit_tls else factory
        return listen_tcp(reactor, ProxiedFactory(policy, inner), host, port, sock)
    if implicit_tls:
        return listen_ssl(reactor, factory, factory.tls, host, port, sock)
    return listen_tcp(reactor, factory, host, port, sock)
