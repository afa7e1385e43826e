"""Submission for professionals' mail clients, hospital systems and the webmail.

TLS before AUTH; AUTH before MAIL; MAIL FROM must be the authenticated mailbox, or an ORG
mailbox delegated to it;
remote recipients must be in the trust space (whitelist). Submitted mail lacking
`X-MSS-NIL` gets the hub's software reference (docs/domain.md §4).
"""

from __future__ import annotations

import asyncio
import re

from mssante_hub.rules import trust
from mssante_hub.hub import Hub
from mssante_hub import proxy_header
from mssante_hub.admin.listeners import Listener, create_server
from mssante_hub.smtp import replies
from mssante_hub.smtp.auth import Authenticator
from mssante_hub.smtp.door import BaseDoor
from mssante_hub.smtp.receipts import mdn_hook, success_dsn_hook
from mssante_hub.accounts.oauth import verifier_from_config
from mssante_hub.smtp.params import MailParams, RcptParams
from mssante_hub.smtp.server import HubSMTP, SessionLimiter, factory
from mssante_hub.accounts.throttle import door_guard
from mssante_hub.smtp.tls import server_context
from mssante_hub.envelope import Channel
from storage.grants import may_post_as

_HEADER_END = re.compile(rb"\r\n\r\n")
_NIL_FIELD = re.compile(rb"(?im)^x-mss-nil[ \t]*:")


def has_header(raw: bytes, pattern: re.Pattern) -> bool:
    end = _HEADER_END.search(raw)
    return bool(pattern.search(raw[: end.start() + 2] if end else raw))


class SubmissionDoor(BaseDoor):
    channel = Channel.SUBMISSION

    def __init__(self, hub: Hub, authenticator: Authenticator) -> None:
        super().__init__(hub)
        self.authenticator = authenticator
        self.throttle = authenticator.throttle
        self.software_reference = hub.config.get("hub.software_reference")

    def sasl_mechanisms(self, server: HubSMTP) -> list[str]:
        return self.authenticator.mechanisms()

    # aiosmtpd finds SASL mechanisms by these method names.
    async def auth_PLAIN(self, server: HubSMTP, args: list[str]):
        return await self.authenticator.plain(server, args)

    async def auth_LOGIN(self, server: HubSMTP, args: list[str]):
        return await self.authenticator.login(server, args)

    async def auth_XOAUTH2(self, server: HubSMTP, args: list[str]):
        return await self.authenticator.xoauth2(server, args)

    async def auth_OAUTHBEARER(self, server: HubSMTP, args: list[str]):
        return await self.authenticator.oauthbearer(server, args)

    async def auth_EXTERNAL(self, server: HubSMTP, args: list[str]):
        return await self.authenticator.external(server, args)

    async def check_mail(self, server: HubSMTP, address: str, params: MailParams) -> str | None:
        identity = self.identity(server)
        if identity is None:
            return replies.NOT_OWNER
        if address.lower() == identity.address.lower():
            return None
        if identity.account_id is not None and await self.hub.read(
                lambda conn: may_post_as(conn, identity.account_id, address)):
            return None
        return replies.NOT_OWNER

    async def check_rcpt(self, server: HubSMTP, address: str, params: RcptParams) -> str | None:
        refusal = self.size_refusal(address, server.tx.mail)
        if refusal:
            return refusal
        if self.hub.is_local(address):
            return await self.local_recipient_refusal(address) or await self.service_refusal(server, address)
        if not trust.in_trust_space(self.hub, address):
            return replies.REMOTE_NOT_WHITELISTED
        return None

    def prepare(self, server: HubSMTP, raw: bytes) -> bytes:
        stamp = b"" if has_header(raw, _NIL_FIELD) else f"X-MSS-NIL: {self.software_reference}\r\n".encode()
        return self.trace_header(server) + stamp + raw


def build(hub: Hub) -> tuple[SubmissionDoor, object]:
    config = hub.config
    throttle = door_guard(hub, "smtp")  # counts hub-wide, in the database
    tokens = verifier_from_config(config)
    client_cas = [config.data_dir / p for p in config.get("submission.client_ca_files")]
    door = SubmissionDoor(hub, Authenticator(hub, throttle, tokens, external=bool(client_cas)))
    tls = server_context(config.path_setting("tls.cert_file"), config.path_setting("tls.key_file"), client_cas)
    return door, tls


async def start(hub: Hub, host: str, port: int, reactor=None, sock=None) -> Listener:
    """Listen for clients on the shared event loop."""
    loop = asyncio.get_running_loop()
    door, tls = await loop.run_in_executor(None, build, hub)  # the decoy Argon2 hash is slow
    door.after_delivery.append(mdn_hook(hub))
    door.after_delivery.append(success_dsn_hook(hub))
    limiter = SessionLimiter(hub.config.get("smtp.max_sessions_per_client"))
    proxy = proxy_header.policy_for(hub.config, "submission")  # None unless behind a PROXY-speaking balancer
    make = factory(door, limiter, proxy, hostname=door.hostname, tls_context=tls, enable_SMTPUTF8=True,
                   timeout=hub.config.get("smtp.idle_timeout_s"), data_size_limit=door.max_message_bytes,
                   auth_require_tls=True, loop=loop)
    listener = await create_server(make, host, port, sock)
    listener.door = door  # type: ignore[attr-defined]
    return listener
