"""The patient's personal e-mail address in the JSON API, changed by a link sent to the new address.

    GET  /api/personal-email          {"email"}: where notifications go
    PUT  /api/personal-email          {"email", "password"} (signed in)  -> 202: a link is mailed to the new address
    POST /api/email-confirmation      {"token"} (no session: the link is the proof)  -> 200 {"email"}

The password is asked again (a borrowed, unlocked browser is not enough to divert
notifications); the address changes only when the link is opened
(patients/personal_email.py). Wrong tokens count against the client address, as
activation codes do.
"""

from __future__ import annotations

import email.utils
from typing import Any, Awaitable, Callable

from twisted.web import server

from mssante_hub.accounts import identity
from mssante_hub.accounts.throttle import LoginThrottle
from mssante_hub.envelope import MAX_ADDRESS_CHARS
from mssante_hub.hub import Hub
from mssante_hub.patients import personal_email
from mssante_hub.web.http import THROTTLED, ApiError, read_json
from mssante_hub.web.sessions import Session
from storage import accounts as account_repo

INVALID_EMAIL = ApiError(422, "invalid_field", "Adresse électronique invalide", "Invalid e-mail address")
LINK_REFUSED = ApiError(403, "link_refused", "Lien invalide ou expiré : demandez un nouveau lien depuis Paramètres",
                        "Invalid or expired link: ask for a new one in Settings")
WRONG_PASSWORD = ApiError(403, "wrong_password", "Mot de passe incorrect", "Wrong password")
PATIENTS_ONLY = ApiError(403, "forbidden", "Réservé au titulaire d'un espace santé",
                         "Only the holder of a patient space may do this")


def _address(value: Any, hub: Hub) -> str:
    if not isinstance(value, str) or not 3 <= len(value.strip()) <= MAX_ADDRESS_CHARS:
        raise INVALID_EMAIL
    text = value.strip()
    name, parsed = email.utils.parseaddr(text)
    local, at, domain = parsed.rpartition("@")
    if (name or parsed != text or not local or not at or "." not in domain or any(c.isspace() for c in parsed)
            or any(ord(c) < 32 for c in parsed)):
        raise INVALID_EMAIL
    if domain.lower() == hub.config.get("hub.patient_domain").lower():
        raise INVALID_EMAIL  # notifications go outside the space, never to a patient mailbox
    return parsed.lower()


class SettingsApi:
    def __init__(self, hub: Hub, client_ip: Callable[[server.Request], str],
                 session_of: Callable[[server.Request], Awaitable[Session]]) -> None:
        self.hub = hub
        self._client_ip = client_ip
        self._session_of = session_of
        self.links_by_client = LoginThrottle(hub.config.get("web.max_failed_logins"),
                                             hub.config.get("web.failed_login_window_s"))

    async def _patient(self, request: server.Request) -> Session:
        session = await self._session_of(request)
        if session.type != identity.PATIENT:
            raise PATIENTS_ONLY
        return session

    async def personal_email(self, request: server.Request) -> tuple[int, dict]:
        session = await self._patient(request)
        address = await self.hub.read(lambda conn: personal_email.current(self.hub, conn, session.account_id))
        return 200, {"email": address}

    async def change_personal_email(self, request: server.Request) -> tuple[int, dict]:
        session = await self._patient(request)
        body = read_json(request)
        address = _address(body.get("email"), self.hub)
        password = body.get("password")
        if not isinstance(password, str) or not 0 < len(password) <= 1024:
            raise WRONG_PASSWORD
        account = await self.hub.read(lambda conn: account_repo.by_address(conn, session.address))
        if account is None or not await self.hub.passwords.verify_async(account.password_hash, password):
            raise WRONG_PASSWORD
        await personal_email.send_link(self.hub, session.account_id, address)
        return 202, {"sent_to": address}

    async def confirm_email(self, request: server.Request) -> tuple[int, dict]:
        client = self._client_ip(request)
        if self.links_by_client.blocked(client):
            raise THROTTLED
        token = read_json(request).get("token")
        try:
            address = await personal_email.confirm(self.hub, token)
        except (personal_email.LinkRefused, KeyError, TypeError, ValueError):
            self.links_by_client.failed(client)
            raise LINK_REFUSED from None
        return 200, {"email": address}
