"""Failed logins counted per key (client address, login name) in a sliding window.

Shared by the front doors that take passwords, so that each counts the same way.
"""

from __future__ import annotations

import collections
import time

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
