"""Output backpressure: stop producing while the client does not read.

The session registers an OutputGate on its transport as a streaming producer;
Twisted pauses it when the transport's send buffer is over its bound (64 KiB)
and resumes it once the buffer has drained. While paused, the session starts no
further command (the command loop waits in `wait`); once its queue is full it
stops reading too, so a client that sends FETCHes and reads nothing holds at most
one command's answer in the server.

After a connection that had much output goes, freed memory is handed back to the
system (`malloc_trim`): glibc otherwise keeps a large freed heap for the process.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import time

from twisted.internet import interfaces
from zope.interface import implementer

TRIM_AFTER_BYTES = 8 * 1024 * 1024  # a session that wrote more than this trims the heap when it goes
TRIM_EVERY_S = 1.0  # at most once a second, whatever the number of such sessions closing
TRIM_DELAY_S = 0.5  # after the transport and the last command have let go of their buffers

_libc = None
_last_trim = 0.0


@implementer(interfaces.IPushProducer)
class OutputGate:
    """Twisted's pause/resume of one transport, as something a coroutine can wait on."""

    def __init__(self) -> None:
        self.paused = False
        self.stopped = False
        self._waiters: list[asyncio.Future] = []
        self.on_resume = lambda: None

    def pauseProducing(self) -> None:  # noqa: N802 - Twisted's naming
        self.paused = True

    def resumeProducing(self) -> None:  # noqa: N802
        self.paused = False
        self._wake()
        self.on_resume()

    def stopProducing(self) -> None:  # noqa: N802 - the connection is gone
        self.stopped = True
        self.paused = False
        self._wake()

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def wait(self) -> None:
        """Return once the transport takes more output (or the connection is gone)."""
        while self.paused and not self.stopped:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            await waiter


def release_freed_memory(written: int) -> None:
    """After a big session has gone: soon, give the heap's free pages back (glibc only)."""
    if written >= TRIM_AFTER_BYTES:
        asyncio.get_running_loop().call_later(TRIM_DELAY_S, _trim)


def _trim() -> None:
    global _libc, _last_trim
    now = time.monotonic()
    if now - _last_trim < TRIM_EVERY_S:
        return
    _last_trim = now
    gc.collect()  # a closed session and its transport refer to each other: a cycle holds their buffers
    if _libc is None:
        name = ctypes.util.find_library("c")
        try:
            _libc = ctypes.CDLL(name) if name else False
        except OSError:
            _libc = False
    trim = getattr(_libc, "malloc_trim", None) if _libc else None
    if trim is not None:
        trim(0)
