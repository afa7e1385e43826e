"""The PROXY protocol (v1 and v2) on the TCP doors (issue 16, docs/operations.md "Several machines"): a served hub
whose mx, imap and imaps listeners read the header; real smtplib and imaplib clients that send it first, as HAProxy
does. The hub must see the client the header names (per-address caps, mx.trusted_networks, the Received line, the
login trail), refuse the header from anyone but a trusted balancer, and close on a malformed or missing one.
The live HAProxy run is tests/ha/test_haproxy.py."""

from __future__ import annotations

import imaplib
import ipaddress
import smtplib
import socket
import struct
import time

import pytest
from sqlalchemy import select

from mssante_hub import proxy_header
from mssante_hub.config import Config, ConfigError
from mssante_hub.hub import Hub
from storage.models import AuditEvent
from tests.imap.support import client_tls
from tests.support.mail import make_message
from tests.support.served import served
from tests.test_observability import scrape
from tests.test_workers import PASSWORD, SENDER, init_hub

HOST = "127.0.0.1"
TIMEOUT_S = 30  # a guard against hangs, not a timing assertion
BALANCER = "127.0.0.1"  # the only trusted source
NOT_A_BALANCER = "127.0.0.2"
HEADER_TIMEOUT_S = 3
SESSIONS_PER_CLIENT = 2
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def v1(client: str, client_port: int = 40000) -> bytes:
    family = "TCP6" if ":" in client else "TCP4"
    server = "::1" if ":" in client else "127.0.0.1"
    return f"PROXY {family} {client} {server} {client_port} 25\r\n".encode()


def v2(client: str | None, client_port: int = 40000, tlv: bytes = b"") -> bytes:
    """A v2 PROXY header; `client` None: the LOCAL command (HAProxy's own health check)."""
    if client is None:
        return V2_SIGNATURE + bytes([0x20, 0x00]) + struct.pack("!H", len(tlv)) + tlv
    ip = ipaddress.ip_address(client)
    family = 0x11 if ip.version == 4 else 0x21
    server = ipaddress.ip_address("127.0.0.1" if ip.version == 4 else "::1")
    body = ip.packed + server.packed + struct.pack("!HH", client_port, 993) + tlv
    return V2_SIGNATURE + bytes([0x21, family]) + struct.pack("!H", len(body)) + body


class ProxiedSMTP(smtplib.SMTP):
    """smtplib, the header written first on the new socket (what HAProxy's send-proxy does)."""

    def __init__(self, header: bytes, port: int) -> None:
        self.header = header
        super().__init__(HOST, port, timeout=TIMEOUT_S)

    def _get_socket(self, host, port, timeout):
        sock = super()._get_socket(host, port, timeout)
        sock.sendall(self.header)
        return sock


class ProxiedIMAP(imaplib.IMAP4):
    def __init__(self, header: bytes, port: int) -> None:
        self.header = header
        super().__init__(HOST, port, timeout=TIMEOUT_S)

    def _create_socket(self, timeout):
        sock = super()._create_socket(timeout)
        sock.sendall(self.header)
        return sock


class ProxiedIMAPS(imaplib.IMAP4_SSL):
    """imaps: the header in clear, then the TLS handshake."""

    def __init__(self, header: bytes, port: int) -> None:
        self.header = header
        super().__init__(HOST, port, ssl_context=client_tls(), timeout=TIMEOUT_S)

    def _create_socket(self, timeout):
        sock = imaplib.IMAP4._create_socket(self, timeout)
        sock.sendall(self.header)
        return self.ssl_context.wrap_socket(sock, server_hostname=self.host)


def raw_socket(port: int, source: str = BALANCER) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(TIMEOUT_S)
    sock.bind((source, 0))
    sock.connect((HOST, port))
    return sock


def closed_unanswered(sock: socket.socket) -> bool:
    """True when the server closes without a byte (a reset counts as closed)."""
    try:
        return sock.recv(1024) == b""
    except ConnectionResetError:
        return True
    finally:
        sock.close()


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    data_dir, users = init_hub(tmp_path_factory.mktemp("proxy"), None, **{
        "proxy.listeners": ["mx", "imap", "imaps"],
        "proxy.trusted_sources": [f"{BALANCER}/32"],
        "proxy.header_timeout_s": HEADER_TIMEOUT_S,
        "smtp.max_sessions_per_client": SESSIONS_PER_CLIENT,
        "imap.max_connections_per_address": SESSIONS_PER_CLIENT,
    })
    with served(data_dir, ["mx", "submission", "imap", "imaps", "web"]) as running:
        running.data_dir, running.users = data_dir, users
        yield running


def received_line(hub, subject: str, header: bytes) -> bytes:
    client = ProxiedIMAPS(header, hub.port("imaps"))
    try:
        client.login(hub.users[0], PASSWORD)
        client.select("INBOX")
        typ, found = client.uid("SEARCH", None, "SUBJECT", f'"{subject}"')
        assert typ == "OK" and found[0], f"{subject!r} not delivered"
        typ, data = client.uid("FETCH", found[0].split()[-1], "(BODY.PEEK[HEADER.FIELDS (RECEIVED)])")
        return data[0][1]
    finally:
        client.logout()


def test_mx_sees_the_client_the_v1_header_names(hub):
    client = ProxiedSMTP(v1("127.0.0.9"), hub.port("mx"))
    code, _ = client.ehlo("chu.example")
    assert code == 250
    client.sendmail(SENDER, [hub.users[0]], make_message(SENDER, hub.users[0], "par le proxy v1", "corps"))
    client.quit()
    assert b"[127.0.0.9]" in received_line(hub, "par le proxy v1", v2("127.0.0.10"))


def test_mx_trusted_networks_are_judged_on_the_named_client_not_the_balancer(hub):
    """The balancer is on 127.0.0.0/8 (mx.trusted_networks); a client outside it must still show TLS."""
    client = ProxiedSMTP(v2("203.0.113.9"), hub.port("mx"))
    client.ehlo("outside.example")
    code, reply = client.mail(SENDER)
    assert code == 530, reply  # STARTTLS first
    client.quit()


def test_the_smtp_per_address_cap_counts_the_named_clients(hub):
    held = [ProxiedSMTP(v1("198.51.100.1"), hub.port("mx")) for _ in range(SESSIONS_PER_CLIENT)]
    try:
        with pytest.raises(smtplib.SMTPConnectError) as refused:
            ProxiedSMTP(v1("198.51.100.1"), hub.port("mx"))
        assert refused.value.smtp_code == 421
        other = ProxiedSMTP(v2("198.51.100.2"), hub.port("mx"))  # another client behind the same balancer
        assert other.noop()[0] == 250
        other.quit()
    finally:
        for client in held:
            client.quit()


def test_a_listener_outside_proxy_listeners_takes_no_header(hub):
    client = smtplib.SMTP(HOST, hub.port("submission"), timeout=TIMEOUT_S)
    assert client.ehlo("poste.example")[0] == 250
    client.quit()


def test_imap_starttls_and_login_after_a_v2_header_record_the_named_client(hub):
    client = ProxiedIMAP(v2("198.51.100.3"), hub.port("imap"))
    client.starttls(ssl_context=client_tls())
    client.login(hub.users[1], PASSWORD)
    client.logout()
    with Hub.open(hub.data_dir) as opened:
        targets = opened.read_sync(lambda conn: conn.execute(
            select(AuditEvent.target).where(AuditEvent.actor == hub.users[1])).scalars().all())
    assert "imap from:198.51.100.3" in targets, targets
    assert "IMAP session opened from 198.51.100.3 (cleartext)" in wait_for_log(hub, "198.51.100.3")


def wait_for_log(hub, needle: str) -> str:
    """The hub's log once `needle` is in it (or the guard ran out): its lines reach the pipe a moment later."""
    deadline = time.monotonic() + TIMEOUT_S
    while needle not in hub.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    return hub.log()


def test_imaps_reads_the_header_before_tls_and_caps_the_named_client(hub):
    held = [ProxiedIMAPS(v2("198.51.100.4"), hub.port("imaps")) for _ in range(SESSIONS_PER_CLIENT)]
    try:
        with pytest.raises(imaplib.IMAP4.error):  # BYE: too many from this address
            ProxiedIMAPS(v2("198.51.100.4"), hub.port("imaps"))
        other = ProxiedIMAPS(v1("198.51.100.5"), hub.port("imaps"))
        other.login(hub.users[2], PASSWORD)
        other.logout()
    finally:
        for client in held:
            client.logout()
    assert "IMAP session opened from 198.51.100.5 (TLS)" in wait_for_log(hub, "198.51.100.5 (TLS)")


def test_a_header_cut_in_pieces_and_followed_by_the_client_hello_is_read_whole(hub):
    sock = raw_socket(hub.port("imaps"))
    for byte in v2("198.51.100.6", tlv=b"\x04\x00\x01\x00"):  # a NOOP TLV, one byte per segment
        sock.sendall(bytes([byte]))
        time.sleep(0.001)
    tls = client_tls().wrap_socket(sock)
    assert tls.recv(1024).startswith(b"* OK")
    tls.close()
    assert "IMAP session opened from 198.51.100.6" in wait_for_log(hub, "198.51.100.6")


def test_ipv6_clients_named_over_an_ipv4_balancer_connection(hub):
    """The header's family is the client's, not the balancer's link: v1 TCP6 on mx, v2 AF_INET6 on imaps."""
    client = ProxiedSMTP(v1("2001:db8::7"), hub.port("mx"))
    client.ehlo("v6.example")
    code, reply = client.mail(SENDER)
    assert code == 530, reply  # 2001:db8::7 is not in mx.trusted_networks (127.0.0.0/8): STARTTLS first
    client.quit()
    imaps = ProxiedIMAPS(v2("2001:db8::8"), hub.port("imaps"))
    imaps.logout()
    assert "IMAP session opened from 2001:db8::8 (TLS)" in wait_for_log(hub, "2001:db8::8")


def test_a_local_header_keeps_the_balancers_address(hub):
    client = ProxiedSMTP(v2(None), hub.port("mx"))  # HAProxy's own check, no client behind it
    assert client.noop()[0] == 250
    client.quit()


@pytest.mark.parametrize("listener", ["mx", "imap", "imaps"])
def test_a_header_from_an_untrusted_source_is_refused_unanswered(hub, listener):
    sock = raw_socket(hub.port(listener), source=NOT_A_BALANCER)
    sock.sendall(v1("198.51.100.7"))
    assert closed_unanswered(sock)
    needle = f"{listener} connection from {NOT_A_BALANCER} refused: not a trusted PROXY source"
    assert needle in wait_for_log(hub, needle)


@pytest.mark.parametrize("listener", ["mx", "imap", "imaps"])
@pytest.mark.parametrize("garbage", [b"EHLO chu.example\r\n", b"PROXY TCP4 1.2.3.4\r\n",
                                     b"PROXY " + b"9" * 200 + b"\r\n", V2_SIGNATURE + b"\x31\x11\x00\x0c"])
def test_a_malformed_header_is_refused_unanswered(hub, listener, garbage):
    sock = raw_socket(hub.port(listener))
    sock.sendall(garbage)
    assert closed_unanswered(sock)


@pytest.mark.parametrize("listener", ["mx", "imaps"])
def test_no_header_within_the_timeout_closes(hub, listener):
    """A trusted source that says nothing is closed after proxy.header_timeout_s (the guard is far longer)."""
    sock = raw_socket(hub.port(listener))
    started = time.monotonic()
    assert closed_unanswered(sock)  # never greeted: the greeting waits for the header
    assert time.monotonic() - started < TIMEOUT_S


def test_the_hub_serves_on_after_all_of_that_and_counts_what_it_refused(hub):
    client = ProxiedSMTP(v1("127.0.0.11"), hub.port("mx"))
    client.sendmail(SENDER, [hub.users[3]], make_message(SENDER, hub.users[3], "toujours la", "corps"))
    client.quit()
    refused = {(s.labels["listener"], s.labels["reason"]): s.value
               for s in scrape(hub.port("web"))["mssante_hub_proxy_refused_total"]}
    for listener in ("mx", "imap", "imaps"):  # the tests above, run before this one in the file
        assert refused[(listener, proxy_header.REFUSED_UNTRUSTED)] >= 1
        assert refused[(listener, proxy_header.REFUSED_BAD_HEADER)] >= 4


def test_proxy_listeners_without_a_trusted_source_is_a_configuration_error(tmp_path):
    config = Config.load(init_hub(tmp_path, None)[0])
    config.set("proxy.listeners", ["mx"])
    with pytest.raises(ConfigError, match="trusted_sources"):
        proxy_header.policy_for(config, "mx")
    with pytest.raises(ConfigError):
        config.set("proxy.listeners", ["web"])  # the web has X-Forwarded-For (web.trusted_proxies)
