"""The webmail's dossier API under /api/dossier (docs/web.md, docs/dossier.md), for the holder of a space.

    GET  /api/dossier                                  categories: code, French label, count
    GET  /api/dossier/documents?category=C&limit=N&after=CURSOR   a page of index rows, newest first; next
    GET  /api/dossier/recent                           documents filed in the last 30 days, latest first (Accueil)
    GET  /api/dossier/documents/ID                     metadata, safe HTML of the CDA narrative, versions
    GET  /api/dossier/documents/ID/pdf                 the PDF (a level-1 document's, or the patient's own)
    POST /api/dossier/documents/ID/visibility          {"hidden_from_professionals": true|false}
    GET  /api/dossier/professionals                    who can see the dossier, and why
    POST /api/dossier/professionals/ADDRESS/block      (and /unblock; /grant opens it outside the care window)
    GET|PUT|DELETE /api/dossier/general-practitioner   {"address"}: the declared GP (MASQUE_PS not hidden from them)
    POST /api/dossier/documents                        {"category", "title", "filename", "content_type",
                                                        "content_base64"} the patient's own document -> 201

What the patient may not see yet (INVISIBLE_PATIENT) is never listed, counted or served; nor, to a legal
representative acting on a dependant's space (X-Space, web/spaces.py), what is coded
INVISIBLE_REPRESENTANTS_LEGAUX. Every
read and every choice is traced. The patient's own document takes the one delivery path
(`delivery.accept`, channel "filing" into `Dossier/<category>`), answered 201 once durable.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import email.policy
import email.utils
from email.message import EmailMessage
from typing import Awaitable, Callable

from twisted.web import server

from mssante_hub import audit, delivery
from mssante_hub.dossier import access, categories, index, masking, narrative, signatures
from mssante_hub.reader import Reader
from mssante_hub.web import paging, rendering
from mssante_hub.web.patient_api import PatientApi
from mssante_hub.web.http import NOT_FOUND, ApiError, read_json, respond_file, is_id
from mssante_hub.web.sessions import Session
from storage import accounts as account_repo
from storage import dossier as dossier_store
from storage import general_practitioners
from storage.models import AccountType

OWN_TYPES = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}  # docs/domain.md §5.6
MAX_TITLE_CHARS = 200
MAX_ADDRESS_CHARS = 320
BAD_DOCUMENT = ApiError(422, "bad_document", "Document refusé : PDF, JPEG ou PNG, catégorie connue",
                        "Document refused: PDF, JPEG or PNG, known category")
NOT_A_GP = ApiError(422, "invalid_field", "Médecin traitant : l'adresse d'un professionnel de santé de ce service",
                    "General practitioner: the address of a health professional of this service")
DEFAULT_PAGE = 50  # documents a listing answers when `limit` is not given
MAX_PAGE = 200
RECENT_DAYS = 30  # Accueil's "new documents": those filed within this many days
RECENT_SHOWN = 5
BAD_PAGE = ApiError(400, "bad_request", f"Page invalide (limit : un entier de 1 à {MAX_PAGE} ; after : la valeur "
                    "next reçue)", f"Invalid page (limit: an integer from 1 to {MAX_PAGE}; after: the next value "
                    "received)")
TOO_BIG = ApiError(413, "too_large", "La taille du ou des documents dépasse la limite autorisée",
                   "The documents are larger than allowed")


def viewer(session: Session) -> masking.Viewer:
    """The holder sees their dossier as the patient; a legal representative as a representative."""
    return masking.Viewer.REPRESENTATIVE if session.representative else masking.Viewer.PATIENT


def hidden_codes(session: Session) -> tuple[str, ...]:
    """Codes whose documents are not counted for this session."""
    if session.representative:
        return masking.INVISIBLE_PATIENT, masking.INVISIBLE_REPRESENTANTS_LEGAUX
    return (masking.INVISIBLE_PATIENT,)

Handler = Callable[..., Awaitable[tuple[int, dict | None]]]


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


class DossierApi(PatientApi):
    def routes(self) -> dict[tuple[str, ...], dict[str, Handler]]:
        """The path shapes below /api/dossier ("*": the segment carrying an id or an address) and their methods;
        web/openapi.py describes each (tests/web/test_openapi.py compares them)."""
        return {
            (): {"GET": self.overview},
            ("documents",): {"GET": self.list_documents, "POST": self.add_own},
            ("recent",): {"GET": self.recent},
            ("documents", "*"): {"GET": self.document},
            ("documents", "*", "pdf"): {"GET": self.pdf},
            ("documents", "*", "visibility"): {"POST": self.visibility},
            ("professionals",): {"GET": self.professionals},
            ("professionals", "*", "block"): {"POST": self.block},
            ("professionals", "*", "unblock"): {"POST": self.unblock},
            ("professionals", "*", "grant"): {"POST": self.grant},
            ("general-practitioner",): {"GET": self.general_practitioner, "PUT": self.declare_gp,
                                        "DELETE": self.clear_gp},
        }

    def route(self, method: str, path: list[str]) -> tuple[Handler | None, list[str], bool]:
        """(handler, its arguments, whether the path is known) for a path below /api/dossier."""
        table = self.routes()
        shape = tuple("*" if i == 1 else p for i, p in enumerate(path))
        methods = table.get(shape)
        if methods is None:
            return None, [], False
        args = [path[1]] if len(path) > 1 else []
        return methods.get(method), args, True

    @staticmethod
    def _visible(row: dossier_store.IndexRow, session: Session) -> bool:
        return row.wrapped is not None and masking.visible(row.confidentiality, row.hidden_from_professionals,
                                                           viewer(session))

    def _listed(self, reader: Reader, row: dossier_store.IndexRow) -> dict:
        fields = index.open_(reader.key(row), row.blob_id, row.sealed)
        category = categories.BY_CODE.get(row.category)
        return {
            "id": row.id, "category": row.category, "label": category.label if category else row.category,
            "title": fields.get("title", ""), "type_code": fields.get("type_code", ""),
            "effective_at": _iso(row.effective_at), "filed_at": _iso(row.filed_at),
            "authors": fields.get("author_names", []), "custodian": fields.get("custodian", ""),
            "version": row.version, "state": row.state, "confidentiality": row.confidentiality.split(),
            "hidden_from_professionals": row.hidden_from_professionals, "has_pdf": bool(fields.get("has_pdf")),
            "own": bool(fields.get("own")), "signature": signatures.SHOWN.get(row.signature),
        }

    # --- Reading ---------------------------------------------------------------------------

    async def overview(self, request: server.Request) -> tuple[int, dict]:
        session = await self._patient(request)
        counts = await self.hub.read(lambda conn: dossier_store.counts_by_category(
            conn, session.account_id, hidden_codes(session)))
        return 200, {"categories": [{"code": c.code, "label": c.label, "count": counts.get(c.code, 0)}
                                    for c in categories.CATEGORIES]}

    async def list_documents(self, request: server.Request) -> tuple[int, dict]:
        session = await self._patient(request)
        raw = request.args.get(b"category", [None])[0]
        category = raw.decode("ascii", "replace") if raw is not None else None
        if category is not None and category not in categories.BY_CODE:
            raise NOT_FOUND
        raw_limit, raw_after = request.args.get(b"limit", [None])[0], request.args.get(b"after", [None])[0]
        limit = paging.parse_limit(raw_limit, MAX_PAGE) if raw_limit is not None else DEFAULT_PAGE
        after = paging.parse_cursor(raw_after) if raw_after is not None else None
        if limit is None or (raw_after is not None and after is None):
            raise BAD_PAGE

        def work(conn) -> tuple[list[dict], str | None]:
            # One row more than the page says whether another page follows; only the page's rows are unsealed.
            rows = dossier_store.page(conn, session.account_id, session.account_id, category, hidden_codes(session),
                                      limit + 1, dossier_store.After(*after) if after else None)
            rows, more = rows[:limit], len(rows) > limit
            following = paging.cursor(dossier_store.sort_date(rows[-1]), rows[-1].id) if more else None
            # The SQL leaves out what this viewer may not see; masking.visible says it again, row by row.
            rows = [r for r in rows if self._visible(r, session)]
            reader = self._reader(conn, session) if rows else None
            return [self._listed(reader, r) for r in rows], following

        listed, following = await self.hub.read(work, small=True)  # at most MAX_PAGE + 1 rows (Hub.read)
        await self._trace(session, audit.DOSSIER_ACCESS, f"category:{category or '*'}")
        return 200, {"category": category, "documents": listed, "next": following}

    async def recent(self, request: server.Request) -> tuple[int, dict]:
        session = await self._patient(request)
        since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=RECENT_DAYS)

        def work(conn) -> list[dict]:
            rows = [r for r in dossier_store.recently_filed(conn, session.account_id, session.account_id,
                                                            hidden_codes(session), since, RECENT_SHOWN)
                    if self._visible(r, session)]
            reader = self._reader(conn, session) if rows else None
            return [self._listed(reader, r) for r in rows]

        listed = await self.hub.read(work)
        await self._trace(session, audit.DOSSIER_ACCESS, "recent")
        return 200, {"since": since.isoformat(), "days": RECENT_DAYS, "documents": listed}

    def _row(self, conn, session: Session, document_id: str) -> dossier_store.IndexRow | None:
        if not is_id(document_id):
            return None
        row = dossier_store.document(conn, session.account_id, session.account_id, int(document_id))
        return row if row is not None and self._visible(row, session) else None

    def documents_of(self, conn, session: Session, blob_id: str) -> list[int]:
        """The documents a covering message filed that the patient may see (a message's link to Documents)."""
        if session.type != AccountType.PATIENT.value:
            return []
        return [i for i in dossier_store.filed_from(conn, session.account_id, blob_id)
                if self._row(conn, session, str(i)) is not None]

    async def document(self, request: server.Request, document_id: str) -> tuple[int, dict]:
        session = await self._patient(request)

        def work(conn) -> dict | None:
            row = self._row(conn, session, document_id)
            if row is None:
                return None
            reader = self._reader(conn, session)
            shown = self._listed(reader, row)
            item = reader.body(dossier_store.item(conn, row))
            cda = _attachment(item, "text/xml")
            shown["html"] = narrative.render(cda) if cda is not None else ""
            shown["versions"] = [{"id": v.id, "version": v.version, "state": v.state, "filed_at": _iso(v.filed_at)}
                                 for v in dossier_store.versions(conn, session.account_id, session.account_id,
                                                                 row.set_key) if self._visible(v, session)]
            shown["source_message"] = dossier_store.placed_message(conn, session.account_id, row.source_blob_id)
            return shown

        shown = await self.hub.read(work)
        if shown is None:
            raise NOT_FOUND
        await self._trace(session, audit.READ, f"document:{shown['id']}")
        return 200, shown

    async def pdf(self, request: server.Request, document_id: str) -> tuple[int, None]:
        session = await self._patient(request)

        def work(conn) -> tuple[bytes, str] | None:
            row = self._row(conn, session, document_id)
            if row is None:
                return None
            item = self._reader(conn, session).body(dossier_store.item(conn, row))
            for content_type in ("application/pdf", "image/jpeg", "image/png"):
                data = _attachment(item, content_type)
                if data is not None:
                    return data, content_type
            return None

        found = await self.hub.read(work)
        if found is None:
            raise NOT_FOUND
        await self._trace(session, audit.READ, f"document:{int(document_id)} pdf")
        data, content_type = found
        respond_file(request, data, content_type.encode(), rendering.safe_filename(
            f"document-{int(document_id)}.{OWN_TYPES.get(content_type, 'bin')}"))
        return 200, None

    # --- The patient's choices --------------------------------------------------------------

    async def visibility(self, request: server.Request, document_id: str) -> tuple[int, dict]:
        session = await self._patient(request)
        hidden = read_json(request).get("hidden_from_professionals")
        if not isinstance(hidden, bool):
            raise ApiError(400, "bad_request", "hidden_from_professionals : vrai ou faux attendu",
                           "hidden_from_professionals: true or false expected")
        visible = await self.hub.read(lambda conn: self._row(conn, session, document_id))
        if visible is None:
            raise NOT_FOUND

        def work(conn) -> None:
            dossier_store.set_hidden(conn, session.account_id, visible.id, hidden)
            audit.record(conn, actor=session.actor, actor_type=session.actor_type,
                         action=audit.DOSSIER_MASK,
                         subject_account_id=session.account_id, target=f"document:{visible.id}",
                         outcome="hidden" if hidden else "shown")

        await self.hub.write(work)
        return 200, {"id": visible.id, "hidden_from_professionals": hidden}

    async def professionals(self, request: server.Request) -> tuple[int, dict]:
        session = await self._patient(request)
        now = dt.datetime.now(dt.timezone.utc)
        care_days = self.hub.config.get("dossier.care_window_days")
        found = await self.hub.read(lambda conn: access.standings(conn, session.account_id, now, care_days))
        return 200, {"professionals": [{"address": s.address, "name": s.name, "reason": s.reason,
                                        "last_exchange": _iso(s.last_at)} for s in found]}

    async def _rule(self, request: server.Request, address: str, rule: str | None) -> tuple[int, dict]:
        session = await self._patient(request)
        address = address.strip().lower()
        if not address or len(address) > MAX_ADDRESS_CHARS or "@" not in address:
            raise NOT_FOUND

        def work(conn) -> None:
            dossier_store.set_access_rule(conn, session.account_id, address, rule)
            audit.record(conn, actor=session.actor, actor_type=session.actor_type,
                         action=audit.DOSSIER_BLOCK,
                         subject_account_id=session.account_id, target=f"professional:{address}",
                         outcome={dossier_store.BLOCK: "blocked", dossier_store.GRANT: "granted"}.get(rule, "unblocked"))

        await self.hub.write(work)
        return 200, {"address": address, "blocked": rule == dossier_store.BLOCK, "granted": rule == dossier_store.GRANT}

    async def block(self, request: server.Request, address: str) -> tuple[int, dict]:
        return await self._rule(request, address, dossier_store.BLOCK)

    async def unblock(self, request: server.Request, address: str) -> tuple[int, dict]:
        """Unblock, or withdraw a grant: the professional's access is the care window's again."""
        return await self._rule(request, address, None)

    async def grant(self, request: server.Request, address: str) -> tuple[int, dict]:
        """The patient opens the dossier to a professional outside the care window (undone by unblock)."""
        return await self._rule(request, address, dossier_store.GRANT)

    # --- The declared general practitioner (médecin traitant): MASQUE_PS does not hide from them ------------

    async def general_practitioner(self, request: server.Request) -> tuple[int, dict]:
        session = await self._patient(request)
        address = await self.hub.read(lambda conn: general_practitioners.of_patient(conn, session.account_id))
        return 200, {"address": address}

    async def declare_gp(self, request: server.Request) -> tuple[int, dict]:
        session = await self._patient(request)
        address = read_json(request).get("address")
        address = address.strip().lower() if isinstance(address, str) else ""

        def work(conn) -> bool:
            account = account_repo.by_address(conn, address) if 0 < len(address) <= MAX_ADDRESS_CHARS else None
            if account is None or account.type != AccountType.PER.value:
                return False
            general_practitioners.declare(conn, session.account_id, address)
            # The GP sees, from now on, what was filed before too (documents older than the views themselves).
            system = account_repo.first_of_type(conn, AccountType.SYSTEM.value)
            if system is not None:
                dossier_store.backfill_views(conn, session.account_id, system.id)
            audit.record(conn, actor=session.actor, actor_type=session.actor_type, action=audit.DOSSIER_GP,
                         subject_account_id=session.account_id, target=f"professional:{address}", outcome="declared")
            return True

        if not await self.hub.write(work):
            raise NOT_A_GP
        return 200, {"address": address}

    async def clear_gp(self, request: server.Request) -> tuple[int, None]:
        session = await self._patient(request)

        def work(conn) -> None:
            general_practitioners.declare(conn, session.account_id, None)
            audit.record(conn, actor=session.actor, actor_type=session.actor_type, action=audit.DOSSIER_GP,
                         subject_account_id=session.account_id, target="professional:-", outcome="cleared")

        await self.hub.write(work)
        return 204, None

    # --- The patient's own document ---------------------------------------------------------

    async def add_own(self, request: server.Request) -> tuple[int, dict]:
        session = await self._patient(request)
        body = read_json(request)
        category = categories.BY_CODE.get(body.get("category") if isinstance(body.get("category"), str) else "")
        content_type = body.get("content_type")
        title, filename, data = body.get("title"), body.get("filename"), body.get("content_base64")
        if category is None or content_type not in OWN_TYPES or not isinstance(data, str) or \
                not isinstance(title, str) or not title.strip() or len(title) > MAX_TITLE_CHARS:
            raise BAD_DOCUMENT
        if len(data) > self.hub.config.get("patients.attachment_budget_bytes") * 4 // 3 + 4:
            raise TOO_BIG
        try:
            content = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise BAD_DOCUMENT from None
        if len(content) > self.hub.config.get("patients.attachment_budget_bytes"):
            raise TOO_BIG
        message = EmailMessage(policy=email.policy.SMTP)
        message["From"] = session.address
        message["To"] = session.address
        message["Subject"] = " ".join(title.split())
        message["Date"] = email.utils.format_datetime(dt.datetime.now(dt.timezone.utc))
        message["Message-ID"] = email.utils.make_msgid(domain=self.hub.config.get("hub.hostname"))
        message.set_content("Document ajouté par vous-même.\n\nDocument you added yourself.\n")
        maintype, _, subtype = content_type.partition("/")
        name = rendering.safe_filename(filename if isinstance(filename, str) and filename else
                                       f"document.{OWN_TYPES[content_type]}")
        message.add_attachment(content, maintype=maintype, subtype=subtype, filename=name)
        envelope = delivery.Envelope(mail_from=session.address, rcpt_to=(session.address,),
                                     channel=delivery.Channel.FILING, peer=self._client_ip(request),
                                     folder=category.folder)
        who = delivery.Identity(session.address, session.account_id, session.type, session.representative)
        delivered = await delivery.accept(self.hub, envelope, message.as_bytes(), who)
        document_id = await self.hub.read(lambda conn: dossier_store.filed_from(
            conn, session.account_id, delivered.blob_id))
        return 201, {"id": document_id[0] if document_id else None, "category": category.code}


def _attachment(raw: bytes, content_type: str) -> bytes | None:
    item = email.message_from_bytes(raw, policy=email.policy.default)
    for part in item.iter_attachments():
        if part.get_content_type() == content_type:
            return part.get_payload(decode=True) or b""
    return None

