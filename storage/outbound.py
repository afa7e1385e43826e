"""The outbound queue: claim due items under a lease, then record the outcome.

Claiming is one short write transaction: on PostgreSQL `FOR UPDATE SKIP LOCKED`, on
SQLite the writer lock taken at BEGIN IMMEDIATE. Either way two workers, in one process
or several, never hold the same item; a worker that dies leaves a lease that lapses.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Engine, and_, func, or_, select, update

from storage.database import WRITER_OPTION
from storage.models import OutboundItem

QUEUED = "queued"
SENT = "sent"
FAILED = "failed"


@dataclass(frozen=True)
class Claimed:
    id: int
    blob_id: str
    mail_from: str
    rcpt_to: str
    dsn_notify: str
    dsn_ret: str
    dsn_envid: str
    dsn_orcpt: str
    attempts: int
    created_at: dt.datetime
    delay_notified: bool


def _aware(value: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes for timezone-aware columns; they were stored in UTC.
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def claim_due(engine: Engine, now: dt.datetime, lease_s: float, limit: int) -> list[Claimed]:
    """Take up to `limit` due items for this worker until now + lease_s."""
    due = and_(OutboundItem.state == QUEUED, OutboundItem.next_attempt_at <= now,
               or_(OutboundItem.lease_until.is_(None), OutboundItem.lease_until < now))
    query = select(OutboundItem).where(due).order_by(OutboundItem.next_attempt_at, OutboundItem.id).limit(limit)
    if engine.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    with engine.connect().execution_options(**{WRITER_OPTION: True}) as conn:
        with conn.begin():
            rows = conn.execute(query).all()
            if not rows:
                return []
            ids = [r.id for r in rows]
            conn.execute(update(OutboundItem).where(OutboundItem.id.in_(ids))
                         .values(lease_until=now + dt.timedelta(seconds=lease_s)))
    return [Claimed(r.id, r.blob_id, r.mail_from, r.rcpt_to, r.dsn_notify, r.dsn_ret, r.dsn_envid, r.dsn_orcpt,
                    r.attempts, _aware(r.created_at), r.delay_notified) for r in rows]


def _finish(engine: Engine, item_id: int, **values) -> None:
    with engine.connect().execution_options(**{WRITER_OPTION: True}) as conn:
        with conn.begin():
            conn.execute(update(OutboundItem).where(OutboundItem.id == item_id).values(lease_until=None, **values))


def mark_sent(engine: Engine, item: Claimed) -> None:
    _finish(engine, item.id, state=SENT, attempts=item.attempts + 1, last_error="")


def mark_failed(engine: Engine, item: Claimed, error: str) -> None:
    _finish(engine, item.id, state=FAILED, attempts=item.attempts + 1, last_error=error[:400])


def mark_retry(engine: Engine, item: Claimed, error: str, next_attempt: dt.datetime, delay_notified: bool) -> None:
    _finish(engine, item.id, attempts=item.attempts + 1, last_error=error[:400], next_attempt_at=next_attempt,
            delay_notified=delay_notified)


def next_due(engine: Engine) -> dt.datetime | None:
    """When the earliest queued item falls due (to sleep until then)."""
    with engine.connect() as conn:
        value = conn.execute(select(OutboundItem.next_attempt_at).where(OutboundItem.state == QUEUED)
                             .order_by(OutboundItem.next_attempt_at).limit(1)).scalar_one_or_none()
    return _aware(value) if value else None


def sealed_for(engine: Engine, blob_id: str, account_id: int) -> tuple[bytes, bytes] | None:
    """(encrypted body, content key wrapped for this account) of one blob."""
    from storage.models import Blob, WrappedKey

    with engine.connect() as conn:
        row = conn.execute(
            select(Blob.body, WrappedKey.wrapped)
            .join(WrappedKey, (WrappedKey.blob_id == Blob.id) & (WrappedKey.account_id == account_id))
            .where(Blob.id == blob_id)
        ).one_or_none()
    if row is None:
        return None
    from storage import blobstore

    return blobstore.of_engine(engine).body(blob_id, row.body), row.wrapped  # the row's, or the blob directory's


def queue_stats(conn) -> tuple[int, dt.datetime | None]:
    """How many items wait (queued) and when the oldest was queued: the operator's gauges."""
    depth, oldest = conn.execute(
        select(func.count(OutboundItem.id), func.min(OutboundItem.created_at)).where(OutboundItem.state == QUEUED)
    ).one()
    return int(depth or 0), _aware(oldest) if oldest is not None else None
