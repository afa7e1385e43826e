"""The webmail's agenda API under /api/agenda (docs/web.md, docs/agenda.md), for the holder of a space,
and the private ICS feed at /ical/<token>.ics.

    GET    /api/agenda?from=&to=[&limit=][&after=] occurrences in the range (ISO dates), earliest first, and the
                                                 prevention campaigns that target the patient; a page of
                                                 `limit` (at most agenda.max_listed), `next` says where the
                                                 following one starts (pass it as `after`)
    GET    /api/agenda/ID                        one item: its fields, description, organiser, source message
    POST   /api/agenda                           {"kind": "own"|"reminder", "title", "start", "end", "place",
                                                  "note"} the patient's own item -> 201
    POST   /api/agenda/ID/reply                  {"partstat": "ACCEPTED"|"DECLINED"} an iMIP REPLY to the organiser
    POST   /api/agenda/prevention/ID             {"status": "to_plan"|"done"|"not_done"}
    GET    /api/agenda/feed                      whether a feed token is active (never the token)
    POST   /api/agenda/feed                      a new token (the old one stops working) -> 201 {"url", "token"}
    DELETE /api/agenda/feed                      revoked -> 204

Every read and every change is traced. The own item and the REPLY take the one delivery path
(`delivery.accept`: a FILING into Agenda; a "web" message to the organiser, with its Sent copy), answered
once durable; the REPLY's answer is recorded in that same transaction (agenda/filing.py).
"""

from __future__ import annotations

import datetime as dt
from typing import Awaitable, Callable

from twisted.web import resource, server

from mssante_hub import audit, delivery
from mssante_hub.agenda import feed, filing, imip, index, listing, prevention
from mssante_hub.hub import Hub
from mssante_hub.web import paging
from mssante_hub.web.patient_api import PatientApi
from mssante_hub.web.http import NOT_FOUND, ApiError, read_json, is_id
from mssante_hub.web.sessions import Session
from storage import accounts as account_repo
from storage import agenda as agenda_store
from storage import dossier as dossier_store
from storage.models import AccountType

DEFAULT_PAST_DAYS = 30
DEFAULT_SPAN_DAYS = 366
MAX_SPAN_DAYS = 5 * 366
MAX_TITLE_CHARS = 200
MAX_NOTE_CHARS = 2000
SENT_FOLDER = "Sent"
BAD_RANGE = ApiError(400, "bad_request", "Période invalide (from, to : dates ISO 8601, au plus 5 ans)",
                     "Invalid range (from, to: ISO 8601 dates, at most 5 years)")
BAD_PAGE = ApiError(400, "bad_request", "Page invalide (limit : un entier positif ; after : la valeur next reçue)",
                    "Invalid page (limit: a positive integer; after: the next value received)")
BAD_ITEM = ApiError(422, "bad_item", "Élément d'agenda invalide : titre, début (ISO 8601), fin après le début",
                    "Invalid agenda item: title, start (ISO 8601), end after start")
BAD_PARTSTAT = ApiError(400, "bad_request", "partstat : ACCEPTED ou DECLINED", "partstat: ACCEPTED or DECLINED")
NO_ORGANIZER = ApiError(422, "no_organizer", "Ce rendez-vous n'attend pas de réponse",
                        "This appointment expects no answer")
FEED_PATH = "/ical/"

Handler = Callable[..., Awaitable[tuple[int, dict | None]]]


def parse_time(value: object, end_of_day: bool = False) -> dt.datetime | None:
    """An ISO 8601 date or date-time (UTC when it says no offset), or None."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        if len(value) == 10:
            day = dt.date.fromisoformat(value) + dt.timedelta(days=1 if end_of_day else 0)
            return dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)
        found = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return found if found.tzinfo is not None else found.replace(tzinfo=dt.timezone.utc)


def parse_limit(value: bytes, most: int) -> int | None:
    """A page size of at least 1, capped at `most` (agenda.max_listed), or None."""
    text = value.decode("ascii", "replace")
    return min(int(text), most) if text.isdigit() and len(text) <= 9 and int(text) >= 1 else None


def cursor(shown: dict) -> str:
    """Where the next page starts: after this entry (its start and id; web/paging.py)."""
    return paging.cursor(dt.datetime.fromisoformat(shown["start"]), shown["id"])


class AgendaApi(PatientApi):
    # (METHOD, path) of every route below, as the OpenAPI description names them (tests/web/test_openapi.py).
    ROUTES = (("GET", "/api/agenda"), ("POST", "/api/agenda"), ("GET", "/api/agenda/{id}"),
              ("POST", "/api/agenda/{id}/reply"), ("POST", "/api/agenda/prevention/{id}"),
              ("GET", "/api/agenda/feed"), ("POST", "/api/agenda/feed"), ("DELETE", "/api/agenda/feed"))

    def route(self, method: str, path: list[str]) -> tuple[Handler | None, list[str], bool]:
        """(handler, its arguments, whether the path is known) for a path below /api/agenda."""
        if path == ["feed"]:
            methods = {"GET": self.feed_state, "POST": self.new_feed, "DELETE": self.revoke_feed}
            return methods.get(method), [], True
        if len(path) == 2 and path[0] == "prevention":
            return {"POST": self.prevention_status}.get(method), [path[1]], True
        table: dict[tuple[str, ...], dict[str, Handler]] = {
            (): {"GET": self.list_items, "POST": self.add_own},
            ("*",): {"GET": self.item},
            ("*", "reply"): {"POST": self.reply},
        }
        shape = tuple("*" if i == 0 else p for i, p in enumerate(path))
        methods = table.get(shape)
        if methods is None:
            return None, [], False
        return methods.get(method), path[:1], True

    # --- Reading ---------------------------------------------------------------------------

    async def list_items(self, request: server.Request) -> tuple[int, dict]:
        session = await self._patient(request)
        now = dt.datetime.now(dt.timezone.utc)
        raw_from = request.args.get(b"from", [None])[0]
        raw_to = request.args.get(b"to", [None])[0]
        start = parse_time(raw_from.decode("ascii", "replace")) if raw_from is not None else \
            now - dt.timedelta(days=DEFAULT_PAST_DAYS)
        end = parse_time(raw_to.decode("ascii", "replace"), end_of_day=True) if raw_to is not None else \
            (start + dt.timedelta(days=DEFAULT_SPAN_DAYS) if start else None)
        if start is None or end is None or end <= start or end - start > dt.timedelta(days=MAX_SPAN_DAYS):
            raise BAD_RANGE
        most = self.hub.config.get("agenda.max_listed")
        raw_limit, raw_after = request.args.get(b"limit", [None])[0], request.args.get(b"after", [None])[0]
        limit = parse_limit(raw_limit, most) if raw_limit is not None else most
        after = paging.parse_cursor(raw_after) if raw_after is not None else None
        if limit is None or (raw_after is not None and after is None):
            raise BAD_PAGE

        def work(conn) -> tuple[list[dict], list[dict]]:
            account = self._account(conn, session)
            found = [shown for shown, _ in listing.items(conn, self.hub, account, start, end, limit, after)]
            return found, prevention.for_patient(conn, self.hub, account, now.date())

        found, campaigns = await self.hub.read(work)
        await self._trace(session, audit.AGENDA_ACCESS, f"agenda:{start.date()}..{end.date()}")
        truncated = len(found) >= limit
        return 200, {"from": start.isoformat(), "to": end.isoformat(), "items": found, "prevention": campaigns,
                     "truncated": truncated, "next": cursor(found[-1]) if truncated else None}

    def _row(self, conn, session: Session, item_id: str) -> agenda_store.ItemRow | None:
        if not is_id(item_id):
            return None
        return agenda_store.item(conn, session.account_id, int(item_id))

    async def item(self, request: server.Request, item_id: str) -> tuple[int, dict]:
        session = await self._patient(request)

        def work(conn) -> dict | None:
            row = self._row(conn, session, item_id)
            if row is None:
                return None
            account = self._account(conn, session)
            fields = index.open_(index.key(self.hub, account), account.id, row.blob_id, row.sealed)
            shown = listing.entry(fields, item_id=row.id, start=row.start_at, end=row.end_at, kind=row.kind,
                                  tz=row.tz, status=row.status, partstat=row.partstat, sequence=row.sequence)
            shown.update(description=fields.get("description", ""), organizer=fields.get("organizer", ""),
                         state=row.state, filed_at=row.filed_at.isoformat(),
                         message=dossier_store.placed_message(conn, account.id, row.blob_id),
                         source_message=dossier_store.placed_message(conn, account.id, row.source_blob_id),
                         can_reply=bool(fields.get("organizer")) and row.kind == agenda_store.APPOINTMENT
                         and row.state == agenda_store.CURRENT and row.status != agenda_store.CANCELLED)
            return shown

        shown = await self.hub.read(work)
        if shown is None:
            raise NOT_FOUND
        await self._trace(session, audit.READ, f"agenda:{shown['id']}")
        return 200, shown

    # --- The patient's own items and answers -------------------------------------------------

    async def add_own(self, request: server.Request) -> tuple[int, dict]:
        session = await self._patient(request)
        body = read_json(request)
        kind = body.get("kind", agenda_store.OWN)
        title, place, note = body.get("title"), body.get("place") or "", body.get("note") or ""
        start = parse_time(body.get("start"))
        end = parse_time(body.get("end")) if body.get("end") is not None else (
            start + dt.timedelta(hours=1) if start else None)
        if kind not in filing.OWN_KINDS or not isinstance(title, str) or not title.strip() or \
                len(title) > MAX_TITLE_CHARS or not isinstance(place, str) or len(place) > MAX_TITLE_CHARS or \
                not isinstance(note, str) or len(note) > MAX_NOTE_CHARS or start is None or end is None or \
                end < start or end - start > dt.timedelta(days=366):
            raise BAD_ITEM
        raw, _ = imip.own_event(patient=session.address, kind=kind, title=title, start=start, end=end, place=place,
                                note=note, hostname=self.hub.config.get("hub.hostname"))
        envelope = delivery.Envelope(mail_from=session.address, rcpt_to=(session.address,),
                                     channel=delivery.Channel.FILING, peer=self._client_ip(request),
                                     folder=filing.AGENDA_FOLDER)
        who = delivery.Identity(session.address, session.account_id, session.type, session.representative)
        delivered = await delivery.accept(self.hub, envelope, raw, who)
        ids = await self.hub.read(lambda conn: agenda_store.filed_from(conn, session.account_id, delivered.blob_id))
        await self._trace(session, audit.AGENDA_CHANGE, f"agenda:{ids[0] if ids else '-'} own:{kind}")
        return 201, {"id": ids[0] if ids else None, "kind": kind}

    async def reply(self, request: server.Request, item_id: str) -> tuple[int, dict]:
        session = await self._patient(request)
        partstat = read_json(request).get("partstat")
        if partstat not in imip.PARTSTATS:
            raise BAD_PARTSTAT

        def work(conn):
            row = self._row(conn, session, item_id)
            if row is None or row.state != agenda_store.CURRENT:
                return None
            account = self._account(conn, session)
            return row, account, index.open_(index.key(self.hub, account), account.id, row.blob_id, row.sealed)

        found = await self.hub.read(work)
        if found is None:
            raise NOT_FOUND
        row, account, fields = found
        organizer = fields.get("organizer", "")
        if not organizer or row.kind != agenda_store.APPOINTMENT or row.status == agenda_store.CANCELLED:
            raise NO_ORGANIZER
        raw = imip.reply(patient=session.address, patient_name=account.display_name, organizer=organizer,
                         organizer_name=fields.get("professional", ""), uid=fields["uid"], sequence=row.sequence,
                         start=row.start_at, end=row.end_at, summary=fields.get("summary", ""), partstat=partstat,
                         hostname=self.hub.config.get("hub.hostname"))
        envelope = delivery.Envelope(mail_from=session.address, rcpt_to=(organizer,), channel=delivery.Channel.WEB,
                                     peer=self._client_ip(request), sent_copy=SENT_FOLDER)
        who = delivery.Identity(session.address, session.account_id, session.type, session.representative)
        delivered = await delivery.accept(self.hub, envelope, raw, who)
        await self._trace(session, audit.AGENDA_CHANGE, f"agenda:{row.id} reply", partstat.lower())
        return 200, {"id": row.id, "partstat": partstat, "delivered": sorted(delivered.uids),
                     "queued": list(delivered.queued)}

    async def prevention_status(self, request: server.Request, campaign_id: str) -> tuple[int, dict]:
        session = await self._patient(request)
        status = read_json(request).get("status")
        if status not in prevention.STATUSES or len(campaign_id) > 64:
            raise ApiError(400, "bad_request", "status : to_plan, done ou not_done", "status: to_plan, done or not_done")
        today = dt.datetime.now(dt.timezone.utc).date()

        def work(conn) -> bool:
            account = self._account(conn, session)
            done = prevention.set_status(conn, self.hub, account, campaign_id, status, today)
            if done:
                audit.record(conn, actor=session.actor, actor_type=session.actor_type,
                             action=audit.AGENDA_CHANGE, subject_account_id=session.account_id,
                             target=f"prevention:{campaign_id}", outcome="ok")
            return done

        if not await self.hub.write(work):
            raise NOT_FOUND
        return 200, {"id": campaign_id, "status": status}

    # --- The ICS feed's token ------------------------------------------------------------------

    async def feed_state(self, request: server.Request) -> tuple[int, dict]:
        session = await self._patient(request)
        since = await self.hub.read(lambda conn: agenda_store.feed_of(conn, session.account_id))
        return 200, {"active": since is not None, "created_at": since.isoformat() if since else None}

    async def new_feed(self, request: server.Request) -> tuple[int, dict]:
        session = await self._patient(request)
        token, hashed = feed.new_token()

        def work(conn) -> None:
            agenda_store.set_feed(conn, session.account_id, hashed)
            audit.record(conn, actor=session.actor, actor_type=session.actor_type,
                         action=audit.AGENDA_CHANGE, subject_account_id=session.account_id, target="feed",
                         outcome="regenerated")

        await self.hub.write(work)
        return 201, {"token": token, "url": f"{FEED_PATH}{token}.ics"}

    async def revoke_feed(self, request: server.Request) -> tuple[int, None]:
        session = await self._patient(request)

        def work(conn) -> None:
            agenda_store.set_feed(conn, session.account_id, None)
            audit.record(conn, actor=session.actor, actor_type=session.actor_type,
                         action=audit.AGENDA_CHANGE, subject_account_id=session.account_id, target="feed",
                         outcome="revoked")

        await self.hub.write(work)
        return 204, None


class IcsFeed(resource.Resource):
    """GET /ical/<token>.ics: the patient's agenda for their calendar application; 404 for any other token."""

    isLeaf = True

    def __init__(self, hub: Hub) -> None:
        super().__init__()
        self.hub = hub

    def render_GET(self, request: server.Request):
        import asyncio

        asyncio.ensure_future(self._serve(request))
        return server.NOT_DONE_YET

    async def _serve(self, request: server.Request) -> None:
        name = request.postpath[0].decode("ascii", "replace") if len(request.postpath) == 1 else ""
        token = name[:-4] if name.endswith(".ics") else ""
        now = dt.datetime.now(dt.timezone.utc)

        def work(conn) -> tuple[int, bytes] | None:
            account_id = feed.account_of(conn, token) if token else None
            if account_id is None:
                return None
            account = account_repo.by_id(conn, account_id)
            if account is None or account.type != AccountType.PATIENT.value:
                return None
            return account_id, feed.calendar_of(conn, self.hub, account, now)

        try:
            found = await self.hub.read(work)
        except Exception:  # noqa: BLE001 - no detail to the client
            found, status = None, 503
        else:
            status = 404 if found is None else 200
        if found is not None:
            account_id, body = found
            await self.hub.write(lambda conn: audit.record(
                conn, actor="ics-feed", actor_type=audit.ActorType.SYSTEM, action=audit.AGENDA_ACCESS,
                subject_account_id=account_id, target="feed", outcome="ok"))
        if request.finished:
            return
        request.setResponseCode(status)
        request.setHeader(b"cache-control", b"no-store")
        request.setHeader(b"x-content-type-options", b"nosniff")
        if found is None:
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            request.write(b"Not found\n")
        else:
            request.setHeader(b"content-type", b"text/calendar; charset=utf-8")
            request.write(found[1])
        request.finish()
