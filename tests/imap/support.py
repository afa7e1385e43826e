"""Helpers for the IMAP tests: TLS contexts, a raw line client for what imaplib cannot send."""

from __future__ import annotations

import imaplib
import socket
import ssl

HOST = "127.0.0.1"
TIMEOUT_S = 30  # a guard against hangs, not a timing assertion


def client_tls() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the hub's self-signed test certificate
    return ctx


def imaps(port: int, user: str | None = None, password: str | None = None) -> imaplib.IMAP4_SSL:
    client = imaplib.IMAP4_SSL(HOST, port, ssl_context=client_tls(), timeout=TIMEOUT_S)
    if user:
        client.login(user, password)
    return client


class Raw:
    """A line-oriented client over TLS (or not) that sends exactly the bytes it is given."""

    def __init__(self, port: int, tls: bool = True) -> None:
        sock = socket.create_connection((HOST, port), timeout=TIMEOUT_S)
        self.sock = client_tls().wrap_socket(sock) if tls else sock
        self.buffer = b""
        self.greeting = self.line()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def until_tagged(self, tag: bytes) -> list[bytes]:
        """Lines up to and including the tagged reply (literals are read as lines; fine for tests)."""
        lines = []
        while True:
            line = self.line()
            lines.append(line)
            if line.startswith(tag + b" "):
                return lines

    def closed(self) -> bool:
        """Whether the server closed the connection: end of stream or reset; a read timeout means still open."""
        try:
            while True:
                if not self.sock.recv(65536):
                    return True
        except TimeoutError:  # socket.timeout is an OSError too: the server kept the connection open
            return False
        except (ConnectionError, ssl.SSLError, OSError):
            return True

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def login_raw(raw: Raw, user: str, password: str) -> None:
    raw.send(b'L1 LOGIN "%s" "%s"\r\n' % (user.encode(), password.encode()))
    assert raw.until_tagged(b"L1")[-1].startswith(b"L1 OK")


def append_big(raw: Raw, count: int, size: int, subject: str, first: int = 0) -> None:
    """APPEND messages `first`..`count - 1` of about `size` bytes each to INBOX, one at a time, each OK checked."""
    line = b"x" * 76 + b"\r\n"
    body = line * (size // len(line))
    for n in range(first, count):
        message = b"From: bob@hub.test\r\nSubject: %s %d\r\n\r\n" % (subject.encode(), n) + body
        raw.send(b"a%d APPEND INBOX {%d+}\r\n" % (n, len(message)) + message + b"\r\n")
        assert raw.until_tagged(b"a%d" % n)[-1].startswith(b"a%d OK" % n)


def message(subject: str = "Hello", body: str = "Body text\r\n", sender: str = "bob@hub.test",
            to: str = "alice@hub.test", date: str = "Mon, 02 Nov 2026 10:00:00 +0000", extra: str = "") -> bytes:
    return (f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: {date}\r\n"
            f"Message-ID: <{abs(hash((subject, body)))}@hub.test>\r\n{extra}\r\n{body}").encode("utf-8")
