"""The holder's life-cycle steps in the webmail API (docs/domain.md §9).

    POST /api/activation        {"ins", "code", "password"}   -> 201: the space is active, sign in next
    POST /api/objection         {"ins", "code"}               -> 200: the space is deleted at once
    POST /api/space/close       {"password"}   (signed in)    -> 200: archived; every session ends
    POST /api/space/deletion    {"password"}   (signed in)    -> 200: deleted by the returned date
    POST /api/space/export      {"password", "passphrase" | "public_key"}  (signed in)
                                                              -> 200: the OpenPGP-encrypted archive
    GET  /api/preferences       the kinds of notification switched on and off
    PUT  /api/preferences       {"notifications": {"message": false, ...}}

Activation and objection need no session: the one-time code from the letter is the
proof. The code's own counter locks an INS after repeated wrong codes; a second
counter per client address stops one address from trying many INS. Closure and
deletion and export ask for the password again: a borrowed, unlocked browser is not enough.
Exports run one at a time (each holds a whole archive in memory, never on disk).
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable

from twisted.web import server

from mssante_hub import audit

from mssante_hub.accounts import identity

from mssante_hub.patients import notifications
from mssante_hub.hub import Hub
from mssante_hub.patients import export, lifecycle
from mssante_hub.accounts.throttle import LoginThrottle
from mssante_hub.web.patient_api import NOT_A_PATIENT
from mssante_hub.web.http import THROTTLED, ApiError, read_json, respond_file
from mssante_hub.web.sessions import Session
from storage import accounts as account_repo

MAX_CODE_CHARS = 64
EXPORTS_AT_ONCE = 1
EXPORT_TYPE = b"application/pgp-encrypted"
EXPORT_NAME = "export-espace-sante.tar.gpg"
PASSWORD_REQUIRED = ApiError(400, "bad_request", "Mot de passe requis", "Password required")
WRONG_PASSWORD = ApiError(403, "wrong_password", "Mot de passe incorrect", "Wrong password")
INVALID_INS = ApiError(422, "invalid_ins", "INS invalide", "Invalid INS")


def _lifecycle_error(error: lifecycle.LifecycleError) -> ApiError:
    fr, _, en = str(error).partition(" / ")
    if isinstance(error, lifecycle.Throttled):
        return ApiError(429, "throttled", fr, en or fr)
    if isinstance(error, lifecycle.CodeRefused):
        return ApiError(403, "code_refused", fr, en or fr)
    return ApiError(422, "refused", fr, en or fr)


def _field(body: dict[str, Any], name: str, limit: int) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value or len(value) > limit:
        raise ApiError(400, "bad_request", f"Champ requis : {name}", f"Missing or invalid field: {name}")
    return value


class SpaceApi:
    def __init__(self, hub: Hub, client_ip: Callable[[server.Request], str],
                 session_of: Callable[[server.Request], Any]) -> None:
        self.hub = hub
        self._client_ip = client_ip
        self._session_of = session_of
        self._exports = asyncio.Semaphore(EXPORTS_AT_ONCE)
        self.codes_by_client = LoginThrottle(hub.config.get("web.max_failed_logins"),
                                             hub.config.get("web.failed_login_window_s"))

    async def _in_thread(self, fn, *args):
        # The life-cycle steps block on the group commit (and Argon2): never on the loop.
        try:
            return await asyncio.get_running_loop().run_in_executor(None, fn, *args)
        except lifecycle.LifecycleError as error:
            raise _lifecycle_error(error) from None
        except identity.IdentityError:
            raise INVALID_INS from None

    async def _with_code(self, request: server.Request, fn, *args):
        client = self._client_ip(request)
        if self.codes_by_client.blocked(client):
            raise THROTTLED
        try:
            return await self._in_thread(fn, *args)
        except ApiError as error:
            if error.code in ("code_refused", "invalid_ins"):
                self.codes_by_client.failed(client)
            raise

    async def activate(self, request: server.Request) -> tuple[int, dict]:
        body = read_json(request)
        ins, code = _field(body, "ins", 32), _field(body, "code", MAX_CODE_CHARS)
        password = _field(body, "password", 1024)
        await self._with_code(request, lifecycle.activate, self.hub, ins, code, password)
        address = identity.patient_address(identity.validate_ins(ins), self.hub.config.get("hub.patient_domain"))
        return 201, {"address": address}

    async def object(self, request: server.Request) -> tuple[int, dict]:
        body = read_json(request)
        ins, code = _field(body, "ins", 32), _field(body, "code", MAX_CODE_CHARS)
        await self._with_code(request, lifecycle.object_to_space, self.hub, ins, code)
        return 200, {"deleted": True}

    async def _holder(self, request: server.Request) -> tuple[Session, str]:
        """The signed-in patient, after checking the password given again; returns the session and INS."""
        session: Session = await self._session_of(request)
        ins = identity.ins_of_address(session.address, self.hub.config.get("hub.patient_domain"))
        if session.type != identity.PATIENT or ins is None:
            raise NOT_A_PATIENT
        password = read_json(request).get("password")
        if not isinstance(password, str) or not password or len(password) > 1024:
            raise PASSWORD_REQUIRED
        account = await self.hub.read(lambda conn: account_repo.by_address(conn, session.address))
        if account is None or not await self.hub.passwords.verify_async(account.password_hash, password):
            raise WRONG_PASSWORD
        return session, ins

    async def close(self, request: server.Request) -> tuple[int, dict]:
        session, ins = await self._holder(request)
        await self._in_thread(lifecycle.close_space, self.hub, ins, session.address)
        return 200, {"closed": True}

    async def request_deletion(self, request: server.Request) -> tuple[int, dict]:
        session, ins = await self._holder(request)
        due = await self._in_thread(lifecycle.request_deletion, self.hub, ins, session.address)
        return 200, {"deletion_due_at": due.isoformat()}


    async def export(self, request: server.Request) -> tuple[int, None]:
        session, _ = await self._holder(request)
        body = read_json(request)
        passphrase, public_key = body.get("passphrase"), body.get("public_key")
        if not (isinstance(passphrase, str) or isinstance(public_key, str)) or (passphrase and public_key):
            raise ApiError(400, "bad_request", "Une phrase de passe ou une clé publique OpenPGP",
                           "A passphrase or an OpenPGP public key")

        def work() -> tuple[bytes, int]:
            archive, count = export.build_archive(self.hub, session.account_id)
            return export.encrypt(archive, public_key=public_key, passphrase=passphrase), count

        async with self._exports:
            try:
                data, count = await asyncio.get_running_loop().run_in_executor(None, work)
            except export.ExportError as error:
                raise ApiError(422, "export_refused", "Export impossible : vérifiez la clé ou la phrase de passe",
                               f"Export refused: {error}") from None
        await self.hub.write(lambda conn: audit.record(
            conn, actor=session.actor, actor_type=session.actor_type, action=audit.PATIENT_EXPORT,
            subject_account_id=session.account_id, target=f"items:{count}"))
        respond_file(request, data, EXPORT_TYPE, EXPORT_NAME)
        return 200, None

    async def preferences(self, request: server.Request) -> tuple[int, dict]:
        session: Session = await self._session_of(request)
        off = await self.hub.read(lambda conn: notifications.disabled_kinds(conn, session.account_id))
        return 200, {"notifications": {kind: kind not in off for kind in notifications.KINDS}}

    async def set_preferences(self, request: server.Request) -> tuple[int, dict]:
        session: Session = await self._session_of(request)
        wanted = read_json(request).get("notifications")
        if not isinstance(wanted, dict) or not all(k in notifications.KINDS and isinstance(v, bool)
                                                   for k, v in wanted.items()):
            raise ApiError(422, "invalid_field", "Préférences invalides (types : " + ", ".join(notifications.KINDS) + ")",
                           "Invalid preferences (kinds: " + ", ".join(notifications.KINDS) + ")")
        off = await self.hub.read(lambda conn: notifications.disabled_kinds(conn, session.account_id))
        off = (off - {k for k, on in wanted.items() if on}) | {k for k, on in wanted.items() if not on}
        await asyncio.get_running_loop().run_in_executor(None, notifications.set_preferences, self.hub,
                                                         session.account_id, off)
        return 200, {"notifications": {kind: kind not in off for kind in notifications.KINDS}}
