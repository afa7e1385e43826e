"""The webmail's catalogue API under /api/catalogue (docs/catalogue.md, docs/web.md), for the holder of a space.

    GET    /api/catalogue?theme=THEME    the services (one shared catalogue), each with this patient's consent
    POST   /api/catalogue/ID/consent     {"scopes": [...]} connect the service, change its scopes, or approve its
                                         new version -> 200 the consent
    DELETE /api/catalogue/ID/consent     revoke: the service may push nothing more -> 204

A consent names scopes the service offers (documents, agenda, measures, messages); only an online service that
exchanges data can be connected. Every change is traced (catalogue.consent: granted, changed, reapproved,
withdrawn) and the access history words it; the listing is traced as a read.
"""

from __future__ import annotations

import datetime as dt
from typing import Awaitable, Callable

from twisted.web import server

from mssante_hub import audit
from mssante_hub.catalogue import consent, services
from mssante_hub.web.http import NOT_FOUND, ApiError, read_json
from mssante_hub.web.patient_api import PatientApi
from storage import catalogue as store

MAX_THEME_CHARS = 200
BAD_SCOPES = ApiError(422, "bad_scopes", "Autorisations invalides : une liste non vide de celles que le service "
                      "propose", "Invalid scopes: a non-empty list of those the service offers")
NOT_CONNECTABLE = ApiError(409, "service_unavailable", "Ce service n'est pas en ligne ou n'échange pas de données",
                           "This service is not online or exchanges no data")
BAD_THEME = ApiError(400, "bad_request", "Thème invalide", "Invalid theme")

Handler = Callable[..., Awaitable[tuple[int, dict | None]]]


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def shown(service: store.Service, found: store.Consent | None, now: dt.datetime) -> dict:
    """One service as the patient reads it, with their consent's state."""
    state = consent.state(service, found, now)
    return {
        "id": service.id, "name": service.name, "editor": service.editor, "description": service.description,
        "urls": service.urls, "purposes": list(service.purposes), "themes": list(service.themes),
        "status": service.status, "data_exchange": service.data_exchange, "version": service.version,
        "scopes": [{"scope": s, "label": services.SCOPE_LABELS[s][0], "label_en": services.SCOPE_LABELS[s][1]}
                   for s in service.scopes],
        "consent": None if found is None else {
            "state": state, "scopes": list(found.scopes), "approved_version": found.approved_version,
            "granted_at": _iso(found.granted_at), "reapprove_by": _iso(found.reapprove_by)},
    }


class CatalogueApi(PatientApi):
    # (METHOD, path) of every route below, as the OpenAPI description names them (tests/web/test_openapi.py).
    ROUTES = (("GET", "/api/catalogue"), ("POST", "/api/catalogue/{id}/consent"),
              ("DELETE", "/api/catalogue/{id}/consent"))

    def route(self, method: str, path: list[str]) -> tuple[Handler | None, list[str], bool]:
        """(handler, its arguments, whether the path is known) for a path below /api/catalogue."""
        if not path:
            return {"GET": self.list_services}.get(method), [], True
        if len(path) == 2 and path[1] == "consent":
            return {"POST": self.connect, "DELETE": self.revoke}.get(method), [path[0]], True
        return None, [], False

    async def list_services(self, request: server.Request) -> tuple[int, dict]:
        session = await self._patient(request)
        raw = request.args.get(b"theme", [None])[0]
        theme = None
        if raw is not None:
            try:
                theme = raw.decode("utf-8").strip().casefold()
            except UnicodeDecodeError:
                raise BAD_THEME from None
            if not theme or len(theme) > MAX_THEME_CHARS:
                raise BAD_THEME
        now = dt.datetime.now(dt.timezone.utc)

        def work(conn) -> list[dict]:
            held = store.consents_of(conn, session.account_id)
            listed = []
            for service in store.services(conn):
                found = held.get(service.id)
                if service.status == services.DEREFERENCED and found is None:
                    continue  # out of the catalogue, unless the patient had connected it
                if theme is not None and theme not in {t.casefold() for t in service.themes}:
                    continue
                listed.append(shown(service, found, now))
            return listed

        listed = await self.hub.read(work)
        await self._trace(session, audit.CATALOGUE_READ, "catalogue:" + ("*" if theme is None else "theme"))
        return 200, {"services": listed, "theme": theme}

    async def connect(self, request: server.Request, service_id: str) -> tuple[int, dict]:
        session = await self._patient(request)
        body = read_json(request)
        scopes = body.get("scopes")
        service = await self.hub.read(lambda conn: store.service(conn, service_id[:65]))
        if service is None:
            raise NOT_FOUND
        if service.status != services.ONLINE or not service.data_exchange:
            raise NOT_CONNECTABLE
        if not isinstance(scopes, list) or not scopes or len(scopes) > len(services.SCOPES) or any(
                not isinstance(s, str) or s not in service.scopes for s in scopes) or len(set(scopes)) != len(scopes):
            raise BAD_SCOPES
        granted = [s for s in service.scopes if s in scopes]
        now = dt.datetime.now(dt.timezone.utc)

        def work(conn) -> tuple[str, store.Consent]:
            before = store.consents_to(conn, service.id, [session.account_id]).get(session.account_id)
            store.grant(conn, session.account_id, service.id, granted, service.version)
            outcome = ("granted" if before is None
                       else "reapproved" if consent.state(service, before, now) in (consent.REAPPROVAL, consent.LAPSED)
                       else "changed")
            audit.record(conn, actor=session.actor, actor_type=session.actor_type, action=audit.CATALOGUE_CONSENT,
                         subject_account_id=session.account_id,
                         target=f"service:{service.id} version:{service.version} scopes:{'+'.join(granted)}",
                         outcome=outcome)
            return outcome, store.consents_to(conn, service.id, [session.account_id])[session.account_id]

        outcome, found = await self.hub.write(work)
        return 200, {"outcome": outcome, **shown(service, found, now)}

    async def revoke(self, request: server.Request, service_id: str) -> tuple[int, None]:
        session = await self._patient(request)

        def work(conn) -> bool:
            if not store.revoke(conn, session.account_id, service_id[:65]):
                return False
            audit.record(conn, actor=session.actor, actor_type=session.actor_type, action=audit.CATALOGUE_CONSENT,
                         subject_account_id=session.account_id, target=f"service:{service_id[:65]}",
                         outcome="withdrawn")
            return True

        if not await self.hub.write(work):
            raise NOT_FOUND
        return 204, None
