"""The trace of every action: who, when, what, outcome — never content."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, delete, insert, select

from storage.models import Account, AuditEvent

# Actions, one name each (docs/domain.md §10).
DELIVER = "deliver"
SEND = "send"
ACCOUNT_CREATE = "account.create"
KEYS_ROTATE = "keys.rotate"
# Patient spaces and professionals' mailboxes (issue 5).
LOGIN = "login"
LOGOUT = "logout"
READ = "read"
DELETE = "delete"
DOCUMENT_INTEGRATE = "document.integrate"
DOSSIER_ACCESS = "dossier.access"
PATIENT_PROVISION = "patient.provision"
PATIENT_ACTIVATE = "patient.activate"
PATIENT_OBJECT = "patient.object"
PATIENT_CLOSE = "patient.close"
PATIENT_REOPEN = "patient.reopen"
PATIENT_DELETION_REQUEST = "patient.deletion_request"
PATIENT_DELETE = "patient.delete"
PATIENT_PURGE = "patient.purge"
PATIENT_EXPORT = "patient.export"
NOTIFY = "notify"
CONVERSATION_END = "conversation.end"
MAILBOX_INACTIVE_WARN = "mailbox.inactive_warn"
MAILBOX_SUSPEND = "mailbox.suspend"
AUDIT_PURGE = "audit.purge"
# However it is configured, traces are kept at least this long (docs/domain.md §10: 6 months).
MIN_RETENTION_DAYS = 183


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


_INSERT_EVENT = insert(AuditEvent)  # built once: the delivery hot path writes through it


def record_many(conn: Connection, events: list[dict]) -> None:
    if events:
        conn.execute(_INSERT_EVENT, events)


def purge_expired(conn: Connection, retention_days: int, now: dt.datetime | None = None) -> int:
    """Delete events older than the retention (never less than MIN_RETENTION_DAYS); returns how many."""
    now = now or dt.datetime.now(dt.timezone.utc)
    cutoff = now - dt.timedelta(days=max(retention_days, MIN_RETENTION_DAYS))
    return conn.execute(delete(AuditEvent).where(AuditEvent.at < cutoff)).rowcount


@dataclass(frozen=True)
class AccessEntry:
    """One line of the access history a patient sees (docs/domain.md §6, §10)."""

    at: dt.datetime
    actor_type: str  # PER, ORG, APP, CAB, PATIENT (the holder), SYSTEM, or the channel for a peer
    actor_name: str  # the actor's display name; their address only if no account is known
    action: str
    outcome: str
    actor: str = ""  # the raw actor (address, login tried or service name), for the pages to word
    channel: str = ""  # the actor type as traced: the door (web, imap, mx...) or PATIENT, SYSTEM


def access_history(conn: Connection, account_id: int, limit: int = 100,
                   before: dt.datetime | None = None) -> list[AccessEntry]:
    """The newest events about one space, with who did them; ids and content never shown."""
    query = (
        select(AuditEvent.at, AuditEvent.actor, AuditEvent.actor_type, AuditEvent.action, AuditEvent.outcome,
               Account.type, Account.display_name)
        .outerjoin(Account, Account.address == AuditEvent.actor)
        .where(AuditEvent.subject_account_id == account_id)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(limit)
    )
    if before is not None:
        query = query.where(AuditEvent.at < before)
    return [
        AccessEntry(r.at, r.type or r.actor_type, r.display_name or r.actor, r.action, r.outcome, r.actor,
                    r.actor_type)
        for r in conn.execute(query)
    ]
