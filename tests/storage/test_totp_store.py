"""The second factor's rows (storage/totp.py) on SQLite and PostgreSQL: pending then enabled once, a time step
accepted once and never an older one, a recovery code spent once, the rows gone with the account's."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select

from mssante_hub.web import totp
from storage import totp as totp_store
from storage.models import Account
from tests.conftest import add_professional

NOW = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.timezone.utc)


def test_the_second_factors_rows_on_each_backend(any_hub):
    hub = any_hub
    address = add_professional(hub, "dr.totp")
    account_id = hub.read_sync(lambda conn: conn.execute(select(Account.id).where(Account.address == address))
                               .scalar_one())
    secret = totp.new_secret()
    sealed = totp.seal(hub, account_id, secret)
    assert secret.encode() not in sealed and totp.open_(hub, account_id, sealed) == secret
    codes = totp.new_recovery_codes()
    hashes = [totp.recovery_hash(hub, account_id, c) for c in codes]
    write = hub.committer.run

    write(lambda conn: totp_store.set_pending(conn, account_id, sealed, NOW))
    assert hub.read_sync(lambda conn: totp.enabled(conn, account_id)) is False
    assert write(lambda conn: totp_store.enable(conn, account_id, 100, hashes, NOW)) is True
    assert write(lambda conn: totp_store.enable(conn, account_id, 101, hashes, NOW)) is False  # once
    assert hub.read_sync(lambda conn: totp.enabled(conn, account_id)) is True
    # A step is accepted once, and never one older than the last accepted.
    assert write(lambda conn: totp_store.spend_step(conn, account_id, 100)) is False
    assert write(lambda conn: totp_store.spend_step(conn, account_id, 101)) is True
    assert write(lambda conn: totp_store.spend_step(conn, account_id, 101)) is False
    assert write(lambda conn: totp_store.spend_step(conn, account_id, 99)) is False
    # A recovery code once; the codes of another account never.
    assert write(lambda conn: totp_store.spend_recovery(conn, account_id, hashes[0], NOW)) is True
    assert write(lambda conn: totp_store.spend_recovery(conn, account_id, hashes[0], NOW)) is False
    assert write(lambda conn: totp_store.spend_recovery(conn, account_id + 1, hashes[1], NOW)) is False
    assert hub.read_sync(lambda conn: totp_store.recovery_left(conn, account_id)) == len(codes) - 1
    # Through totp.check: a wrong code, then a recovery code as typed.
    assert write(lambda conn: totp.check(hub, conn, account_id, "12345", NOW)) is False
    assert write(lambda conn: totp.check(hub, conn, account_id, codes[2].upper(), NOW)) is True

    write(lambda conn: conn.execute(delete(Account).where(Account.id == account_id)))  # the cascade (both backends)
    assert hub.read_sync(lambda conn: totp_store.of(conn, account_id)) is None
    assert hub.read_sync(lambda conn: totp_store.recovery_left(conn, account_id)) == 0
