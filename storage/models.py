"""SQLAlchemy 2 typed models: the whole schema of the hub.

Anything a user wrote (bodies, subjects, senders, attachment names) is stored only
as ciphertext in ``blobs``; the other tables hold routing and IMAP bookkeeping.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

class Base(DeclarativeBase):
    pass


class AccountType(str, enum.Enum):
    PER = "PER"  # a health professional
    ORG = "ORG"  # an organisation mailbox, shared by delegation
    APP = "APP"  # software of a hospital system, lab, imaging centre
    CAB = "CAB"  # a practice
    PATIENT = "PATIENT"
    SYSTEM = "SYSTEM"  # the hub itself (postmaster, relay queue reader)


class AccountStatus(str, enum.Enum):
    ACTIVE = "active"
    PENDING = "pending"  # provisioned patient space, not yet activated
    SUSPENDED = "suspended"
    CLOSED = "closed"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(8))
    address: Mapped[str] = mapped_column(String(320), unique=True)  # lower case
    display_name: Mapped[str] = mapped_column(String(200), default="")
    rpps: Mapped[str | None] = mapped_column(String(20), default=None)
    # A local professional's profession and structure (the operator's `account add|describe`), shown to
    # patients beside the name (web/people.py); directory facts, never health data.
    profession: Mapped[str | None] = mapped_column(String(120), default=None)
    structure: Mapped[str | None] = mapped_column(String(200), default=None)
    ins: Mapped[str | None] = mapped_column(String(15), default=None, unique=True)
    status: Mapped[str] = mapped_column(String(12), default=AccountStatus.ACTIVE.value)
    password_hash: Mapped[str | None] = mapped_column(String(200), default=None)
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sealed_private_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class Folder(Base):
    __tablename__ = "folders"
    __table_args__ = (UniqueConstraint("account_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(400))
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    uidnext: Mapped[int] = mapped_column(BigInteger, default=1)
    highestmodseq: Mapped[int] = mapped_column(BigInteger, default=1)
    special_use: Mapped[str | None] = mapped_column(String(16), default=None)
    subscribed: Mapped[bool] = mapped_column(default=True)
    recent_uid: Mapped[int] = mapped_column(BigInteger, default=0)  # IMAP \Recent: highest UID already claimed


class Blob(Base):
    """One stored body per message, whatever the number of local readers."""

    __tablename__ = "blobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # random, bound into the AEAD
    body: Mapped[bytes] = mapped_column(LargeBinary)  # nonce || ciphertext || tag of the raw message
    summary: Mapped[bytes] = mapped_column(LargeBinary)  # encrypted JSON: subject, from, date, ids
    size: Mapped[int] = mapped_column(Integer)  # plaintext size, for RFC822.SIZE
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WrappedKey(Base):
    """A blob's content key sealed to one reader's public key."""

    __tablename__ = "wrapped_keys"

    blob_id: Mapped[str] = mapped_column(ForeignKey("blobs.id", ondelete="CASCADE"), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("folder_id", "uid"),
        Index("ix_messages_blob", "blob_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    folder_id: Mapped[int] = mapped_column(ForeignKey("folders.id", ondelete="CASCADE"))
    uid: Mapped[int] = mapped_column(BigInteger)
    modseq: Mapped[int] = mapped_column(BigInteger)
    flags: Mapped[str] = mapped_column(Text, default="")  # space-separated IMAP flags and keywords
    internal_date: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    size: Mapped[int] = mapped_column(Integer)
    blob_id: Mapped[str] = mapped_column(ForeignKey("blobs.id"))


class AuditEvent(Base):
    """A functional trace: who, when, what, outcome. Never content."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_subject_at", "subject_account_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(320))  # authenticated identity, or the peer
    actor_type: Mapped[str] = mapped_column(String(16), default="")
    action: Mapped[str] = mapped_column(String(40))
    subject_account_id: Mapped[int | None] = mapped_column(Integer, default=None)
    target: Mapped[str] = mapped_column(String(400), default="")  # ids, never content
    outcome: Mapped[str] = mapped_column(String(40), default="ok")


class OutboundItem(Base):
    """One remote recipient of one message, waiting for the relay."""

    __tablename__ = "outbound_queue"
    __table_args__ = (Index("ix_outbound_due", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    blob_id: Mapped[str] = mapped_column(ForeignKey("blobs.id"))
    mail_from: Mapped[str] = mapped_column(String(320))
    rcpt_to: Mapped[str] = mapped_column(String(320))
    dsn_notify: Mapped[str] = mapped_column(String(40), default="")
    dsn_ret: Mapped[str] = mapped_column(String(8), default="")
    dsn_envid: Mapped[str] = mapped_column(String(100), default="")
    dsn_orcpt: Mapped[str] = mapped_column(String(400), default="")
    state: Mapped[str] = mapped_column(String(12), default="queued")  # queued, sent, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_error: Mapped[str] = mapped_column(String(400), default="")
    # Relay (issue 3): a worker holds an item until lease_until; after a crash the lease lapses.
    lease_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    delay_notified: Mapped[bool] = mapped_column(default=False, server_default="0")


class LegalRepresentative(Base):
    """A legal representative (a patient account) who manages a dependant's space (docs/domain.md §9).

    Set by the operator (`patient representative add`); a minor's link ends at 18 (the daily job), a protected
    adult's when the operator removes it."""

    __tablename__ = "legal_representatives"
    __table_args__ = (Index("ix_legal_representatives_dependant", "dependant_id"),)

    representative_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    dependant_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # minor | protected_adult
    since: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class OpenPgpKey(Base):
    """An OpenPGP public key an APP mailbox registered: its PGP/MIME signatures are checked against it."""

    __tablename__ = "account_openpgp_keys"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(40), primary_key=True)  # upper-case hex
    armored: Mapped[str] = mapped_column(Text)
    added_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class GeneralPractitioner(Base):
    """The patient's declared general practitioner (médecin traitant): MASQUE_PS does not hide from them."""

    __tablename__ = "patient_general_practitioners"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    address: Mapped[str] = mapped_column(String(320))  # lower case
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
