"""Webmail sessions: a hash of each bearer token, never the token itself.

Kept in the database, not in process memory, so that any hub process behind a
load balancer answers any session, and a logout or a closure ends it everywhere.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, DateTime, ForeignKey, Index, LargeBinary, bindparam, delete, select, update
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Account, AccountStatus, Base, utcnow


class WebSession(Base):
    """One signed-in browser: the token's SHA-256, its account, when it lapses."""

    __tablename__ = "web_sessions"
    __table_args__ = (Index("ix_web_sessions_account", "account_id"),)

    token_hash: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True)
class SessionRow:
    account_id: int
    address: str
    type: str
    last_seen_at: dt.datetime
    expires_at: dt.datetime


def _aware(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value


def create(conn: Connection, token_hash: bytes, account_id: int, now: dt.datetime, expires_at: dt.datetime) -> None:
    conn.execute(WebSession.__table__.insert().values(
        token_hash=token_hash, account_id=account_id, created_at=now, last_seen_at=now, expires_at=expires_at))


# One indexed SELECT (the token's primary key, then the account's) checked on every request: built once, as
# building it cost more than SQLite's running it.
_ACTIVE = (select(WebSession.account_id, Account.address, Account.type, WebSession.last_seen_at,
                  WebSession.expires_at)
           .join(Account, Account.id == WebSession.account_id)
           .where(WebSession.token_hash == bindparam("token_hash"), Account.status == AccountStatus.ACTIVE.value))


def active(conn: Connection, token_hash: bytes) -> SessionRow | None:
    """The session and its account, if the account is still active (a closed space has no session)."""
    row = conn.execute(_ACTIVE, {"token_hash": token_hash}).first()
    if row is None:
        return None
    return SessionRow(row.account_id, row.address, row.type, _aware(row.last_seen_at), _aware(row.expires_at))


def touch(conn: Connection, token_hash: bytes, now: dt.datetime) -> None:
    conn.execute(update(WebSession).where(WebSession.token_hash == token_hash).values(last_seen_at=now))


def end(conn: Connection, token_hash: bytes) -> int:
    return conn.execute(delete(WebSession).where(WebSession.token_hash == token_hash)).rowcount


def end_all(conn: Connection, account_id: int) -> int:
    """Every session of one account: on closure, suspension or a new password."""
    return conn.execute(delete(WebSession).where(WebSession.account_id == account_id)).rowcount


def purge_lapsed(conn: Connection, now: dt.datetime) -> int:
    return conn.execute(delete(WebSession).where(WebSession.expires_at < now)).rowcount
