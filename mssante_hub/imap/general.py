"""Commands valid in any state or about the session itself: CAPABILITY, NOOP, LOGOUT,
STARTTLS, ID, ENABLE, IDLE, NAMESPACE, CHECK."""

from __future__ import annotations

import asyncio

from mssante_hub.imap import recheck, responses, wire
from mssante_hub.imap.server import AUTH, LOGOUT, SELECTED, UNAUTH, Bad, No, Session, command
from mssante_hub.imap.syntax import Atom, is_atom

ANY = (UNAUTH, AUTH, SELECTED)
SERVER_ID = [b"name", b"mssante-hub", b"vendor", b"mssante-hub project"]
MAX_ID_FIELDS = 30


@command("CAPABILITY", *ANY)
async def capability(s: Session, tag: bytes, args: list, uid: bool) -> bytes:
    if args:
        raise Bad(responses.BAD_SYNTAX)
    s.untagged(b"CAPABILITY " + b" ".join(s.listCapabilities()))
    return responses.OK_DONE


@command("NOOP", *ANY)
async def noop(s: Session, tag: bytes, args: list, uid: bool) -> bytes:
    if s.selected is not None:
        await _look_for_other_processes(s)  # clients poll with NOOP: tell them of other processes' changes too
    return responses.OK_DONE


@command("CHECK", SELECTED)
async def check(s: Session, tag: bytes, args: list, uid: bool) -> bytes:
    return responses.OK_DONE


@command("LOGOUT", *ANY)
async def logout(s: Session, tag: bytes, args: list, uid: bool) -> bytes | None:
    s.untagged(responses.BYE_LOGOUT)
    s.tagged(tag, b"OK", responses.OK_LOGOUT)
    s.unselect()
    s.state = LOGOUT
    s.flush()
    s.close()
    return None


@command("STARTTLS", UNAUTH)
async def starttls(s: Session, tag: bytes, args: list, uid: bool) -> bytes | None:
    if s.tls_active:
        raise No(responses.NO_TLS_ACTIVE)
    if s.ctx is None:
        raise No(responses.NO_TLS_UNAVAILABLE)
    # Whatever the client sent after STARTTLS in clear is dropped (command injection).
    s.framer.discard()
    s.queue.clear()
    s.tagged(tag, b"OK", responses.OK_STARTTLS)
    s.flush()  # the OK leaves in clear, before the handshake
    s.transport.startTLS(s.ctx)
    s.tls_active = True
    s.state = UNAUTH
    return None


@command("ID", *ANY)
async def id_(s: Session, tag: bytes, args: list, uid: bool) -> bytes:
    if len(args) != 1 or not (isinstance(args[0], list) or is_atom(args[0], b"NIL")):
        raise Bad(responses.BAD_SYNTAX)
    if isinstance(args[0], list) and len(args[0]) > 2 * MAX_ID_FIELDS:
        raise Bad(responses.BAD_SYNTAX)
    s.untagged(b"ID " + wire.value(SERVER_ID))
    return responses.OK_DONE


@command("ENABLE", AUTH, SELECTED)
async def enable(s: Session, tag: bytes, args: list, uid: bool) -> bytes:
    if not args:
        raise Bad(responses.BAD_SYNTAX)
    from mssante_hub.imap.capabilities import ENABLEABLE

    known = {e.upper(): e for e in ENABLEABLE}  # names are case-insensitive; kept as announced (IMAP4rev2)
    done = []
    for arg in args:
        name = known.get(arg.upper()) if isinstance(arg, Atom) else None
        if name is not None and name not in s.enabled:
            s.enabled.add(name)
            done.append(name)
    if b"QRESYNC" in s.enabled:
        s.enabled.add(b"CONDSTORE")  # RFC 7162 §3.2.3: QRESYNC implies CONDSTORE
    if s.rev2 and s.selected is not None:
        s.selected.forget_recent()  # RFC 9051 has no \\Recent: none in this session's answers from now on
    if b"CONDSTORE" in s.enabled and s.selected is not None:
        from mssante_hub.imap.messages import enable_condstore

        enable_condstore(s)
        s.selected.qresync = b"QRESYNC" in s.enabled
    s.untagged(b"ENABLED" + b"".join(b" " + d for d in done))
    return responses.OK_DONE


@command("NAMESPACE", AUTH, SELECTED)
async def namespace(s: Session, tag: bytes, args: list, uid: bool) -> bytes:
    from mssante_hub.imap.folders import DELIMITER, SHARED_PREFIX

    spaces = [[[b"", DELIMITER]], None, [[SHARED_PREFIX + DELIMITER, DELIMITER]]]  # personal, others, shared
    s.untagged(b"NAMESPACE " + b" ".join(wire.value(space) for space in spaces))
    return responses.OK_DONE


@command("IDLE", AUTH, SELECTED)
async def idle(s: Session, tag: bytes, args: list, uid: bool) -> bytes | None:
    """RFC 2177; ends only on DONE. Changes are sent as they happen."""
    if args:
        raise Bad(responses.BAD_SYNTAX)
    await s.send_updates(allow_expunge=True)
    s.sendLine(responses.CONTINUE_IDLE)
    s.idling = True
    poll = s.hub.config.get("imap.idle_poll_seconds")
    try:
        while True:
            waiter = asyncio.ensure_future(s.next_line())
            while not waiter.done():
                done, _ = await asyncio.wait([waiter], timeout=poll)
                if not done and not await recheck.still_valid(s):
                    waiter.cancel()
                    recheck.end_session(s)  # an IDLE session sends no command: checked at its polls
                    return None
                if not done and s.selected is not None:
                    await _look_for_other_processes(s)
            line = waiter.result()
            if line.strip().upper() == b"DONE":
                break
            s.untagged(b"BAD " + responses.BAD_EXPECTED_DONE)
    finally:
        s.idling = False
    return responses.OK_IDLE


async def _look_for_other_processes(s: Session) -> None:
    """Another hub process may have changed the folder: every change bumps its MODSEQ, so one
    small read tells, and the changes since the view's MODSEQ are all that is read."""
    await s.send_updates(allow_expunge=True, look=True)
