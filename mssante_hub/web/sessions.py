"""Webmail sign-in: password check, bearer tokens, idle and absolute expiry, throttling.

The token is 256 random bits handed to the browser once; the database keeps only
its SHA-256 (a random token of that size needs no slow hash). Sessions live in
the database so that any hub process answers them and a logout, a closure or a
suspension ends them everywhere. Every sign-in, failed or not, is traced.
"""

from __future__ import annotations

import asyncio

import datetime as dt
import hashlib
import logging
import secrets
from dataclasses import dataclass

from mssante_hub import audit

from mssante_hub.accounts import identity
from mssante_hub.hub import Hub
from mssante_hub.accounts import throttle
from mssante_hub.accounts.throttle import LoginRefused, door_guard
from mssante_hub.patients import derived_keys
from mssante_hub.web import totp
from mssante_hub.web.http import LOGIN_FAILED, SIGN_INS_BUSY, THROTTLED, UNAUTHENTICATED, UNAVAILABLE, ApiError
from storage import accounts as account_repo
from storage import sessions
from storage.models import AccountStatus, AccountType
from mssante_hub.envelope import MAX_ADDRESS_CHARS

log = logging.getLogger("mssante_hub.web.sessions")

TOKEN_BYTES = 32
MAX_PASSWORD_CHARS = 1024
# last_seen_at is written at most this often: a read-only session does not cost an fsync per request.
TOUCH_EVERY = dt.timedelta(seconds=60)
# People sign in to the webmail; applications use submission with a certificate or a token.
# The second factor (web/totp.py): asked once the password is right; a wrong code counts as a failed sign-in.
OTP_REQUIRED = ApiError(401, "otp_required", "Saisissez le code de votre application d'authentification",
                        "Enter the code of your authenticator application")
OTP_FAILED = ApiError(401, "otp_failed", "Code de vérification incorrect ou déjà utilisé",
                      "Wrong or already used verification code")
WEB_LOGIN_TYPES = frozenset({AccountType.PATIENT.value, AccountType.PER.value, AccountType.ORG.value,
                             AccountType.CAB.value})


@dataclass(frozen=True)
class Session:
    """A signed-in account, and the space it acts on: its own, or a dependant's (web/spaces.py).

    On a dependant's space `account_id`, `address` and `type` are the dependant's, and `representative` is the
    signed-in legal representative: every trace names them as the actor (`actor`, `actor_type`)."""

    token_hash: bytes
    account_id: int
    address: str
    type: str
    expires_at: dt.datetime
    representative: str = ""
    representative_id: int | None = None

    @property
    def actor(self) -> str:
        return self.representative or self.address

    @property
    def actor_type(self) -> audit.ActorType:
        return audit.ActorType.REPRESENTATIVE if self.representative else audit.ActorType.of_account(self.type)


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "replace")).digest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class WebSessions:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.idle = dt.timedelta(minutes=hub.config.get("web.session_idle_minutes"))
        self.lifetime = dt.timedelta(hours=hub.config.get("web.session_max_hours"))
        # Per (client address, login), per address and per login (accounts/throttle.LoginGuard): others'
        # failures slow the holder down from a new address before they can lock the login.
        self.guard = door_guard(hub, "web")  # counts hub-wide, in the database
        self._decoy_hash = hub.passwords.hash(secrets.token_urlsafe(16))

    def _address(self, login: str) -> str:
        login = login.strip()
        if identity.is_valid_ins(login.upper()):  # patients may sign in with their INS alone
            return identity.patient_address(login.upper(), self.hub.config.get("hub.patient_domain"))
        return login.lower()

    async def login(self, login: str, password: str, client_ip: str, otp: str | None = None) -> tuple[str, Session]:
        """A new token and its session, or ApiError (throttled, wrong login or password, or the second factor's
        code missing or wrong when the account has one)."""
        if not (0 < len(login) <= MAX_ADDRESS_CHARS) or not (0 < len(password) <= MAX_PASSWORD_CHARS):
            raise LOGIN_FAILED
        address = self._address(login)
        account = await self.hub.read(lambda conn: account_repo.by_address(conn, address))
        try:
            # In a slot of this login and this address (accounts/throttle.py): parallel requests cannot
            # have more guesses checked at once than the slots, whatever the failures recorded so far.
            async with self.guard.attempt(client_ip, address):
                usable = (account is not None and account.type in WEB_LOGIN_TYPES
                          and account.status == AccountStatus.ACTIVE.value)
                stored = account.password_hash if usable else self._decoy_hash
                ok = await self.hub.passwords.verify_async(stored, password) and usable
                if not ok:
                    await self.guard.failed(client_ip, address)  # within the slot: the next waiter sees it
        except LoginRefused as refusal:
            # Traced on the space too (once a minute per address): its holder sees that someone kept trying.
            if self.guard.trace_refusal(client_ip, address):
                await self._trace(address, account.id if account else None, client_ip, "throttled")
            await asyncio.sleep(throttle.REFUSAL_WAIT_S)
            raise THROTTLED if refusal.reason == throttle.THROTTLED else SIGN_INS_BUSY from None
        if not ok:
            await self._trace(address, account.id if account else None, client_ip, "refused")
            raise LOGIN_FAILED
        if await self.hub.read(lambda conn: totp.enabled(conn, account.id)):
            await self._second_factor(account, address, client_ip, otp)
        token = secrets.token_urlsafe(TOKEN_BYTES)
        now = _now()
        session = Session(token_hash(token), account.id, account.address, account.type,
                          now + self.lifetime)

        def work(conn) -> None:
            sessions.create(conn, session.token_hash, account.id, now, session.expires_at)
            sessions.purge_lapsed(conn, now)
            audit.record(conn, actor=account.address,
                         actor_type=audit.ActorType.of_account(account.type), action=audit.LOGIN,
                         subject_account_id=account.id, target=f"web ip:{client_ip}", outcome="ok")

        await self.hub.write(work)
        return token, session

    async def _second_factor(self, account, address: str, client_ip: str, otp: str | None) -> None:
        if not otp:
            raise OTP_REQUIRED
        await asyncio.to_thread(derived_keys.totp_key, self.hub)  # derived outside the write transaction
        now = _now()
        if not await self.hub.write(lambda conn: totp.check(self.hub, conn, account.id, otp, now)):
            await self.guard.failed(client_ip, address)
            await self._trace(address, account.id, client_ip, "refused")
            raise OTP_FAILED

    async def _trace(self, address: str, account_id: int | None, client_ip: str, outcome: str) -> None:
        def work(conn) -> None:
            audit.record(conn, actor=address[:MAX_ADDRESS_CHARS], actor_type=audit.ActorType.PEER, action=audit.LOGIN,
                         subject_account_id=account_id, target=f"web ip:{client_ip}", outcome=outcome)

        try:
            await self.hub.write(work)
        except Exception as exc:  # noqa: BLE001 - a trace failure must not change the answer
            log.error("could not trace a webmail sign-in: %r", exc)

    async def authenticate(self, authorization: bytes | None) -> Session:
        """The session of an `Authorization: Bearer` header, or UNAUTHENTICATED."""
        scheme, _, token = (authorization or b"").decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not (0 < len(token) <= 256):
            raise UNAUTHENTICATED
        hashed = token_hash(token.strip())
        try:
            row = await self.hub.read(lambda conn: sessions.active(conn, hashed), small=True)  # one primary-key row
        except Exception:  # noqa: BLE001 - the database is down: say so, do not sign out
            raise UNAVAILABLE from None
        now = _now()
        if row is None:
            raise UNAUTHENTICATED
        if now > row.expires_at or now - row.last_seen_at > self.idle:
            await self.hub.write(lambda conn: sessions.end(conn, hashed))
            raise UNAUTHENTICATED
        if now - row.last_seen_at > TOUCH_EVERY:
            await self.hub.write(lambda conn: sessions.touch(conn, hashed, now))
        return Session(hashed, row.account_id, row.address, row.type, row.expires_at)

    async def logout(self, session: Session, client_ip: str) -> None:
        def work(conn) -> None:
            sessions.end(conn, session.token_hash)
            audit.record(conn, actor=session.address,
                         actor_type=audit.ActorType.of_account(session.type), action=audit.LOGOUT,
                         subject_account_id=session.account_id, target=f"web ip:{client_ip}", outcome="ok")

        await self.hub.write(work)


__all__ = ["ApiError", "Session", "WebSessions", "token_hash"]
