"""The MX of the trust space: other operators and hospital systems of other domains deliver here.

STARTTLS before MAIL, a client certificate chained to the configured CAs, valid now, not revoked, whose
subject DN the whitelist lists for the MAIL FROM domain; local recipients only (no relay).
Systems on `mx.trusted_networks` may deliver to local mailboxes without TLS or certificate,
as Postfix's mynetworks.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging

from mssante_hub.directory.revocation import RevocationLists
from mssante_hub.directory.whitelist import WhitelistFile, normalize_dn
from mssante_hub.hub import Hub
from mssante_hub import proxy_header
from mssante_hub.admin.listeners import Listener, create_server
from mssante_hub.smtp import replies
from mssante_hub.smtp.door import BaseDoor
from mssante_hub.smtp.receipts import mdn_hook, success_dsn_hook
from mssante_hub.smtp.params import MailParams, RcptParams
from mssante_hub.smtp.server import HubSMTP, SessionLimiter, factory
from mssante_hub.smtp.tls import peer_certificate, server_context
from mssante_hub.envelope import Channel

log = logging.getLogger("mssante_hub.smtp.mx")


class MxDoor(BaseDoor):
    channel = Channel.MX

    def __init__(self, hub: Hub) -> None:
        super().__init__(hub)
        self.trusted = [ipaddress.ip_network(n, strict=False) for n in hub.config.get("mx.trusted_networks")]
        self.whitelist = WhitelistFile(hub.config.path_setting("mx.whitelist_file"))
        data_dir = hub.config.data_dir
        self.revocations = RevocationLists([data_dir / p for p in hub.config.get("mx.crl_files")],
                                           [data_dir / p for p in hub.config.get("mx.ca_files")])

    def is_trusted(self, server: HubSMTP) -> bool:
        return bool(self.trusted) and server.in_networks(self.trusted)

    def requires_tls(self, server: HubSMTP) -> bool:
        return not self.is_trusted(server)

    def trust_refusal(self, server: HubSMTP, sender: str) -> str | None:
        """Why this peer may not send mail from `sender`, or None."""
        if self.is_trusted(server):
            return None
        cert = peer_certificate(server.session.ssl)
        if cert is None:
            return replies.NO_CLIENT_CERTIFICATE
        problem = cert.validity_problem()
        if problem == "expired":
            return replies.CERTIFICATE_EXPIRED
        if problem:
            return replies.CERTIFICATE_NOT_YET_VALID
        if self.revocations.is_revoked(cert.certificate):
            return replies.CERTIFICATE_REVOKED
        whitelist = self.whitelist.current()
        dn = normalize_dn(cert.subject)
        if not sender:  # a bounce: any listed operator may send one
            return None if whitelist.knows_dn(dn) else replies.DN_NOT_LISTED
        domain = sender.rpartition("@")[2]
        if not whitelist.has_domain(domain):
            return replies.SENDER_DOMAIN_NOT_WHITELISTED
        if not whitelist.allows(domain, dn):
            return replies.DN_NOT_LISTED
        return None

    async def check_mail(self, server: HubSMTP, address: str, params: MailParams) -> str | None:
        refusal = self.trust_refusal(server, address)
        if refusal:  # one of our fixed replies: its code and enhanced status name the reason
            log.info("mx refused the sender domain %s from %s: %s", address.rpartition("@")[2][:255] or "<>",
                     server.client_ip, refusal)
        return refusal

    async def check_rcpt(self, server: HubSMTP, address: str, params: RcptParams) -> str | None:
        if not self.hub.is_local(address):
            return replies.RELAY_DENIED
        return (self.size_refusal(address, server.tx.mail) or await self.local_recipient_refusal(address)
                or await self.service_refusal(server, address))


def build_tls(hub: Hub):
    config = hub.config
    cas = [config.data_dir / p for p in config.get("mx.ca_files")]
    return server_context(config.path_setting("tls.cert_file"), config.path_setting("tls.key_file"), cas)


async def start(hub: Hub, host: str, port: int, reactor=None, sock=None) -> Listener:
    """Listen for the trust space on the shared event loop."""
    door = MxDoor(hub)
    door.after_delivery.append(mdn_hook(hub))
    door.after_delivery.append(success_dsn_hook(hub))
    limiter = SessionLimiter(hub.config.get("smtp.max_sessions_per_client"))
    proxy = proxy_header.policy_for(hub.config, "mx")  # None unless behind a PROXY-speaking balancer
    make = factory(door, limiter, proxy, hostname=door.hostname, tls_context=build_tls(hub), enable_SMTPUTF8=True,
                   timeout=hub.config.get("smtp.idle_timeout_s"), data_size_limit=door.max_message_bytes,
                   auth_require_tls=True, loop=asyncio.get_running_loop())
    listener = await create_server(make, host, port, sock)
    listener.door = door  # type: ignore[attr-defined]  # tests and hooks reach the door
    return listener
