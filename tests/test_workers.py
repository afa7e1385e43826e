"""`serve --workers 2` (issue 16), a real served hub on SQLite and on PostgreSQL: IDLE woken across workers,
2,000 parallel SMTP messages stored once each, kill -9 of a worker loses nothing acknowledged and it comes back,
SIGTERM stops all. Which worker holds a connection is read from the kernel (tests/support/workers.py)."""

from __future__ import annotations

import collections
import os
import signal
import smtplib
import subprocess
import threading
import time

from sqlalchemy import func, select

from mssante_hub import audit
from mssante_hub.config import Config
from mssante_hub.hub import Hub
from mssante_hub.reader import read_folder
from tests.conftest import DOMAIN, PATIENT_DOMAIN, add_professional
from tests.imap.support import Raw, login_raw
from tests.support.mail import make_message
from storage.models import AuditEvent
from tests.relays.peer import free_port, start_peer
from tests.smtp.support import REMOTE_DOMAIN, configure_smtp, make_pki
from tests.support.served import hub_command, run_cli, served
from tests.support.workers import holder, wait_for_workers

WORKERS = 2
PARALLEL_MESSAGES = 2000
CONNECTIONS_PER_WORKER = 4
RECIPIENTS = 4
KILL_AFTER_ACKS = 150
ACKS_AFTER_KILL = 150
# Far beyond every wait of these tests: a wake-up seen in time cannot come from IDLE's periodic look.
IDLE_POLL_S = 600.0
PASSWORD = "correct horse battery staple"
SENDER = "dpi@chu.example"
CONNECT_GUARD_S = 60  # a guard against hangs, not a timing assertion


def init_hub(tmp_path, storage_url: str | None, **settings) -> tuple:
    """`mssante-hub init` (the operator's command), loopback trusted on mx, professionals; their addresses."""
    data_dir = tmp_path / "hub"
    args = ["init", "--data-dir", str(data_dir), "--domain", DOMAIN, "--patient-domain", PATIENT_DOMAIN]
    done = run_cli(*args, *(["--storage-url", storage_url] if storage_url else []))
    assert done.returncode == 0, done.stderr
    config = Config.load(data_dir)
    config.set("mx.trusted_networks", ["127.0.0.0/8"])
    config.set("imap.idle_poll_seconds", IDLE_POLL_S)
    for key, value in settings.items():
        config.set(key, value)
    config.save()
    with Hub.open(data_dir) as hub:
        users = [add_professional(hub, f"dr.worker{n}", password=PASSWORD) for n in range(RECIPIENTS)]
    return data_dir, users


def smtp_on(port: int, pids: set[int], wanted: set[int]) -> tuple[smtplib.SMTP, int]:
    """An SMTP connection accepted by one of `wanted` (the kernel picks the worker: connect until it is one)."""
    deadline = time.monotonic() + CONNECT_GUARD_S  # a worker just (re)started may not accept yet
    while time.monotonic() < deadline:
        client = smtplib.SMTP("127.0.0.1", port, timeout=60)
        pid = holder(client.sock, pids)
        if pid in wanted:
            return client, pid
        client.quit()
        time.sleep(0.02)
    raise AssertionError(f"no connection reached {wanted}")


def imap_on(port: int, pids: set[int], wanted: set[int]) -> tuple[Raw, int]:
    deadline = time.monotonic() + CONNECT_GUARD_S
    while time.monotonic() < deadline:
        raw = Raw(port)
        pid = holder(raw.sock, pids)
        if pid in wanted:
            return raw, pid
        raw.close()
        time.sleep(0.02)
    raise AssertionError(f"no IMAP connection reached {wanted}")


def idle_on(port: int, pids: set[int], wanted: set[int], user: str) -> tuple[Raw, int]:
    raw, pid = imap_on(port, pids, wanted)
    login_raw(raw, user, PASSWORD)
    raw.send(b"s SELECT INBOX\r\n")
    raw.until_tagged(b"s")
    raw.send(b"i IDLE\r\n")
    assert raw.line().startswith(b"+")
    return raw, pid


def subjects(data_dir, users: list[str]) -> collections.Counter:
    with Hub.open(data_dir) as hub:
        return collections.Counter(m.summary["subject"] for user in users for m in read_folder(hub, user))


def test_a_delivery_through_one_worker_wakes_idle_in_the_other(tmp_path, storage_url):
    data_dir, users = init_hub(tmp_path, storage_url)
    with served(data_dir, ["imaps", "mx"], workers=WORKERS) as hub:
        pids = wait_for_workers(hub.process.pid, WORKERS)
        idle, worker_b = idle_on(hub.port("imaps"), pids, pids, users[0])
        smtp, worker_a = smtp_on(hub.port("mx"), pids, pids - {worker_b})
        smtp.sendmail(SENDER, [users[0]], make_message(SENDER, users[0], "Par un autre worker", "texte"))
        smtp.quit()
        assert idle.line() == b"* 1 EXISTS"  # Raw's 30 s read timeout is the guard; bench/ measures the delay
        idle.send(b"DONE\r\n")
        idle.until_tagged(b"i")

        # A flag set in a session of worker A reaches the IDLE of worker B too.
        idle.send(b"j IDLE\r\n")
        assert idle.line().startswith(b"+")
        other, _ = imap_on(hub.port("imaps"), pids, {worker_a})
        login_raw(other, users[0], PASSWORD)
        other.send(b"s SELECT INBOX\r\nf STORE 1 +FLAGS (\\Flagged)\r\n")
        other.until_tagged(b"f")
        assert b"\\Flagged" in idle.line()
        idle.send(b"DONE\r\n")
        idle.until_tagged(b"j")
        idle.close()
        other.close()
        assert hub.stop() == 0


def test_2000_parallel_messages_through_both_workers_are_each_stored_once(tmp_path, storage_url):
    data_dir, users = init_hub(tmp_path, storage_url)
    with served(data_dir, ["mx"], workers=WORKERS) as hub:
        pids = wait_for_workers(hub.process.pid, WORKERS)
        clients = [smtp_on(hub.port("mx"), pids, {pid})[0] for pid in pids for _ in range(CONNECTIONS_PER_WORKER)]
        failures: list[str] = []

        def send(index: int, client: smtplib.SMTP) -> None:
            try:
                for n in range(index, PARALLEL_MESSAGES, len(clients)):
                    to = users[n % RECIPIENTS]
                    refused = client.sendmail(SENDER, [to], make_message(SENDER, to, f"n={n}", f"message {n}"))
                    assert refused == {}, refused
                client.quit()
            except Exception as exc:  # noqa: BLE001 - reported below by the test thread
                failures.append(f"{type(exc).__name__}: {exc}")

        threads = [threading.Thread(target=send, args=(i, c)) for i, c in enumerate(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == []
        assert hub.stop() == 0
    stored = subjects(data_dir, users)
    assert stored == collections.Counter({f"n={n}": 1 for n in range(PARALLEL_MESSAGES)})


class Sender(threading.Thread):
    """Sends numbered messages until told to stop, reconnecting when its worker dies; records each 250."""

    def __init__(self, port: int, first: int, step: int, to: str, client: smtplib.SMTP) -> None:
        super().__init__(daemon=True)
        self.port, self.next, self.step, self.to = port, first, step, to
        self.acked: list[int] = []
        self.errors = 0
        self.done = threading.Event()
        self.client: smtplib.SMTP | None = client  # its first connection, on a worker the test chose

    def run(self) -> None:
        while not self.done.is_set():
            try:
                if self.client is None:
                    self.client = smtplib.SMTP("127.0.0.1", self.port, timeout=60)
                number, self.next = self.next, self.next + self.step  # never reused: a lost 250 is a new number
                message = make_message(SENDER, self.to, f"n={number}", f"message {number}")
                if self.client.sendmail(SENDER, [self.to], message) == {}:
                    self.acked.append(number)
            except (smtplib.SMTPException, OSError):
                self.errors += 1
                self.client = None
        if self.client is not None:
            self.client.quit()


def test_kill_9_of_a_worker_loses_nothing_acknowledged_and_it_is_restarted(tmp_path, storage_url):
    data_dir, users = init_hub(tmp_path, storage_url)
    with served(data_dir, ["mx"], workers=WORKERS) as hub:
        pids = wait_for_workers(hub.process.pid, WORKERS)
        count = CONNECTIONS_PER_WORKER * WORKERS
        clients = [smtp_on(hub.port("mx"), pids, {pid})[0] for pid in pids for _ in range(CONNECTIONS_PER_WORKER)]
        senders = [Sender(hub.port("mx"), i, count, users[i % RECIPIENTS], c) for i, c in enumerate(clients)]
        for sender in senders:
            sender.start()
        while sum(len(s.acked) for s in senders) < KILL_AFTER_ACKS:
            assert all(s.is_alive() for s in senders)
            threading.Event().wait(0.05)
        victim = sorted(pids)[0]
        os.kill(victim, signal.SIGKILL)  # mid-stream: both workers hold senders' connections
        acked_at_kill = sum(len(s.acked) for s in senders)
        while sum(len(s.acked) for s in senders) < acked_at_kill + ACKS_AFTER_KILL:
            threading.Event().wait(0.05)
        for sender in senders:
            sender.done.set()
        for sender in senders:
            sender.join(120)
        assert sum(s.errors for s in senders) >= CONNECTIONS_PER_WORKER  # those on the killed worker

        restarted = wait_for_workers(hub.process.pid, 1, other_than=pids) - pids
        assert len(restarted) == 1
        now = wait_for_workers(hub.process.pid, WORKERS)
        client, _ = smtp_on(hub.port("mx"), now, restarted)  # the new worker serves
        assert client.sendmail(SENDER, [users[0]], make_message(SENDER, users[0], "after", "after")) == {}
        client.quit()
        assert hub.stop() == 0
    stored = subjects(data_dir, users)
    for sender in senders:
        for number in sender.acked:
            assert stored[f"n={number}"] == 1, number
    assert max(stored.values()) == 1
    assert stored["after"] == 1


def test_sigterm_stops_every_worker_cleanly(tmp_path, storage_url):
    data_dir, users = init_hub(tmp_path, storage_url)
    with served(data_dir, ["mx", "imaps"], workers=WORKERS) as hub:
        pids = wait_for_workers(hub.process.pid, WORKERS)
        idle, _ = idle_on(hub.port("imaps"), pids, pids, users[0])  # an open session does not hold the stop
        clients = [smtp_on(hub.port("mx"), pids, {pid})[0] for pid in pids]
        for client in clients:
            client.sendmail(SENDER, [users[1]], make_message(SENDER, users[1], "avant", "avant l'arret"))
        assert hub.stop(signal.SIGTERM) == 0
        log = hub.log()
        for pid in pids:
            assert not os.path.exists(f"/proc/{pid}"), f"worker {pid} still running"
        idle.close()
    assert "workers still running" not in log
    assert log.count("mssante_hub.admin.service: stopped") == WORKERS
    assert subjects(data_dir, [users[1]]) == collections.Counter({"avant": WORKERS})



RELAYED = 40


def test_the_relay_sends_each_message_once_with_workers(tmp_path, storage_url):
    pki = make_pki(tmp_path)
    port = free_port()
    data_dir, users = init_hub(tmp_path, storage_url)
    configure_smtp(data_dir, pki, **{"relay.routes": [f"{REMOTE_DOMAIN}=127.0.0.1:{port}"]})
    peer, handler = start_peer(pki, port)
    try:
        with served(data_dir, ["submission"], workers=WORKERS) as hub:
            pids = wait_for_workers(hub.process.pid, WORKERS)
            clients = [smtp_on(hub.port("submission"), pids, {pid})[0] for pid in pids]
            for client in clients:
                client.starttls(context=pki.client_context(None))
                client.login(users[0], PASSWORD)
            for n in range(RELAYED):
                to = f"confrere{n}@{REMOTE_DOMAIN}"
                assert clients[n % len(clients)].sendmail(users[0], [to], make_message(users[0], to, f"r={n}", "x")) == {}
            for client in clients:
                client.quit()
            deadline = time.monotonic() + 120  # a guard: each delivery wakes the relay
            while len(handler.received) < RELAYED and time.monotonic() < deadline:
                time.sleep(0.05)
            assert hub.stop() == 0  # nothing more can be sent once every worker has stopped
    finally:
        peer.stop()
    sent = collections.Counter(r.content.split(b"Subject: ")[1].split(b"\r\n")[0].decode() for r in handler.received)
    assert sent == collections.Counter({f"r={n}": 1 for n in range(RELAYED)})


DAILY_RUNS = 3


def test_the_daily_job_runs_once_however_many_timers_fire(tmp_path, storage_url):
    """Several machines' timers (or one fired again) while the workers serve: one run does the job that day."""
    data_dir, _ = init_hub(tmp_path, storage_url)
    with served(data_dir, ["mx"], workers=WORKERS) as hub:
        wait_for_workers(hub.process.pid, WORKERS)
        runs = [subprocess.Popen(hub_command("jobs", "run-daily", "--data-dir", str(data_dir)), stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for _ in range(DAILY_RUNS)]
        outputs = [run.communicate(timeout=120) for run in runs]
        assert [run.returncode for run in runs] == [0] * DAILY_RUNS, outputs
        later = run_cli("jobs", "run-daily", "--data-dir", str(data_dir))
        assert later.returncode == 0 and "already ran today" in later.stdout
        assert hub.stop() == 0
    did = [out for out, _ in outputs if "audit_purged=" in out]
    assert len(did) == 1, outputs
    with Hub.open(data_dir) as opened:
        purges = opened.read_sync(lambda conn: conn.execute(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == audit.AUDIT_PURGE)).scalar_one())
    assert purges == 1


def test_a_sigterm_right_after_the_listening_lines_stops_cleanly(tmp_path):
    """Whoever reads the listening lines may stop the hub at once (the README test did); the supervisor's SIGTERM
    handler must be in place before it prints them (before: killed by the signal, exit -15, workers orphaned)."""
    data_dir, _users = init_hub(tmp_path, None)
    for attempt in range(2):
        process = subprocess.Popen(hub_command("serve", "--data-dir", str(data_dir), "--workers", str(WORKERS),
                                               "--listen", "mx=127.0.0.1:0"),
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = process.stdout.readline()
        assert line.startswith("listening mx "), line
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=CONNECT_GUARD_S) == 0, attempt
