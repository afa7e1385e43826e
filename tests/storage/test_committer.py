"""Group commit: units queued meanwhile share one transaction; a faulty unit fails alone."""

import threading

import pytest
from sqlalchemy import event, func, insert, select

from storage.committer import GroupCommitter
from storage.models import AuditEvent

QUEUED = 40


def _count_commits(engine) -> list[int]:
    commits = [0]
    event.listen(engine, "commit", lambda conn: commits.__setitem__(0, commits[0] + 1))
    return commits


def _hold_writer(committer: GroupCommitter) -> threading.Event:
    """Keep the writer busy inside a transaction until the returned event is set."""
    started, release = threading.Event(), threading.Event()

    def blocker(conn):
        started.set()
        release.wait(10)

    committer.submit(blocker)
    assert started.wait(10)
    return release


def _insert_event(marker: str):
    return lambda conn: conn.execute(insert(AuditEvent).values(actor=marker, action="test"))


def test_units_queued_during_a_commit_share_the_next_transaction(any_hub):
    committer = GroupCommitter(any_hub.engine, window_ms=0, max_batch=256)
    commits = _count_commits(any_hub.engine)
    try:
        release = _hold_writer(committer)  # the writer is inside the first transaction now
        futures = [committer.submit(_insert_event(f"unit-{n}")) for n in range(QUEUED)]
        release.set()
        for future in futures:
            future.result(timeout=10)
        # The blocker's transaction, then ONE for the forty units queued meanwhile.
        assert committer.batches == 2 and committer.units == QUEUED + 1
        assert commits[0] == 2
    finally:
        committer.close()


def test_a_failing_unit_is_refused_alone_and_the_others_commit(any_hub):
    committer = GroupCommitter(any_hub.engine, window_ms=0, max_batch=256)

    def broken(conn):
        conn.execute(insert(AuditEvent).values(actor="broken", action="test"))
        raise ValueError("refused by its own rules")

    try:
        release = _hold_writer(committer)
        good = [committer.submit(_insert_event(f"good-{n}")) for n in range(5)]
        bad = committer.submit(broken)
        release.set()
        for future in good:
            future.result(timeout=10)
        with pytest.raises(ValueError):
            bad.result(timeout=10)
    finally:
        committer.close()
    with any_hub.engine.connect() as conn:
        actors = set(conn.execute(select(AuditEvent.actor).where(AuditEvent.action == "test")).scalars())
    assert actors == {f"good-{n}" for n in range(5)}


def test_batched_kind_falls_back_to_one_by_one_when_the_batch_fails(any_hub):
    applied_batches = []

    def kind(conn, items):
        applied_batches.append(len(items))
        for item in items:
            if item == "poison":
                raise ValueError("poison")
            conn.execute(insert(AuditEvent).values(actor=item, action="kind"))
        return [f"ok:{item}" for item in items]

    committer = GroupCommitter(any_hub.engine, window_ms=0, max_batch=256)
    try:
        release = _hold_writer(committer)
        futures = {item: committer.submit_batched(kind, item) for item in ("a", "b", "poison", "c")}
        release.set()
        assert futures["a"].result(timeout=10) == "ok:a"
        assert futures["c"].result(timeout=10) == "ok:c"
        with pytest.raises(ValueError):
            futures["poison"].result(timeout=10)
    finally:
        committer.close()
    assert applied_batches[0] == 4  # first tried together
    with any_hub.engine.connect() as conn:
        count = conn.execute(select(func.count()).where(AuditEvent.action == "kind")).scalar_one()
    assert count == 3


def test_a_before_step_runs_outside_the_transaction_and_fails_alone(any_hub):
    """Deliveries of small messages are prepared by the writer before its transaction."""
    seen_in_transaction = []

    def kind(conn, items):
        for item in items:
            conn.execute(insert(AuditEvent).values(actor=item, action="before"))
        return list(items)

    def prepared(name):
        def before():
            # No transaction of the writer is open while the item is being prepared.
            seen_in_transaction.append(committer._conn is not None and committer._conn.in_transaction())
            if name == "refused":
                raise ValueError("refused while preparing")
            return f"prepared-{name}"
        return before

    committer = GroupCommitter(any_hub.engine, window_ms=0, max_batch=256)
    try:
        release = _hold_writer(committer)
        futures = {name: committer.submit_batched(kind, None, before=prepared(name)) for name in ("a", "refused", "b")}
        release.set()
        assert futures["a"].result(timeout=10) == "prepared-a"
        assert futures["b"].result(timeout=10) == "prepared-b"
        with pytest.raises(ValueError):
            futures["refused"].result(timeout=10)
    finally:
        committer.close()
    assert seen_in_transaction == [False, False, False]
    with any_hub.engine.connect() as conn:
        actors = set(conn.execute(select(AuditEvent.actor).where(AuditEvent.action == "before")).scalars())
    assert actors == {"prepared-a", "prepared-b"}


def test_the_writer_connection_is_replaced_after_a_failed_commit(any_hub):
    committer = GroupCommitter(any_hub.engine, window_ms=0, max_batch=256)

    def broken(conn):
        raise ValueError("broken")

    try:
        with pytest.raises(ValueError):
            committer.run(broken)
        committer.run(_insert_event("after-failure"))
    finally:
        committer.close()
    with any_hub.engine.connect() as conn:
        assert conn.execute(select(func.count()).where(AuditEvent.actor == "after-failure")).scalar_one() == 1
