"""A raw IMAP client for the conformance tests: sends exactly what it is given, reads responses
with their literals, so that each test can check the bytes an RFC specifies."""

from __future__ import annotations

import itertools
import re
import socket

from tests.imap.support import HOST, TIMEOUT_S, client_tls

_LITERAL_AT_END = re.compile(rb"\{(\d+)\}$")


class Client:
    def __init__(self, port: int) -> None:
        sock = socket.create_connection((HOST, port), timeout=TIMEOUT_S)
        self.sock = client_tls().wrap_socket(sock)
        self.buffer = b""
        self._tags = itertools.count(1)
        self.greeting = self.response()

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed by the server")
        self.buffer += chunk

    def line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            self._fill()
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def response(self) -> bytes:
        """One response, literals included inline ({n}\\r\\n then the n bytes)."""
        out = self.line()
        while True:
            found = _LITERAL_AT_END.search(out)
            if not found:
                return out
            size = int(found[1])
            while len(self.buffer) < size:
                self._fill()
            out += b"\r\n" + self.buffer[:size]
            self.buffer = self.buffer[size:]
            out += self.line()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def command(self, text: str | bytes, *literals: bytes) -> tuple[list[bytes], bytes]:
        """Send `TAG text` (each `{}` in text stands for the next literal, sent synchronously);
        the untagged responses and the tagged one."""
        tag = b"C%d" % next(self._tags)
        text = text.encode() if isinstance(text, str) else text
        pieces = text.split(b"{}")
        assert len(pieces) == len(literals) + 1
        self.send(tag + b" " + pieces[0])
        for literal, rest in zip(literals, pieces[1:]):
            self.send(b"{%d}\r\n" % len(literal))
            reply = self.response()
            if not reply.startswith(b"+"):
                return self._finish(tag, [reply])
            self.send(literal + rest)
        self.send(b"\r\n")
        return self._finish(tag, [])

    def _finish(self, tag: bytes, untagged: list[bytes]) -> tuple[list[bytes], bytes]:
        while True:
            if untagged and untagged[-1].startswith(tag + b" "):
                return untagged[:-1], untagged[-1][len(tag) + 1:]
            untagged.append(self.response())

    def ok(self, text: str | bytes, *literals: bytes) -> list[bytes]:
        untagged, tagged = self.command(text, *literals)
        assert tagged.startswith(b"OK"), (text, untagged, tagged)
        return untagged

    def append(self, mailbox: str, message: bytes, flags: str = "") -> bytes:
        _, tagged = self.command(f'APPEND "{mailbox}" {flags} {{}}'.replace("  ", " "), message)
        assert tagged.startswith(b"OK"), tagged
        return tagged

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def untagged_of(lines: list[bytes], word: bytes) -> list[bytes]:
    """The untagged responses whose first word (after `* ` and a number, if any) is `word`."""
    out = []
    for line in lines:
        parts = line.split(b" ", 3)
        if len(parts) > 1 and parts[1].upper() == word or len(parts) > 2 and parts[2].upper() == word:
            out.append(line)
    return out
