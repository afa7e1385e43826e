"""The webmail's profil médical API under /api/profile (docs/profile.md, docs/web.md), for the holder of a space.

    GET    /api/profile           current entries: id, kind, French label, code, display, date, source, resource
    POST   /api/profile           a FHIR R4 resource of a known kind -> 201 {"id"}
    GET    /api/profile/ID        one entry, its resource and its versions
    PUT    /api/profile/ID        a new version of the entry (same kind) -> 200
    DELETE /api/profile/ID        the entry and every version of it, gone -> 204
    POST   /api/profile/ID/visibility  {"hidden_from_professionals": true|false}
    GET    /api/profile/bundle    the profile as a FHIR Bundle of type collection
    GET    /api/profile/offers/DOC  the entries a dossier document's coded sections (IPS-FR, VSM) offer
    GET    /api/profile/offers/messages/ID    the entries a professional's FHIR JSON attachments offer
    POST   /api/profile/offers/messages/ID/N  accept offer N: filed with source professional -> 201 {"id"}

Each entry version is an item (docs/profile.md): a message in `Dossier/Profil` carrying the resource, filed
through `delivery.accept` (channel FILING) and answered once durable, with a sealed index row
(storage/profile.py). The body is bounded before it is parsed (`profile.max_resource_bytes`), then validated
with `fhir.resources` (mssante_hub/profile/fhir.py): a refusal says where, never what. Every read and change
is traced (profile.read, profile.change), and the access history words them (web/history.py).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import uuid
from dataclasses import dataclass
from typing import Awaitable, Callable

from twisted.web import server

from mssante_hub import audit, delivery
from mssante_hub.accounts import identity
from mssante_hub.dossier import masking, safexml
from mssante_hub.profile import entries, fhir, fhir_offers, ips
from mssante_hub.web import dossier_api, spaces
from mssante_hub.web.people import Names, address_of
from mssante_hub.reader import Reader
from mssante_hub.web.patient_api import PatientApi
from mssante_hub.web.http import NOT_FOUND, ApiError, read_json, is_id
from mssante_hub.web.sessions import Session
from storage import dossier as dossier_store
from storage import messages
from storage import profile as profile_store

NOT_JSON = ApiError(415, "not_json", "Corps JSON attendu (application/json ou application/fhir+json)",
                    "A JSON body is expected (application/json or application/fhir+json)")
KIND_CHANGED = ApiError(422, "kind_changed", "Une entrée garde son type de ressource",
                        "An entry keeps its resource type")
JSON_TYPES = (b"application/json", b"application/fhir+json")
ALREADY_ADDED = ApiError(409, "already_added", "Cette proposition est déjà dans votre profil médical",
                         "This offer is already in your medical profile")
# What the patient reads when a professional's attachment offers nothing (docs/profile.md).
NOTHING_OFFERED = {"fr": "Cette pièce jointe n'a pas pu être reprise dans votre profil médical : le message reste "
                         "lisible, rien n'est ajouté.",
                   "en": "This attachment could not be taken into your medical profile: the message stays readable, "
                         "nothing is added."}

Handler = Callable[..., Awaitable[tuple[int, dict | None]]]


@dataclass(frozen=True)
class InvalidResource(ApiError):
    """A refused resource: the error's locations (field paths and pydantic error types) in `details`."""

    details: tuple = ()

    def body(self) -> dict:
        answer = super().body()
        answer["error"]["details"] = list(self.details)
        return answer


def _refused(invalid: fhir.Invalid) -> InvalidResource:
    if invalid.status == 413:
        return InvalidResource(413, "too_large", "La ressource dépasse la taille autorisée",
                               "The resource is larger than allowed", tuple(invalid.errors))
    return InvalidResource(422, "invalid_fhir", "Ressource FHIR refusée", "FHIR resource refused",
                           tuple(invalid.errors))


def _valid_key(entry_id: str) -> bool:
    try:
        return str(uuid.UUID(entry_id)) == entry_id
    except ValueError:
        return False


class ProfileApi(PatientApi):
    def routes(self) -> dict[tuple[str, ...], dict[str, Handler]]:
        """The path shapes below /api/profile ("*": an entry id); web/openapi.py describes each."""
        return {
            (): {"GET": self.list_entries, "POST": self.add},
            ("bundle",): {"GET": self.bundle},
            ("*",): {"GET": self.entry, "PUT": self.replace, "DELETE": self.remove},
            ("*", "visibility"): {"POST": self.visibility},
            ("offers", "*"): {"GET": self.offers},
            ("offers", "messages", "*"): {"GET": self.message_offers},
            ("offers", "messages", "*", "*"): {"POST": self.accept_offer},
        }

    def route(self, method: str, path: list[str]) -> tuple[Handler | None, list[str], bool]:
        """(handler, its arguments, whether the path is known) for a path below /api/profile."""
        if len(path) in (3, 4) and path[:2] == ["offers", "messages"]:
            shape = ("offers", "messages", *("*",) * (len(path) - 2))
            return self.routes()[shape].get(method), path[2:], True
        if len(path) == 2 and path[0] == "offers":
            return self.routes()[("offers", "*")].get(method), [path[1]], True
        if len(path) == 2 and path[1] == "visibility":
            return self.routes()[("*", "visibility")].get(method), [path[0]], True
        if len(path) > 1:
            return None, [], False
        shape = () if not path else ("bundle",) if path == ["bundle"] else ("*",)
        methods = self.routes()[shape]
        return methods.get(method), list(path) if shape == ("*",) else [], True

    async def _resource(self, request: server.Request):
        """The request's resource, bounded (size first, then depth) and validated off the event loop (a large
        resource takes fhir.resources a few hundred milliseconds: bench/profile_limits.py); InvalidResource
        otherwise."""
        ctype = (request.getHeader(b"content-type") or b"").split(b";")[0].strip().lower()
        if ctype not in JSON_TYPES:
            raise NOT_JSON
        limit = self.hub.config.get("profile.max_resource_bytes")
        try:
            raw = request.content.getvalue()
            return await asyncio.to_thread(lambda: fhir.validate(fhir.parse_bytes(raw, limit), limit))
        except fhir.Invalid as invalid:
            raise _refused(invalid) from None

    def _shown(self, reader: Reader, conn, row: profile_store.EntryRow, with_resource: bool = True) -> dict:
        key = reader.key(row)
        fields = entries.open_fields(key, row.blob_id, row.sealed)
        shown = {"id": row.entry_key, "kind": fields["kind"], "label": fhir.KINDS.get(fields["kind"], ""),
                 "code": fields["code"], "display": fields["display"], "date": fields["date"],
                 "source": fields["source"], "by": fields.get("by", ""), "filed_at": row.filed_at.isoformat(),
                 "hidden_from_professionals": row.hidden_from_professionals}
        if with_resource:
            stored = _Stored(row.blob_id, row.wrapped, profile_store.body(conn, row.blob_id))
            item = email.message_from_bytes(reader.body(stored, key), policy=email.policy.default)
            shown["resource"] = entries.resource_json(item)
        return shown

    # --- Reading ---------------------------------------------------------------------------

    def _current(self, conn, session: Session) -> list[dict]:
        rows = [r for r in profile_store.entries(conn, session.account_id, session.account_id)
                if r.wrapped is not None]
        reader = self._reader(conn, session) if rows else None
        return _named(conn, session, [self._shown(reader, conn, r) for r in rows])

    async def list_entries(self, request: server.Request) -> tuple[int, dict]:
        session = await self._patient(request)
        listed = await self.hub.read(lambda conn: self._current(conn, session))
        await self._trace(session, audit.PROFILE_READ, "profile:*")
        return 200, {"entries": listed}

    async def bundle(self, request: server.Request) -> tuple[int, dict]:
        session = await self._patient(request)
        listed = await self.hub.read(lambda conn: self._current(conn, session))
        await self._trace(session, audit.PROFILE_READ, "profile:bundle")
        return 200, await asyncio.to_thread(fhir.bundle, [(e["id"], e["resource"]) for e in listed])

    async def entry(self, request: server.Request, entry_id: str) -> tuple[int, dict]:
        session = await self._patient(request)

        def work(conn) -> dict | None:
            if not _valid_key(entry_id):
                return None
            rows = [r for r in profile_store.entries(conn, session.account_id, session.account_id, entry_id,
                                                     current_only=False) if r.wrapped is not None]
            current = [r for r in rows if r.state == profile_store.CURRENT]
            if not current:
                return None
            reader = self._reader(conn, session)
            shown = self._shown(reader, conn, current[0])
            shown["versions"] = [{"filed_at": r.filed_at.isoformat(), "state": r.state} for r in rows]
            return _named(conn, session, [shown])[0]

        shown = await self.hub.read(work)
        if shown is None:
            raise NOT_FOUND
        await self._trace(session, audit.PROFILE_READ, f"profile:{entry_id}")
        return 200, shown

    async def offers(self, request: server.Request, document_id: str) -> tuple[int, dict]:
        """What a dossier document the patient may see offers as entries (each to add by POST /api/profile)."""
        session = await self._patient(request)

        def work(conn) -> bytes | None:
            if not is_id(document_id):
                return None
            row = dossier_store.document(conn, session.account_id, session.account_id, int(document_id))
            if row is None or row.wrapped is None or not masking.visible(
                    row.confidentiality, row.hidden_from_professionals, dossier_api.viewer(session)):
                return None
            item = email.message_from_bytes(self._reader(conn, session).body(dossier_store.item(conn, row)),
                                            policy=email.policy.default)
            return next((part.get_payload(decode=True) or b"" for part in item.iter_attachments()
                         if part.get_content_type() == "text/xml"), None)

        cda = await self.hub.read(work)
        if cda is None:
            raise NOT_FOUND
        try:
            offered = await asyncio.to_thread(ips.offers, cda)  # a CDA of megabytes: off the event loop
        except safexml.XmlRefused:
            offered = []
        await self._trace(session, audit.PROFILE_READ, f"document:{int(document_id)} offers")
        return 200, {"document": int(document_id), "offers": [
            {"kind": o["resourceType"], "label": fhir.KINDS[o["resourceType"]], "resource": o} for o in offered]}

    async def _message_offers(self, session: Session, message_id: str) -> dict | None:
        """What a professional's message of this space offers (None: no such message, or not one that may):
        its body's id, the professional (address, name), the offers and refusals, the offers already added."""
        if not is_id(message_id):
            return None

        def work(conn) -> dict | None:
            row = messages.owned(conn, session.account_id, int(message_id))
            if row is None or row.wrapped is None or row.blob_id in spaces.withheld(conn, session):
                return None
            reader = self._reader(conn, session)
            key = reader.key(row)
            summary = reader.summary(row, key)
            by = summary.get(fhir_offers.SUMMARY_KEY)
            if not isinstance(by, str) or not by:
                return None  # not a professional's message to this patient carrying JSON
            shown_name, from_address = address_of(summary.get("from", ""))
            name = Names.load(conn, session.account_id, session.address, {by}).name(
                shown_name if from_address == by else "", by)
            return {"blob_id": row.blob_id, "by": by, "name": name, "raw": reader.body(row, key),
                    "added": self._added(conn, session, reader)}

        found = await self.hub.read(work)
        if found is None:
            return None
        ins = identity.ins_of_address(session.address, self.hub.config.get("hub.patient_domain")) or ""
        limit = self.hub.config.get("profile.max_resource_bytes")

        def read() -> fhir_offers.Offers:  # a message of megabytes and up to 200 validations: off the event loop
            message = email.message_from_bytes(found.pop("raw"), policy=email.policy.default)
            return fhir_offers.read(message, ins, limit)

        found["offers"] = await asyncio.to_thread(read)
        return found

    @staticmethod
    def _added(conn, session: Session, reader: Reader) -> set[str]:
        """The offers the patient has already accepted (sealed with each version filed from one)."""
        rows = [r for r in profile_store.entries(conn, session.account_id, session.account_id, current_only=False)
                if r.wrapped is not None]
        return {entries.open_fields(reader.key(r), r.blob_id, r.sealed).get("offer") for r in rows} - {None}

    async def message_offers(self, request: server.Request, message_id: str) -> tuple[int, dict]:
        """What a professional's FHIR JSON attachments offer (each to accept by POST .../N)."""
        session = await self._patient(request)
        found = await self._message_offers(session, message_id)
        if found is None:
            raise NOT_FOUND
        read = found["offers"]
        await self._trace(session, audit.PROFILE_READ, f"message:{int(message_id)} offers")
        answer = {"message": int(message_id), "source": entries.PROFESSIONAL, "source_name": found["name"],
                  "offers": [{"index": n, "kind": o["kind"], "label": fhir.KINDS[o["kind"]], "resource": o["resource"],
                              "attachment": o["attachment"],
                              "added": fhir_offers.offer_id(found["blob_id"], n) in found["added"]}
                             for n, o in enumerate(read.offers)],
                  "refused": read.refused}
        if read.refused and not read.offers:
            answer["notice"] = NOTHING_OFFERED
        return 200, answer

    async def accept_offer(self, request: server.Request, message_id: str, index: str) -> tuple[int, dict]:
        """Offer `index` of the message filed as an entry of source professional (once)."""
        session = await self._patient(request)
        found = await self._message_offers(session, message_id) if is_id(index, 4) else None
        if found is None or int(index) >= len(found["offers"].offers):
            raise NOT_FOUND
        offer = fhir_offers.offer_id(found["blob_id"], int(index))
        if offer in found["added"]:
            raise ALREADY_ADDED
        limit = self.hub.config.get("profile.max_resource_bytes")
        resource = await asyncio.to_thread(fhir.validate, found["offers"].offers[int(index)]["resource"], limit)
        key = str(uuid.uuid4())
        await self._file(request, session, key, resource, origin=f"{offer} {found['by']}")
        await self._trace(session, audit.PROFILE_CHANGE, f"profile:{key}", "added")
        return 201, {"id": key, "kind": resource.get_resource_type(), "source": entries.PROFESSIONAL}

    # --- Changes ---------------------------------------------------------------------------

    async def _file(self, request: server.Request, session: Session, key: str, resource, origin: str = "") -> None:
        raw = entries.build(session.address, self.hub.config.get("hub.hostname"), key, resource, origin=origin)
        envelope = delivery.Envelope(mail_from=session.address, rcpt_to=(session.address,),
                                     channel=delivery.Channel.FILING, peer=self._client_ip(request),
                                     folder=fhir.FOLDER)
        who = delivery.Identity(session.address, session.account_id, session.type, session.representative)
        await delivery.accept(self.hub, envelope, raw, who)

    async def add(self, request: server.Request) -> tuple[int, dict]:
        session = await self._patient(request)
        resource = await self._resource(request)
        key = str(uuid.uuid4())
        await self._file(request, session, key, resource)
        await self._trace(session, audit.PROFILE_CHANGE, f"profile:{key}", "added")
        return 201, {"id": key, "kind": resource.get_resource_type()}

    async def _held_kind(self, session: Session, entry_id: str) -> str | None:
        def work(conn) -> str | None:
            if not _valid_key(entry_id):
                return None
            rows = [r for r in profile_store.entries(conn, session.account_id, session.account_id, entry_id)
                    if r.wrapped is not None]
            if not rows:
                return None
            return entries.open_fields(self._reader(conn, session).key(rows[0]), rows[0].blob_id,
                                       rows[0].sealed)["kind"]
        return await self.hub.read(work)

    async def replace(self, request: server.Request, entry_id: str) -> tuple[int, dict]:
        session = await self._patient(request)
        kind = await self._held_kind(session, entry_id)
        if kind is None:
            raise NOT_FOUND
        resource = await self._resource(request)
        if resource.get_resource_type() != kind:
            raise KIND_CHANGED
        await self._file(request, session, entry_id, resource)
        await self._trace(session, audit.PROFILE_CHANGE, f"profile:{entry_id}", "replaced")
        return 200, {"id": entry_id, "kind": kind}

    async def visibility(self, request: server.Request, entry_id: str) -> tuple[int, dict]:
        session = await self._patient(request)
        hidden = read_json(request).get("hidden_from_professionals")
        if not isinstance(hidden, bool):
            raise ApiError(400, "bad_request", "hidden_from_professionals : vrai ou faux attendu",
                           "hidden_from_professionals: true or false expected")
        kind = await self._held_kind(session, entry_id)
        if kind is None:
            raise NOT_FOUND
        system = entries.hub_reader(self.hub)

        def work(conn) -> None:
            # The view professionals read follows the choice, but advance directives stay in it (docs/profile.md).
            profile_store.set_hidden(conn, session.account_id, entry_id, hidden,
                                     system.id if system is not None else None, kind in entries.ALWAYS_SHOWN_KINDS)
            audit.record(conn, actor=session.actor, actor_type=session.actor_type, action=audit.PROFILE_CHANGE,
                         subject_account_id=session.account_id, target=f"profile:{entry_id}",
                         outcome="hidden" if hidden else "shown")

        await self.hub.write(work)
        # What professionals see now: the choice, except for the advance directives (always shown).
        return 200, {"id": entry_id, "hidden_from_professionals": hidden,
                     "shown_to_professionals": not hidden or kind in entries.ALWAYS_SHOWN_KINDS}

    async def remove(self, request: server.Request, entry_id: str) -> tuple[int, None]:
        session = await self._patient(request)
        if await self._held_kind(session, entry_id) is None:
            raise NOT_FOUND

        def work(conn) -> None:
            profile_store.remove_entry(conn, session.account_id, entry_id)
            audit.record(conn, actor=session.actor, actor_type=session.actor_type, action=audit.PROFILE_CHANGE,
                         subject_account_id=session.account_id, target=f"profile:{entry_id}", outcome="deleted")

        await self.hub.write(work)
        return 204, None


def _named(conn, session: Session, shown: list[dict]) -> list[dict]:
    """Each entry's professional source by name (people.py: never an address), `by` taken out."""
    wanted = {e["by"] for e in shown if e["by"]}
    names = Names.load(conn, session.account_id, session.address, wanted) if wanted else None
    for entry in shown:
        by = entry.pop("by")
        entry["source_name"] = names.name("", by) if names is not None and by else ""
    return shown


class _Stored:
    """What Reader needs of a stored body (blob id, the reader's wrapped key, the sealed body)."""

    def __init__(self, blob_id: str, wrapped: bytes | None, body: bytes) -> None:
        self.blob_id, self.wrapped, self.body = blob_id, wrapped, body
