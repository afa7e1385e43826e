"""The profil médical's index: one row per version of an entry filed in the patient's `Dossier/Profil`.

The entry itself is an ordinary stored message (blob, wrapped key, a row in the folder) whose attachment is
the FHIR resource. In clear here: the account, the body's blob id, the entry's random key (a UUID the API
names it by: it says nothing of the entry), the state (current, replaced), the filing time and whether the
patient hid it from professionals. Everything else (kind, code, label, date, source) is in `sealed`, under the
entry's own content key (mssante_hub/profile/entries.py): even the kind (an allergy, a treatment) is health
information.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Boolean, Connection, DateTime, ForeignKey, Index, Integer, LargeBinary, String, and_, select
from sqlalchemy import update
from sqlalchemy.orm import Mapped, mapped_column

from storage import views
from storage.models import Base, Blob, Folder, Message, WrappedKey, utcnow
from storage.messages import remove_messages

CURRENT = "current"
REPLACED = "replaced"


class ProfileEntry(Base):
    """One version of one entry of a patient's profil médical."""

    __tablename__ = "profile_entries"
    __table_args__ = (Index("ix_profile_account_entry", "account_id", "entry_key", "state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    blob_id: Mapped[str] = mapped_column(ForeignKey("blobs.id", ondelete="CASCADE"), unique=True)
    entry_key: Mapped[str] = mapped_column(String(36))
    state: Mapped[str] = mapped_column(String(10), default=CURRENT)
    filed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    hidden_from_professionals: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    sealed: Mapped[bytes] = mapped_column(LargeBinary)


@dataclass(frozen=True)
class NewEntry:
    """An index row to write in the delivery's transaction (picklable)."""

    account_id: int
    blob_id: str
    entry_key: str
    sealed: bytes
    in_view: bool = False  # its key is wrapped for the hub: professionals may be served it (storage/views.py)
    always_shown: bool = False  # the patient's hide choice does not take it out of that view (advance directives)


@dataclass(frozen=True)
class EntryRow:
    id: int
    blob_id: str
    entry_key: str
    state: str
    filed_at: dt.datetime
    hidden_from_professionals: bool
    sealed: bytes
    wrapped: bytes | None


def file_entry(conn: Connection, row: NewEntry) -> None:
    """The new version is current; the one it replaces (same entry key, same patient) goes to the history.

    The new version keeps the entry's hide choice (an edit does not show professionals a hidden entry), and the
    professionals' view follows: the replaced version leaves it, the new one enters it unless hidden.
    """
    former = conn.execute(select(ProfileEntry.blob_id, ProfileEntry.hidden_from_professionals).where(
        ProfileEntry.account_id == row.account_id, ProfileEntry.entry_key == row.entry_key,
        ProfileEntry.state == CURRENT)).all()
    hidden = any(bool(f.hidden_from_professionals) for f in former)
    conn.execute(update(ProfileEntry).where(ProfileEntry.account_id == row.account_id,
                                            ProfileEntry.entry_key == row.entry_key,
                                            ProfileEntry.state == CURRENT).values(state=REPLACED))
    conn.execute(ProfileEntry.__table__.insert().values(
        account_id=row.account_id, blob_id=row.blob_id, entry_key=row.entry_key, state=CURRENT, filed_at=utcnow(),
        hidden_from_professionals=hidden, sealed=row.sealed))
    views.unplace(conn, row.account_id, views.PROFILE_VIEW, [f.blob_id for f in former])
    if row.in_view and (row.always_shown or not hidden):
        views.place(conn, row.account_id, views.PROFILE_VIEW, [row.blob_id])


def _aware(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value


def entries(conn: Connection, account_id: int, reader_id: int, entry_key: str | None = None,
            current_only: bool = True) -> list[EntryRow]:
    """Index rows of one patient's profile (one entry's if `entry_key`), newest first."""
    query = (select(ProfileEntry.id, ProfileEntry.blob_id, ProfileEntry.entry_key, ProfileEntry.state,
                    ProfileEntry.filed_at, ProfileEntry.hidden_from_professionals, ProfileEntry.sealed,
                    WrappedKey.wrapped)
             .outerjoin(WrappedKey, and_(WrappedKey.blob_id == ProfileEntry.blob_id,
                                         WrappedKey.account_id == reader_id))
             .where(ProfileEntry.account_id == account_id))
    if entry_key is not None:
        query = query.where(ProfileEntry.entry_key == entry_key)
    if current_only:
        query = query.where(ProfileEntry.state == CURRENT)
    return [EntryRow(r.id, r.blob_id, r.entry_key, r.state, _aware(r.filed_at), bool(r.hidden_from_professionals),
                     r.sealed, r.wrapped) for r in conn.execute(query.order_by(ProfileEntry.id.desc()))]


def body(conn: Connection, blob_id: str) -> bytes:
    return conn.execute(select(Blob.body).where(Blob.id == blob_id)).scalar_one()


def entry_of_blob(conn: Connection, account_id: int, blob_id: str) -> str | None:
    return conn.execute(select(ProfileEntry.entry_key).where(ProfileEntry.account_id == account_id,
                                                             ProfileEntry.blob_id == blob_id)).scalar_one_or_none()


def remove_entry(conn: Connection, account_id: int, entry_key: str) -> int:
    """Delete every version of one entry: its index rows, its messages and (unless used elsewhere) their bodies."""
    blob_ids = list(conn.execute(select(ProfileEntry.blob_id).where(
        ProfileEntry.account_id == account_id, ProfileEntry.entry_key == entry_key)).scalars())
    if not blob_ids:
        return 0
    conn.execute(ProfileEntry.__table__.delete().where(ProfileEntry.account_id == account_id,
                                                       ProfileEntry.entry_key == entry_key))
    placed = conn.execute(select(Message.id, Message.uid, Message.blob_id, Message.folder_id)
                          .join(Folder, Folder.id == Message.folder_id)
                          .where(Folder.account_id == account_id, Message.blob_id.in_(blob_ids))).all()
    for folder_id in sorted({r.folder_id for r in placed}):
        remove_messages(conn, folder_id, [r for r in placed if r.folder_id == folder_id])
    return len(blob_ids)


def set_hidden(conn: Connection, account_id: int, entry_key: str, hidden: bool, system_id: int | None = None,
               always_shown: bool = False) -> bool:
    """The patient's choice to hide an entry (every version) from professionals; False if no such entry.

    The professionals' view follows in the same transaction: a hidden entry leaves it (unless `always_shown`,
    advance directives), a shown one's current version comes back when the hub's key (`system_id`) opens it.
    """
    found = conn.execute(update(ProfileEntry).where(ProfileEntry.account_id == account_id,
                                                    ProfileEntry.entry_key == entry_key)
                         .values(hidden_from_professionals=hidden)).rowcount > 0
    if not found:
        return False
    current = list(conn.execute(select(ProfileEntry.blob_id).where(
        ProfileEntry.account_id == account_id, ProfileEntry.entry_key == entry_key,
        ProfileEntry.state == CURRENT)).scalars())
    if hidden and not always_shown:
        views.unplace(conn, account_id, views.PROFILE_VIEW, current)
    elif system_id is not None:
        views.place(conn, account_id, views.PROFILE_VIEW, sorted(views.openable_by(conn, system_id, current)))
    return True
