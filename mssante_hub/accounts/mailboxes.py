"""Account administration: create mailboxes with their key pair and folders; passwords, suspension, deletion."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import Connection, func, select, update
from sqlalchemy.exc import IntegrityError as DuplicateError

from mssante_hub import audit
from mssante_hub.hub import Hub
from storage import accounts as account_repo
from storage import sessions
from storage.models import Account, AccountStatus, AccountType, Folder, Message

# Deliberately simple: a dot-atom local part and a domain of LDH labels.
_ADDRESS = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
                      r"@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9-]{2,63}$")
PROFESSIONAL_TYPES = ("PER", "ORG", "APP", "CAB")


class AccountError(Exception):
    """An account cannot be created as asked."""


def check_address(hub: Hub, address: str, type: str) -> str:
    address = address.strip().lower()
    if len(address) > 254 or not _ADDRESS.match(address):
        raise AccountError(f"{address!r} is not a valid mail address")
    domain = address.rpartition("@")[2]
    expected = hub.config.get("hub.patient_domain" if type == AccountType.PATIENT.value else "hub.domain").lower()
    if type != AccountType.SYSTEM.value and domain != expected:
        raise AccountError(f"a {type} mailbox must be in the domain {expected}, not {domain}")
    return address


def add_account(
    hub: Hub,
    *,
    type: str,
    address: str,
    display_name: str,
    password: str | None = None,
    rpps: str | None = None,
    ins: str | None = None,
    status: str = AccountStatus.ACTIVE.value,
    actor: str = "operator",
    profession: str | None = None,
    structure: str | None = None,
) -> int:
    """Create one account (blocking: command line and set-up)."""
    if type not in {t.value for t in AccountType}:
        raise AccountError(f"unknown mailbox type {type!r}; use one of PER, ORG, APP, CAB")
    address = check_address(hub, address, type)
    profession, structure = _detail(profession, account_repo.MAX_PROFESSION_CHARS), _detail(
        structure, account_repo.MAX_STRUCTURE_CHARS)
    key_id = account_repo.new_key_id()
    public, sealed = hub.keyring.new_key_pair(key_id)
    password_hash = hub.passwords.hash(password) if password else None

    def work(conn):
        account_id = account_repo.create_account(
            conn, type=type, address=address, display_name=display_name, key_id=key_id, public_key=public,
            sealed_private_key=sealed, password_hash=password_hash, rpps=rpps, ins=ins, status=status,
        )
        if profession or structure:
            account_repo.set_details(conn, address, profession, structure)
        audit.record(conn, actor=actor, action=audit.ACCOUNT_CREATE, subject_account_id=account_id,
                     target=f"account:{account_id} type:{type}")
        return account_id

    try:
        return hub.committer.run(work)
    except DuplicateError:
        raise AccountError(f"an account {address} already exists") from None


def _detail(value: str | None, limit: int) -> str | None:
    """A profession or structure as patients will read it: one printable line within `limit` characters."""
    if value is None:
        return None
    text = " ".join(value.split())
    if len(text) > limit or not all(c.isprintable() for c in text) or "@" in text:
        raise AccountError(f"a profession or structure is one line of at most {limit} characters, not an address")
    return text


def describe_professional(hub: Hub, address: str, profession: str | None, structure: str | None) -> None:
    """Set what patients read beside a local professional's name (None: keep; "": clear)."""
    profession, structure = _detail(profession, account_repo.MAX_PROFESSION_CHARS), _detail(
        structure, account_repo.MAX_STRUCTURE_CHARS)

    def work(conn: Connection) -> None:
        row = _target(conn, address, PROFESSIONAL_TYPES)
        account_repo.set_details(conn, address.strip().lower(), profession, structure)
        audit.record(conn, actor="operator", action=audit.ACCOUNT_DESCRIBE, subject_account_id=row.id,
                     target=f"account:{row.id}")

    hub.committer.run(work)


def add_system_account(hub: Hub) -> int:
    domain = hub.config.get("hub.domain")
    return add_account(hub, type=AccountType.SYSTEM.value, address=f"postmaster@{domain}",
                       display_name="mssante-hub", actor="init")


# --- The operator's commands on existing mailboxes ---------------------------------------

MIN_PASSWORD_CHARS = 12


@dataclass(frozen=True)
class MailboxInfo:
    """What `account list|show` print: never keys, hashes or content."""

    id: int
    type: str
    address: str
    display_name: str
    status: str
    rpps: str | None
    ins: str | None
    created_at: dt.datetime | None
    last_login_at: dt.datetime | None
    messages: int = 0
    web_sessions: int = 0


_INFO_COLUMNS = (Account.id, Account.type, Account.address, Account.display_name, Account.status, Account.rpps,
                 Account.ins, Account.created_at, Account.last_login_at)


def list_mailboxes(hub: Hub, types: tuple[str, ...], status: str | None = None) -> list[MailboxInfo]:
    def read(conn: Connection) -> list[MailboxInfo]:
        query = select(*_INFO_COLUMNS).where(Account.type.in_(types)).order_by(Account.address)
        if status:
            query = query.where(Account.status == status)
        return [MailboxInfo(*row) for row in conn.execute(query)]

    return hub.read_sync(read)


def show_mailbox(hub: Hub, address: str, types: tuple[str, ...]) -> MailboxInfo:
    from storage.sessions import WebSession

    def read(conn: Connection) -> MailboxInfo:
        row = conn.execute(select(*_INFO_COLUMNS).where(Account.address == address.strip().lower(),
                                                        Account.type.in_(types))).one_or_none()
        if row is None:
            raise AccountError(f"no {'/'.join(types)} mailbox {address.strip().lower()}")
        messages = conn.execute(select(func.count()).select_from(Message).join(Folder, Folder.id == Message.folder_id)
                                .where(Folder.account_id == row.id)).scalar_one()
        web = conn.execute(select(func.count()).select_from(WebSession)
                           .where(WebSession.account_id == row.id)).scalar_one()
        return MailboxInfo(*row, messages=messages, web_sessions=web)

    return hub.read_sync(read)


def _target(conn: Connection, address: str, types: tuple[str, ...]):
    row = conn.execute(select(Account.id, Account.status, Account.type)
                       .where(Account.address == address.strip().lower())).one_or_none()
    if row is None or row.type not in types:
        raise AccountError(f"no {'/'.join(types)} mailbox {address.strip().lower()}")
    return row


def set_password(hub: Hub, address: str, password: str, types: tuple[str, ...] = PROFESSIONAL_TYPES,
                 actor: str = "operator") -> int:
    """A new password; every webmail session of the mailbox ends. Returns how many ended.

    The IMAP login cache (imap.auth.VerifiedLogins) digests the stored hash with the
    password, so the new hash makes every cached acceptance of the old password useless
    in every hub process: the next login runs Argon2id against the new hash.
    """
    if len(password) < MIN_PASSWORD_CHARS:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_CHARS} characters")
    password_hash = hub.passwords.hash(password)  # outside the transaction: Argon2id is slow on purpose

    def work(conn: Connection) -> int:
        row = _target(conn, address, types)
        conn.execute(update(Account).where(Account.id == row.id).values(password_hash=password_hash))
        ended = sessions.end_all(conn, row.id)
        audit.record(conn, actor=actor, actor_type=audit.ActorType.OPERATOR, action=audit.ACCOUNT_PASSWORD,
                     subject_account_id=row.id, target=f"account:{row.id} sessions_ended:{ended}")
        return ended

    return hub.committer.run(work)


def set_suspended(hub: Hub, address: str, suspended: bool, actor: str = "operator") -> int:
    """Suspend (sessions end, logins and deliveries refused as for an inactive mailbox) or resume."""
    now = dt.datetime.now(dt.timezone.utc)

    def work(conn: Connection) -> int:
        row = _target(conn, address, PROFESSIONAL_TYPES)
        wanted, current = (AccountStatus.SUSPENDED.value, AccountStatus.ACTIVE.value) if suspended else \
            (AccountStatus.ACTIVE.value, AccountStatus.SUSPENDED.value)
        if row.status != current:
            raise AccountError(f"the mailbox is {row.status}, not {current}")
        values: dict = {"status": wanted}
        if not suspended:
            # A resumed mailbox starts its inactivity year again: otherwise the next daily job
            # would suspend at once a mailbox suspended for inactivity (accounts/inactivity.py).
            values["last_login_at"] = now
        conn.execute(update(Account).where(Account.id == row.id).values(**values))
        ended = sessions.end_all(conn, row.id) if suspended else 0
        audit.record(conn, actor=actor, actor_type=audit.ActorType.OPERATOR,
                     action=audit.MAILBOX_SUSPEND if suspended else audit.MAILBOX_RESUME,
                     subject_account_id=row.id, target=f"account:{row.id} sessions_ended:{ended}")
        return row.id

    return hub.committer.run(work)


def delete_mailbox(hub: Hub, address: str, actor: str = "operator") -> int:
    """Delete a professional mailbox for good: crypto-shredded as a patient space is.

    Its private key goes with its row, so every content key wrapped to it is unopenable
    (backups included, once they age out); bodies no other reader holds are deleted.
    """
    from mssante_hub.patients.lifecycle import delete_space_rows

    def work(conn: Connection) -> int:
        row = _target(conn, address, PROFESSIONAL_TYPES)
        delete_space_rows(conn, row.id)
        audit.record(conn, actor=actor, actor_type=audit.ActorType.OPERATOR, action=audit.ACCOUNT_DELETE,
                     subject_account_id=row.id, target=f"account:{row.id}")
        return row.id

    return hub.committer.run(work)
