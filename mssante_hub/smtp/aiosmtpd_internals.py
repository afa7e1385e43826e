"""Everything the SMTP engine reads, calls or overrides inside aiosmtpd, in one place.

Checked on the aiosmtpd versions pinned in setup.cfg (`aiosmtpd>=1.4.6,<1.5`);
tests/test_framework_internals.py fails loudly if a name used here goes away or changes kind.
"""

from __future__ import annotations

import asyncio
from typing import Callable

from aiosmtpd.smtp import SMTP

CHECKED_ON = ">=1.4.6,<1.5"
# Attributes an SMTP session instance has once constructed (the test builds one and checks them).
INSTANCE_ATTRIBUTES = ("_smtp_methods", "_auth_methods", "_tls_protocol", "_timeout_duration",
                       "_timeout_handle", "command_size_limits")
# Set by aiosmtpd once a client is connected (in _cb_client_connected), read by read_chunk and push_back.
CONNECTED_ATTRIBUTES = ("_reader",)
# Methods of aiosmtpd's SMTP class that we call or override.
METHODS = ("_cb_client_connected", "_timeout_cb", "_set_rset_state", "push", "smtp_HELO", "smtp_EHLO",
           "smtp_MAIL", "smtp_RCPT", "smtp_DATA")


def clone_session(template: SMTP, reader_limit: int) -> SMTP:
    """A fresh connection object made from a never-connected template.

    aiosmtpd's constructor introspects the class and the handler on every connection
    (about 2 ms of event-loop time); the command and AUTH tables it builds are the same
    each time, so they are copied and re-bound to the new object instead.
    """
    other = object.__new__(type(template))
    other.__dict__.update(template.__dict__)
    reader = asyncio.StreamReader(loop=template.loop, limit=reader_limit)
    asyncio.StreamReaderProtocol.__init__(other, reader, client_connected_cb=other._cb_client_connected,
                                          loop=template.loop)
    other._smtp_methods = {name: getattr(other, method.__name__) for name, method in template._smtp_methods.items()}
    other._auth_methods = {
        name: mech._replace(method=getattr(other, mech.method.__name__)) if mech.is_builtin else mech
        for name, mech in template._auth_methods.items()
    }
    return other


async def read_chunk(session: SMTP, size: int) -> bytes:
    """Up to `size` bytes straight from the session's stream (DATA is read in chunks, not lines)."""
    return await session._reader.read(size)


def push_back(session: SMTP, data: bytes) -> None:
    """Put bytes read past the end of DATA (pipelined commands) back in front of the stream."""
    session._reader._buffer[0:0] = data


def tls_active(session: SMTP) -> bool:
    return session._tls_protocol is not None


def idle_timeout(session: SMTP) -> float:
    return session._timeout_duration


def rearm_timer(session: SMTP, when: float, callback: Callable[[], None]) -> None:
    """Replace aiosmtpd's idle timer handle by one that fires at `when` (loop time)."""
    handle = session._timeout_handle
    if handle is not None:
        handle.cancel()
    session._timeout_handle = session.loop.call_at(when, callback)


def timer_due_after(session: SMTP, when: float) -> bool:
    """True if aiosmtpd's idle timer is missing, cancelled, or set later than `when`."""
    handle = session._timeout_handle
    return handle is None or handle.cancelled() or handle.when() > when


def expire(session: SMTP) -> None:
    """aiosmtpd's own end of an idle session."""
    session._timeout_cb()
