"""DNS MX routing of the relay (relay.dns_mx), against a real DNS server on loopback and a real peer MTA.

MX hosts by preference, a host that does not answer skipped for the next, the domain's own A record
when it has no MX (RFC 5321 §5.1), static routes first; the peer's certificate must name the MX host.
"""

from __future__ import annotations

import asyncio

import pytest

from relays.client import PERMANENT, TEMPORARY
from relays.routing import DnsSettings, MxResolver, NoRoute, Router
from tests.relays.dnsserver import DnsServer
from tests.relays.peer import free_port, start_peer
from tests.relays.test_relay import CONFRERE, queue_states, submit, worker
from tests.smtp.support import REMOTE_DOMAIN

PORT = free_port()
MX1, MX2 = f"mx1.{REMOTE_DOMAIN}", f"mx2.{REMOTE_DOMAIN}"
DOWN = "127.0.0.2"  # loopback, nothing listens there on PORT: connection refused at once

TWO_MX = {
    (REMOTE_DOMAIN, "MX"): [f"20 {MX2}.", f"10 {MX1}."],
    (MX1, "A"): [DOWN],
    (MX2, "A"): ["127.0.0.1"],
}
NO_MX = {(REMOTE_DOMAIN, "A"): ["127.0.0.1"]}


@pytest.fixture
def zone():
    return TWO_MX


@pytest.fixture
def dns_server(zone):
    server = DnsServer(zone)
    yield server
    server.stop()


@pytest.fixture
def smtp_settings(dns_server):
    return {"relay.dns_mx": True, "relay.dns_servers": [dns_server.setting], "relay.smtp_port": PORT,
            "relay.dns_timeout_s": 2.0, "relay.retry_schedule_s": [60]}


def test_mx_hosts_are_tried_by_preference_and_the_peer_certificate_must_name_the_mx_host(smtp_hub, pki, dns_server):
    # The peer's certificate names only mx2: connecting to 127.0.0.1 is verified against the MX host name.
    peer, handler = start_peer(pki, PORT, leaf=pki.ca.issue_cert(MX2, common_name=MX2))
    try:
        submit(smtp_hub, pki)
        assert smtp_hub.loop.run(worker(smtp_hub).run_once()) == 1
    finally:
        peer.stop()
    assert [r.rcpt_tos for r in handler.received] == [[CONFRERE]]
    assert queue_states(smtp_hub.hub) == [("sent", 1)]
    asked = [q for q in dns_server.queries if q[1] in ("MX", "A")]
    assert asked[:3] == [(REMOTE_DOMAIN, "MX"), (MX1, "A"), (MX2, "A")]  # preference 10 first


def test_a_peer_whose_certificate_does_not_name_the_mx_host_gets_nothing(smtp_hub, pki):
    peer, handler = start_peer(pki, PORT, leaf=pki.ca.issue_cert("mx.ailleurs.test", common_name="mx.ailleurs.test"))
    try:
        submit(smtp_hub, pki)
        assert smtp_hub.loop.run(worker(smtp_hub).run_once()) == 1
    finally:
        peer.stop()
    assert handler.received == []
    assert queue_states(smtp_hub.hub) == [("queued", 1)]  # a temporary failure: retried later


@pytest.mark.parametrize("zone", [NO_MX])
def test_a_domain_without_mx_is_delivered_to_its_own_address(smtp_hub, pki, dns_server):
    peer, handler = start_peer(pki, PORT, leaf=pki.ca.issue_cert(REMOTE_DOMAIN, common_name=REMOTE_DOMAIN))
    try:
        submit(smtp_hub, pki)
        assert smtp_hub.loop.run(worker(smtp_hub).run_once()) == 1
    finally:
        peer.stop()
    assert len(handler.received) == 1
    assert (REMOTE_DOMAIN, "MX") in dns_server.queries and (REMOTE_DOMAIN, "A") in dns_server.queries


@pytest.fixture
def static_port():
    return free_port()


def test_a_static_route_wins_over_dns(data_dir, pki, dns_server, static_port):
    from mssante_hub.hub import Hub
    from mssante_hub.smtp import mx, submission
    from tests.conftest import add_professional
    from tests.smtp.conftest import Running
    from tests.smtp.support import LoopThread, configure_smtp

    configure_smtp(data_dir, pki, **{"relay.dns_mx": True, "relay.dns_servers": [dns_server.setting],
                                     "relay.smtp_port": PORT, "relay.routes": [f"{REMOTE_DOMAIN}=127.0.0.1:{static_port}"]})
    hub = Hub.open(data_dir)
    add_professional(hub, "jean.dupont")
    loop = LoopThread()
    running = Running(hub, loop, {"mx": loop.run(mx.start(hub, "127.0.0.1", 0)),
                                  "submission": loop.run(submission.start(hub, "127.0.0.1", 0))})
    peer, handler = start_peer(pki, static_port)
    try:
        submit(running, pki)
        assert loop.run(worker(running).run_once()) == 1
    finally:
        peer.stop()
        for listener in running.listeners.values():
            loop.run(listener.close())
        loop.stop()
        hub.close()
    assert len(handler.received) == 1
    assert dns_server.queries == []


def test_without_dns_mx_a_domain_without_route_bounces(dns_server):
    router = Router({}, None)
    with pytest.raises(NoRoute) as refused:
        asyncio.run(router.hops(CONFRERE))
    assert refused.value.kind == PERMANENT and refused.value.status == "5.4.4"
    assert dns_server.queries == []


def resolve(server: DnsServer, rcpt: str, own: str = "", timeout: float = 2.0):
    settings = DnsSettings(servers=(server.address,), smtp_port=25, timeout_s=timeout, own_hostname=own)
    return asyncio.run(Router({}, MxResolver(settings)).hops(rcpt))


def test_mx_order_null_mx_unknown_domain_and_a_silent_server():
    server = DnsServer({
        ("a.test", "MX"): ["30 c.a.test.", "10 b.a.test.", "20 self.hub.test."],
        ("b.a.test", "A"): ["127.0.0.11"],
        ("b.a.test", "AAAA"): ["::1"],
        ("c.a.test", "A"): ["127.0.0.12"],
        ("null.test", "MX"): ["0 ."],
        ("noaddress.test", "MX"): ["10 nowhere.noaddress.test."],
        ("noaddress.test", "TXT"): ['"x"'],
    })
    try:
        hops = resolve(server, "x@A.test")
        # Preference order; self.hub.test has no address and is skipped; A then AAAA; the port is relay.smtp_port.
        assert [(h.host, h.port, h.tls_name) for h in hops] == [
            ("127.0.0.11", 25, "b.a.test"), ("::1", 25, "b.a.test"), ("127.0.0.12", 25, "c.a.test")]
        # We are the preference-20 exchanger: only the better one (10) may be used, never 30 (no loop).
        assert [h.tls_name for h in resolve(server, "x@a.test", own="self.hub.test")] == ["b.a.test", "b.a.test"]
        for rcpt, status in (("x@null.test", "5.1.10"), ("x@inconnu.test", "5.1.2")):
            with pytest.raises(NoRoute) as refused:
                resolve(server, rcpt)
            assert (refused.value.kind, refused.value.status) == (PERMANENT, status)
        with pytest.raises(NoRoute) as refused:
            resolve(server, "x@noaddress.test")  # its only MX host does not exist
        assert refused.value.kind == PERMANENT
        server.silent = True
        with pytest.raises(NoRoute) as refused:
            resolve(server, "x@a.test", timeout=0.5)
        assert (refused.value.kind, refused.value.status) == (TEMPORARY, "4.4.3")
    finally:
        server.stop()
