"""The trace id of what is being done: one per SMTP session, IMAP session or web request.

A context variable, so every log line written while a session's task runs carries it (the JSON
log's `trace` field, admin/logs.py), the delivery's lines included: the id follows a message from
its door through delivery.accept to its stored id, which the relay's lines name.
"""

from __future__ import annotations

import contextvars
import secrets

TRACE_BYTES = 6
current: contextvars.ContextVar[str] = contextvars.ContextVar("mssante_hub_trace", default="")


def make(prefix: str) -> str:
    """A fresh id such as `smtp-1a2b3c4d5e6f` (random: it says nothing of the client)."""
    return f"{prefix}-{secrets.token_hex(TRACE_BYTES)}"


def new(prefix: str) -> str:
    """A fresh id made current in this context; returned."""
    value = make(prefix)
    current.set(value)
    return value


def run_in(value: str, fn, *args):
    """Call fn(*args) in a copy of the current context whose trace id is `value` (tasks it starts keep it)."""
    context = contextvars.copy_context()
    context.run(current.set, value)
    return context.run(fn, *args)
