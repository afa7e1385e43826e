"""The hub-wide failed-login counts (storage/login_failures.py, accounts/failures.HubFailures) on SQLite and
PostgreSQL: two hubs opened on one database count the same failures; rows lapse with their window and are
purged; a row carries no login or address; a successful attempt writes nothing."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import func, select

from mssante_hub.accounts.failures import HubFailures
from mssante_hub.accounts.throttle import THROTTLED, LoginGuard, LoginRefused, door_guard, guard_limits
from mssante_hub.hub import Hub
from storage import login_failures
from storage.login_failures import LoginFailure

CLIENT = "192.0.2.7"
LOGIN = "jean.dupont@hub.test"


def _rows(hub: Hub) -> list:
    with hub.engine.connect() as conn:
        return list(conn.execute(select(LoginFailure)))


def test_two_hubs_on_one_database_count_the_same_failures(any_data_dir):
    """What two workers (or two hubs on one PostgreSQL) do: failures met by one are refused by the other."""
    with Hub.open(any_data_dir) as one, Hub.open(any_data_dir) as other:
        first, second = door_guard(one, "imap"), door_guard(other, "imap")
        limit = first.limits.max_failures

        async def scene() -> list[str]:
            for n in range(limit):
                async with (first if n % 2 else second).attempt(CLIENT, LOGIN):
                    await (first if n % 2 else second).failed(CLIENT, LOGIN)
            outcomes = []
            for guard in (first, second):
                try:
                    async with guard.attempt(CLIENT, LOGIN):
                        outcomes.append("checked")
                except LoginRefused as refused:
                    outcomes.append(refused.reason)
            return outcomes

        assert asyncio.run(scene()) == [THROTTLED, THROTTLED]
        # Another door's counts are its own, as they were in memory.
        assert not asyncio.run(door_guard(one, "smtp").verdict(CLIENT, LOGIN)).refused
        # Pair, address and login: three rows a failure, none holding the login or the address.
        rows = _rows(one)
        assert len(rows) == 3 * limit
        assert all(LOGIN.encode() not in row.key_digest and CLIENT.encode() not in row.key_digest for row in rows)


def test_failures_lapse_with_their_window_and_are_purged(any_hub):
    """A failure counts until its window ends; the writers' purge deletes it after (through the expiry index)."""
    digest = HubFailures(any_hub, "imap")._digest("pair\x00x")
    now = time.time()
    any_hub.committer.submit(lambda conn: login_failures.record(conn, [digest], now + 10)).result()
    with any_hub.engine.connect() as conn:
        assert login_failures.counts(conn, [digest], now) == {digest: 1}
        assert login_failures.counts(conn, [digest], now + 11) == {}
    assert any_hub.committer.submit(lambda conn: login_failures.purge(conn, now + 5)).result() == 0
    assert any_hub.committer.submit(lambda conn: login_failures.purge(conn, now + 11)).result() == 1
    assert _rows(any_hub) == []


def test_a_failure_write_purges_what_lapsed(any_hub):
    """No job to run: the next failure recorded (at most once a minute per process) deletes lapsed rows."""
    stale = HubFailures(any_hub, "imap")._digest("pair\x00old")
    any_hub.committer.submit(lambda conn: login_failures.record(conn, [stale], time.time() - 1)).result()
    guard = door_guard(any_hub, "imap")
    asyncio.run(guard.failed(CLIENT, LOGIN))
    digests = {row.key_digest for row in _rows(any_hub)}
    assert stale not in digests and len(digests) == 3


def test_an_attempt_that_succeeds_writes_nothing(any_hub):
    guard = LoginGuard(guard_limits(any_hub.config, "web"), HubFailures(any_hub, "web"))

    async def scene() -> None:
        async with guard.attempt(CLIENT, LOGIN):
            pass  # the right password: nothing to record

    asyncio.run(scene())
    with any_hub.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(LoginFailure)).scalar() == 0
