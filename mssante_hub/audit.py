"""The trace of every action: who, when, what, outcome — never content."""

from __future__ import annotations

from sqlalchemy import Connection, insert

from storage.models import AuditEvent

# Actions, one name each (DOMAIN.md §10).
DELIVER = "deliver"
SEND = "send"
ACCOUNT_CREATE = "account.create"
KEYS_ROTATE = "keys.rotate"


def record(
    conn: Connection,
    *,
    actor: str,
    action: str,
    actor_type: str = "",
    subject_account_id: int | None = None,
    target: str = "",
    outcome: str = "ok",
) -> None:
    """Write one event inside the caller's transaction."""
    conn.execute(
        insert(AuditEvent).values(
            actor=actor, actor_type=actor_type, action=action, subject_account_id=subject_account_id,
            target=target, outcome=outcome,
        )
    )


def record_many(conn: Connection, events: list[dict]) -> None:
    if events:
        conn.execute(insert(AuditEvent), events)
