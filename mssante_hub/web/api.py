"""The webmail's JSON API under /api: sign in and out, folders, listing, reading, sending, history.

    POST   /api/session              {"login": INS or address, "password"}  -> 201 {"token", ...}
    GET    /api/session              who is signed in
    DELETE /api/session              sign out                                 -> 204
    GET    /api/folders
    GET    /api/messages?folder=INBOX&limit=50&before=UID
    GET    /api/messages/ID          one message: headers, text, attachments listed; marks it seen
    GET    /api/messages/ID/attachments/N   one attachment, as a download
    DELETE /api/messages/ID          to Trash; from Trash, deleted for good              -> 204
    POST   /api/messages             {"to", "cc", "subject", "body", "in_reply_to", "attachments"} -> 201
    GET    /api/profiles             the own space and the dependants' a legal representative manages (web/spaces.py)
    X-Space: ID                      header of any other request: act on that dependant's space (web/spaces.py)
    GET    /api/history              the access history of the signed-in space, in words (web/history.py),
                                     filtered by actor, action and days; /api/history.csv (web/history_filters.py)
    GET|POST /api/dossier/...        the patient's dossier (web/dossier_api.py)
    GET|POST|DELETE /api/agenda/...  the patient's agenda (web/agenda_api.py); GET /ical/<token>.ics its feed
    GET|POST|PUT|DELETE /api/profile/...  the profil médical (web/profile_api.py)
    GET /api/catalogue, POST|DELETE /api/catalogue/ID/consent  services and consents (web/catalogue_api.py)
    GET    /api/home, /api/conversations, /api/recipients; DELETE /api/sessions   (web/messaging_api.py)
    GET    /api/openapi.json         the OpenAPI 3 description of this API (web/openapi.py)
    GET|PUT /api/personal-email; POST /api/email-confirmation   the notification address (web/settings_api.py)
    POST   /api/activation, /api/objection, /api/space/close|deletion|export; GET|PUT /api/preferences
                                     the holder's own steps (web/space.py)

Authentication is a bearer token in the Authorization header, never a cookie, so
a page of another site cannot make the browser act (no CSRF). A message sent here
takes the one delivery path, `delivery.accept` on the "web" channel, and is
answered 201 only once it is durable; a refusal carries the same French and
English words as the SMTP reply. Every read is traced.
"""

from __future__ import annotations

import asyncio
import logging

from twisted.web import resource, server

from mssante_hub import audit, delivery
from mssante_hub.dossier import categories
from mssante_hub.hub import Hub
from mssante_hub.patients import conversations
from mssante_hub.profile import fhir_offers
from mssante_hub.reader import Attachment, Reader
from mssante_hub.rules.refusals import Refusal
from mssante_hub.web import (compose, history, history_filters, messaging_api, openapi, people, rendering, settings_api,
                             spaces)
from mssante_hub.web.clients import ClientAddress
from mssante_hub.web.http import (FORBIDDEN, METHOD_NOT_ALLOWED, NOT_FOUND, UNAVAILABLE, ApiError, read_json,
                                  is_id, refusal_error, respond, respond_file)
from mssante_hub.web.sessions import Session, WebSessions
from mssante_hub.web.agenda_api import AgendaApi
from mssante_hub.web.catalogue_api import CatalogueApi
from mssante_hub.web.dossier_api import DossierApi
from mssante_hub.web.profile_api import ProfileApi
from mssante_hub.web.totp_api import TotpApi
from mssante_hub.web.space import SpaceApi
from storage import accounts as account_repo
from storage import folders, messages

log = logging.getLogger("mssante_hub.web.api")

DEFAULT_PAGE = 50
MAX_PAGE = 200
MAX_CSV_LINES = 5000  # an export of the history, held in memory at once
SENT_FOLDER = "Sent"
TRASH_FOLDER = "Trash"
SEEN = "\\Seen"


def _int_arg(request: server.Request, name: str, default: int | None, low: int, high: int) -> int | None:
    raw = request.args.get(name.encode(), [None])[0]
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "bad_request", f"Paramètre invalide : {name}", f"Invalid parameter: {name}") from None
    if not low <= value <= high:
        raise ApiError(400, "bad_request", f"Paramètre invalide : {name}", f"Invalid parameter: {name}")
    return value


class Api(resource.Resource):
    """One leaf resource: routes on the method and the path below /api."""

    isLeaf = True

    def __init__(self, hub: Hub) -> None:
        super().__init__()
        self.hub = hub
        self.sessions = WebSessions(hub)
        self._client_ip = ClientAddress(hub.config.get("web.trusted_proxies"))
        space = SpaceApi(hub, self._client_ip, self._session)
        self.dossier = DossierApi(hub, self._client_ip, self._session)
        self.agenda = AgendaApi(hub, self._client_ip, self._session)
        self.profile = ProfileApi(hub, self._client_ip, self._session)
        self.catalogue = CatalogueApi(hub, self._client_ip, self._session)
        messaging = messaging_api.MessagingApi(hub, self._client_ip, self._session)
        settings = settings_api.SettingsApi(hub, self._client_ip, self._session)
        second = TotpApi(hub, self._client_ip, self._session)
        self._routes = {
            ("GET", "personal-email"): settings.personal_email,
            ("PUT", "personal-email"): settings.change_personal_email,
            ("POST", "email-confirmation"): settings.confirm_email,
            ("GET", "home"): messaging.home,
            ("GET", "conversations"): messaging.conversations,
            ("GET", "recipients"): messaging.recipients,
            ("DELETE", "sessions"): messaging.end_sessions,
            ("GET", "openapi.json"): self.openapi,
            ("POST", "activation"): space.activate,
            ("POST", "objection"): space.object,
            ("POST", "space/close"): space.close,
            ("POST", "space/deletion"): space.request_deletion,
            ("POST", "space/export"): space.export,
            ("GET", "preferences"): space.preferences,
            ("PUT", "preferences"): space.set_preferences,
            ("POST", "session"): self.sign_in,
            ("GET", "session"): self.whoami,
            ("DELETE", "session"): self.sign_out,
            ("GET", "folders"): self.list_folders,
            ("GET", "messages"): self.list_messages,
            ("POST", "messages"): self.send,
            ("GET", "message"): self.read_message,
            ("DELETE", "message"): self.delete_message,
            ("GET", "attachment"): self.download_attachment,
            ("GET", "history"): self.history,
            ("GET", "history.csv"): self.history_csv,
            ("GET", "profiles"): self.profiles,
            ("GET", "totp"): second.state,
            ("POST", "totp"): second.set_up,
            ("POST", "totp/confirm"): second.confirm,
            ("DELETE", "totp"): second.remove,
        }

    def render(self, request: server.Request):
        path = [p.decode("utf-8", "replace") for p in request.postpath if p]
        name = path[0] if path else ""
        if name == "messages" and len(path) == 2:
            name = "message"
        elif name == "messages" and len(path) == 4 and path[2] == "attachments":
            name, path = "attachment", [name, path[1], path[3]]
        elif name in ("space", "totp") and len(path) == 2:
            name, path = f"{name}/{path[1]}", path[1:]
        elif len(path) > 1 and name not in ("dossier", "agenda", "profile", "catalogue"):
            name = ""
        method = request.method.decode("ascii", "replace")
        if name == "dossier":  # /api/dossier/... (web/dossier_api.py)
            handler, rest, known = self.dossier.route(method, path[1:])
            path = ["dossier", *rest]
        elif name == "agenda":  # /api/agenda/... (web/agenda_api.py)
            handler, rest, known = self.agenda.route(method, path[1:])
            path = ["agenda", *rest]
        elif name == "profile":  # /api/profile/... (web/profile_api.py)
            handler, rest, known = self.profile.route(method, path[1:])
            path = ["profile", *rest]
        elif name == "catalogue":  # /api/catalogue/... (web/catalogue_api.py)
            handler, rest, known = self.catalogue.route(method, path[1:])
            path = ["catalogue", *rest]
        else:
            handler = self._routes.get((method, name))
            known = any(route == name for _, route in self._routes)
        if handler is None:
            respond(request, *self._error(METHOD_NOT_ALLOWED if known else NOT_FOUND))
            return server.NOT_DONE_YET
        if (method, name) in spaces.HOLDER_ONLY and spaces.requested(request) is not None:
            respond(request, *self._error(spaces.HOLDER_ONLY_ERROR))
            return server.NOT_DONE_YET
        asyncio.ensure_future(self._run(handler, request, path[1:]))
        return server.NOT_DONE_YET

    @staticmethod
    def _error(error: ApiError) -> tuple[int, dict]:
        return error.status, error.body()

    async def _run(self, handler, request: server.Request, rest: list[str]) -> None:
        try:
            status, body = await handler(request, *rest)
            if request.finished:  # the handler answered with a download already
                return
        except ApiError as error:
            status, body = self._error(error)
        except Refusal as refusal:
            status, body = self._error(refusal_error(refusal.reason))
        except Exception as exc:  # noqa: BLE001 - whatever failed, the client gets a clean 503 and no detail
            # The type only: an exception's text may quote a header or a name of the decrypted message.
            log.error("webmail API request %s failed: %s", handler.__name__, type(exc).__name__)
            status, body = self._error(UNAVAILABLE)
        respond(request, status, body)

    async def _own_session(self, request: server.Request) -> Session:
        return await self.sessions.authenticate(request.getHeader(b"authorization"))

    async def _session(self, request: server.Request) -> Session:
        """The space the request acts on: the signed-in account's, or a dependant's (X-Space, web/spaces.py)."""
        return await spaces.resolve(self.hub, await self._own_session(request), request)

    # --- Sessions -------------------------------------------------------------------

    async def sign_in(self, request: server.Request) -> tuple[int, dict]:
        body = read_json(request)
        login, password, otp = body.get("login"), body.get("password"), body.get("otp")
        if not isinstance(login, str) or not isinstance(password, str) or not isinstance(otp, (str, type(None))):
            raise ApiError(400, "bad_request", "Identifiant et mot de passe requis", "Login and password required")
        token, session = await self.sessions.login(login, password, self._client_ip(request), otp)
        return 201, {"token": token, "address": session.address, "type": session.type,
                     "expires_at": rendering.iso(session.expires_at)}

    async def whoami(self, request: server.Request) -> tuple[int, dict]:
        session = await self._own_session(request)
        name = await self.hub.read(lambda conn: messaging_api.holder_name(conn, self.hub, session))
        return 200, {"address": session.address, "type": session.type, "expires_at": rendering.iso(session.expires_at),
                     "name": name}

    async def sign_out(self, request: server.Request) -> tuple[int, None]:
        session = await self._own_session(request)
        await self.sessions.logout(session, self._client_ip(request))
        return 204, None

    # --- Reading --------------------------------------------------------------------

    async def list_folders(self, request: server.Request) -> tuple[int, dict]:
        session = await self._session(request)
        rows = await self.hub.read(lambda conn: folders.folders_of(conn, session.account_id))
        return 200, {"folders": [{"name": r.name, "special_use": r.special_use} for r in rows
                                 if not categories.is_internal(r.name)]}

    def _reader(self, conn, session: Session) -> Reader:
        account = account_repo.by_address(conn, session.address)
        if account is None:
            raise FORBIDDEN
        return Reader.of(self.hub, account)

    async def list_messages(self, request: server.Request) -> tuple[int, dict]:
        session = await self._session(request)
        folder = request.args.get(b"folder", [b"INBOX"])[0].decode("utf-8", "replace")[:400]
        limit = _int_arg(request, "limit", DEFAULT_PAGE, 1, MAX_PAGE)
        before = _int_arg(request, "before", None, 1, 2**63 - 1)

        def work(conn) -> list[dict]:
            withheld = spaces.withheld(conn, session)
            rows = [r for r in messages.page(conn, session.account_id, folder, limit, before)
                    if r.blob_id not in withheld]
            reader = self._reader(conn, session) if rows else None
            # A body this holder has no key for is not listed.
            opened = [(row, reader.summary(row)) for row in rows if reader.can_open(row)]
            names = messaging_api.names_for_rows(conn, session, [s for _, s in opened])
            return [messaging_api.list_entry(row, summary, names, folder) for row, summary in opened]

        # At most MAX_PAGE rows: small (Hub.read) on SQLite, where a pool trip cost more than it saved under load.
        return 200, {"folder": folder, "messages": await self.hub.read(work, small=True)}

    async def read_message(self, request: server.Request, message_id: str) -> tuple[int, dict]:
        session = await self._session(request)
        if not is_id(message_id):
            raise NOT_FOUND

        def work(conn) -> tuple[bytes, dict] | None:
            row = messages.owned(conn, session.account_id, int(message_id))
            if row is None or row.wrapped is None or row.blob_id in spaces.withheld(conn, session):
                return None
            reader = self._reader(conn, session)
            key = reader.key(row)
            raw = reader.body(row, key)
            shown = rendering.rendered(raw, row.folder, rendering.iso(row.internal_date))
            # A professional's FHIR JSON attachment: what it offers is at /api/profile/offers/messages/ID.
            shown["profile_offers"] = fhir_offers.SUMMARY_KEY in reader.summary(row, key)
            names = messaging_api.names_for_rows(conn, session, [shown])
            about = names.about(people.address_of(shown["from"])[1])
            shown.update(from_name=names.of_field(shown["from"]), from_profession=about["profession"],
                         from_structure=about["structure"], to_names=names.of_list(shown["to"]),
                         cc_names=names.of_list(shown["cc"]),
                         conversation=messaging_api.conversation_of(conn, self.hub, session, shown),
                         document_ids=self.dossier.documents_of(conn, session, row.blob_id) if shown["document"]
                         else [])
            return shown

        shown = await self.hub.read(work)
        if shown is None:
            raise NOT_FOUND

        def seen(conn) -> None:
            # \Seen as an IMAP client would set it (modseq bumped: CONDSTORE sessions see the change).
            where = messages.locate(conn, session.account_id, int(message_id))
            if where is not None:
                messages.store_flags(conn, where.folder_id, [where.uid], "add", [SEEN])
            audit.record(conn, actor=session.actor,
                         actor_type=session.actor_type, action=audit.READ,
                         subject_account_id=session.account_id, target=f"message:{int(message_id)}", outcome="ok")

        await self.hub.write(seen)
        return 200, shown

    async def download_attachment(self, request: server.Request, message_id: str, index: str) -> tuple[int, None]:
        session = await self._session(request)
        if not (is_id(message_id) and is_id(index, 4)):
            raise NOT_FOUND

        def work(conn) -> Attachment | None:
            row = messages.owned(conn, session.account_id, int(message_id))
            if row is None or row.wrapped is None or row.blob_id in spaces.withheld(conn, session):
                return None
            return self._reader(conn, session).attachment(row, int(index))

        found = await self.hub.read(work)
        if found is None:
            raise NOT_FOUND
        await self.hub.write(lambda conn: audit.record(
            conn, actor=session.actor, actor_type=session.actor_type, action=audit.READ,
            subject_account_id=session.account_id, target=f"message:{int(message_id)} attachment:{int(index)}",
            outcome="ok"))
        # Always a download, never rendered in the webmail's origin (a hostile HTML or SVG file stays inert).
        respond_file(request, found.data, b"application/octet-stream", rendering.safe_filename(found.filename))
        return 200, None

    async def delete_message(self, request: server.Request, message_id: str) -> tuple[int, None]:
        session = await self._session(request)
        if not is_id(message_id):
            raise NOT_FOUND

        def work(conn) -> bool:
            where = messages.locate(conn, session.account_id, int(message_id))
            if where is None or (session.representative and messages.owned(
                    conn, session.account_id, int(message_id)).blob_id in spaces.withheld(conn, session)):
                return False
            trash = folders.folder_id(conn, session.account_id, TRASH_FOLDER)
            if trash is None or where.folder_id == trash:
                messages.remove_messages(conn, where.folder_id, [where])
                outcome = "deleted"
            else:
                messages.move_messages(conn, where.folder_id, trash, [where.uid])
                outcome = "trashed"
            audit.record(conn, actor=session.actor,
                         actor_type=session.actor_type, action=audit.DELETE,
                         subject_account_id=session.account_id, target=f"message:{where.id}",
                         outcome=outcome)
            return True

        if not await self.hub.write(work):
            raise NOT_FOUND
        return 204, None

    async def history(self, request: server.Request, csv_path: bool = False) -> tuple[int, dict | None]:
        """Newest first, filtered by actor, action and days (web/history_filters.py); as CSV on request."""
        session = await self._session(request)
        filters = history_filters.parse(request.args, csv_path)
        limit = _int_arg(request, "limit", *((MAX_CSV_LINES, 1, MAX_CSV_LINES) if filters.csv else (100, 1, 500)))
        where = history_filters.conditions(filters, session.account_id, session.address)

        name = filters.actor_name  # an actor as worded (e.g. "Dr Martin"), kept after the wording

        def work(conn) -> list[dict]:
            entries = audit.access_history(conn, session.account_id, history.MAX_SCANNED if name else limit,
                                           where=where)
            actors = sorted({e.actor.lower() for e in entries if "@" in e.actor})
            names = {a: c.display_name for a, c in conversations.contacts(conn, session.account_id, actors).items()}
            lines = [history.labelled(e, session.account_id, session.address, names) for e in entries]
            return [line for line in lines if name is None or name in (line["actor"], line["actor_en"])][:limit]

        lines = await self.hub.read(work)
        if filters.csv:
            respond_file(request, history_filters.as_csv(lines, filters.zone), history_filters.CSV_TYPE,
                         history_filters.CSV_NAME)
            return 200, None
        return 200, {"history": lines}

    async def history_csv(self, request: server.Request) -> tuple[int, None]:
        return await self.history(request, csv_path=True)

    async def profiles(self, request: server.Request) -> tuple[int, dict]:
        own = await self._own_session(request)
        listed = await self.hub.read(lambda conn: spaces.profiles(conn, own))
        return 200, {"profiles": await asyncio.to_thread(spaces.named, self.hub, listed)}

    async def openapi(self, request: server.Request) -> tuple[int, dict]:
        return 200, openapi.DESCRIPTION

    # --- Sending --------------------------------------------------------------------

    async def send(self, request: server.Request) -> tuple[int, dict]:
        session = await self._session(request)
        draft = compose.draft_from_json(read_json(request), self.hub.config.get("limits.max_recipients"),
                                        self.hub.limits.max_message_bytes)
        account = await self.hub.read(lambda conn: account_repo.by_address(conn, session.address))
        raw, message_id = compose.build_message(draft, session.address, account.display_name if account else "")
        who = delivery.Identity(session.address, session.account_id, session.type, session.representative)
        envelope = delivery.Envelope(mail_from=session.address, rcpt_to=tuple(draft.recipients),
                                     channel=delivery.Channel.WEB, peer=self._client_ip(request),
                                     sent_copy=SENT_FOLDER)
        # One body for the recipients and the sender's Sent copy, in one transaction (filing is not sending:
        # the copy is placed, not delivered; a missing Sent folder only leaves the copy out).
        delivered = await delivery.accept(self.hub, envelope, raw, who)
        return 201, {"message_id": message_id, "delivered": sorted(delivered.uids),
                     "queued": list(delivered.queued), "sent_copy": delivered.sent_copy_uid is not None}


__all__ = ["Api"]
