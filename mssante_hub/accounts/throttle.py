"""Failed logins counted per key (client address, login name) in a sliding window, and checks in flight.

Shared by the front doors that take passwords, so that each counts the same way:
LoginGuard (below) is what SMTP submission, IMAP and the webmail use.

The guard's counts are hub-wide (accounts/failures.py: the hub's database), whichever worker or hub met
the failures; the LoginThrottle below is one process's own (the webmail's activation codes and links).

Failures are only known once a check has run (an Argon2id hash: tens of milliseconds), so counting them
alone lets a guesser with many connections have many guesses checked at once before the first failure is
recorded. The guard therefore also counts the checks in flight per login and per client address: past a
small bound the next attempt waits for a slot (and meets the failures recorded meanwhile), and past a
bound of waiting attempts it is refused at once ("busy").
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, AsyncIterator

from mssante_hub.accounts.failures import FailureStore, HubFailures

if TYPE_CHECKING:
    from mssante_hub.hub import Hub

# Past this many distinct keys the table is reset: bounded memory under a spray from many addresses.
MAX_TRACKED_KEYS = 100_000


class LoginThrottle:
    """Failed logins per key within a sliding window."""

    def __init__(self, max_failures: int, window_s: float) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._failures: dict[str, collections.deque[float]] = {}

    def _recent(self, key: str) -> collections.deque[float]:
        failures = self._failures.setdefault(key, collections.deque())
        horizon = time.monotonic() - self.window_s
        while failures and failures[0] < horizon:
            failures.popleft()
        return failures

    def blocked(self, key: str) -> bool:
        return len(self._recent(key)) >= self.max_failures

    def failed(self, key: str) -> None:
        self._recent(key).append(time.monotonic())
        if len(self._failures) > MAX_TRACKED_KEYS:
            self._failures.clear()


@dataclass(frozen=True)
class GuardLimits:
    max_failures: int  # per (client address, login): that pair is refused for the window
    window_s: float
    address_max_failures: int  # per client address, whatever the logins (a spray from one place)
    login_lock_failures: int  # per login, from anywhere: refused for the window, even from a new address
    delay_s: float  # wait before checking a login that failed lately, doubled per failure
    max_delay_s: float
    login_in_flight: int = 2  # checks of one login at once, from anywhere
    address_in_flight: int = 8  # checks from one client address at once, whatever the logins
    max_waiting: int = 32  # attempts waiting for a slot of one login (or of one address); more are refused


REFUSAL_TRACE_EVERY_S = 60.0  # refusals of one (address, login) are traced once a minute, not each
REFUSAL_WAIT_S = 1.0  # a refused attempt is answered after this: a guesser's reconnect loop slows down
THROTTLED = "throttled"  # earlier failures: refused for the window
BUSY = "busy"  # too many attempts for this login or address already checked or waiting


class LoginRefused(Exception):
    """An attempt the guard turns away before any secret is checked; `reason` is THROTTLED or BUSY."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InFlight:
    """Checks running at once per key (a login, a client address), with a bounded queue of waiters."""

    def __init__(self) -> None:
        self._running: collections.Counter[tuple[str, str]] = collections.Counter()
        self._waiting: collections.Counter[tuple[str, str]] = collections.Counter()
        self._waiters: dict[tuple[str, str], list[asyncio.Future]] = {}

    def running(self, key: tuple[str, str]) -> int:
        return self._running[key]

    async def enter(self, bounds: dict[tuple[str, str], int], max_waiting: int) -> bool:
        """Take a slot of every key once each has one free (whether it had to wait); LoginRefused(BUSY) if a queue
        is full."""
        waited = False
        while any(self._running[key] >= bound for key, bound in bounds.items()):
            if any(self._waiting[key] >= max_waiting for key in bounds):
                raise LoginRefused(BUSY)
            waiter = asyncio.get_running_loop().create_future()
            for key in bounds:
                self._waiting[key] += 1
                self._waiters.setdefault(key, []).append(waiter)
            waited = True
            try:
                await waiter
            finally:  # woken, or the connection went while waiting (cancelled)
                for key in bounds:
                    self._forget(key, waiter)
        for key in bounds:
            self._running[key] += 1
        return waited

    def _forget(self, key: tuple[str, str], waiter: asyncio.Future) -> None:
        self._waiting[key] -= 1
        if self._waiting[key] <= 0:
            del self._waiting[key]
        waiters = self._waiters.get(key, [])
        if waiter in waiters:
            waiters.remove(waiter)
        if not waiters:
            self._waiters.pop(key, None)

    def leave(self, keys) -> None:
        for key in keys:
            self._running[key] -= 1
            if self._running[key] <= 0:
                del self._running[key]
            for waiter in list(self._waiters.get(key, [])):  # each looks again at every key it needs
                if not waiter.done():
                    waiter.set_result(None)


@dataclass(frozen=True)
class Verdict:
    refused: bool
    delay_s: float


class LoginGuard:
    """Failed logins of one door counted three ways, as SMTP, IMAP and the webmail all need.

    - per (client address, login): the usual lock-out of one guesser on one account;
    - per client address: one place spraying many logins is turned away;
    - per login, from anywhere: a guesser spread over many addresses first meets a delay that
      doubles with each failure (the holder's right password from a new address waits too, but
      is not refused), and only past `login_lock_failures` is the login refused for the window.
      That last step is the trade-off (docs/security.md): an attacker with many addresses can lock
      a holder out for a while, in exchange for a hard stop to distributed guessing.

    The counts live in `failures` (accounts/failures.py): the hub's database for the doors, so that they are
    hub-wide; the checks in flight and the refusal traces are this process's own.
    """

    def __init__(self, limits: GuardLimits, failures: FailureStore) -> None:
        self.limits = limits
        self.failures = failures
        self.in_flight = InFlight()
        self._traced: dict[str, float] = {}
        self._recorded = 0  # failures this process recorded: an attempt's first look is stale once it moved

    @staticmethod
    def _pair_key(client: str, login: str) -> str:
        return f"{client}\x00{login.lower()}"

    @staticmethod
    def _keys(client: str, login: str) -> list[str]:
        """What one attempt is counted under: the pair, the address, and the login when there is one."""
        keys = [f"pair\x00{client}\x00{login}", f"address\x00{client}"]
        return keys + [f"login\x00{login}"] if login else keys

    async def address_refused(self, client: str) -> bool:
        """Before the login is known (SMTP's AUTH command): is this client address turned away?"""
        key = f"address\x00{client}"
        return (await self.failures.counts([key])).get(key, 0) >= self.limits.address_max_failures

    async def verdict(self, client: str, login: str) -> Verdict:
        """Refused, or the delay earned by the login's failures: one look at the counts."""
        login = login.lower()
        keys = self._keys(client, login)
        found = await self.failures.counts(keys)
        pair, address = found.get(keys[0], 0), found.get(keys[1], 0)
        failures = found.get(keys[2], 0) if login else 0
        if (pair >= self.limits.max_failures or address >= self.limits.address_max_failures
                or (login and failures >= self.limits.login_lock_failures)):
            return Verdict(True, 0.0)
        if not failures:
            return Verdict(False, 0.0)
        return Verdict(False, min(self.limits.max_delay_s, self.limits.delay_s * 2 ** (failures - 1)))

    @contextlib.asynccontextmanager
    async def attempt(self, client: str, login: str) -> AsyncIterator[None]:
        """Hold a slot of this login and of this address while the secret is checked inside the block.

        Raises LoginRefused before the block: THROTTLED (earlier failures, also those recorded while
        this attempt waited for its slot) or BUSY (too many attempts already waiting). The delay that
        earlier failures earned is waited inside the slot, so a guesser's parallel connections meet
        it one after another. Record a failure (`await failed`) inside the block, before the slot is let go.
        """
        login = login.lower()
        recorded = self._recorded
        verdict = await self.verdict(client, login)
        if verdict.refused:
            raise LoginRefused(THROTTLED)
        bounds = {("address", client): self.limits.address_in_flight}
        if login:
            bounds[("login", login)] = self.limits.login_in_flight
        waited = await self.in_flight.enter(bounds, self.limits.max_waiting)
        try:
            # Looked at again only if failures may have come since the first look: it waited for its slot, or
            # this process recorded one meanwhile. The common case costs one SELECT.
            if waited or self._recorded != recorded:
                verdict = await self.verdict(client, login)
                if verdict.refused:
                    raise LoginRefused(THROTTLED)
            if verdict.delay_s:
                await asyncio.sleep(verdict.delay_s)
            yield
        finally:
            self.in_flight.leave(bounds)

    def trace_refusal(self, client: str, login: str) -> bool:
        """Whether this refusal goes to the audit trace: the first of its pair each REFUSAL_TRACE_EVERY_S.

        A flood of refused attempts is one trace line a minute per address and login, not a write each
        (those writes queued the honest logins' traces behind them)."""
        key, now = self._pair_key(client, login.lower()), time.monotonic()
        if now - self._traced.get(key, -REFUSAL_TRACE_EVERY_S) < REFUSAL_TRACE_EVERY_S:
            return False
        if len(self._traced) > MAX_TRACKED_KEYS:
            self._traced.clear()
        self._traced[key] = now
        return True

    async def failed(self, client: str, login: str) -> None:
        """Count a failure of this pair, address and login; returns once every process's next check sees it."""
        await self.failures.record(self._keys(client, login.lower()), self.limits.window_s)
        self._recorded += 1


def door_guard(hub: Hub, door: str) -> LoginGuard:
    """A door's guard (imap, smtp, web): its limits, its counts in the hub's database."""
    return LoginGuard(guard_limits(hub.config, door), HubFailures(hub, door))


def guard_limits(config, door: str) -> GuardLimits:
    """A door's limits: its own pair threshold and window, the shared address, login and delay settings."""
    return GuardLimits(
        max_failures=config.get(f"{door}.max_failed_logins"),
        window_s=config.get(f"{door}.failed_login_window_s"),
        address_max_failures=config.get("auth.address_max_failures"),
        login_lock_failures=config.get("auth.login_lock_failures"),
        delay_s=config.get("auth.failed_login_delay_s"),
        max_delay_s=config.get("auth.max_failed_login_delay_s"),
        login_in_flight=config.get("auth.max_checks_in_flight_per_login"),
        address_in_flight=config.get("auth.max_checks_in_flight_per_address"),
        max_waiting=config.get("auth.max_waiting_checks"),
    )
