"""Failed logins, one row per counted key and failure, shared by every process of the hub (and every hub on one
PostgreSQL database): `serve --workers N` counts a guesser's failures once, whichever worker met them.

A row holds no login and no address: only a 16-byte digest of what is counted (door, kind, key) and the time the
failure stops counting. Only failures write; a check is one indexed SELECT; rows past their time are deleted by
the writers (`purge`, through the expiry index), so the table holds at most the failures of one window.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Connection, Float, Index, Integer, LargeBinary, delete, func, insert, select
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base

KEY_DIGEST_BYTES = 16  # a fixed-width index key whatever the login's length


class LoginFailure(Base):
    """One failure of one counted key (a pair, a client address, a login), counted until `expires_at`."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_key", "key_digest", "expires_at"),  # the check: counts of a few keys
        Index("ix_login_failures_expiry", "expires_at"),  # the purge
    )

    # BIGINT on PostgreSQL (the sequence outlives the rows: 2**31 failures would not be that many years);
    # SQLite's INTEGER PRIMARY KEY is 64-bit already and must stay INTEGER to be the rowid.
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    key_digest: Mapped[bytes] = mapped_column(LargeBinary(KEY_DIGEST_BYTES))
    # Seconds since the epoch (wall clock: every process and host compares the same times), a float on both
    # backends so that a window is plain arithmetic.
    expires_at: Mapped[float] = mapped_column(Float)


def record(conn: Connection, digests: list[bytes], expires_at: float) -> None:
    """One failure of each key, counted until `expires_at`."""
    conn.execute(insert(LoginFailure), [{"key_digest": d, "expires_at": expires_at} for d in digests])


def counts(conn: Connection, digests: list[bytes], now: float) -> dict[bytes, int]:
    """The failures of these keys still counting at `now` (keys with none are absent): one indexed SELECT."""
    rows = conn.execute(
        select(LoginFailure.key_digest, func.count())
        .where(LoginFailure.key_digest.in_(digests), LoginFailure.expires_at > now)
        .group_by(LoginFailure.key_digest))
    return {bytes(digest): n for digest, n in rows}


def purge(conn: Connection, now: float) -> int:
    """Delete the failures that no longer count."""
    return conn.execute(delete(LoginFailure).where(LoginFailure.expires_at <= now)).rowcount
