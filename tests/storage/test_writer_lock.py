"""The SQLite writer lock (storage/writer_lock.py): the group committer of one process waits, in the kernel, while a
writer of another process holds the lock file, and goes on the moment it is released."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from sqlalchemy import insert, select

from storage.committer import GroupCommitter
from storage.models import AuditEvent
from storage.writer_lock import LOCK_SUFFIX, writer_lock

GUARD_S = 30  # a guard against hangs, not a timing assertion

HOLDER = textwrap.dedent("""
    import fcntl, os, sys, time
    fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    print("held", flush=True)
    sys.stdin.readline()          # the test says when
    print("releasing", flush=True)
    fcntl.flock(fd, fcntl.LOCK_UN)
""")


def test_a_commit_waits_for_another_processs_writer_and_follows_its_release(hub):
    lock = writer_lock(hub.engine)
    assert lock.path == hub.engine.url.database + LOCK_SUFFIX
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, lock.path], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    committer = GroupCommitter(hub.engine, window_ms=0)
    try:
        assert holder.stdout.readline().strip() == "held"
        done = committer.submit(lambda conn: conn.execute(insert(AuditEvent).values(actor="after", action="t")))
        with pytest.raises(TimeoutError):  # no commit while another process holds the lock
            done.result(timeout=0.5)
        holder.stdin.write("go\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "releasing"
        done.result(timeout=GUARD_S)
    finally:
        committer.close()
        holder.kill()
        holder.wait()
    actors = hub.read_sync(lambda conn: conn.execute(select(AuditEvent.actor)).scalars().all())
    assert "after" in actors


def test_threads_of_one_process_exclude_each_other_too(hub):
    """flock is held per open file: each thread opens its own, so a second thread waits as another process would."""
    import threading

    lock = writer_lock(hub.engine)
    inside, release, second_in = threading.Event(), threading.Event(), threading.Event()

    def first() -> None:
        with lock.held():
            inside.set()
            release.wait(GUARD_S)

    def second() -> None:
        with lock.held():
            second_in.set()

    a = threading.Thread(target=first)
    a.start()
    assert inside.wait(GUARD_S)
    b = threading.Thread(target=second)
    b.start()
    assert not second_in.wait(0.3)
    release.set()
    assert second_in.wait(GUARD_S)
    a.join()
    b.join()


def test_each_threads_lock_file_is_closed_with_its_thread(hub):
    """Every Hub's committer thread opens one; a process opening many hubs (the tests, the CLI) must not leak them."""
    import gc
    import os
    import threading

    lock = writer_lock(hub.engine)

    def use() -> None:
        with lock.held():
            pass

    before = len(os.listdir("/proc/self/fd"))
    for _ in range(20):
        thread = threading.Thread(target=use)
        thread.start()
        thread.join()
    gc.collect()
    assert len(os.listdir("/proc/self/fd")) <= before
