"""Password hashes (Argon2id), computed off the event loop and bounded in number.

One Argon2id hash holds tens of MiB for tens of milliseconds: a login storm must
not exhaust memory nor stall the protocols, hence the semaphore and the thread.
"""

from __future__ import annotations

import asyncio
import threading

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError


class Passwords:
    def __init__(self, time_cost: int, memory_kib: int, max_concurrent: int) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1)
        self._slots = threading.BoundedSemaphore(max_concurrent)

    def hash(self, password: str) -> str:
        with self._slots:
            return self._hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        if not stored:
            return False
        with self._slots:
            try:
                return self._hasher.verify(stored, password)
            except (VerificationError, InvalidHashError):
                return False

    async def verify_async(self, stored: str | None, password: str) -> bool:
        return await asyncio.get_running_loop().run_in_executor(None, self.verify, stored, password)
