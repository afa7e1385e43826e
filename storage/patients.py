"""Tables of patient spaces: identity traits, activation codes, conversations,
notification state, archives; and the professionals' inactivity warnings.

Names and birth dates are personal data: they are stored only sealed
(``traits``), never in clear columns. The tables hang off ``accounts`` with
ON DELETE CASCADE, so deleting a space takes its rows with it.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, utcnow


class PatientProfile(Base):
    """A provisioned space: sealed identity traits and its life-cycle dates."""

    __tablename__ = "patient_profiles"
    __table_args__ = (Index("ix_patient_profiles_deletion", "deletion_due_at"),)

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    traits: Mapped[bytes] = mapped_column(LargeBinary)  # sealed JSON: names, birth date, sex, personal e-mail
    objection_until: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    activated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    deletion_due_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class ActivationCode(Base):
    """The one-time code of a space, as a keyed hash; wrong tries are counted and throttled."""

    __tablename__ = "patient_activation_codes"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    code_hash: Mapped[bytes] = mapped_column(LargeBinary)
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class PatientContact(Base):
    """An address a patient may write to: a professional who wrote first (or its Reply-To)."""

    __tablename__ = "patient_contacts"
    __table_args__ = (Index("ix_patient_contacts_opened_by", "patient_id", "opened_by"),)

    patient_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    address: Mapped[str] = mapped_column(String(320), primary_key=True)  # lower case
    opened_by: Mapped[str] = mapped_column(String(320))  # the professional who wrote
    display_name: Mapped[str] = mapped_column(String(200), default="")
    pharmacy: Mapped[bool] = mapped_column(Boolean, default=False)
    last_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class Pharmacy(Base):
    """Organisation mailboxes flagged as pharmacies (local or of another operator)."""

    __tablename__ = "pharmacies"

    address: Mapped[str] = mapped_column(String(320), primary_key=True)


class NotificationState(Base):
    """Per patient: types switched off, types waiting to be told, when last told."""

    __tablename__ = "patient_notifications"
    __table_args__ = (Index("ix_patient_notifications_pending", "pending"),)

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    disabled: Mapped[str] = mapped_column(String(100), default="")  # space-separated notification types
    pending: Mapped[str] = mapped_column(String(100), default="")
    last_sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class PatientArchive(Base):
    """A closed space: its private key sealed under a per-space archive key until the purge."""

    __tablename__ = "patient_archives"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    sealed_archive_key: Mapped[bytes] = mapped_column(LargeBinary)  # under the hub's archive wrapping key
    sealed_private_key: Mapped[bytes] = mapped_column(LargeBinary)  # under the archive key
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    closed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    purge_after: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class InactivityWarning(Base):
    """When a professional mailbox was warned of its coming suspension."""

    __tablename__ = "inactivity_warnings"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    warned_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
