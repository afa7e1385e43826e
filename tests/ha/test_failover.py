"""Failover on loopback (docs/operations-ha.md): the hub on a pg_auto_failover set, the primary lost under load.

The set is made by deploy/ha/pg-auto-failover-local.sh, the script the doc tells an operator to try: a monitor, a
primary and a synchronous standby. Submission load runs; the primary's machine is "lost" (its keeper and PostgreSQL
killed with SIGKILL); the standby is promoted. Every message that got 250 must be readable afterwards, a client that
got a 4xx meanwhile retries and succeeds, and the same hub process serves on (no restart).
"""

from __future__ import annotations

import collections
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from mssante_hub.hub import Hub
from tests.conftest import TEST_PASSWORD, add_professional, make_data_dir
from tests.imap.support import imaps
from tests.smtp.support import configure_smtp, make_pki
from tests.support.programs import need
from tests.support.served import start_hub

SCRIPT = Path(__file__).parents[2] / "deploy" / "ha" / "pg-auto-failover-local.sh"
MESSAGES = 150
ACKS_BEFORE_FAILOVER = 40
JEAN = "jean.dupont@hub.test"
MARIE = "marie.curie@hub.test"
SUBJECT = re.compile(rb"Subject: n=(\d+)")


def three_free_ports() -> int:
    """A base port whose next two are free too (the monitor and the two nodes)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base > 65000:
            continue
        try:
            for port in (base, base + 1, base + 2):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no three consecutive free ports")


def ha(*args: str, timeout: float = 240) -> str:
    done = subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout.strip()


@pytest.fixture
def ha_set():
    need("pg_autoctl")  # Debian's postgresql-15-auto-failover
    # Not under pytest's tmp_path: its 0700 parents keep out the postgres user the script runs PostgreSQL as.
    root = Path(tempfile.mkdtemp(prefix="mssante-ha-"))
    root.chmod(0o711)
    try:
        ha("start", str(root / "set"), str(three_free_ports()))
        yield root / "set"
    finally:
        ha("stop", str(root / "set"))
        shutil.rmtree(root, ignore_errors=True)


def subjects_in_inbox(port: int) -> collections.Counter:
    client = imaps(port, MARIE, TEST_PASSWORD)
    try:
        client.select("INBOX", readonly=True)
        _typ, data = client.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        return collections.Counter(int(m.group(1)) for item in data if isinstance(item, tuple)
                                   for m in [SUBJECT.search(item[1])] if m)
    finally:
        client.logout()


@pytest.mark.slow
def test_a_lost_primary_loses_no_acknowledged_message_and_the_hub_serves_on(ha_set, tmp_path):
    url = ha("uri", str(ha_set))
    data_dir = make_data_dir(tmp_path, url)
    pki = make_pki(tmp_path)
    configure_smtp(data_dir, pki, **{"relay.enabled": False})
    hub = Hub.open(data_dir)
    add_professional(hub, "jean.dupont")
    add_professional(hub, "marie.curie")
    hub.close()
    first_primary = ha("primary", str(ha_set))

    served = start_hub(data_dir, ["submission", "imaps"])
    sender = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("retrying_sender.py")), str(served.port("submission")),
         str(pki.ca_file), JEAN, TEST_PASSWORD, str(MESSAGES), MARIE],
        stdout=subprocess.PIPE, text=True)
    acked: list[int] = []
    retried: set[int] = set()
    reasons: collections.Counter = collections.Counter()
    killed = False
    try:
        for line in sender.stdout:
            word, *rest = line.split()
            if word == "ok":
                acked.append(int(rest[0]))
            elif word == "retry":
                retried.add(int(rest[0]))
                reasons[rest[1]] += 1
            elif word in ("done", "gave"):
                break
            if len(acked) >= ACKS_BEFORE_FAILOVER and not killed:
                ha("kill-primary", str(ha_set))
                killed = True
        sender.wait(60)
        new_primary = ha("primary", str(ha_set))
        assert served.process.poll() is None, "the hub stopped: " + served.log()[-2000:]
        log = served.log()
        stored = subjects_in_inbox(served.port("imaps"))
    finally:
        if sender.poll() is None:
            sender.kill()
        served.stop()

    print(f"failover: {len(acked)} acknowledged, {len(retried)} retried ({dict(reasons)}), "
          f"{sum(1 for n in retried if stored[n] > 1)} retried messages stored twice")
    assert killed and new_primary != first_primary
    assert acked == list(range(1, MESSAGES + 1)), (
        f"the sender gave up: a 4xx during failover must succeed on retry ({dict(reasons)}): {log[-3000:]}")
    assert retried, "no temporary failure was seen: the primary was not lost under load"
    for number in acked:
        assert stored[number] >= 1, f"message {number} got 250 and is lost"
        if number not in retried:
            assert stored[number] == 1, f"message {number} was sent once and stored {stored[number]} times"
