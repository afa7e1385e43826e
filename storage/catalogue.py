"""The catalogue of referenced services (one shared row per service) and the patients' consents to them.

A service row is the operator's catalogue entry as loaded (mssante_hub/catalogue/services.py): public facts
about an application referenced by the State, kept once for every patient. A consent row ties one patient's
account to one service: the scopes granted, the service version approved, and, after a new version, the date
by which the patient must approve again (`reapprove_by`). A revoked consent is deleted (the audit trail keeps
that it existed); a lapsed one is kept with its state so that the webmail can offer the re-approval.

Decisions (whether a consent holds now, what a version change does) are made by mssante_hub/catalogue/; this
module stores what it is handed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import JSON, Boolean, Connection, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, utcnow

ACTIVE = "active"
LAPSED = "lapsed"


class CatalogueService(Base):
    """One referenced service, as the operator's catalogue file describes it."""

    __tablename__ = "catalogue_services"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    editor: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    urls: Mapped[dict] = mapped_column(JSON)
    purposes: Mapped[list] = mapped_column(JSON)
    themes: Mapped[list] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    data_exchange: Mapped[bool] = mapped_column(Boolean)
    version: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list] = mapped_column(JSON)
    mailbox: Mapped[str] = mapped_column(String(320), unique=True)
    loaded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CatalogueConsent(Base):
    """One patient's consent to one service."""

    __tablename__ = "catalogue_consents"
    __table_args__ = (UniqueConstraint("account_id", "service_id", name="uq_catalogue_consent"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    service_id: Mapped[str] = mapped_column(ForeignKey("catalogue_services.id", ondelete="CASCADE"), index=True)
    scopes: Mapped[list] = mapped_column(JSON)
    approved_version: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(10), default=ACTIVE)
    granted_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    reapprove_by: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


@dataclass(frozen=True)
class Service:
    id: str
    editor: str
    name: str
    description: str
    urls: dict
    purposes: tuple[str, ...]
    themes: tuple[str, ...]
    status: str
    data_exchange: bool
    version: str
    scopes: tuple[str, ...]
    mailbox: str

    def values(self) -> dict:
        values = dict(self.__dict__)
        for name in ("purposes", "themes", "scopes"):
            values[name] = list(values[name])
        return values


@dataclass(frozen=True)
class Consent:
    account_id: int
    service_id: str
    scopes: tuple[str, ...]
    approved_version: str
    state: str
    granted_at: dt.datetime
    reapprove_by: dt.datetime | None


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value


def _service(row) -> Service:
    return Service(row.id, row.editor, row.name, row.description, dict(row.urls or {}), tuple(row.purposes or ()),
                   tuple(row.themes or ()), row.status, bool(row.data_exchange), row.version,
                   tuple(row.scopes or ()), row.mailbox)


def _consent(row) -> Consent:
    return Consent(row.account_id, row.service_id, tuple(row.scopes or ()), row.approved_version, row.state,
                   _aware(row.granted_at), _aware(row.reapprove_by))


_SERVICE_COLUMNS = (CatalogueService.id, CatalogueService.editor, CatalogueService.name,
                    CatalogueService.description, CatalogueService.urls, CatalogueService.purposes,
                    CatalogueService.themes, CatalogueService.status, CatalogueService.data_exchange,
                    CatalogueService.version, CatalogueService.scopes, CatalogueService.mailbox)


def services(conn: Connection) -> list[Service]:
    return [_service(r) for r in conn.execute(select(*_SERVICE_COLUMNS).order_by(CatalogueService.name,
                                                                                  CatalogueService.id))]


def service(conn: Connection, service_id: str) -> Service | None:
    row = conn.execute(select(*_SERVICE_COLUMNS).where(CatalogueService.id == service_id)).first()
    return _service(row) if row is not None else None


def service_of_mailbox(conn: Connection, mailbox: str) -> Service | None:
    row = conn.execute(select(*_SERVICE_COLUMNS).where(CatalogueService.mailbox == mailbox.lower())).first()
    return _service(row) if row is not None else None


def mailbox_owner(conn: Connection, mailbox: str) -> str | None:
    """The id of the service that sends from `mailbox`, if any."""
    return conn.execute(select(CatalogueService.id).where(CatalogueService.mailbox == mailbox.lower())
                        ).scalar_one_or_none()


def save_service(conn: Connection, entry: Service) -> Service | None:
    """Insert or update one service (by id); returns the row it replaced, None for a new service."""
    before = service(conn, entry.id)
    values = entry.values()
    values["mailbox"] = entry.mailbox.lower()
    if before is None:
        conn.execute(CatalogueService.__table__.insert().values(loaded_at=utcnow(), **values))
    else:
        conn.execute(update(CatalogueService).where(CatalogueService.id == entry.id)
                     .values(loaded_at=utcnow(), **{k: v for k, v in values.items() if k != "id"}))
    return before


_CONSENT_COLUMNS = (CatalogueConsent.account_id, CatalogueConsent.service_id, CatalogueConsent.scopes,
                    CatalogueConsent.approved_version, CatalogueConsent.state, CatalogueConsent.granted_at,
                    CatalogueConsent.reapprove_by)


def consents_of(conn: Connection, account_id: int) -> dict[str, Consent]:
    """One patient's consents, by service id."""
    rows = conn.execute(select(*_CONSENT_COLUMNS).where(CatalogueConsent.account_id == account_id))
    return {r.service_id: _consent(r) for r in rows}


def consents_to(conn: Connection, service_id: str, account_ids: list[int]) -> dict[int, Consent]:
    """The consents some patients gave one service, by account id."""
    if not account_ids:
        return {}
    rows = conn.execute(select(*_CONSENT_COLUMNS).where(CatalogueConsent.service_id == service_id,
                                                        CatalogueConsent.account_id.in_(account_ids)))
    return {r.account_id: _consent(r) for r in rows}


def grant(conn: Connection, account_id: int, service_id: str, scopes: list[str], version: str) -> bool:
    """Record the patient's consent (new, changed or re-approved): active, for this version. True if it is new."""
    found = conn.execute(select(CatalogueConsent.id).where(CatalogueConsent.account_id == account_id,
                                                           CatalogueConsent.service_id == service_id)
                         ).scalar_one_or_none()
    values = {"scopes": list(scopes), "approved_version": version, "state": ACTIVE, "granted_at": utcnow(),
              "reapprove_by": None}
    if found is None:
        conn.execute(CatalogueConsent.__table__.insert().values(account_id=account_id, service_id=service_id,
                                                                **values))
        return True
    conn.execute(update(CatalogueConsent).where(CatalogueConsent.id == found).values(**values))
    return False


def revoke(conn: Connection, account_id: int, service_id: str) -> bool:
    return conn.execute(delete(CatalogueConsent).where(CatalogueConsent.account_id == account_id,
                                                       CatalogueConsent.service_id == service_id)).rowcount > 0


def ask_reapproval(conn: Connection, service_id: str, version: str, by: dt.datetime) -> list[int]:
    """After a new version: every active consent to an older version must be approved again by `by` (a date
    already set stays: a second change does not extend it). Returns the accounts asked."""
    rows = conn.execute(select(CatalogueConsent.id, CatalogueConsent.account_id).where(
        CatalogueConsent.service_id == service_id, CatalogueConsent.state == ACTIVE,
        CatalogueConsent.approved_version != version, CatalogueConsent.reapprove_by.is_(None))).all()
    if rows:
        conn.execute(update(CatalogueConsent).where(CatalogueConsent.id.in_([r.id for r in rows]))
                     .values(reapprove_by=by))
    return [r.account_id for r in rows]


def lapse_service(conn: Connection, service_id: str) -> list[int]:
    """Every active consent to one service lapses now (dereferenced, suspended). Returns the accounts."""
    accounts = list(conn.execute(select(CatalogueConsent.account_id).where(
        CatalogueConsent.service_id == service_id, CatalogueConsent.state == ACTIVE)).scalars())
    if accounts:
        conn.execute(update(CatalogueConsent).where(CatalogueConsent.service_id == service_id,
                                                    CatalogueConsent.state == ACTIVE).values(state=LAPSED))
    return accounts


def lapse_due(conn: Connection, now: dt.datetime) -> list[tuple[int, str]]:
    """Active consents whose re-approval date has passed lapse. Returns (account, service) of each."""
    rows = conn.execute(select(CatalogueConsent.id, CatalogueConsent.account_id, CatalogueConsent.service_id)
                        .where(CatalogueConsent.state == ACTIVE, CatalogueConsent.reapprove_by.is_not(None),
                               CatalogueConsent.reapprove_by <= now)).all()
    if rows:
        conn.execute(update(CatalogueConsent).where(CatalogueConsent.id.in_([r.id for r in rows]))
                     .values(state=LAPSED))
    return [(r.account_id, r.service_id) for r in rows]
