"""SASL for submission (RFC 4954): PLAIN, LOGIN, XOAUTH2, OAUTHBEARER, EXTERNAL.

Passwords are checked with Argon2id off the event loop; bearer tokens are JWTs checked
against the configured OpenID provider's keys (mssante_hub/oauth.py) and never stored or logged;
EXTERNAL binds a client certificate to an APP mailbox by the address it carries.
Every failure counts against the client address, the login and the pair (accounts/throttle.LoginGuard)
and is written to the audit trace; a throttled login is refused before any secret is checked, and
passwords are checked a few at a time per login and per address (LoginGuard.attempt).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging

from aiosmtpd.smtp import MISSING, AuthResult
from cryptography import x509

from mssante_hub import audit
from mssante_hub.delivery import Identity
from mssante_hub.hub import Hub
from mssante_hub.smtp import replies
from mssante_hub.accounts.oauth import TokenError, TokenVerifier, parse_oauthbearer, parse_xoauth2
from mssante_hub.smtp.server import HubSMTP
from mssante_hub.accounts.throttle import REFUSAL_WAIT_S, THROTTLED, LoginGuard, LoginRefused
from mssante_hub.smtp.tls import peer_certificate
from storage import accounts as account_repo
from storage.models import AccountStatus, AccountType
from mssante_hub.envelope import MAX_ADDRESS_CHARS

log = logging.getLogger("mssante_hub.smtp.auth")
AUTH_FAILURE = "auth.failure"
AUTH_SUCCESS = "auth.success"
SUBMITTING_TYPES = frozenset({AccountType.PER.value, AccountType.ORG.value, AccountType.APP.value,
                              AccountType.CAB.value})
MAX_SECRET = 8 * 1024


def _b64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        return None


def _text(data: bytes, limit: int) -> str | None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text if 0 < len(text) <= limit else None


def certificate_addresses(der: bytes) -> list[str]:
    """Mail addresses a client certificate carries (SAN rfc822Name, then subject emailAddress)."""
    cert = x509.load_der_x509_certificate(der)
    found: list[str] = []
    try:
        found += cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.RFC822Name)
    except x509.ExtensionNotFound:
        pass
    found += [str(a.value) for a in cert.subject.get_attributes_for_oid(x509.NameOID.EMAIL_ADDRESS)]
    return [a.lower() for a in found]


class Authenticator:
    """The SASL mechanisms of one submission listener."""

    def __init__(self, hub: Hub, throttle: LoginGuard, tokens: TokenVerifier | None, external: bool) -> None:
        self.hub = hub
        self.throttle = throttle
        self.tokens = tokens
        self.external_enabled = external
        # Verified when the address is unknown, so that timing does not tell which accounts exist.
        self._decoy_hash = hub.passwords.hash("decoy password never used")

    def mechanisms(self) -> list[str]:
        names = ["PLAIN", "LOGIN"]
        if self.tokens is not None:
            names += ["XOAUTH2", "OAUTHBEARER"]
        if self.external_enabled:
            names.append("EXTERNAL")
        return names

    async def _account(self, address: str) -> account_repo.AccountRow | None:
        account = await self.hub.read(lambda conn: account_repo.by_address(conn, address), small=True)
        if account is None or account.type not in SUBMITTING_TYPES or account.status != AccountStatus.ACTIVE.value:
            return None
        return account

    async def _trace(self, server: HubSMTP, login: str, mechanism: str, ok: bool,
                     account_type: str | None = None) -> None:
        def work(conn):
            audit.record(conn, actor=login[:MAX_ADDRESS_CHARS], actor_type=audit.ActorType.of_account(account_type),
                         action=AUTH_SUCCESS if ok else AUTH_FAILURE,
                         target=f"submission ip:{server.client_ip} sasl:{mechanism}", outcome="ok" if ok else "refused")

        try:
            await self.hub.write(work)
        except Exception as exc:  # noqa: BLE001 - a trace failure must not open or close the door
            log.error("could not trace a login: %r", exc)

    async def _result(self, server: HubSMTP, mechanism: str, login: str,
                      account: account_repo.AccountRow | None, counted: bool = False) -> AuthResult:
        """`counted`: a failure already recorded by the caller, within its guard slot."""
        if account is None:
            if not counted:
                await self.throttle.failed(server.client_ip, login if login != "?" else "")
            await self._trace(server, login, mechanism, False)
            return AuthResult(success=False, handled=False, message=replies.AUTH_FAILED)
        await self._trace(server, account.address, mechanism, True, account.type)
        return AuthResult(success=True, auth_data=Identity(account.address, account.id, account.type),
                          message=replies.AUTH_OK)

    async def _password(self, server: HubSMTP, mechanism: str, login_b: bytes, password_b: bytes) -> AuthResult:
        login, password = _text(login_b, MAX_ADDRESS_CHARS), _text(password_b, MAX_SECRET)
        key = (login or "").lower()
        try:
            # In a slot of this login and this address (accounts/throttle.py): parallel sessions cannot
            # have more guesses checked at once than the slots, whatever the failures recorded so far.
            async with self.throttle.attempt(server.client_ip, key):
                account = await self._account(key) if login and password else None
                stored = account.password_hash if account else self._decoy_hash
                ok = await self.hub.passwords.verify_async(stored, password or "")
                if not ok:
                    await self.throttle.failed(server.client_ip, key)  # within the slot: the next waiter sees it
        except LoginRefused as refusal:
            return await self._refused(server, mechanism, key, refusal)
        return await self._result(server, mechanism, login or "?", account if ok else None, counted=True)

    async def _refused(self, server: HubSMTP, mechanism: str, key: str, refusal: LoginRefused) -> AuthResult:
        if self.throttle.trace_refusal(server.client_ip, key):  # once a minute per address and login
            await self._trace(server, key, mechanism, False)
        await asyncio.sleep(REFUSAL_WAIT_S)
        return AuthResult(success=False, handled=False, message=replies.TOO_MANY_FAILED_LOGINS
                          if refusal.reason == THROTTLED else replies.AUTH_BUSY)

    async def _response(self, server: HubSMTP, args: list[str], challenge: str = "") -> bytes | None:
        """The client's (initial or challenged) response, or None when already answered."""
        if len(args) > 1:
            data = b"" if args[1] == "=" else _b64(args[1])
            if data is None:
                await server.push(replies.AUTH_BAD_BASE64)
            return data
        data = await server.challenge_auth(challenge)
        return None if data is MISSING else data

    async def plain(self, server: HubSMTP, args: list[str]) -> AuthResult:
        data = await self._response(server, args)
        if data is None:
            return AuthResult(success=False, handled=True)
        parts = data.split(b"\x00")
        if len(parts) != 3:
            return await self._result(server, "PLAIN", "?", None)
        authzid, login, password = parts
        if authzid and authzid.lower() != login.lower():
            return await self._result(server, "PLAIN", "?", None)
        return await self._password(server, "PLAIN", login, password)

    async def login(self, server: HubSMTP, args: list[str]) -> AuthResult:
        login = await self._response(server, args, "Username:")
        if login is None:
            return AuthResult(success=False, handled=True)
        password = await server.challenge_auth("Password:")
        if password is MISSING:
            return AuthResult(success=False, handled=True)
        return await self._password(server, "LOGIN", login, password)

    async def _bearer(self, server: HubSMTP, mechanism: str, claimed: str, token: str) -> AuthResult:
        assert self.tokens is not None
        key = (claimed or "").lower()
        try:
            # The same slot and failure count as a password (accounts/throttle.py): a token guesser's parallel
            # sessions meet the delays their failures earned one after another, and are refused as busy past them.
            async with self.throttle.attempt(server.client_ip, key):
                try:
                    subject = self.tokens.verify(token)
                except TokenError as exc:
                    log.info("bearer token refused: %s", exc)  # the reason, never the token
                    subject = ""
                ok = bool(subject) and (not key or key == subject)
                if not ok:
                    await self.throttle.failed(server.client_ip, key)  # within the slot: the next waiter sees it
        except LoginRefused as refusal:
            return await self._refused(server, mechanism, key, refusal)
        if not ok:
            return await self._result(server, mechanism, claimed or "?", None, counted=True)
        if key != subject and (await self.throttle.verdict(server.client_ip, subject)).refused:
            # A token naming no login took the address's slot only: the subject's own lock-out still holds.
            return await self._refused(server, mechanism, subject, LoginRefused(THROTTLED))
        return await self._result(server, mechanism, subject, await self._account(subject))

    async def _token(self, server: HubSMTP, args: list[str], mechanism: str, parse) -> AuthResult:
        data = await self._response(server, args)
        if data is None:
            return AuthResult(success=False, handled=True)
        claimed, token = parse(_text(data, MAX_SECRET) or "")
        return await self._bearer(server, mechanism, claimed, token)

    async def xoauth2(self, server: HubSMTP, args: list[str]) -> AuthResult:
        return await self._token(server, args, "XOAUTH2", parse_xoauth2)

    async def oauthbearer(self, server: HubSMTP, args: list[str]) -> AuthResult:
        return await self._token(server, args, "OAUTHBEARER", parse_oauthbearer)

    async def external(self, server: HubSMTP, args: list[str]) -> AuthResult:
        data = await self._response(server, args)
        if data is None:
            return AuthResult(success=False, handled=True)
        claimed = (_text(data, MAX_ADDRESS_CHARS) or "").lower() if data else ""
        cert = peer_certificate(server.session.ssl)
        if cert is None or cert.validity_problem():
            await self.throttle.failed(server.client_ip, claimed)
            await self._trace(server, claimed or "?", "EXTERNAL", False)
            return AuthResult(success=False, handled=False, message=replies.AUTH_NO_CERTIFICATE)
        addresses = certificate_addresses(cert.der)
        chosen = claimed if claimed else (addresses[0] if len(addresses) == 1 else "")
        account = await self._account(chosen) if chosen in addresses else None
        if account is not None and account.type != AccountType.APP.value:
            account = None  # EXTERNAL is for applicative mailboxes (docs/domain.md §3)
        return await self._result(server, "EXTERNAL", chosen or "?", account)
