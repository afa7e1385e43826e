"""Life cycle of a patient space (docs/domain.md §9): objection, activation, closure,
archive, reopening, deletion on request, purge.

Code checks are throttled per space: every wrong or reused code is counted in the
same transaction that refuses it, and past `patients.code_max_failures` further
tries are locked out for a time that doubles with each failure.
"""

from __future__ import annotations

import datetime as dt
import hmac
from dataclasses import dataclass

from nacl.public import PrivateKey
from sqlalchemy import Connection, delete, select, update

from crypto import aead
from mssante_hub import audit
from mssante_hub.accounts import identity
from mssante_hub.hub import Hub
from mssante_hub.patients import derived_keys
from mssante_hub.patients.provision import normalise_code
from storage.folders import create_default_folders
from storage import blobstore
from storage.models import Account, AccountStatus, AccountType, Blob, Folder, Message, OutboundItem, WrappedKey
from storage import sessions
from storage.patients import ActivationCode, PatientArchive, PatientProfile

MIN_PASSWORD_CHARS = 12


class LifecycleError(Exception):
    """A life-cycle step is refused; the text is French then English, fit to show the person."""


class CodeRefused(LifecycleError):
    pass


class Throttled(LifecycleError):
    pass


CODE_REFUSED = "Code invalide, déjà utilisé ou expiré / Invalid, used or expired code"
TOO_MANY_TRIES = "Trop d'essais, réessayez plus tard / Too many tries, try again later"
OBJECTION_CLOSED = ("Le délai d'opposition est passé ; vous pouvez fermer votre espace / "
                    "The objection period is over; you may close your space instead")


def _now(now: dt.datetime | None) -> dt.datetime:
    return now or dt.datetime.now(dt.timezone.utc)


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    # SQLite hands back naive datetimes; every time we store is UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value


@dataclass(frozen=True)
class _CodeCheck:
    ok: bool
    throttled: bool = False
    account_id: int | None = None
    objection_until: dt.datetime | None = None


def _check_code(conn: Connection, hub: Hub, ins: str, code: str, now: dt.datetime) -> _CodeCheck:
    """Verify and count one try; the caller's transaction keeps the count even on refusal."""
    row = conn.execute(
        select(ActivationCode.account_id, ActivationCode.code_hash, ActivationCode.used_at, ActivationCode.failures,
               ActivationCode.locked_until, PatientProfile.objection_until)
        .join(Account, Account.id == ActivationCode.account_id)
        .join(PatientProfile, PatientProfile.account_id == ActivationCode.account_id)
        .where(Account.ins == ins)
    ).one_or_none()
    if row is None:
        return _CodeCheck(False)
    locked_until = _aware(row.locked_until)
    if locked_until is not None and now < locked_until:
        return _CodeCheck(False, throttled=True)
    given = derived_keys.code_hash(hub, ins, normalise_code(code))
    if row.used_at is None and hmac.compare_digest(given, row.code_hash):
        conn.execute(update(ActivationCode).where(ActivationCode.account_id == row.account_id)
                     .values(failures=0, locked_until=None))
        return _CodeCheck(True, account_id=row.account_id, objection_until=_aware(row.objection_until))
    failures = row.failures + 1
    limit = hub.config.get("patients.code_max_failures")
    lock = None
    if failures >= limit:
        minutes = hub.config.get("patients.code_lockout_minutes") * 2 ** min(failures - limit, 10)
        lock = now + dt.timedelta(minutes=minutes)
    conn.execute(update(ActivationCode).where(ActivationCode.account_id == row.account_id)
                 .values(failures=failures, locked_until=lock))
    audit.record(conn, actor=f"ins-holder:{row.account_id}", actor_type=audit.ActorType.PATIENT, action="code.refused",
                 subject_account_id=row.account_id, target=f"account:{row.account_id}", outcome="refused")
    return _CodeCheck(False)


def _run_with_code(hub: Hub, ins: str, code: str, now: dt.datetime, then) -> int:
    """Check the code and, if right, run `then(conn, check)` in the same transaction."""
    ins = identity.validate_ins(ins)

    def work(conn: Connection):
        check = _check_code(conn, hub, ins, code, now)
        if not check.ok:
            return check
        then(conn, check)
        return check

    check = hub.committer.run(work)
    if check.throttled:
        raise Throttled(TOO_MANY_TRIES)
    if not check.ok:
        raise CodeRefused(CODE_REFUSED)
    return check.account_id


def activate(hub: Hub, ins: str, code: str, new_password: str, now: dt.datetime | None = None) -> int:
    """INS + one-time code + a new password: the space becomes active. Works once."""
    now = _now(now)
    if len(new_password) < MIN_PASSWORD_CHARS:
        raise LifecycleError(f"Le mot de passe doit avoir au moins {MIN_PASSWORD_CHARS} caractères / "
                             f"The password must have at least {MIN_PASSWORD_CHARS} characters")
    password_hash = hub.passwords.hash(new_password)  # before the transaction: Argon2 is slow on purpose

    def then(conn: Connection, check: _CodeCheck) -> None:
        conn.execute(update(ActivationCode).where(ActivationCode.account_id == check.account_id).values(used_at=now))
        # A space past its objection window is already active (created by the daily job, fed since):
        # activation then only gives the holder a password (docs/domain.md §9).
        conn.execute(update(Account)
                     .where(Account.id == check.account_id,
                            Account.status.in_((AccountStatus.PENDING.value, AccountStatus.ACTIVE.value)))
                     .values(password_hash=password_hash, status=AccountStatus.ACTIVE.value))
        conn.execute(update(PatientProfile).where(PatientProfile.account_id == check.account_id)
                     .values(activated_at=now))
        if conn.execute(select(Folder.id).where(Folder.account_id == check.account_id).limit(1)).first() is None:
            create_default_folders(conn, check.account_id)  # provisioning leaves pending spaces without folders
        audit.record(conn, actor=f"ins-holder:{check.account_id}", actor_type=audit.ActorType.PATIENT,
                     action=audit.PATIENT_ACTIVATE, subject_account_id=check.account_id,
                     target=f"account:{check.account_id}")

    return _run_with_code(hub, ins, code, now, then)


def create_spaces_past_objection(hub: Hub, now: dt.datetime | None = None) -> int:
    """The opt-out as the law has it (docs/domain.md §9): a pending space whose objection window has passed
    without objection is created now, active without a password, and receives documents and messages from
    then on; activation later only gives the holder a password. Returns how many were created."""
    now = _now(now)

    def work(conn: Connection) -> int:
        due = conn.execute(
            select(Account.id).join(PatientProfile, PatientProfile.account_id == Account.id)
            .where(Account.type == AccountType.PATIENT.value, Account.status == AccountStatus.PENDING.value,
                   PatientProfile.objection_until < now, PatientProfile.deletion_due_at.is_(None))
            .order_by(Account.id)
        ).scalars().all()
        for account_id in due:
            conn.execute(update(Account).where(Account.id == account_id, Account.password_hash.is_(None))
                         .values(status=AccountStatus.ACTIVE.value))
            if conn.execute(select(Folder.id).where(Folder.account_id == account_id).limit(1)).first() is None:
                create_default_folders(conn, account_id)
            audit.record(conn, actor="daily-job", action=audit.PATIENT_CREATE, subject_account_id=account_id,
                         target=f"account:{account_id}")
        return len(due)

    return hub.committer.run(work)


class _ObjectionTooLate(Exception):
    pass


def object_to_space(hub: Hub, ins: str, code: str, now: dt.datetime | None = None) -> int:
    """Opt out within the objection window: the space and everything in it is deleted at once."""
    now = _now(now)

    def then(conn: Connection, check: _CodeCheck) -> None:
        if now > check.objection_until:
            raise _ObjectionTooLate()
        delete_space_rows(conn, check.account_id)
        audit.record(conn, actor=f"ins-holder:{check.account_id}", actor_type=audit.ActorType.PATIENT, action=audit.PATIENT_OBJECT,
                     subject_account_id=check.account_id, target=f"account:{check.account_id}")

    try:
        return _run_with_code(hub, ins, code, now, then)
    except _ObjectionTooLate:
        raise LifecycleError(OBJECTION_CLOSED) from None


def delete_space_rows(conn: Connection, account_id: int) -> None:
    """Delete a space: its messages, the bodies only it could read, its keys and rows."""
    blob_ids = conn.execute(
        select(Message.blob_id).join(Folder, Folder.id == Message.folder_id).where(Folder.account_id == account_id)
    ).scalars().all()
    conn.execute(delete(Account).where(Account.id == account_id))  # cascades: folders, messages, keys, profile
    if blob_ids:
        held = set(conn.execute(select(WrappedKey.blob_id).where(WrappedKey.blob_id.in_(blob_ids))).scalars())
        held |= set(conn.execute(select(Message.blob_id).where(Message.blob_id.in_(blob_ids))).scalars())
        held |= set(conn.execute(select(OutboundItem.blob_id).where(OutboundItem.blob_id.in_(blob_ids))).scalars())
        orphans = [b for b in set(blob_ids) if b not in held]
        if orphans:
            conn.execute(delete(Blob).where(Blob.id.in_(orphans)))
            blobstore.of(conn).forget(orphans)


# --- Closure, archive, reopening, purge --------------------------------------------

def _archive_aad(account_id: int) -> bytes:
    return b"mssante-hub/archive/" + str(account_id).encode()


def _patient(conn: Connection, ins: str):
    return conn.execute(
        select(Account.id, Account.status, Account.key_id, Account.public_key, Account.sealed_private_key)
        .where(Account.ins == ins, Account.type == AccountType.PATIENT.value)
    ).one_or_none()


def close_space(hub: Hub, ins: str, actor: str, now: dt.datetime | None = None) -> int:
    """Closure by the holder: the private key moves under a fresh archive key for the retention.

    The account keeps a stand-in key pair sealed under the master key (so key
    rotation still walks every row), which opens nothing: every session that
    re-reads the account loses access at once, and its webmail sessions end.
    """
    now = _now(now)
    ins = identity.validate_ins(ins)
    keyring = hub.keyring
    wrapping = derived_keys.archive_wrapping_key(hub)
    retention = dt.timedelta(days=hub.config.get("patients.archive_retention_days"))

    def work(conn: Connection) -> int:
        row = _patient(conn, ins)
        if row is None or row.status == AccountStatus.CLOSED.value:
            raise LifecycleError("Aucun espace ouvert pour cet INS / No open space for this INS")
        private = keyring.open(row.key_id, row.sealed_private_key)
        archive_key = aead.new_key()
        aad = _archive_aad(row.id)
        conn.execute(delete(PatientArchive).where(PatientArchive.account_id == row.id))
        conn.execute(PatientArchive.__table__.insert().values(
            account_id=row.id, sealed_archive_key=aead.seal(wrapping, archive_key, aad),
            sealed_private_key=aead.seal(archive_key, private, aad), public_key=row.public_key, closed_at=now,
            purge_after=now + retention,
        ))
        stand_in = PrivateKey.generate()
        conn.execute(update(Account).where(Account.id == row.id).values(
            status=AccountStatus.CLOSED.value, public_key=bytes(stand_in.public_key),
            sealed_private_key=keyring.seal(row.key_id, bytes(stand_in)), password_hash=None,
        ))
        sessions.end_all(conn, row.id)  # signed-in browsers lose the space now, and stay out if it reopens
        audit.record(conn, actor=actor, action=audit.PATIENT_CLOSE, subject_account_id=row.id,
                     target=f"account:{row.id}")
        return row.id

    return hub.committer.run(work)


def reopen_space(hub: Hub, ins: str, actor: str, new_password: str | None = None) -> int:
    """Restore a closed space from its archive: its own key again, under the master key."""
    ins = identity.validate_ins(ins)
    keyring = hub.keyring
    wrapping = derived_keys.archive_wrapping_key(hub)
    password_hash = hub.passwords.hash(new_password) if new_password else None

    def work(conn: Connection) -> int:
        row = _patient(conn, ins)
        archive = conn.execute(select(PatientArchive).where(PatientArchive.account_id == row.id)).one_or_none() \
            if row is not None else None
        if archive is None:
            raise LifecycleError("Aucune archive pour cet INS / No archive for this INS")
        aad = _archive_aad(row.id)
        archive_key = aead.open_(wrapping, archive.sealed_archive_key, aad)
        private = aead.open_(archive_key, archive.sealed_private_key, aad)
        conn.execute(update(Account).where(Account.id == row.id).values(
            status=AccountStatus.ACTIVE.value, public_key=archive.public_key,
            sealed_private_key=keyring.seal(row.key_id, private), password_hash=password_hash,
        ))
        conn.execute(delete(PatientArchive).where(PatientArchive.account_id == row.id))
        audit.record(conn, actor=actor, action=audit.PATIENT_REOPEN, subject_account_id=row.id,
                     target=f"account:{row.id}")
        return row.id

    return hub.committer.run(work)


def request_deletion(hub: Hub, ins: str, actor: str, now: dt.datetime | None = None) -> dt.datetime:
    """The holder asks for deletion: the daily job executes it by the returned date (within 3 months)."""
    now = _now(now)
    ins = identity.validate_ins(ins)
    due = now + dt.timedelta(days=min(hub.config.get("patients.deletion_delay_days"), 90))

    def work(conn: Connection) -> None:
        row = _patient(conn, ins)
        if row is None:
            raise LifecycleError("Aucun espace pour cet INS / No space for this INS")
        conn.execute(update(PatientProfile).where(PatientProfile.account_id == row.id).values(deletion_due_at=due))
        audit.record(conn, actor=actor, action=audit.PATIENT_DELETION_REQUEST, subject_account_id=row.id,
                     target=f"account:{row.id}")

    hub.committer.run(work)
    return due


def run_due_deletions(hub: Hub, now: dt.datetime | None = None) -> dict[str, int]:
    """Daily job: execute deletion requests that are due and purge archives past retention.

    Purging deletes the archive key and the account's keys: every content key wrapped
    to the space becomes unopenable (crypto-shredding, which also reaches backups
    once they age out), then the rows go.
    """
    now = _now(now)

    def work(conn: Connection) -> dict[str, int]:
        due = conn.execute(select(PatientProfile.account_id).where(PatientProfile.deletion_due_at <= now)).scalars()
        expired = conn.execute(select(PatientArchive.account_id).where(PatientArchive.purge_after <= now)).scalars()
        deleted, purged = list(due), [a for a in expired]
        for account_id in deleted:
            delete_space_rows(conn, account_id)
            audit.record(conn, actor="daily-job", action=audit.PATIENT_DELETE, subject_account_id=account_id,
                         target=f"account:{account_id}")
        for account_id in purged:
            if account_id in deleted:
                continue
            delete_space_rows(conn, account_id)
            audit.record(conn, actor="daily-job", action=audit.PATIENT_PURGE, subject_account_id=account_id,
                         target=f"account:{account_id}")
        return {"deleted": len(deleted), "purged": len([a for a in purged if a not in deleted])}

    return hub.committer.run(work)
