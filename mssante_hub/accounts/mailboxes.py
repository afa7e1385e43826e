"""Account administration: create mailboxes with their key pair and folders."""

from __future__ import annotations

import re

from sqlalchemy.exc import IntegrityError as DuplicateError

from mssante_hub import audit
from mssante_hub.hub import Hub
from storage import accounts as account_repo
from storage.models import AccountStatus, AccountType

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
) -> int:
    """Create one account (blocking: command line and set-up)."""
    if type not in {t.value for t in AccountType}:
        raise AccountError(f"unknown mailbox type {type!r}; use one of PER, ORG, APP, CAB")
    address = check_address(hub, address, type)
    key_id = account_repo.new_key_id()
    public, sealed = hub.keyring.new_key_pair(key_id)
    password_hash = hub.passwords.hash(password) if password else None

    def work(conn):
        account_id = account_repo.create_account(
            conn, type=type, address=address, display_name=display_name, key_id=key_id, public_key=public,
            sealed_private_key=sealed, password_hash=password_hash, rpps=rpps, ins=ins, status=status,
        )
        audit.record(conn, actor=actor, action=audit.ACCOUNT_CREATE, subject_account_id=account_id,
                     target=f"account:{account_id} type:{type}")
        return account_id

    try:
        return hub.committer.run(work)
    except DuplicateError:
        raise AccountError(f"an account {address} already exists") from None


def add_system_account(hub: Hub) -> int:
    domain = hub.config.get("hub.domain")
    return add_account(hub, type=AccountType.SYSTEM.value, address=f"postmaster@{domain}",
                       display_name="mssante-hub", actor="init")
