"""A process-wide budget of FETCH answer bytes written to clients that do not read them.

Backpressure (backpressure.py) holds each session to about one batch of answer in the server
while its client does not read; many such sessions together still add up. Each session tells the
budget what it wrote while its transport was paused (still in the server's buffers) and takes it
back once the transport drains or the connection goes. Before a FETCH reads its next batch it asks
for room: while the budget is spent, the session whose unread answer has waited longest (at least
UNREAD_GRACE_S) is disconnected and its buffers freed, so that clients which read are still
answered, and memory stays near `imap.max_buffered_answer_bytes`. Past the budget by at most one
batch per session producing at that moment.
"""

from __future__ import annotations

import asyncio
import logging
import time

log = logging.getLogger("mssante_hub.imap.answers")
UNREAD_GRACE_S = 1.0  # a reader is paused for milliseconds; one paused this long while others wait is not reading


class AnswerBudget:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.held = 0
        self._holders: dict[object, list] = {}  # session -> [bytes held, since when]
        self._waiters: list[asyncio.Future] = []

    def hold(self, session, size: int) -> None:
        """`session` wrote `size` bytes its transport has not sent yet."""
        entry = self._holders.setdefault(session, [0, time.monotonic()])
        entry[0] += size
        self.held += size

    def release(self, session) -> None:
        """Its transport drained (or the connection is gone): what it held is free again."""
        entry = self._holders.pop(session, None)
        if entry is None:
            return
        self.held -= entry[0]
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def room(self, session) -> None:
        """Return once this session may produce more; disconnect the longest unread holders if need be."""
        while self.held >= self.max_bytes:
            victim = self._longest_unread(session)
            if victim is not None:
                log.info("IMAP session cut: its unread answers held the hub's answer budget")
                self.release(victim)
                victim.abort_unread()
                continue
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await asyncio.wait_for(waiter, UNREAD_GRACE_S)
            except asyncio.TimeoutError:
                pass

    def _longest_unread(self, asking):
        horizon = time.monotonic() - UNREAD_GRACE_S
        found = [(since, s) for s, (_, since) in self._holders.items() if s is not asking and since <= horizon]
        return min(found, key=lambda pair: pair[0])[1] if found else None


def budget_of(hub) -> AnswerBudget:
    """One per hub process (both IMAP listeners draw from it)."""
    found = getattr(hub, "imap_answer_budget", None)
    if found is None:
        found = hub.imap_answer_budget = AnswerBudget(hub.config.get("imap.max_buffered_answer_bytes"))
    return found
