"""Failed logins counted per key (client address, login name) in a sliding window.

Shared by the front doors that take passwords, so that each counts the same way:
LoginGuard (below) is what SMTP submission, IMAP and the webmail use.
"""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass

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
    """

    def __init__(self, limits: GuardLimits) -> None:
        self.limits = limits
        self._pair = LoginThrottle(limits.max_failures, limits.window_s)
        self._address = LoginThrottle(limits.address_max_failures, limits.window_s)
        self._login = LoginThrottle(limits.login_lock_failures, limits.window_s)

    @staticmethod
    def _pair_key(client: str, login: str) -> str:
        return f"{client}\x00{login.lower()}"

    def verdict(self, client: str, login: str) -> Verdict:
        login = login.lower()
        if (self._pair.blocked(self._pair_key(client, login)) or self._address.blocked(client)
                or (login and self._login.blocked(login))):
            return Verdict(True, 0.0)
        failures = len(self._login._recent(login)) if login else 0
        if not failures:
            return Verdict(False, 0.0)
        return Verdict(False, min(self.limits.max_delay_s, self.limits.delay_s * 2 ** (failures - 1)))

    def failed(self, client: str, login: str) -> None:
        login = login.lower()
        self._pair.failed(self._pair_key(client, login))
        self._address.failed(client)
        if login:
            self._login.failed(login)


def guard_limits(config, door: str) -> GuardLimits:
    """A door's limits: its own pair threshold and window, the shared address, login and delay settings."""
    return GuardLimits(
        max_failures=config.get(f"{door}.max_failed_logins"),
        window_s=config.get(f"{door}.failed_login_window_s"),
        address_max_failures=config.get("auth.address_max_failures"),
        login_lock_failures=config.get("auth.login_lock_failures"),
        delay_s=config.get("auth.failed_login_delay_s"),
        max_delay_s=config.get("auth.max_failed_login_delay_s"),
    )
