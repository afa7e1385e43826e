"""The IMAP4Server subclass: framing, one command at a time, states, dispatch, IDLE.

Twisted's IMAP4Server gives the connection plumbing (greeting, timeouts, TLS
transport, line output); the command reading is ours: Twisted's does not keep
pipelined commands in order, reads literals into unbounded (and, above 10 MiB,
unencrypted temporary) files and ends IDLE on any line (docs/imap.md).
Each command runs as an asyncio coroutine; the next one starts when it is done.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import deque
from typing import Awaitable, Callable

from twisted.internet import interfaces
from twisted.mail.imap4 import IMAP4Server

from mssante_hub import admission
from mssante_hub.hub import Hub
from mssante_hub.observe import metrics, trace
from mssante_hub.imap import capabilities, dossier_view, recheck, responses, twisted_internals
from mssante_hub.imap.answers import budget_of
from mssante_hub.imap.backpressure import OutputGate, release_freed_memory
from mssante_hub.imap.budget import SessionUploads, pool_of
from mssante_hub.imap.framing import Command, ContinueLiteral, FrameLimits, Framer, Refused
from mssante_hub.imap.mailbox import SelectedFolder
from mssante_hub.imap.notify import Notifier
from mssante_hub.imap.syntax import UTF8_NAMES, Atom, SyntaxProblem, tokenize
from mssante_hub.rules.refusals import Refusal
from storage import grants, sync
from storage.accounts import AccountRow

log = logging.getLogger("mssante_hub.imap")

MAX_QUEUED_COMMANDS = 200  # pipelined commands held before the connection is paused
SMALL_FOLDER = 10_000  # messages up to which catching up with a folder reads on the loop (Hub.read small)
UNAUTH, AUTH, SELECTED, LOGOUT = "unauth", "auth", "select", "logout"
NO_EXPUNGE_REPORT = {b"FETCH", b"STORE", b"SEARCH"}  # RFC 3501 §7.4.1: no EXPUNGE during these
# Commands that read nothing of the selected folder's content: no rights read again before them.
RIGHTS_UNCHECKED = {b"LOGOUT", b"CAPABILITY", b"ID", b"ENABLE", b"UNSELECT", b"NAMESPACE", b"SELECT", b"EXAMINE"}



def no_delay(transport) -> None:
    """TCP_NODELAY on the socket below this session (below TLS too).

    Twisted leaves Nagle's algorithm on (asyncio, hence the SMTP door, turns it off). A FETCH
    of a body leaves in two writes, the literal then the tagged OK: with Nagle the second waited
    for the client's delayed ACK, ~40 ms on Linux, a quarter of the IMAP mix's commands."""
    tcp = admission.tcp_below(transport)
    if tcp is not None:
        tcp.setTcpNoDelay(True)

class No(Exception):
    """The command fails (tagged NO) with this text."""

    def __init__(self, text: bytes) -> None:
        super().__init__(text)
        self.text = text


class Bad(Exception):
    """The command is malformed or not allowed now (tagged BAD)."""

    def __init__(self, text: bytes) -> None:
        super().__init__(text)
        self.text = text


Handler = Callable[["Session", bytes, list, bool], Awaitable[bytes | None]]
COMMANDS: dict[bytes, tuple[frozenset[str], Handler]] = {}
UID_COMMANDS = {b"FETCH", b"STORE", b"COPY", b"MOVE", b"SEARCH", b"EXPUNGE", b"SORT", b"THREAD"}


def command(name: str, *states: str):
    """Register a handler: `async def h(session, tag, args, uid) -> OK text`."""

    def register(fn: Handler) -> Handler:
        COMMANDS[name.encode()] = (frozenset(states), fn)
        return fn

    return register


class Session(IMAP4Server):
    IDENT = responses.GREETING

    def __init__(self, hub: Hub, notifier: Notifier, tls_context, implicit_tls: bool, factory) -> None:
        super().__init__(contextFactory=tls_context)
        self.hub = hub
        self.notifier = notifier
        self.implicit_tls = implicit_tls
        self.server_factory = factory
        cfg = hub.config
        self.timeOut = cfg.get("imap.preauth_timeout_seconds")
        self.POSTAUTH_TIMEOUT = cfg.get("imap.autologout_seconds")
        self.framer = Framer(FrameLimits(
            max_line=cfg.get("imap.max_line_bytes"),
            max_string_literal=cfg.get("imap.max_string_literal_bytes"),
            max_append_literal=min(cfg.get("imap.max_append_bytes"), cfg.get("limits.max_message_bytes")),
            max_command=cfg.get("imap.max_command_bytes"),
            max_preauth_command=cfg.get("imap.max_preauth_command_bytes"),
        ), SessionUploads(pool_of(hub), cfg.get("imap.max_session_append_bytes")))
        self.queue: deque[Command] = deque()
        self.busy = False
        self.paused = False
        self.tls_active = implicit_tls
        self.account: AccountRow | None = None
        self.credentials_due = recheck.NOT_LOGGED_IN  # recheck.py: when the account is next read again
        self.reader = None  # mssante_hub.reader.Reader of the logged-in account
        self.selected: SelectedFolder | None = None
        self.enabled: set[bytes] = set()
        self.saved_result: list[tuple[int, int]] = []  # UID ranges SEARCH RETURN (SAVE) kept (SEARCHRES, $)
        self.dirty = False
        self.owed_expunges = False
        self._line_waiter: asyncio.Future | None = None
        self._updating = asyncio.Lock()
        self._output: list[bytes] = []
        self.written = 0
        self.gate = OutputGate()  # paused by Twisted while the client does not read
        self.gate.on_resume = self._resumed
        self.answers = budget_of(hub)  # answer bytes written while paused, counted hub-wide (answers.py)
        self.idling = False
        self.trace_id = trace.make("imap")  # the activity log's id of this session (observe/trace.py)

    # --- connection ---------------------------------------------------------------

    def connectionMade(self) -> None:  # noqa: N802 - Twisted's naming
        self.tls_active = self.implicit_tls or interfaces.ISSLTransport(self.transport, None) is not None
        if self.implicit_tls:
            twisted_internals.send_at_once_under_tls(self.transport)
        no_delay(self.transport)
        admission.bound_send_buffer(self.transport, self.hub.config.get("imap.send_buffer_bytes"))
        self.server_factory.sessions.add(self)
        self.peer_host = getattr(self.transport.getPeer(), "host", "")
        self.admitted = self.server_factory.per_address.acquire(self.peer_host)
        if not self.admitted or len(self.server_factory.sessions) > self.hub.config.get("imap.max_connections"):
            log.info("IMAP session refused from %s: %s", self.peer_host,
                     "too many from this address" if not self.admitted else "too many sessions")
            self.untagged(responses.BYE_TOO_MANY)
            self.flush()
            self.transport.loseConnection()  # no producer registered yet
            return
        self.transport.registerProducer(self.gate, True)
        metrics.IMAP_SESSIONS.inc()
        trace.run_in(self.trace_id, log.info, "IMAP session opened from %s (%s)", self.peer_host,
                     "TLS" if self.tls_active else "cleartext")
        super().connectionMade()

    def capabilities(self):
        return {}

    def listCapabilities(self) -> list[bytes]:  # noqa: N802 - Twisted's naming
        return capabilities.announce(self.tls_active, self.ctx is not None, self.account is not None,
                                     self.server_factory.tokens is not None)

    def connectionLost(self, reason) -> None:  # noqa: N802
        self.server_factory.sessions.discard(self)
        if getattr(self, "admitted", False):
            metrics.IMAP_SESSIONS.dec()
            trace.run_in(self.trace_id, log.info, "IMAP session from %s closed (%s)", self.peer_host,
                         self.account.address if self.account is not None else "not logged in")
            self.admitted = False
            self.server_factory.per_address.release(self.peer_host)
        self.state = LOGOUT
        self.unselect()
        if self._line_waiter is not None and not self._line_waiter.done():
            self._line_waiter.cancel()
        self.queue.clear()
        self.framer.uploads.give_all()  # what queued or half-read APPENDs held
        self._output = []
        self.gate.stopProducing()
        self.answers.release(self)
        release_freed_memory(self.written)
        super().connectionLost(reason)

    def timeoutConnection(self) -> None:  # noqa: N802
        waiting_for_client = self._line_waiter is not None and not self._line_waiter.done()  # IDLE, SASL
        if self.busy and not waiting_for_client:
            self.resetTimeout()  # a command still running (a slow login, say) is not inactivity
            return
        self.untagged(responses.BYE_AUTOLOGOUT)
        self.state = LOGOUT
        self.flush()
        self.close()

    def dataReceived(self, data: bytes) -> None:  # noqa: N802
        self.resetTimeout()
        for event in self.framer.feed(data):
            if isinstance(event, ContinueLiteral):
                self.sendLine(responses.CONTINUE_LITERAL)
            elif isinstance(event, Refused):
                self._refused(event)
            elif self._line_waiter is not None and not self._line_waiter.done():
                self.framer.raw_lines = False
                self._line_waiter.set_result(event.first_line)
            else:
                self.queue.append(event)
        if len(self.queue) > MAX_QUEUED_COMMANDS and not self.paused:
            self.paused = True
            self.transport.pauseProducing()
        self._pump()

    def _refused(self, event: Refused) -> None:
        if not event.close:
            self.sendLine(event.tag + b" NO " + _REFUSED_NO.get(event.response, responses.NO_LITERAL_TOO_BIG))
            return
        text = _REFUSED_BYE.get(event.response, responses.BYE_COMMAND_TOO_BIG)
        self.untagged(text)
        self.flush()
        self.close()

    def close(self) -> None:
        """Close the connection once what is written has gone.

        The output gate is unregistered first: Twisted's TLS transport does not shut down while a
        producer is registered on it (TLSMemoryBIOProtocol.loseConnection waits for
        unregisterProducer), so a LOGOUT or BYE over TLS would otherwise leave the connection open.
        """
        if self.transport is None:
            return
        self.gate.stopped = True
        self.transport.unregisterProducer()
        self.transport.loseConnection()

    # --- output -----------------------------------------------------------------------

    def emit(self, data: bytes) -> None:
        """Queue output; everything written in one turn of the loop leaves in one TLS write."""
        if not self._output:
            asyncio.get_running_loop().call_soon(self.flush)
        self._output.append(data)

    def flush(self) -> None:
        output, self._output = self._output, []
        if output and self.transport is not None:
            data = b"".join(output)
            self.written += len(data)
            twisted_internals.write_now(self.transport, data)

    def sendLine(self, line: bytes) -> None:  # noqa: N802 - Twisted's naming; continuations go through emit
        self.emit(line + b"\r\n")

    def untagged(self, text: bytes) -> None:
        self.emit(b"* " + text + b"\r\n")

    def tagged(self, tag: bytes, status: bytes, text: bytes) -> None:
        self.emit(tag + b" " + status + b" " + text + b"\r\n")

    # --- the command queue ----------------------------------------------------------

    def _pump(self) -> None:
        # While the client does not read what it was sent, the next command waits (backpressure.py).
        if self.busy or not self.queue or self.state == LOGOUT or self.gate.paused:
            return
        self.busy = True
        trace.run_in(self.trace_id, asyncio.ensure_future, self._run(self.queue.popleft()))

    async def _run(self, cmd: Command) -> None:
        started = asyncio.get_running_loop().time()
        try:
            await self.execute(cmd)
        finally:
            metrics.imap_command(_command_name(cmd.first_line), asyncio.get_running_loop().time() - started)
            self.framer.uploads.give(cmd.reserved)
            self.busy = False
            if self.paused and len(self.queue) < MAX_QUEUED_COMMANDS // 2 and self.transport is not None:
                self.paused = False
                self.transport.resumeProducing()
            asyncio.get_running_loop().call_soon(self._pump)

    async def execute(self, cmd: Command) -> None:
        first = cmd.first_line.split(b" ", 1)[0]
        tag = first if _valid_tag(first) else b"*"  # known before parsing, so a parse error is tagged
        UTF8_NAMES.set(bool(self.enabled & capabilities.UTF8_NAMES))  # this command's task only
        try:
            if self.account is not None and recheck.due(self) and not await recheck.still_valid(self):
                recheck.end_session(self)  # the password changed, or the mailbox was suspended or deleted
                return
            tokens = tokenize(cmd.segments)
            if not tokens or not isinstance(tokens[0], Atom) or not _valid_tag(tokens[0]):
                raise Bad(responses.BAD_SYNTAX)
            tag = bytes(tokens[0])
            if len(tokens) < 2 or not isinstance(tokens[1], Atom):
                raise Bad(responses.BAD_SYNTAX)
            name, args, uid = tokens[1].upper(), tokens[2:], False
            if name == b"UID":
                if not args or not isinstance(args[0], Atom) or args[0].upper() not in UID_COMMANDS:
                    raise Bad(responses.BAD_UNKNOWN_COMMAND)
                name, args, uid = args[0].upper(), args[1:], True
            entry = COMMANDS.get(name)
            if entry is None:
                raise Bad(responses.BAD_UNKNOWN_COMMAND)
            states, handler = entry
            if self.state not in states:
                raise Bad(responses.BAD_WRONG_STATE)
            if self.selected is not None and name not in RIGHTS_UNCHECKED:
                await self._recheck_rights()
            text = await handler(self, tag, args, uid)
            if text is None or self.state == LOGOUT:
                return  # the handler answered itself (STARTTLS, LOGOUT)
            await self.send_updates(allow_expunge=name not in NO_EXPUNGE_REPORT)
            self.tagged(tag, b"OK", text)
        except SyntaxProblem as exc:
            self.tagged(tag, b"BAD", responses.BAD_SYNTAX + b": " + str(exc).encode())
        except Bad as exc:
            self.tagged(tag, b"BAD", exc.text)
        except No as exc:
            self.tagged(tag, b"NO", exc.text)
        except Refusal as exc:
            self.tagged(tag, b"NO", exc.reason.en.encode("ascii", "replace"))
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - one bad command must not end the session
            log.exception("IMAP command failed")
            if self.transport is not None and self.state != LOGOUT:
                self.tagged(tag, b"BAD", responses.BAD_SERVER_ERROR)

    async def drain(self) -> None:
        """For a handler producing much output: wait until the client has read what was sent."""
        before = self.written
        self.flush()
        if self.gate.paused and not self.gate.stopped:
            self.answers.hold(self, self.written - before)  # in the server's buffers until the client reads
        await self.gate.wait()

    async def answer_room(self) -> None:
        """Before producing more: wait for the hub's answer budget (answers.py) to have room."""
        await self.answers.room(self)

    def _resumed(self) -> None:
        self.answers.release(self)
        self._pump()

    def abort_unread(self) -> None:
        """Cut a client that does not read while others need the answer budget; its buffers go with it."""
        if self.transport is not None:
            self.gate.stopped = True
            self.transport.abortConnection()

    async def _recheck_rights(self) -> None:
        """Another account's folder: its owner may have taken our rights away since SELECT (DELETEACL,
        SETACL): read them again before each command, and leave the folder once reading is gone."""
        view = self.selected
        if view.owner is None or self.account is None or view.owner.id == self.account.id:
            return
        if dossier_view.is_view_folder(view.folder):
            return  # a patient's dossier: its access rules, not grants (imap/dossier_view.py, at each opening)
        me = self.account.id
        rights = await self.hub.read(lambda conn: dict(grants.grants_for(conn, me)).get(view.id, ""), small=True)
        if self.selected is not view:
            return
        view.rights = rights
        if "l" not in rights or "r" not in rights:
            self.unselect()
            self.untagged(responses.OK_CLOSED)
            raise No(responses.NO_NO_PERMISSION)

    async def next_line(self) -> bytes:
        """The next client line that is not a command (IDLE's DONE, a SASL response)."""
        self.framer.raw_lines = True
        self._line_waiter = asyncio.get_running_loop().create_future()
        try:
            return await self._line_waiter
        finally:
            self._line_waiter = None
            self.framer.raw_lines = False

    @property
    def rev2(self) -> bool:
        """IMAP4rev2 enabled (RFC 9051): no \\Recent, ESEARCH answers to SEARCH, a LIST line at SELECT."""
        return capabilities.REV2 in self.enabled

    # --- the selected folder and its changes ----------------------------------------

    def select_view(self, view: SelectedFolder) -> None:
        self.unselect()
        self.saved_result = []  # RFC 5182 §2.1: a new mailbox starts with nothing saved
        self.selected = view
        self.state = SELECTED
        self.notifier.watch(view.id, self, view.owner.address if view.owner is not None else "")

    def unselect(self) -> None:
        if self.selected is not None:
            self.notifier.unwatch(self.selected.id, self)
            self.selected = None
            self.dirty = self.owed_expunges = False
        if self.state == SELECTED:
            self.state = AUTH

    def folder_changed(self) -> None:
        """Notifier callback: the selected folder changed (maybe by this very session)."""
        self.dirty = True
        if self.idling:
            asyncio.ensure_future(self.send_updates(allow_expunge=True))

    async def send_updates(self, allow_expunge: bool, look: bool = False) -> None:
        """Tell the client what changed in its folder. `look`: ask the store even if nothing was
        notified (NOOP and IDLE: another hub process may have changed the folder)."""
        # One at a time: an older snapshot applied after a newer one would announce false expunges.
        async with self._updating:
            view = self.selected
            if view is None or not (look or self.dirty or (self.owed_expunges and allow_expunge)):
                return
            if not (look or self.dirty):  # only expunges owed, already known: no read
                self.owed_expunges = False
                for line in view.expunge(sorted(view.unreported)):
                    self.untagged(line)
                return
            self.dirty = False
            since = view.synced
            # Small while the folder is: the watermark counts its messages (an index range), the rest is
            # what changed, which the client is then told line by line on the loop anyway.
            changes = await self.hub.read(lambda conn: sync.changes_since(conn, view.id, since),
                                          small=len(view.uids) <= SMALL_FOLDER)
            if self.selected is not view or self.transport is None:
                return
            result = view.apply_changes(changes, allow_expunge) if changes is not None else None
            if result is None:
                synced, states = await self.hub.read(lambda conn: sync.folder_state(conn, view.id))
                if self.selected is not view or self.transport is None:
                    return
                result = view.catch_up(states, allow_expunge, synced)
            lines, self.owed_expunges = result
            for line in lines:
                self.untagged(line)

    def changed(self, folder_id: int, including_me: bool = False) -> None:
        """This session changed a folder: tell the others watching it (and itself if asked)."""
        self.notifier.changed_here(folder_id, origin=None if including_me else self)


# The framer's refusals (framing.Refused.response): NO when still in step, BYE when closing.
_REFUSED_NO = {b"LITERAL": responses.NO_LITERAL_TOO_BIG, b"SESSION": responses.NO_SESSION_UPLOADS,
               b"POOL": responses.NO_BUSY_UPLOADS, b"COMMAND": responses.NO_COMMAND_TOO_BIG}
_REFUSED_BYE = {b"LINE": responses.BYE_LINE_TOO_LONG, b"SESSION": responses.BYE_SESSION_UPLOADS,
                b"POOL": responses.BYE_BUSY_UPLOADS}


# A tag: 1-64 printable ASCII characters but ( ) { % * " \ and + (checked twice per command: a
# regular expression rather than a generator over the characters).
_TAG = re.compile(rb'[\x21-\x7e]{1,64}')
_TAG_EXCLUDED = re.compile(rb'[(){%*"\\+]')


def _command_name(first_line: bytes) -> str:
    """The command's name for the latency metric (after UID); unknown names become metrics.OTHER_COMMAND."""
    words = first_line.split(b" ", 3)[1:3]
    if words and words[0].upper() == b"UID" and len(words) > 1:
        words = words[1:]
    name = words[0].upper() if words else b""
    return name.decode("ascii") if name in COMMANDS else metrics.OTHER_COMMAND


def _valid_tag(tag: bytes) -> bool:
    return _TAG.fullmatch(tag) is not None and _TAG_EXCLUDED.search(tag) is None
