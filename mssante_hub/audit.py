"""The trace of every action: who, when, what, outcome — never content."""

from __future__ import annotations

import datetime as dt
import enum
import logging
from dataclasses import dataclass

from sqlalchemy import Connection, delete, insert, select

from storage.models import Account, AuditEvent



class ActorType(str, enum.Enum):
    """Who acted, as audit_events.actor_type stores it: an account's type (as accounts.type has it), the hub
    itself, the operator at the command line, or a peer not (yet) known as an account. The door an event came
    through is in its target (e.g. `imap from:IP`, `via:mx`), not here."""

    PATIENT = "PATIENT"
    PER = "PER"
    ORG = "ORG"
    APP = "APP"
    CAB = "CAB"
    SYSTEM = "SYSTEM"
    OPERATOR = "OPERATOR"
    PEER = "PEER"
    REPRESENTATIVE = "REPRESENTATIVE"  # a legal representative acting on a dependant's space (docs/domain.md §9)

    @classmethod
    def of_account(cls, account_type: str | None) -> "ActorType":
        """The actor type of an account of this type (PEER when unknown)."""
        try:
            return cls(account_type) if account_type else cls.PEER
        except ValueError:
            return cls.PEER


# Actions, one name each (docs/domain.md §10).
DELIVER = "deliver"
SEND = "send"
ACCOUNT_CREATE = "account.create"
ACCOUNT_PASSWORD = "account.password"
ACCOUNT_DELETE = "account.delete"
ACCOUNT_DESCRIBE = "account.describe"  # the operator set a professional's profession or structure
KEYS_ROTATE = "keys.rotate"
ACCOUNT_TOTP = "account.totp"  # the webmail's second factor set up, enabled or removed (web/totp_api.py)
ACCOUNT_KEY = "account.key"  # an APP mailbox's OpenPGP public key registered or removed (dossier/signatures.py)
# Patient spaces and professionals' mailboxes (issue 5).
LOGIN = "login"
LOGOUT = "logout"
READ = "read"
DELETE = "delete"
DOCUMENT_INTEGRATE = "document.integrate"
DOSSIER_ACCESS = "dossier.access"
DOSSIER_QUARANTINE_PURGE = "dossier.quarantine_purge"
DOSSIER_MASK = "dossier.mask"  # the patient hides a document from professionals, or shows it
DOSSIER_BLOCK = "dossier.block"  # the patient blocks a professional, or unblocks
AGENDA_FILE = "agenda.file"  # an appointment filed in (or refused from) a patient's agenda
AGENDA_ACCESS = "agenda.access"  # the agenda listed, an item read, the ICS feed fetched
AGENDA_CHANGE = "agenda.change"  # the patient's own item, answer, prevention status, feed token
DOSSIER_GP = "dossier.gp"  # the patient declares their general practitioner (médecin traitant), or clears it
DOSSIER_EMERGENCY = "dossier.emergency"  # a professional's emergency access ("bris de glace")
PROFILE_READ = "profile.read"  # the holder reads their profil médical (entries, one entry, the Bundle)
PROFILE_CHANGE = "profile.change"  # an entry added, replaced or deleted (outcome says which)
CATALOGUE_LOAD = "catalogue.load"  # the operator loads the catalogue of services
CATALOGUE_READ = "catalogue.read"  # the patient lists the catalogue with their consents
CATALOGUE_CONSENT = "catalogue.consent"  # the patient connects a service, changes its scopes, re-approves, revokes
CATALOGUE_REAPPROVAL = "catalogue.reapproval"  # a new version of a connected service: approve again by a date
CATALOGUE_LAPSE = "catalogue.lapse"  # a consent lapsed (limit date passed, service dereferenced or suspended)
CATALOGUE_PUSH = "catalogue.push"  # a connected service's message to the patient, accepted or refused
PATIENT_PROVISION = "patient.provision"
PATIENT_ACTIVATE = "patient.activate"
PATIENT_CREATE = "patient.create"  # a space past its objection window, created by the daily job
PATIENT_OBJECT = "patient.object"
PATIENT_CLOSE = "patient.close"
PATIENT_REOPEN = "patient.reopen"
PATIENT_DELETION_REQUEST = "patient.deletion_request"
PATIENT_DELETE = "patient.delete"
PATIENT_PURGE = "patient.purge"
REPRESENTATIVE_ADD = "representative.add"  # the operator links a legal representative to a dependant's space
REPRESENTATIVE_REMOVE = "representative.remove"  # the operator's undo, or the daily job at the dependant's 18th
PATIENT_EXPORT = "patient.export"
NOTIFY = "notify"
CONVERSATION_END = "conversation.end"
MAILBOX_INACTIVE_WARN = "mailbox.inactive_warn"
MAILBOX_SUSPEND = "mailbox.suspend"
MAILBOX_RESUME = "mailbox.resume"
AUDIT_PURGE = "audit.purge"
JOB_DAILY = "job.daily"  # the daily job ran to its end for one UTC day (target `day:YYYY-MM-DD`)
# Traced actions the activity log shows at INFO (the others at DEBUG): sign-ins, the operator's changes.
# The front doors' own names (smtp/auth.py, imap/auth.py) are repeated here, not imported: audit imports no door.
LOGGED_AT_INFO = frozenset({LOGIN, LOGOUT, "auth.success", "auth.failure", "imap.login", "imap.login_failed",
                            ACCOUNT_CREATE, ACCOUNT_PASSWORD, ACCOUNT_DELETE, KEYS_ROTATE, MAILBOX_SUSPEND,
                            MAILBOX_RESUME, PATIENT_CLOSE, PATIENT_REOPEN, PATIENT_DELETE, PATIENT_PURGE,
                            REPRESENTATIVE_ADD, REPRESENTATIVE_REMOVE, ACCOUNT_KEY, ACCOUNT_TOTP})
log = logging.getLogger("mssante_hub.audit")
# However it is configured, traces are kept at least this long (docs/domain.md §10: 6 months).
MIN_RETENTION_DAYS = 183


def record(
    conn: Connection,
    *,
    actor: str,
    action: str,
    actor_type: ActorType | str = "",
    subject_account_id: int | None = None,
    target: str = "",
    outcome: str = "ok",
) -> None:
    """Write one event inside the caller's transaction; logged too (sign-ins and refusals at INFO).

    The line names the action, outcome, account id and target, which are content-free by
    design; not the actor, which for a refused sign-in is whatever was typed as a login.
    An empty actor type means the actor's account says (the access history looks it up).
    """
    level = logging.INFO if outcome != "ok" or action in LOGGED_AT_INFO else logging.DEBUG
    if log.isEnabledFor(level):
        log.log(level, "%s %s account:%s %s", action, outcome,
                subject_account_id if subject_account_id is not None else "-", target)
    actor_type = actor_type.value if isinstance(actor_type, ActorType) else actor_type
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
    actor_type: str  # an ActorType value: the actor's account type when it has one
    actor_name: str  # the actor's display name; their address only if no account is known
    action: str
    outcome: str
    actor: str = ""  # the raw actor (address, login tried or service name), for the pages to word
    door: str = ""  # the door the event came through, read from its target (web, imap, submission, mx...)


def access_history(conn: Connection, account_id: int, limit: int = 100,
                   before: dt.datetime | None = None, after: dt.datetime | None = None,
                   where: tuple = ()) -> list[AccessEntry]:
    """The newest events about one space, with who did them; ids and content never shown. `where`: further
    conditions on AuditEvent and Account (web/history_filters.py)."""
    query = (
        select(AuditEvent.at, AuditEvent.actor, AuditEvent.actor_type, AuditEvent.action, AuditEvent.outcome,
               AuditEvent.target, Account.type, Account.display_name)
        .outerjoin(Account, Account.address == AuditEvent.actor)
        .where(AuditEvent.subject_account_id == account_id)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(limit)
    )
    if before is not None:
        query = query.where(AuditEvent.at < before)
    if after is not None:
        query = query.where(AuditEvent.at >= after)
    for condition in where:
        query = query.where(condition)
    return [
        AccessEntry(r.at, r.actor_type if r.actor_type == ActorType.REPRESENTATIVE.value else r.type or r.actor_type,
                    r.display_name or r.actor, r.action, r.outcome, r.actor,
                    door_of(r.target))
        for r in conn.execute(query)
    ]


_DOORS = ("web", "imap", "submission", "mx", "internal", "filing")


def door_of(target: str) -> str:
    """The door named in a target (`imap from:IP`, `web ip:IP`, `... via:mx`), or ""."""
    words = (target or "").split()
    for word in words:
        if word.startswith("via:"):
            return word[4:]
    return words[0] if words and words[0] in _DOORS else ""
