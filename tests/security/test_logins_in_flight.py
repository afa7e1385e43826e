"""Guesses sent at once over many connections are not all checked (accounts/throttle.LoginGuard.attempt).

Failures are recorded only once a password check (Argon2id, tens of milliseconds) has run. Before the
guard counted checks in flight, 16 connections sending a wrong password for one login at the same
moment all passed the failure count (nothing recorded yet) and all 16 were checked, although the pair's
limit is 5. Now at most `auth.max_checks_in_flight_per_login` checks of a login run at once; the others
wait for a slot and then meet the failures recorded meanwhile (or, past `auth.max_waiting_checks`, are
refused at once as busy). So at most limit + slots - 1 guesses are checked, on each door.

Real clients on real connections (imaplib in threads, aiosmtplib, http.client in threads), all
connected first and then released together.
"""

from __future__ import annotations

import asyncio
import http.client
import imaplib
import json
import socket
import ssl
import threading

import pytest

from mssante_hub.config import Config
from mssante_hub.hub import Hub
from tests.conftest import TEST_PASSWORD, add_professional, make_data_dir
from tests.imap.support import client_tls
from tests.support.served import served

PARALLEL = 16  # connections from one address (under every per-address connection cap)
SPREAD = 32  # addresses, one guess each
MAX_FAILURES = 5  # the doors' default pair limit (imap./smtp./web.max_failed_logins)
LOGIN_LOCK = 15  # auth.login_lock_failures, its default
IN_FLIGHT = 2  # auth.max_checks_in_flight_per_login, its default
WAITING = 4  # auth.max_waiting_checks, small here so that the busy refusal is met too
USERS = [f"guess{n}" for n in range(6)]


@pytest.fixture(scope="module")
def doors(tmp_path_factory):
    data_dir = make_data_dir(tmp_path_factory.mktemp("inflight"))
    config = Config.load(data_dir)
    for key, value in {"auth.max_waiting_checks": WAITING, "auth.failed_login_delay_s": 0.01,
                       "auth.max_failed_login_delay_s": 0.05}.items():
        config.set(key, value)
    config.save()
    hub = Hub.open(data_dir)
    try:
        users = [add_professional(hub, name) for name in USERS]
    finally:
        hub.close()
    with served(data_dir, ["imaps", "submission", "web"]) as running:
        yield running, users


def _released_together(clients: list, guess) -> list:
    """Run guess(client) for every client in its own thread, all started at the same moment."""
    barrier = threading.Barrier(len(clients))
    answers: list = [None] * len(clients)

    def run(n: int) -> None:
        barrier.wait()
        answers[n] = guess(clients[n])

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


class ImapFrom(imaplib.IMAP4_SSL):
    """imaplib over implicit TLS, leaving from a chosen loopback address (127.0.0.0/8 is all local)."""

    def __init__(self, port: int, source: str) -> None:
        self.source = source
        super().__init__("127.0.0.1", port, ssl_context=client_tls(), timeout=60)

    def _create_socket(self, timeout):
        sock = socket.create_connection((self.host, self.port), timeout, source_address=(self.source, 0))
        return self.ssl_context.wrap_socket(sock, server_hostname=self.host)


def _imap_guess(client: ImapFrom) -> str:
    try:
        client.login(client.user_to_try, "wrong guess")
        return "ok"
    except imaplib.IMAP4.error as refused:
        text = str(refused)
        return "failed" if "AUTHENTICATIONFAILED" in text else "unavailable" if "UNAVAILABLE" in text else text
    finally:
        client.shutdown()


def _imap_clients(port: int, user: str, sources: list[str]) -> list[ImapFrom]:
    clients = [ImapFrom(port, source) for source in sources]
    for client in clients:
        client.user_to_try = user
    return clients


def test_parallel_imap_guesses_from_one_address_are_not_all_checked(doors):
    running, users = doors
    user = users[0]
    answers = _released_together(_imap_clients(running.port("imaps"), user, ["127.0.0.1"] * PARALLEL), _imap_guess)
    assert set(answers) <= {"failed", "unavailable"}, answers
    # Before: all 16 checked (and answered AUTHENTICATIONFAILED), three times the pair's limit.
    assert answers.count("failed") <= MAX_FAILURES + IN_FLIGHT - 1, answers
    # The holder, from another address, is not locked out by them.
    holder = ImapFrom(running.port("imaps"), "127.0.0.9")
    assert holder.login(user, TEST_PASSWORD)[0] == "OK"
    holder.logout()


def test_parallel_imap_guesses_from_many_addresses_are_not_all_checked(doors):
    running, users = doors
    sources = [f"127.0.1.{n + 1}" for n in range(SPREAD)]  # one guess each: no pair, no address limit
    answers = _released_together(_imap_clients(running.port("imaps"), users[1], sources), _imap_guess)
    assert set(answers) <= {"failed", "unavailable"}, answers
    # Before: all 32 checked, past the login's lock (15).
    assert answers.count("failed") <= LOGIN_LOCK + IN_FLIGHT - 1, answers


def test_parallel_smtp_auth_guesses_are_not_all_checked(doors):
    import aiosmtplib

    running, users = doors
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE

    async def scene() -> list[int]:
        clients = []
        for _ in range(PARALLEL):
            client = aiosmtplib.SMTP(hostname="127.0.0.1", port=running.port("submission"), tls_context=context,
                                     start_tls=True, timeout=60)
            await client.connect()
            await client.ehlo()  # again, after STARTTLS
            clients.append(client)

        async def guess(client) -> int:
            try:
                await client.auth_plain(users[2], "wrong guess")  # one mechanism: one guess
                return 235
            except aiosmtplib.SMTPAuthenticationError as refused:
                return refused.code
            except aiosmtplib.SMTPServerDisconnected:
                return 421
            finally:
                client.close()

        return await asyncio.gather(*(guess(c) for c in clients))

    codes = asyncio.run(scene())
    assert set(codes) <= {535, 454, 421}, codes
    assert codes.count(535) <= MAX_FAILURES + IN_FLIGHT - 1, codes  # before: 16 times 535


def _web_guess(port: int, login: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("POST", "/api/session", body=json.dumps({"login": login, "password": "wrong guess"}),
                           headers={"Content-Type": "application/json"})
        answer = connection.getresponse()
        body = json.loads(answer.read() or b"{}")
        return answer.status if answer.status != 429 else body.get("error", {}).get("code", 429)
    finally:
        connection.close()


def test_parallel_web_sign_in_guesses_are_not_all_checked(doors):
    running, users = doors
    answers = _released_together([users[3]] * PARALLEL, lambda login: _web_guess(running.port("web"), login))
    assert set(answers) <= {401, "throttled", "sign_ins_busy"}, answers
    assert answers.count(401) <= MAX_FAILURES + IN_FLIGHT - 1, answers  # before: 16 times 401


# --- the guard itself: slots, the queue, what a waiter meets ------------------------------------

def _guard():
    from mssante_hub.accounts.failures import MemoryFailures
    from mssante_hub.accounts.throttle import GuardLimits, LoginGuard

    return LoginGuard(GuardLimits(max_failures=3, window_s=60, address_max_failures=100, login_lock_failures=100,
                                  delay_s=0, max_delay_s=0, login_in_flight=2, address_in_flight=8, max_waiting=2),
                      MemoryFailures())


def test_attempts_past_the_slots_wait_and_past_the_queue_are_busy():
    from mssante_hub.accounts.throttle import BUSY, THROTTLED, LoginRefused

    guard = _guard()
    outcomes: list[str] = []

    async def one(release: asyncio.Event) -> None:
        try:
            async with guard.attempt("192.0.2.1", "jean@hub.test"):
                outcomes.append("checked")
                await release.wait()
                await guard.failed("192.0.2.1", "jean@hub.test")
        except LoginRefused as refused:
            outcomes.append(refused.reason)

    async def scene() -> None:
        release = asyncio.Event()
        tasks = [asyncio.ensure_future(one(release)) for _ in range(8)]
        await asyncio.sleep(0)  # every attempt has asked for its slot
        for _ in range(3):
            await asyncio.sleep(0)
        assert outcomes.count("checked") == 2 and outcomes.count(BUSY) == 4  # 2 running, 2 waiting
        release.set()
        await asyncio.gather(*tasks)

    asyncio.run(scene())
    # The two waiters got their slots after the first two failures were recorded: one more check
    # (the third failure, the pair's limit), then the last one met the limit.
    assert outcomes.count("checked") == 3 and outcomes.count(THROTTLED) == 1 and outcomes.count(BUSY) == 4, outcomes
    assert guard.in_flight.running(("login", "jean@hub.test")) == 0


def test_a_waiter_gone_leaves_no_slot_or_place_behind():
    guard = _guard()

    async def scene() -> None:
        hold = asyncio.Event()

        async def holder() -> None:
            async with guard.attempt("192.0.2.1", "marie@hub.test"):
                await hold.wait()

        holders = [asyncio.ensure_future(holder()) for _ in range(2)]
        await asyncio.sleep(0)
        waiter = asyncio.ensure_future(holder())
        await asyncio.sleep(0)
        waiter.cancel()  # its connection went while it waited
        await asyncio.gather(waiter, return_exceptions=True)
        hold.set()
        await asyncio.gather(*holders)

    asyncio.run(scene())
    assert guard.in_flight._running == {} and guard.in_flight._waiting == {} and guard.in_flight._waiters == {}
