"""LOGIN and AUTHENTICATE PLAIN, XOAUTH2, OAUTHBEARER (with SASL-IR, RFC 4959), only once TLS is active.

Passwords are checked by Argon2id in a thread (hub.passwords.verify_async); the
password itself never reaches a log line. A password Argon2id accepted is accepted
again for `imap.login_cache_seconds` on a keyed digest (VerifiedLogins): clients
reconnect often, and one Argon2id costs ~40 ms of CPU.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import secrets
import time

from mssante_hub import audit
from mssante_hub.hub import Hub
from mssante_hub.reader import Reader
from mssante_hub.imap import recheck, responses
from mssante_hub.imap.capabilities import BEARER_MECHANISMS
from mssante_hub.imap.server import AUTH, UNAUTH, Bad, No, Session, command
from mssante_hub.imap.syntax import Atom, astring
from mssante_hub.accounts.oauth import TokenError, parse_oauthbearer, parse_xoauth2
from mssante_hub.accounts.throttle import REFUSAL_WAIT_S, THROTTLED, LoginGuard, LoginRefused, door_guard
from storage import accounts as account_repo
from storage.models import AccountStatus, AccountType
from mssante_hub.envelope import MAX_ADDRESS_CHARS

IMAP_ACCOUNT_TYPES = {t.value for t in (AccountType.PER, AccountType.ORG, AccountType.APP, AccountType.CAB)}
MAX_SASL_RESPONSE = 8192  # base64 octets of one SASL response
LOGIN_ACTION = "imap.login"  # read by mssante_hub/inactivity.py: keep the name
LOGIN_FAILED_ACTION = "imap.login_failed"
LOGIN_THROTTLED_ACTION = "imap.login_throttled"
VERIFIED_LOGINS_KEPT = 10_000


class VerifiedLogins:
    """Passwords Argon2id accepted lately, as HMAC digests under a key that lives only in this process.

    Only successes are remembered: a wrong password always costs a full Argon2id (no guessing
    faster than before, no timing difference between unknown and known mailboxes). The stored
    hash is part of the digest, so a password change forgets the old one; the account row (and
    its status) is still read at every login. Entries are not renewed by use: at most every
    `seconds` a password goes through Argon2id again.
    """

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._key = secrets.token_bytes(32)
        self._until: dict[bytes, float] = {}

    def _digest(self, account_id: int, stored: str, password: str) -> bytes:
        message = b"%d\x00%s\x00%s" % (account_id, stored.encode(), password.encode("utf-8", "surrogatepass"))
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def known(self, account_id: int, stored: str, password: str) -> bool:
        if self._seconds <= 0:
            return False
        until = self._until.get(self._digest(account_id, stored, password))
        return until is not None and until > time.monotonic()

    def remember(self, account_id: int, stored: str, password: str) -> None:
        if self._seconds <= 0:
            return
        now = time.monotonic()
        if len(self._until) >= VERIFIED_LOGINS_KEPT:
            self._until = {d: u for d, u in self._until.items() if u > now}
            if len(self._until) >= VERIFIED_LOGINS_KEPT:
                self._until.clear()
        self._until[self._digest(account_id, stored, password)] = now + self._seconds


def login_guard(hub: Hub) -> LoginGuard:
    """One per hub (both IMAP listeners share its slots; its counts are hub-wide, in the database)."""
    found = getattr(hub, "imap_login_guard", None)
    if found is None:
        found = hub.imap_login_guard = door_guard(hub, "imap")
    return found


def _peer(s: Session) -> str:
    return getattr(s.transport.getPeer(), "host", "?") if s.transport else "?"


async def _refuse(s: Session, login: str, reason: str) -> None:
    """Trace (once a minute per address and login) an attempt the guard turned away before any secret
    was checked, and answer NO after a short wait."""
    if login_guard(s.hub).trace_refusal(_peer(s), login):
        await s.hub.write(lambda conn: audit.record(
            conn, actor=login[:MAX_ADDRESS_CHARS], actor_type=audit.ActorType.PEER, action=LOGIN_THROTTLED_ACTION,
            target=f"imap from:{_peer(s)}", outcome="refused" if reason == THROTTLED else reason))
    await asyncio.sleep(REFUSAL_WAIT_S)
    raise No(responses.NO_THROTTLED if reason == THROTTLED else responses.NO_LOGINS_BUSY)


def verified_logins(hub: Hub) -> VerifiedLogins:
    """One per hub (shared by the imap and imaps listeners)."""
    found = getattr(hub, "imap_verified_logins", None)
    if found is None:
        found = hub.imap_verified_logins = VerifiedLogins(hub.config.get("imap.login_cache_seconds"))
    return found


async def check_password(s: Session, user: bytes, password: bytes) -> None:
    """Log the session in, or raise No with AUTHENTICATIONFAILED."""
    try:
        address = user.decode("utf-8").strip().lower()
        secret = password.decode("utf-8")
    except UnicodeDecodeError:
        raise No(responses.NO_AUTH_FAILED) from None
    guard, peer = login_guard(s.hub), _peer(s)
    try:
        # Checked in a slot of this login and this address (accounts/throttle.py): parallel connections
        # cannot have more guesses checked at once than the slots, whatever the failures recorded so far.
        async with guard.attempt(peer, address):
            account = (await s.hub.read(lambda conn: account_repo.by_address(conn, address), small=True)
                       if address else None)
            stored = account.password_hash if account is not None else None
            cache = verified_logins(s.hub)
            if stored is not None and cache.known(account.id, stored, secret):
                ok = True
            else:
                # An unknown mailbox costs the same Argon2 work as a known one: no enumeration by timing.
                ok = await s.hub.passwords.verify_async(stored or await _decoy_hash(s), secret)
                if ok and stored is not None:
                    cache.remember(account.id, stored, secret)
            proven = account if ok and stored is not None else None
            if not _usable(proven):
                await guard.failed(peer, address)  # within the slot: the next waiter sees it
    except LoginRefused as refusal:
        await _refuse(s, address, refusal.reason)
    await _log_in(s, address, proven, counted=True)


async def check_token(s: Session, mechanism: bytes, response: bytes) -> None:
    """XOAUTH2 / OAUTHBEARER: log in the mailbox the provider's token speaks for, or raise No."""
    text = response.decode("utf-8", "replace")
    claimed, token = parse_xoauth2(text) if mechanism == b"XOAUTH2" else parse_oauthbearer(text)
    key = claimed.lower()[:MAX_ADDRESS_CHARS]
    guard, peer = login_guard(s.hub), _peer(s)
    try:
        # The same slot and failure count as a password (accounts/throttle.py): a token guesser's parallel
        # connections meet the delays their failures earned one after another, and are refused as busy past them.
        async with guard.attempt(peer, key):
            try:
                subject = s.server_factory.tokens.verify(token)  # never logged, never stored
            except TokenError:
                subject = ""
            ok = bool(subject) and (not key or key == subject)
            if not ok:
                await guard.failed(peer, key)  # within the slot: the next waiter sees it
    except LoginRefused as refusal:
        await _refuse(s, key, refusal.reason)
    if not ok:
        await _log_in(s, key, None, counted=True)
    if key != subject and (await guard.verdict(peer, subject)).refused:
        # A token naming no login took the address's slot only: the subject's own lock-out still holds.
        await _refuse(s, subject, THROTTLED)
    account = await s.hub.read(lambda conn: account_repo.by_address(conn, subject), small=True)
    await _log_in(s, subject, account)


def _usable(account: account_repo.AccountRow | None) -> bool:
    return (account is not None and account.status == AccountStatus.ACTIVE.value
            and account.type in IMAP_ACCOUNT_TYPES)


async def _log_in(s: Session, address: str, account: account_repo.AccountRow | None, counted: bool = False) -> None:
    """The common end of every mechanism: an account proven (or None), traced either way.

    `counted`: the failure was already recorded by the caller (within its guard slot)."""
    if not _usable(account):
        peer = _peer(s)
        if not counted:
            await login_guard(s.hub).failed(peer, address)
        await s.hub.write(lambda conn: audit.record(  # the attempt, never the password
            conn, actor=address[:MAX_ADDRESS_CHARS], actor_type=audit.ActorType.PEER, action=LOGIN_FAILED_ACTION,
            subject_account_id=account.id if account else None, target=f"imap from:{peer}", outcome="refused"))
        raise No(responses.NO_AUTH_FAILED)
    s.account = account
    recheck.arm(s)  # the password hash and status just read are the ones the session re-checks
    s.reader = Reader.of(s.hub, account)
    s.state = AUTH
    s.framer.authenticated = True  # APPEND literals may be invited from now on
    s.setTimeout(s.POSTAUTH_TIMEOUT)
    peer = s.transport.getPeer()
    await s.hub.write(lambda conn: audit.record(
        conn, actor=account.address, actor_type=audit.ActorType.of_account(account.type), action=LOGIN_ACTION,
        subject_account_id=account.id, target=f"imap from:{getattr(peer, 'host', '?')}"))


_DECOY: dict[int, str] = {}


async def _decoy_hash(s: Session) -> str:
    key = id(s.hub)
    if key not in _DECOY:
        _DECOY[key] = await asyncio.get_running_loop().run_in_executor(
            None, s.hub.passwords.hash, secrets.token_hex(16))
    return _DECOY[key]


def _require_tls(s: Session) -> None:
    if not s.tls_active:
        raise No(responses.NO_TLS_REQUIRED)


@command("LOGIN", UNAUTH)
async def login(s: Session, tag: bytes, args: list, uid: bool) -> bytes:
    _require_tls(s)
    if len(args) != 2:
        raise Bad(responses.BAD_SYNTAX)
    await check_password(s, astring(args[0]), astring(args[1]))
    s.untagged(b"CAPABILITY " + b" ".join(s.listCapabilities()))
    return responses.OK_LOGIN


@command("AUTHENTICATE", UNAUTH)
async def authenticate(s: Session, tag: bytes, args: list, uid: bool) -> bytes:
    _require_tls(s)
    if not args or len(args) > 2 or not isinstance(args[0], Atom):
        raise Bad(responses.BAD_SYNTAX)
    mechanism = args[0].upper()
    bearer = mechanism in BEARER_MECHANISMS and s.server_factory.tokens is not None
    if mechanism != b"PLAIN" and not bearer:
        raise No(responses.NO_MECHANISM)
    if len(args) == 2:
        encoded = astring(args[1])  # SASL-IR: the initial response on the command line
        if encoded == b"=":
            encoded = b""
    else:
        s.sendLine(responses.CONTINUE_EMPTY)
        encoded = await s.next_line()
    if encoded.strip() == b"*":
        raise Bad(responses.BAD_AUTH_CANCELLED)
    if len(encoded) > MAX_SASL_RESPONSE:
        raise Bad(responses.BAD_BASE64)
    try:
        decoded = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise Bad(responses.BAD_BASE64) from None
    if bearer:
        await check_token(s, mechanism, decoded)
        s.untagged(b"CAPABILITY " + b" ".join(s.listCapabilities()))
        return responses.OK_AUTHENTICATE
    parts = decoded.split(b"\x00")
    if len(parts) != 3:
        raise No(responses.NO_AUTH_FAILED)
    authzid, user, password = parts
    if authzid and authzid.lower() != user.lower():
        raise No(responses.NO_AUTH_FAILED)  # acting as another mailbox goes through ACLs, not authzid
    await check_password(s, user, password)
    s.untagged(b"CAPABILITY " + b" ".join(s.listCapabilities()))
    return responses.OK_AUTHENTICATE
