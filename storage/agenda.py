"""The patient's agenda: an index row per filed appointment, its occurrences, the ICS feed's token, the
prevention campaigns and each patient's status in them.

An appointment is an ordinary stored message (blob, wrapped key, a row in the patient's `Agenda` folder)
whose iCalendar is attached; its index row here says what it is. What is in clear, and why
(docs/agenda.md, "What the index holds"):

- start and end of each occurrence, the time zone's name, the event's status (confirmed, tentative,
  cancelled) and the patient's answer (accepted, declined): ranges, reminders and the feed are SQL
  queries; dates say nothing of what the appointment is about;
- SEQUENCE and DTSTAMP (RFC 5546 ordering of updates), state (current or replaced), the kind of item;
- keyed digests of the event's UID and of the sender allowed to change it: equality look-ups only, without
  the identifiers (a UID like `rdv-42@cardiologie.example` names a specialty).

Everything else (summary, place, professional, specialty, description, the UID itself) is in `sealed`,
under a key derived from the patient's own private key (mssante_hub/agenda/index.py). A patient's status in
a prevention campaign (done, not done) is health information: sealed the same way.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import (Connection, Date, DateTime, ForeignKey, Index, Integer, LargeBinary, String, Text, delete,
                        insert, select, update)
from sqlalchemy.orm import Mapped, mapped_column

from storage import views
from storage.models import Base, utcnow

CURRENT = "current"
VIEW = views.AGENDA_VIEW  # the professionals' view of the agenda (storage/views.py)
REPLACED = "replaced"
APPOINTMENT = "appointment"  # from a professional or a service, by iMIP
OWN = "own"  # the patient's own appointment
REMINDER = "reminder"  # the patient's own reminder
CANCELLED = "CANCELLED"


class AgendaItem(Base):
    """One version of one agenda item of a patient."""

    __tablename__ = "agenda_items"
    __table_args__ = (
        Index("ix_agenda_account_uid", "account_id", "uid_key", "state"),
        Index("ix_agenda_source", "source_blob_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    blob_id: Mapped[str] = mapped_column(ForeignKey("blobs.id", ondelete="CASCADE"), unique=True)
    source_blob_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(12))
    uid_key: Mapped[str] = mapped_column(String(64))
    owner_key: Mapped[str] = mapped_column(String(64), default="")
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    dtstamp: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    start_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    end_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    tz: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[str] = mapped_column(String(12), default="CONFIRMED")
    partstat: Mapped[str] = mapped_column(String(16), default="")
    state: Mapped[str] = mapped_column(String(10), default=CURRENT)
    filed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)


class AgendaOccurrence(Base):
    """One occurrence of a current item (a recurring appointment has several); reminded at most once."""

    __tablename__ = "agenda_occurrences"
    __table_args__ = (
        Index("ix_agenda_occurrence_account_start", "account_id", "start_at"),
        Index("ix_agenda_occurrence_remind", "reminded_at", "start_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("agenda_items.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    start_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    end_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    reminded_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class AgendaFeed(Base):
    """A patient's private ICS feed: the SHA-256 of its token, never the token."""

    __tablename__ = "agenda_feeds"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PreventionCampaign(Base):
    """A prevention campaign the operator loaded: whom it targets and when (the same for every patient)."""

    __tablename__ = "prevention_campaigns"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))  # exam or vaccination
    sex: Mapped[str] = mapped_column(String(1), default="")  # M, F or "" (both)
    min_age: Mapped[int] = mapped_column(Integer, default=0)
    max_age: Mapped[int] = mapped_column(Integer, default=200)
    window_start: Mapped[dt.date] = mapped_column(Date)
    window_end: Mapped[dt.date] = mapped_column(Date)
    title_fr: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(200), default="")
    text_fr: Mapped[str] = mapped_column(Text, default="")
    text_en: Mapped[str] = mapped_column(Text, default="")
    loaded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PreventionStatus(Base):
    """A patient's status in one campaign, once they set it (sealed: done or not done is health data)."""

    __tablename__ = "prevention_status"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    campaign_id: Mapped[str] = mapped_column(ForeignKey("prevention_campaigns.id", ondelete="CASCADE"),
                                             primary_key=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# --- Filing ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class NewItem:
    """An index row to write in the delivery's transaction (picklable)."""

    account_id: int
    blob_id: str
    source_blob_id: str
    kind: str
    uid_key: str
    owner_key: str
    sequence: int
    dtstamp: dt.datetime | None
    start_at: dt.datetime
    end_at: dt.datetime
    tz: str
    status: str
    partstat: str
    sealed: bytes
    occurrences: tuple[tuple[dt.datetime, dt.datetime], ...]
    in_view: bool = False  # its key is wrapped for the hub and its unit places it in the professionals' view


@dataclass(frozen=True)
class Held:
    """The current version of an item, as the update rules need it."""

    id: int
    owner_key: str
    sequence: int
    dtstamp: dt.datetime | None
    status: str
    partstat: str


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    return value.replace(tzinfo=dt.timezone.utc) if value is not None and value.tzinfo is None else value


def held(conn: Connection, account_id: int, uid_key: str) -> Held | None:
    row = conn.execute(select(AgendaItem.id, AgendaItem.owner_key, AgendaItem.sequence, AgendaItem.dtstamp,
                              AgendaItem.status, AgendaItem.partstat)
                       .where(AgendaItem.account_id == account_id, AgendaItem.uid_key == uid_key,
                              AgendaItem.state == CURRENT)).first()
    return Held(row.id, row.owner_key, row.sequence, _aware(row.dtstamp), row.status, row.partstat) if row else None


def _newer(row: NewItem, current: Held) -> bool:
    """RFC 5546 §2.1.5: a higher SEQUENCE wins; at equal SEQUENCE, a later DTSTAMP."""
    if row.sequence != current.sequence:
        return row.sequence > current.sequence
    return row.dtstamp is not None and (current.dtstamp is None or row.dtstamp > current.dtstamp)


def file_item(conn: Connection, row: NewItem) -> None:
    """The index row and its occurrences; the version it supersedes is marked replaced.

    prepare() already compared with the version it saw; should another update of the same event have been
    committed in between, the newer one stays current and this one goes to the history.
    """
    current = held(conn, row.account_id, row.uid_key)
    superseded = current is not None and _newer(row, current)
    state = CURRENT if current is None or superseded else REPLACED
    partstat = row.partstat
    if superseded:
        conn.execute(update(AgendaItem).where(AgendaItem.id == current.id).values(state=REPLACED))
        # The professionals' view holds current versions only (storage/views.py); the patient's Agenda keeps all.
        views.unplace(conn, row.account_id, views.AGENDA_VIEW, [conn.execute(
            select(AgendaItem.blob_id).where(AgendaItem.id == current.id)).scalar_one()])
        conn.execute(delete(AgendaOccurrence).where(AgendaOccurrence.item_id == current.id))
        # An update keeps the patient's answer unless the organiser changed the time (RFC 5546 §2.1.4 lets
        # the organiser ask again: their REQUEST says NEEDS-ACTION then).
        partstat = row.partstat or current.partstat
    item_id = conn.execute(insert(AgendaItem).values(
        account_id=row.account_id, blob_id=row.blob_id, source_blob_id=row.source_blob_id, kind=row.kind,
        uid_key=row.uid_key, owner_key=row.owner_key, sequence=row.sequence, dtstamp=row.dtstamp,
        start_at=row.start_at, end_at=row.end_at, tz=row.tz, status=row.status, partstat=partstat, state=state,
        filed_at=utcnow(), sealed=row.sealed).returning(AgendaItem.id)).scalar_one()
    if state == REPLACED and row.in_view:  # its unit placed it in the view, but a newer version is already there
        views.unplace(conn, row.account_id, views.AGENDA_VIEW, [row.blob_id])
    if state == CURRENT and row.occurrences:
        conn.execute(insert(AgendaOccurrence), [
            {"item_id": item_id, "account_id": row.account_id, "start_at": s, "end_at": e, "reminded_at": None}
            for s, e in row.occurrences])


def current_appointments(conn: Connection, account_id: int) -> list[str]:
    """The bodies of the current versions of the appointments professionals and services filed (not the patient's
    own items): what the professionals' view holds (storage/views.py)."""
    return list(conn.execute(select(AgendaItem.blob_id).where(
        AgendaItem.account_id == account_id, AgendaItem.kind == APPOINTMENT, AgendaItem.state == CURRENT)
        .order_by(AgendaItem.id)).scalars())


def set_partstat(conn: Connection, account_id: int, uid_key: str, partstat: str) -> bool:
    """The patient's answer to the current version of an event (in the REPLY's own transaction)."""
    return conn.execute(update(AgendaItem).where(AgendaItem.account_id == account_id, AgendaItem.uid_key == uid_key,
                                                 AgendaItem.state == CURRENT)
                        .values(partstat=partstat)).rowcount > 0


# --- Reading -----------------------------------------------------------------------------------

class Listed(NamedTuple):  # a tuple, not a frozen dataclass: 5,000 of them per listing cost 15 ms less
    item_id: int
    occurrence_start: str  # ISO 8601, as datetime.isoformat() writes it (what the listing shows)
    occurrence_end: str
    blob_id: str
    kind: str
    tz: str
    status: str
    partstat: str
    sequence: int
    sealed: bytes


# On the DB-API cursor (storage/driver.py): SQLAlchemy's row handling was a third of listing 5,000 items.
_LISTING_SQL = (
    "SELECT i.id, o.start_at, o.end_at, i.blob_id, i.kind, i.tz, i.status, i.partstat, i.sequence, i.sealed "
    "FROM agenda_occurrences o JOIN agenda_items i ON i.id = o.item_id "
    "WHERE o.account_id = ? AND o.start_at < ? AND o.end_at > ? AND i.state = ? {after}"
    "ORDER BY o.start_at, i.id LIMIT ?")
# A page after (start, item id): the listing's own order, on the (account_id, start_at) index.
_AFTER_SQL = "AND (o.start_at > ? OR (o.start_at = ? AND i.id > ?)) "
_LISTING_FIRST, _LISTING_AFTER = _LISTING_SQL.format(after=""), _LISTING_SQL.format(after=_AFTER_SQL)
_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores a DateTime in SQLite (UTC here)


def _time_param(conn: Connection, value: dt.datetime):
    utc = value.astimezone(dt.timezone.utc)
    return utc.replace(tzinfo=None).strftime(_SQLITE_TIME) if conn.dialect.name == "sqlite" else utc


def _time_value(value, utc=dt.timezone.utc) -> dt.datetime:
    if value.__class__ is str:
        return dt.datetime.fromisoformat(value).replace(tzinfo=utc)
    return _aware(value)


def _iso_value(value) -> str:
    """The ISO 8601 text of a stored time, as `_time_value(value).isoformat()` writes it: SQLite's text
    rewritten without parsing it (parsing and formatting again were ~15 % of listing 5,000 items)."""
    if value.__class__ is str:  # "YYYY-MM-DD HH:MM:SS.ffffff", UTC
        if len(value) == 26 and value.endswith(".000000"):
            value = value[:19]  # isoformat() leaves out zero microseconds
        return f"{value[:10]}T{value[11:]}+00:00"
    return _aware(value).isoformat()


def listing(conn: Connection, account_id: int, start: dt.datetime, end: dt.datetime, limit: int,
            after: tuple[dt.datetime, int] | None = None) -> list[Listed]:
    """The occurrences of current items overlapping [start, end), earliest first (by start, then item id);
    with `after` (an occurrence's start and item id), those that come after it in that order."""
    from storage import driver

    params = [account_id, _time_param(conn, end), _time_param(conn, start), CURRENT]
    if after is not None:
        at = _time_param(conn, after[0])
        params += [at, at, after[1]]
    rows = driver.rows(conn, _LISTING_AFTER if after is not None else _LISTING_FIRST, (*params, limit))
    return [Listed(r[0], _iso_value(r[1]), _iso_value(r[2]), r[3], r[4], r[5], r[6], r[7], r[8], bytes(r[9]))
            for r in rows]


@dataclass(frozen=True)
class ItemRow:
    id: int
    blob_id: str
    source_blob_id: str
    kind: str
    uid_key: str
    sequence: int
    start_at: dt.datetime
    end_at: dt.datetime
    tz: str
    status: str
    partstat: str
    state: str
    filed_at: dt.datetime
    sealed: bytes


def item(conn: Connection, account_id: int, item_id: int) -> ItemRow | None:
    row = conn.execute(select(AgendaItem.id, AgendaItem.blob_id, AgendaItem.source_blob_id, AgendaItem.kind,
                              AgendaItem.uid_key, AgendaItem.sequence, AgendaItem.start_at, AgendaItem.end_at,
                              AgendaItem.tz, AgendaItem.status, AgendaItem.partstat, AgendaItem.state,
                              AgendaItem.filed_at, AgendaItem.sealed)
                       .where(AgendaItem.account_id == account_id, AgendaItem.id == item_id)).first()
    if row is None:
        return None
    return ItemRow(row.id, row.blob_id, row.source_blob_id, row.kind, row.uid_key, row.sequence,
                   _aware(row.start_at), _aware(row.end_at), row.tz, row.status, row.partstat, row.state,
                   _aware(row.filed_at), row.sealed)


def filed_from(conn: Connection, account_id: int, source_blob_id: str) -> list[int]:
    return list(conn.execute(select(AgendaItem.id).where(AgendaItem.account_id == account_id,
                                                         AgendaItem.source_blob_id == source_blob_id)
                             .order_by(AgendaItem.id)).scalars())


# --- Reminders ---------------------------------------------------------------------------------

def mark_reminders(conn: Connection, now: dt.datetime, until: dt.datetime, limit: int = 1000) -> list[int]:
    """Occurrences starting in [now, until) not yet reminded, of live items the patient did not decline:
    marked reminded (once, in this transaction); returns their patients' account ids."""
    rows = conn.execute(select(AgendaOccurrence.id, AgendaOccurrence.account_id)
                        .join(AgendaItem, AgendaItem.id == AgendaOccurrence.item_id)
                        .where(AgendaOccurrence.reminded_at.is_(None), AgendaOccurrence.start_at >= now,
                               AgendaOccurrence.start_at < until, AgendaItem.state == CURRENT,
                               AgendaItem.status != CANCELLED, AgendaItem.partstat != "DECLINED")
                        .order_by(AgendaOccurrence.start_at).limit(limit)).all()
    if rows:
        conn.execute(update(AgendaOccurrence).where(AgendaOccurrence.id.in_([r.id for r in rows]))
                     .values(reminded_at=now))
    return sorted({r.account_id for r in rows})


# --- The ICS feed ------------------------------------------------------------------------------

def set_feed(conn: Connection, account_id: int, token_hash: str | None) -> None:
    """A new token (the old one stops working), or none (revoked)."""
    conn.execute(delete(AgendaFeed).where(AgendaFeed.account_id == account_id))
    if token_hash is not None:
        conn.execute(insert(AgendaFeed).values(account_id=account_id, token_hash=token_hash, created_at=utcnow()))


def feed_of(conn: Connection, account_id: int) -> dt.datetime | None:
    return _aware(conn.execute(select(AgendaFeed.created_at).where(AgendaFeed.account_id == account_id)).scalar())


def feed_account(conn: Connection, token_hash: str) -> int | None:
    return conn.execute(select(AgendaFeed.account_id).where(AgendaFeed.token_hash == token_hash)).scalar()


# --- Prevention --------------------------------------------------------------------------------

def put_campaign(conn: Connection, values: dict) -> None:
    conn.execute(delete(PreventionCampaign).where(PreventionCampaign.id == values["id"]))
    conn.execute(insert(PreventionCampaign).values(**values, loaded_at=utcnow()))


def campaigns(conn: Connection) -> list[PreventionCampaign]:
    return [r for r in conn.execute(select(PreventionCampaign.__table__).order_by(PreventionCampaign.window_start,
                                                                                  PreventionCampaign.id))]


def prevention_status(conn: Connection, account_id: int) -> dict[str, bytes]:
    return dict(conn.execute(select(PreventionStatus.campaign_id, PreventionStatus.sealed)
                             .where(PreventionStatus.account_id == account_id)).all())


def set_prevention_status(conn: Connection, account_id: int, campaign_id: str, sealed: bytes) -> None:
    conn.execute(delete(PreventionStatus).where(PreventionStatus.account_id == account_id,
                                                PreventionStatus.campaign_id == campaign_id))
    conn.execute(insert(PreventionStatus).values(account_id=account_id, campaign_id=campaign_id, sealed=sealed,
                                                 updated_at=utcnow()))
