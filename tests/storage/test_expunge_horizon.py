"""storage.sync's expunge horizon on both backends: forgotten rows raise it, newer rows stay."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update

from storage import folders, sync
from storage.models import Account
from tests.conftest import add_professional


def test_purging_old_expunges_raises_the_horizon_and_keeps_the_newer(any_hub):
    address = add_professional(any_hub, "horizon")

    def setup(conn) -> int:
        account = conn.execute(select(Account.id).where(Account.address == address)).scalar()
        folder = folders.create_folder(conn, account, "H")
        sync.record_expunged(conn, folder, [1, 2], 10)
        sync.record_expunged(conn, folder, [3], 20)
        old = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=10)
        conn.execute(update(sync.ExpungedUid).where(sync.ExpungedUid.modseq == 10).values(expunged_at=old))
        return folder

    folder = any_hub.committer.submit(setup).result()
    assert any_hub.read_sync(lambda conn: sync.vanished_since(conn, folder, 5)) == [1, 2, 3]
    cutoff = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)
    assert any_hub.committer.submit(lambda conn: sync.purge_expunged(conn, cutoff)).result() == 2
    assert any_hub.read_sync(lambda conn: sync.vanished_since(conn, folder, 5)) is None  # older than the horizon
    assert any_hub.read_sync(lambda conn: sync.vanished_since(conn, folder, 10)) == [3]
    assert any_hub.committer.submit(lambda conn: sync.purge_expunged(conn, cutoff)).result() == 0
