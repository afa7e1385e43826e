"""Two hub processes on one PostgreSQL behind a live HAProxy (issue 16), its configuration generated from
deploy/haproxy.cfg (tests/ha/haproxy_config.py): IDLE woken across hubs, 2,000 parallel messages stored once,
kill -9 of a hub (health check on /healthz takes it out; retrying clients succeed on the other), web sign-in,
and the PROXY protocol (send-proxy-v2): the hubs see each client's own address, not HAProxy's.
One set-up for the module: serving hubs costs seconds each."""

from __future__ import annotations

import collections
import http.client
import os
import shutil
import signal
import smtplib
import socket
import subprocess
import threading
import time

import pytest
from sqlalchemy import select

from mssante_hub.hub import Hub
from storage.models import AuditEvent
from tests.ha.haproxy_config import FRONTENDS, generate
from tests.imap.support import Raw, client_tls, login_raw
from tests.patients.test_notify import active_patient
from tests.relays.peer import free_port
from tests.support.mail import make_message
from tests.support.postgres import unique_db_name
from tests.support.programs import need
from tests.support.served import StderrDrain, start_hub
from tests.test_workers import PARALLEL_MESSAGES, PASSWORD, RECIPIENTS, SENDER, init_hub, subjects
from tests.web.support import WebClient

LISTENERS = ["mx", "imaps", "web"]
CONNECTIONS = 8
GUARD_S = 60  # a guard against hangs, not a timing assertion
PATIENT_PASSWORD = "mot de passe de camille"  # what active_patient sets


class Cluster:
    def __init__(self, hubs, folder, users, proxy, ports) -> None:
        self.hubs, self.folder, self.users, self.proxy, self.ports = hubs, folder, users, proxy, ports
        self.proxy_log = StderrDrain(proxy.stderr)  # haproxy -db reports server state changes on stderr


def wait_port(port: int, proxy: subprocess.Popen) -> None:
    deadline = time.monotonic() + GUARD_S
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
            return
        except OSError:
            assert proxy.poll() is None, "haproxy exited"
            assert time.monotonic() < deadline, f"haproxy not listening on {port}"
            time.sleep(0.05)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, postgres):
    haproxy = need("haproxy")
    root = tmp_path_factory.mktemp("haproxy")
    # What docs/operations.md asks with deploy/haproxy.cfg's send-proxy-v2: HAProxy (here on 127.0.0.1) trusted.
    first, users = init_hub(root, postgres.create_database(unique_db_name()), **{
        "proxy.listeners": ["mx", "submission", "imap", "imaps"], "proxy.trusted_sources": ["127.0.0.1/32"]})
    with Hub.open(first) as hub:
        patient, _ = active_patient(hub, "derriere.haproxy@courriel.example")
    folders = [first, shutil.copytree(first, root / "hub2")]
    hubs = [start_hub(folder, LISTENERS) for folder in folders]
    ports = {name: free_port() for name in FRONTENDS}
    config = root / "haproxy.cfg"
    config.write_text(generate(ports, [{n: h.port(n) if n in h.addresses else 1 for n in FRONTENDS}
                                       for h in hubs]))
    checked = subprocess.run([haproxy, "-c", "-f", str(config)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    proxy = subprocess.Popen([haproxy, "-db", "-f", str(config)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    try:
        for name in LISTENERS:
            wait_port(ports[name], proxy)
        yield Cluster(hubs, first, users + [patient], proxy, ports)
    finally:
        proxy.send_signal(signal.SIGTERM)
        proxy.wait(timeout=20)
        for hub in hubs:
            hub.stop(timeout=30) if hub.process.poll() is None else None


def idle(port: int, user: str) -> Raw:
    raw = Raw(port)
    login_raw(raw, user, PASSWORD)
    raw.send(b"s SELECT INBOX\r\n")
    raw.until_tagged(b"s")
    raw.send(b"i IDLE\r\n")
    assert raw.line().startswith(b"+")
    return raw


def established_to(port: int) -> int:
    """How many established TCP connections the kernel shows toward this local port (haproxy's to a hub)."""
    wanted = f":{port:04X}"
    count = 0
    for line in open("/proc/net/tcp").read().splitlines()[1:]:
        fields = line.split()
        if fields[1].endswith(wanted) and fields[3] == "01":
            count += 1
    return count


def test_a_delivery_through_haproxy_wakes_idle_held_on_the_other_hub(cluster):
    user = cluster.users[0]
    # leastconn: the second session goes to the hub without one, so one of the two is on each hub.
    sessions = [idle(cluster.ports["imaps"], user) for _ in range(2)]
    assert [established_to(h.port("imaps")) for h in cluster.hubs] == [1, 1]
    with smtplib.SMTP("127.0.0.1", cluster.ports["mx"], timeout=60) as client:
        client.sendmail(SENDER, [user], make_message(SENDER, user, "Par HAProxy", "texte"))
    for raw in sessions:  # whichever hub took the SMTP session, the other hub's IDLE wakes too
        assert raw.line() == b"* 1 EXISTS"  # Raw's 30 s timeout is the guard; IDLE's own look is 600 s
        raw.close()


def test_2000_parallel_messages_through_haproxy_are_each_stored_once(cluster):
    users = cluster.users[1:1 + RECIPIENTS - 1]
    clients = [smtplib.SMTP("127.0.0.1", cluster.ports["mx"], timeout=60) for _ in range(CONNECTIONS)]
    assert all(established_to(h.port("mx")) >= 1 for h in cluster.hubs)  # both hubs take sessions
    failures: list[str] = []

    def send(index: int, client: smtplib.SMTP) -> None:
        try:
            for n in range(index, PARALLEL_MESSAGES, len(clients)):
                to = users[n % len(users)]
                assert client.sendmail(SENDER, [to], make_message(SENDER, to, f"p={n}", f"message {n}")) == {}
            client.quit()
        except Exception as exc:  # noqa: BLE001 - reported below by the test thread
            failures.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=send, args=(i, c)) for i, c in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    stored = subjects(cluster.folder, users)
    assert stored == collections.Counter({f"p={n}": 1 for n in range(PARALLEL_MESSAGES)})


def test_the_hubs_see_the_clients_own_addresses_through_haproxy(cluster):
    """Clients on other loopback addresses than HAProxy's: the Received line and the login trail name them."""
    user = cluster.users[0]
    with smtplib.SMTP("127.0.0.1", cluster.ports["mx"], timeout=60, source_address=("127.0.0.5", 0)) as client:
        client.sendmail(SENDER, [user], make_message(SENDER, user, "Depuis 127.0.0.5", "texte"))
    sock = socket.create_connection(("127.0.0.1", cluster.ports["imaps"]), timeout=60, source_address=("127.0.0.6", 0))
    tls = client_tls().wrap_socket(sock)
    tls.recv(1024)
    tls.sendall(b'L1 LOGIN "%s" "%s"\r\n' % (user.encode(), PASSWORD.encode()))
    tls.sendall(b'S1 SELECT INBOX\r\nF1 UID FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT RECEIVED)])\r\nL2 LOGOUT\r\n')
    answer = b""
    while b"L2 OK" not in answer:
        chunk = tls.recv(65536)
        assert chunk, answer
        answer += chunk
    tls.close()
    received = answer.split(b"Subject: Depuis 127.0.0.5")[0].rsplit(b"Received:", 1)[-1]
    assert b"[127.0.0.5]" in received, answer
    with Hub.open(cluster.folder) as hub:
        targets = hub.read_sync(lambda conn: conn.execute(
            select(AuditEvent.target).where(AuditEvent.actor == user)).scalars().all())
    assert "imap from:127.0.0.6" in targets, targets


def test_a_web_sign_in_through_haproxy(cluster):
    web = WebClient(cluster.ports["web"])
    signed = web.login(cluster.users[-1], PATIENT_PASSWORD)
    me = signed.call("GET", "/api/session")
    assert me.status == 200 and me.body["address"] == cluster.users[-1]
    denied = http.client.HTTPConnection("127.0.0.1", cluster.ports["web"], timeout=60)
    denied.request("GET", "/metrics")
    assert denied.getresponse().status == 403  # deploy/haproxy.cfg keeps the operator's page private


def test_kill_9_of_a_hub_loses_nothing_acknowledged_and_clients_retrying_reach_the_other(cluster):
    """Last in the module: it leaves one hub."""
    to = cluster.users[0]
    acked: list[int] = []
    errors = 0
    victim, survivor = cluster.hubs
    number = 0
    client = None
    killed_at = None
    deadline = time.monotonic() + GUARD_S * 2
    while len(acked) < 300 and time.monotonic() < deadline:
        if killed_at is None and len(acked) == 100:
            os.kill(victim.process.pid, signal.SIGKILL)
            victim.process.wait(timeout=30)
            killed_at = len(acked)
        try:
            if client is None:
                client = smtplib.SMTP("127.0.0.1", cluster.ports["mx"], timeout=30)
            number += 1
            if client.sendmail(SENDER, [to], make_message(SENDER, to, f"k={number}", "x")) == {}:
                acked.append(number)
            if number % 10 == 0:  # new sessions, so both hubs take some before the kill
                client.quit()
                client = None
        except (smtplib.SMTPException, OSError):
            errors += 1
            if client is not None:
                client.close()
            client = None
            time.sleep(0.1)  # as an MTA retries, after a pause
    if client is not None:
        client.quit()
    assert killed_at is not None and len(acked) == 300, (len(acked), errors)
    stored = subjects(cluster.folder, [to])
    for n in acked:
        assert stored[f"k={n}"] == 1, n
    assert max(stored.values()) == 1
    # HAProxy's /healthz check has taken the dead hub out: every new session now gets the survivor.
    deadline = time.monotonic() + GUARD_S
    while "Server hubs_mx/hub1 is DOWN" not in cluster.proxy_log.text():
        assert time.monotonic() < deadline, cluster.proxy_log.text()
        time.sleep(0.05)
    for _ in range(5):
        with smtplib.SMTP("127.0.0.1", cluster.ports["mx"], timeout=30) as fresh:
            assert fresh.noop()[0] == 250
    assert survivor.process.poll() is None
