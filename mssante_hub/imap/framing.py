"""Cut the byte stream of one connection into complete IMAP commands, under caps.

A command is its lines and the literals between them ({n} synchronizing, {n+}
non-synchronizing, RFC 7888). Everything stays in memory (bounded): an APPEND
literal never spills to a temporary file, since it holds a message in clear.

Before login nobody has shown who they are: every command, literals included, is
capped at `max_preauth_command` (a few KiB; APPEND gets no exemption, it is not
valid then anyway), so no literal over it is invited or read. After login an
APPEND literal is reserved whole against the session's and the process's upload
budgets (budget.py) when it is announced, before a byte of it is read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mssante_hub.imap.budget import SessionUploads

_LITERAL_AT_END = re.compile(rb"\{(\d{1,20})(\+?)\}$")  # also ends a literal8's line (~{n}, RFC 3516)
# Messages in one APPEND (MULTIAPPEND, RFC 3502): each is a literal reserved whole, and the lines between
# them count against max_command, so this only bounds the work of one all-or-nothing store.
MAX_APPEND_MESSAGES = 1000
_APPEND_COMMAND = re.compile(rb"^\S+ +APPEND ", re.IGNORECASE)


@dataclass(frozen=True)
class FrameLimits:
    max_line: int
    max_string_literal: int
    max_append_literal: int
    max_command: int
    max_preauth_command: int


@dataclass
class Command:
    """Lines and literals alternating: [line, literal, line, literal, line]."""

    segments: list[bytes] = field(default_factory=list)
    reserved: int = 0  # upload budget bytes its literals hold; given back once it has run

    @property
    def first_line(self) -> bytes:
        return self.segments[0] if self.segments else b""


@dataclass(frozen=True)
class Refused:
    """A command that cannot be taken: `tag` gets `response`; `close` ends the connection."""

    tag: bytes
    response: bytes
    close: bool


@dataclass(frozen=True)
class ContinueLiteral:
    """The client announced a synchronizing literal that fits: send a continuation."""


class Framer:
    """Feed bytes in, get Command / Refused / ContinueLiteral events out."""

    def __init__(self, limits: FrameLimits, uploads: SessionUploads | None = None) -> None:
        self.limits = limits
        self.uploads = uploads
        self.authenticated = False  # set by the session at login: APPEND literals allowed from then on
        self._reserved = 0
        self._buffer = bytearray()
        self._segments: list[bytes] = []
        self._literal = bytearray()
        self._literal_left = 0
        self._command_bytes = 0
        self._literals = 0
        self.closed = False
        self.raw_lines = False  # IDLE / SASL continuation: lines are not commands

    def discard(self) -> None:
        """Drop everything buffered (after STARTTLS: nothing sent in clear may be acted on)."""
        self._buffer.clear()
        self._segments = []
        self._literal.clear()
        self._literal_left = 0
        self._command_bytes = 0
        self._literals = 0
        self._give_back()

    def _give_back(self) -> None:
        if self._reserved and self.uploads is not None:
            self.uploads.give(self._reserved)
        self._reserved = 0

    def feed(self, data: bytes) -> list:
        events: list = []
        if self.closed:
            return events
        self._buffer += data
        while self._buffer and not self.closed:
            if self._literal_left:
                take = bytes(self._buffer[: self._literal_left])
                del self._buffer[: len(take)]
                self._literal += take
                self._literal_left -= len(take)
                if not self._literal_left:
                    self._segments.append(bytes(self._literal))
                    self._literal.clear()
                continue
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) > self.limits.max_line:
                    events.append(self._refuse(b"*", b"LINE", close=True))
                break
            if end + 1 > self.limits.max_line + 2:
                events.append(self._refuse(b"*", b"LINE", close=True))
                break
            line = bytes(self._buffer[:end]).rstrip(b"\r")
            del self._buffer[: end + 1]
            if self.raw_lines and not self._segments:
                events.append(Command([line]))
                continue
            events.extend(self._line(line))
        return events

    def _line(self, line: bytes) -> list:
        self._segments.append(line)
        self._command_bytes += len(line)
        found = _LITERAL_AT_END.search(line)
        is_append = self.authenticated and bool(_APPEND_COMMAND.match(self._segments[0]))
        max_command = self.limits.max_command if self.authenticated else min(
            self.limits.max_command, self.limits.max_preauth_command)
        if not found:
            if self._command_bytes > max_command:
                return [self._refuse(self._tag(), b"COMMAND", close=True)]
            command = Command(self._segments, self._reserved)
            self._segments = []
            self._command_bytes = 0
            self._literals = 0
            self._reserved = 0
            return [command]
        size, non_sync = int(found[1]), bool(found[2])
        self._literals += 1
        if is_append and (self._command_bytes > max_command or self._literals > MAX_APPEND_MESSAGES):
            # The lines of a MULTIAPPEND (flags, dates) are capped as any command's are; its
            # messages are held to the upload budgets below.
            return [self._refuse(self._tag(), b"COMMAND", close=non_sync)]
        cap = self.limits.max_append_literal if is_append else self.limits.max_string_literal
        if not is_append:
            cap = min(cap, max_command - self._command_bytes)
        if size > cap:
            # A synchronizing literal was not sent yet: refuse and stay in step.
            # A non-synchronizing one is on its way: the only safe way out is to close.
            return [self._refuse(self._tag(), b"LITERAL", close=non_sync)]
        if is_append and size and self.uploads is not None:
            short = self.uploads.take(size)
            if short is not None:
                return [self._refuse(self._tag(), short.upper().encode(), close=non_sync)]
            self._reserved += size
        if not is_append:
            self._command_bytes += size
        if size == 0:
            self._segments.append(b"")
        else:
            self._literal_left = size
        return [] if non_sync else [ContinueLiteral()]

    def _tag(self) -> bytes:
        first = self._segments[0] if self._segments else b""
        return first.split(b" ", 1)[0][:64] or b"*"

    def _refuse(self, tag: bytes, why: bytes, close: bool) -> Refused:
        self._segments = []
        self._command_bytes = 0
        self._literals = 0
        self._give_back()
        if close:
            self.closed = True
            self._buffer.clear()
        return Refused(tag, why, close)
