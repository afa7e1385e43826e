"""OpenPGP public keys registered by APP mailboxes (table `account_openpgp_keys`, storage/models.py)."""

from __future__ import annotations

from sqlalchemy import Connection, delete, insert, select

from storage.models import OpenPgpKey, utcnow


def add(conn: Connection, account_id: int, fingerprint: str, armored: str) -> bool:
    """Register a key; False if this account holds it already."""
    held = conn.execute(select(OpenPgpKey.fingerprint).where(
        OpenPgpKey.account_id == account_id, OpenPgpKey.fingerprint == fingerprint)).first()
    if held is not None:
        return False
    conn.execute(insert(OpenPgpKey).values(account_id=account_id, fingerprint=fingerprint, armored=armored,
                                           added_at=utcnow()))
    return True


def remove(conn: Connection, account_id: int, fingerprint: str) -> bool:
    return conn.execute(delete(OpenPgpKey).where(OpenPgpKey.account_id == account_id,
                                                 OpenPgpKey.fingerprint == fingerprint)).rowcount > 0


def keys_of(conn: Connection, account_id: int) -> list[tuple[str, str]]:
    """(fingerprint, armored key) of each key the account registered."""
    return [(r.fingerprint, r.armored) for r in conn.execute(
        select(OpenPgpKey.fingerprint, OpenPgpKey.armored).where(OpenPgpKey.account_id == account_id)
        .order_by(OpenPgpKey.fingerprint))]
