"""Failed logins are counted hub-wide (issue 11): a served `serve --workers 2` hub, on SQLite and on PostgreSQL,
refuses a guesser whose failures were spread over connections landing on both workers after the same number of
failures as one process would: IMAP LOGIN (imaplib), SMTP AUTH (smtplib), webmail sign-in (http.client). Which worker holds a connection is read from the kernel (tests/support/workers.py).
"""

from __future__ import annotations

import http.client
import imaplib
import json
import smtplib
import time

import pytest

from tests.imap.support import client_tls
from tests.support.served import served
from tests.support.workers import holder, wait_for_workers
from tests.test_workers import CONNECT_GUARD_S, PASSWORD, WORKERS, init_hub

MAX_FAILURES = 3  # the pair's limit: the next attempt, right password or not, is refused
SETTINGS = {
    "auth.failed_login_delay_s": 0.0,  # no doubling wait: the counts alone decide
    "auth.login_lock_failures": 100,
    "auth.address_max_failures": 100,
}


def imap_on(port: int, pids: set[int], wanted: int) -> imaplib.IMAP4_SSL:
    """A real imaplib connection accepted by worker `wanted` (the kernel picks: connect until it is that one)."""
    deadline = time.monotonic() + CONNECT_GUARD_S
    while time.monotonic() < deadline:
        client = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=client_tls(), timeout=60)
        if holder(client.sock, pids) == wanted:
            return client
        client.logout()
    raise AssertionError(f"no IMAP connection reached {wanted}")


def smtp_on(port: int, pids: set[int], wanted: int) -> smtplib.SMTP:
    deadline = time.monotonic() + CONNECT_GUARD_S
    while time.monotonic() < deadline:
        client = smtplib.SMTP("127.0.0.1", port, timeout=60)
        if holder(client.sock, pids) == wanted:
            client.starttls(context=client_tls())
            return client
        client.quit()
    raise AssertionError(f"no SMTP connection reached {wanted}")


def web_sign_in(port: int, pids: set[int], wanted: int, user: str, password: str) -> int:
    """POST /api/session on a connection accepted by worker `wanted`: 201, 401 or 429."""
    deadline = time.monotonic() + CONNECT_GUARD_S
    while time.monotonic() < deadline:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        connection.connect()
        if holder(connection.sock, pids) == wanted:
            try:
                connection.request("POST", "/api/session", body=json.dumps({"login": user, "password": password}),
                                   headers={"Content-Type": "application/json"})
                return connection.getresponse().status
            finally:
                connection.close()
        connection.close()
    raise AssertionError(f"no web connection reached {wanted}")


def imap_login(client: imaplib.IMAP4_SSL, user: str, password: str) -> str:
    try:
        client.login(user, password)
        return "OK"
    except imaplib.IMAP4.error as exc:
        return "UNAVAILABLE" if b"[UNAVAILABLE]" in str(exc).encode() else "AUTHENTICATIONFAILED"
    finally:
        try:
            client.logout()
        except (imaplib.IMAP4.error, OSError):
            pass


def smtp_login(client: smtplib.SMTP, user: str, password: str) -> int:
    """One AUTH PLAIN (smtplib's login() would try every mechanism offered, each a failure of its own)."""
    client.user, client.password = user, password
    try:
        client.ehlo()
        return client.auth("PLAIN", client.auth_plain)[0]
    except smtplib.SMTPAuthenticationError as exc:
        return exc.smtp_code
    finally:
        try:
            client.close()
        except OSError:
            pass


def test_imap_failures_spread_over_both_workers_count_once(tmp_path, storage_url):
    """Wrong passwords on connections alternating between the workers: after MAX_FAILURES in all, the right
    password is refused on either worker, as with one process (before: each worker had seen one or two
    failures only, and the right password logged in)."""
    data_dir, users = init_hub(tmp_path, storage_url, **{"imap.max_failed_logins": MAX_FAILURES, **SETTINGS})
    with served(data_dir, ["imaps"], workers=WORKERS) as hub:
        pids = sorted(wait_for_workers(hub.process.pid, WORKERS))
        port = hub.port("imaps")
        outcomes = [imap_login(imap_on(port, set(pids), pids[n % WORKERS]), users[0], "faux " + PASSWORD)
                    for n in range(MAX_FAILURES)]
        assert outcomes == ["AUTHENTICATIONFAILED"] * MAX_FAILURES
        # Worker pids[1] saw one of the failures, pids[0] two: both now refuse, the right password too.
        assert [imap_login(imap_on(port, set(pids), pid), users[0], PASSWORD) for pid in pids] == \
            ["UNAVAILABLE"] * WORKERS
        # Another login from the same address is not touched by this pair's count.
        assert imap_login(imap_on(port, set(pids), pids[1]), users[1], PASSWORD) == "OK"
        assert hub.stop() == 0


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_smtp_failures_spread_over_both_workers_count_once(tmp_path, storage_url):
    """The same with smtplib AUTH on submission: 535 MAX_FAILURES times over both workers, then 421 on each."""
    data_dir, users = init_hub(tmp_path, storage_url, **{"smtp.max_failed_logins": MAX_FAILURES, **SETTINGS})
    with served(data_dir, ["submission"], workers=WORKERS) as hub:
        pids = sorted(wait_for_workers(hub.process.pid, WORKERS))
        port = hub.port("submission")
        codes = [smtp_login(smtp_on(port, set(pids), pids[n % WORKERS]), users[0], "faux " + PASSWORD)
                 for n in range(MAX_FAILURES)]
        assert codes == [535] * MAX_FAILURES
        assert [smtp_login(smtp_on(port, set(pids), pid), users[0], PASSWORD) for pid in pids] == [421] * WORKERS
        assert smtp_login(smtp_on(port, set(pids), pids[1]), users[1], PASSWORD) == 235
        assert hub.stop() == 0


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_web_sign_in_failures_spread_over_both_workers_count_once(tmp_path, storage_url):
    """The same on the webmail's POST /api/session: 401 MAX_FAILURES times over both workers, then 429 on each."""
    data_dir, users = init_hub(tmp_path, storage_url, **{"web.max_failed_logins": MAX_FAILURES, **SETTINGS})
    with served(data_dir, ["web"], workers=WORKERS) as hub:
        pids = sorted(wait_for_workers(hub.process.pid, WORKERS))
        port = hub.port("web")
        codes = [web_sign_in(port, set(pids), pids[n % WORKERS], users[0], "faux " + PASSWORD)
                 for n in range(MAX_FAILURES)]
        assert codes == [401] * MAX_FAILURES
        assert [web_sign_in(port, set(pids), pid, users[0], PASSWORD) for pid in pids] == [429] * WORKERS
        assert web_sign_in(port, set(pids), pids[1], users[1], PASSWORD) == 201
        assert hub.stop() == 0
