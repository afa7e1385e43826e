"""The webmail's second factor (TOTP, RFC 6238): each account's sealed secret and its recovery codes' hashes.

The secret is sealed (web/totp.py) before it reaches this module; a recovery code is kept as a keyed hash only.
A code is spent by one conditional UPDATE, so two requests racing with the same code cannot both succeed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import (BigInteger, Connection, DateTime, ForeignKey, Index, Integer, LargeBinary, delete, func,
                        select, update)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base


class WebTotp(Base):
    """One account's TOTP secret (sealed); `enabled_at` is null until the holder confirmed a first code."""

    __tablename__ = "web_totp"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    sealed_secret: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    enabled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # The time step of the last code accepted: a code is good once (no replay within its window).
    last_step: Mapped[int] = mapped_column(BigInteger, default=0)


class WebRecoveryCode(Base):
    """One recovery code of an account, as a keyed hash; `used_at` once spent."""

    __tablename__ = "web_recovery_codes"
    __table_args__ = (Index("ix_web_recovery_codes_account", "account_id", "code_hash", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    code_hash: Mapped[bytes] = mapped_column(LargeBinary)
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


@dataclass(frozen=True)
class TotpRow:
    sealed_secret: bytes
    enabled: bool
    last_step: int


def of(conn: Connection, account_id: int) -> TotpRow | None:
    row = conn.execute(select(WebTotp.sealed_secret, WebTotp.enabled_at, WebTotp.last_step)
                       .where(WebTotp.account_id == account_id)).first()
    return TotpRow(row.sealed_secret, row.enabled_at is not None, row.last_step) if row else None


def set_pending(conn: Connection, account_id: int, sealed_secret: bytes, now: dt.datetime) -> None:
    """A new secret waiting for its first code (replaces a pending one; never an enabled one: checked by caller)."""
    conn.execute(delete(WebTotp).where(WebTotp.account_id == account_id))
    conn.execute(WebTotp.__table__.insert().values(account_id=account_id, sealed_secret=sealed_secret,
                                                   created_at=now, enabled_at=None, last_step=0))


def enable(conn: Connection, account_id: int, step: int, code_hashes: list[bytes], now: dt.datetime) -> bool:
    """Enable a pending secret with its first accepted step and a fresh set of recovery codes."""
    done = conn.execute(update(WebTotp).where(WebTotp.account_id == account_id, WebTotp.enabled_at.is_(None))
                        .values(enabled_at=now, last_step=step)).rowcount == 1
    if done:
        conn.execute(delete(WebRecoveryCode).where(WebRecoveryCode.account_id == account_id))
        conn.execute(WebRecoveryCode.__table__.insert(),
                     [{"account_id": account_id, "code_hash": h, "used_at": None} for h in code_hashes])
    return done


def spend_step(conn: Connection, account_id: int, step: int) -> bool:
    """Accept a code of this time step once: False if this step (or a later one) was accepted already."""
    return conn.execute(update(WebTotp).where(WebTotp.account_id == account_id, WebTotp.last_step < step)
                        .values(last_step=step)).rowcount == 1


def spend_recovery(conn: Connection, account_id: int, code_hash: bytes, now: dt.datetime) -> bool:
    return conn.execute(update(WebRecoveryCode).where(
        WebRecoveryCode.account_id == account_id, WebRecoveryCode.code_hash == code_hash,
        WebRecoveryCode.used_at.is_(None)).values(used_at=now)).rowcount == 1


def recovery_left(conn: Connection, account_id: int) -> int:
    return conn.execute(select(func.count()).select_from(WebRecoveryCode).where(
        WebRecoveryCode.account_id == account_id, WebRecoveryCode.used_at.is_(None))).scalar_one()


def remove(conn: Connection, account_id: int) -> None:
    conn.execute(delete(WebRecoveryCode).where(WebRecoveryCode.account_id == account_id))
    conn.execute(delete(WebTotp).where(WebTotp.account_id == account_id))
