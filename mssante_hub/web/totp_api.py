"""The webmail's second factor in the JSON API (docs/web.md), the holder's own (403 holder_only with X-Space).

    GET    /api/totp              {"enabled", "recovery_codes_left"}
    POST   /api/totp              {"password"} -> 201 {"secret", "uri", "qr"}: a new secret, pending until confirmed
    POST   /api/totp/confirm      {"code"} -> 200 {"recovery_codes"}: enabled; the codes are shown this once
    DELETE /api/totp              {"password", "code"} (a current code or a recovery code) -> 204

Once enabled, POST /api/session asks for "otp" too (web/sessions.py). Setting up and removing ask for the
password again (a borrowed, unlocked browser is not enough). Every change is traced (account.totp).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Awaitable, Callable

from twisted.web import server

from mssante_hub import audit
from mssante_hub.hub import Hub
from mssante_hub.patients import derived_keys
from mssante_hub.web import totp
from mssante_hub.web.http import ApiError, read_json
from mssante_hub.web.sessions import MAX_PASSWORD_CHARS, Session
from mssante_hub.web.settings_api import WRONG_PASSWORD
from storage import accounts as account_repo
from storage import totp as totp_store

ALREADY_ON = ApiError(422, "totp_enabled", "La validation en deux étapes est déjà activée",
                      "Two-step verification is already on")
NOT_PENDING = ApiError(422, "totp_not_pending", "Commencez par activer la validation en deux étapes",
                       "Start by setting two-step verification up")
WRONG_CODE = ApiError(422, "wrong_code", "Code de vérification incorrect ou déjà utilisé",
                      "Wrong or already used verification code")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class TotpApi:
    def __init__(self, hub: Hub, client_ip: Callable[[server.Request], str],
                 session_of: Callable[[server.Request], Awaitable[Session]]) -> None:
        self.hub = hub
        self._client_ip = client_ip
        self._session_of = session_of

    async def _key(self) -> None:
        # Derived (a read and an unsealing) before a write transaction uses it: cached from then on.
        await asyncio.to_thread(derived_keys.totp_key, self.hub)

    async def _checked_password(self, session: Session, password: object) -> account_repo.AccountRow:
        if not isinstance(password, str) or not 0 < len(password) <= MAX_PASSWORD_CHARS:
            raise WRONG_PASSWORD
        account = await self.hub.read(lambda conn: account_repo.by_address(conn, session.address))
        if account is None or not await self.hub.passwords.verify_async(account.password_hash, password):
            raise WRONG_PASSWORD
        return account

    async def state(self, request: server.Request) -> tuple[int, dict]:
        session = await self._session_of(request)

        def work(conn) -> dict:
            on = totp.enabled(conn, session.account_id)
            left = totp_store.recovery_left(conn, session.account_id) if on else 0
            return {"enabled": on, "recovery_codes_left": left}

        return 200, await self.hub.read(work)

    async def set_up(self, request: server.Request) -> tuple[int, dict]:
        session = await self._session_of(request)
        account = await self._checked_password(session, read_json(request).get("password"))
        await self._key()
        secret = totp.new_secret()
        sealed = totp.seal(self.hub, session.account_id, secret)
        client = self._client_ip(request)

        def work(conn) -> bool:
            if totp.enabled(conn, session.account_id):
                return False
            totp_store.set_pending(conn, session.account_id, sealed, _now())
            audit.record(conn, actor=session.address, actor_type=audit.ActorType.of_account(session.type),
                         action=audit.ACCOUNT_TOTP, subject_account_id=session.account_id, target=f"web ip:{client}",
                         outcome="set_up")
            return True

        if not await self.hub.write(work):
            raise ALREADY_ON
        uri = totp.provisioning_uri(secret, account.address)
        return 201, {"secret": secret, "uri": uri, "qr": await asyncio.to_thread(totp.qr_rows, uri)}

    async def confirm(self, request: server.Request) -> tuple[int, dict]:
        session = await self._session_of(request)
        code = read_json(request).get("code")
        if not isinstance(code, str) or len(code) > totp.MAX_CODE_CHARS:
            raise WRONG_CODE
        await self._key()
        codes = totp.new_recovery_codes()
        hashes = [totp.recovery_hash(self.hub, session.account_id, c) for c in codes]
        client = self._client_ip(request)

        def work(conn) -> str:
            row = totp_store.of(conn, session.account_id)
            if row is None or row.enabled:
                return "not_pending"
            step = totp.matching_step(totp.open_(self.hub, session.account_id, row.sealed_secret), code)
            if step is None or not totp_store.enable(conn, session.account_id, step, hashes, _now()):
                return "wrong"
            audit.record(conn, actor=session.address, actor_type=audit.ActorType.of_account(session.type),
                         action=audit.ACCOUNT_TOTP, subject_account_id=session.account_id, target=f"web ip:{client}",
                         outcome="enabled")
            return "ok"

        done = await self.hub.write(work)
        if done == "not_pending":
            raise NOT_PENDING
        if done == "wrong":
            raise WRONG_CODE
        return 200, {"recovery_codes": codes}

    async def remove(self, request: server.Request) -> tuple[int, None]:
        session = await self._session_of(request)
        body = read_json(request)
        await self._checked_password(session, body.get("password"))
        code = body.get("code")
        await self._key()
        client = self._client_ip(request)

        def work(conn) -> bool:
            if not isinstance(code, str) or not totp.check(self.hub, conn, session.account_id, code, _now()):
                return False
            totp_store.remove(conn, session.account_id)
            audit.record(conn, actor=session.address, actor_type=audit.ActorType.of_account(session.type),
                         action=audit.ACCOUNT_TOTP, subject_account_id=session.account_id, target=f"web ip:{client}",
                         outcome="disabled")
            return True

        if not await self.hub.write(work):
            raise WRONG_CODE
        return 204, None
