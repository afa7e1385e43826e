"""Account repository."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, func, insert, select, update

from storage.folders import create_default_folders
from storage.models import Account, AccountStatus, AccountType


@dataclass(frozen=True)
class AccountRow:
    id: int
    type: str
    address: str
    display_name: str
    status: str
    key_id: str
    public_key: bytes
    sealed_private_key: bytes
    password_hash: str | None


_COLUMNS = (
    Account.id, Account.type, Account.address, Account.display_name, Account.status, Account.key_id,
    Account.public_key, Account.sealed_private_key, Account.password_hash,
)


_BY_ADDRESSES = select(*_COLUMNS).where(Account.address.in_(bindparam("addresses", expanding=True)))


def new_key_id() -> str:
    return secrets.token_hex(16)


def create_account(
    conn: Connection,
    *,
    type: str,
    address: str,
    display_name: str,
    key_id: str,
    public_key: bytes,
    sealed_private_key: bytes,
    password_hash: str | None = None,
    rpps: str | None = None,
    ins: str | None = None,
    status: str = AccountStatus.ACTIVE.value,
) -> int:
    """Insert an account and its default folders; returns its id."""
    result = conn.execute(
        insert(Account).values(
            type=type, address=address.lower(), display_name=display_name, key_id=key_id, public_key=public_key,
            sealed_private_key=sealed_private_key, password_hash=password_hash, rpps=rpps, ins=ins, status=status,
        )
    )
    account_id = result.inserted_primary_key[0]
    create_default_folders(conn, account_id)
    return account_id


# Built once: every webmail request asks for its reader's account, and building the select cost more than running it.
_BY_ADDRESS = select(*_COLUMNS).where(Account.address == bindparam("address"))


def by_address(conn: Connection, address: str) -> AccountRow | None:
    row = conn.execute(_BY_ADDRESS, {"address": address.lower()}).one_or_none()
    return AccountRow(*row) if row else None


def by_addresses(conn: Connection, addresses: list[str]) -> dict[str, AccountRow]:
    rows = conn.execute(_BY_ADDRESSES, {"addresses": sorted({a.lower() for a in addresses})}).all()
    return {r.address: AccountRow(*r) for r in rows}


MAX_PROFESSION_CHARS = 120
MAX_STRUCTURE_CHARS = 200


@dataclass(frozen=True)
class Details:
    """What the hub knows of a local professional beyond the name ("" when not known)."""

    profession: str
    structure: str


_DETAILS = select(Account.address, Account.profession, Account.structure).where(
    Account.address.in_(bindparam("addresses", expanding=True)),
    (Account.profession.is_not(None)) | (Account.structure.is_not(None)))


def details_of(conn: Connection, addresses: list[str]) -> dict[str, Details]:
    """Profession and structure of those of `addresses` that have any."""
    if not addresses:
        return {}
    rows = conn.execute(_DETAILS, {"addresses": sorted({a.lower() for a in addresses})}).all()
    return {r.address: Details(r.profession or "", r.structure or "") for r in rows}


def set_details(conn: Connection, address: str, profession: str | None, structure: str | None) -> bool:
    """Set (None: keep; "": clear) a professional's profession and structure; False if no such account."""
    values = {}
    if profession is not None:
        values["profession"] = profession or None
    if structure is not None:
        values["structure"] = structure or None
    if not values:
        return by_address(conn, address) is not None
    return conn.execute(update(Account).where(Account.address == address.lower()).values(**values)).rowcount == 1


def patient_ids(conn: Connection) -> list[int]:
    """Every patient space's account id, in order (the back-fill commands walk them one by one)."""
    return list(conn.execute(select(Account.id).where(Account.type == AccountType.PATIENT.value)
                             .order_by(Account.id)).scalars())


def by_id(conn: Connection, account_id: int) -> AccountRow | None:
    row = conn.execute(select(*_COLUMNS).where(Account.id == account_id)).one_or_none()
    return AccountRow(*row) if row else None


_CREDENTIALS = select(Account.status, Account.password_hash).where(Account.id == bindparam("account_id"))


def credentials(conn: Connection, account_id: int) -> tuple[str, str | None] | None:
    """The status and stored password hash of an account (None once deleted): what a session that
    logged in re-checks, one primary-key read of two columns."""
    row = conn.execute(_CREDENTIALS, {"account_id": account_id}).one_or_none()
    return (row.status, row.password_hash) if row else None


def first_of_type(conn: Connection, type: str) -> AccountRow | None:
    row = conn.execute(select(*_COLUMNS).where(Account.type == type).order_by(Account.id).limit(1)).one_or_none()
    return AccountRow(*row) if row else None


def iter_sealed_keys(conn: Connection, batch: int = 1000):
    """(id, key_id, sealed private key) of every account, in id order, in batches."""
    last = 0
    while True:
        rows = conn.execute(
            select(Account.id, Account.key_id, Account.sealed_private_key)
            .where(Account.id > last).order_by(Account.id).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].id


def count_accounts(conn: Connection) -> int:
    return conn.execute(select(func.count()).select_from(Account)).scalar_one()


def replace_sealed_keys(conn: Connection, updates: list[tuple[int, bytes]]) -> None:
    for account_id, sealed in updates:
        conn.execute(update(Account).where(Account.id == account_id).values(sealed_private_key=sealed))
