"""Failed webmail sign-ins are throttled (per client address and per login) and traced."""

from __future__ import annotations

import pytest

from mssante_hub import audit
from tests.patients.test_notify import active_patient

PATIENT_PASSWORD = "mot de passe de camille"
MAX_FAILURES = 3
PROXY = "127.0.0.1"  # the documented reverse proxy: every request of these tests comes through it


@pytest.fixture(scope="module")
def web_settings() -> dict:
    return {"web.max_failed_logins": MAX_FAILURES, "web.trusted_proxies": [PROXY + "/32"],
            "auth.failed_login_delay_s": 0.01, "auth.max_failed_login_delay_s": 0.05}


def test_wrong_passwords_lock_the_door_and_are_traced(web_hub):
    address, account_id = active_patient(web_hub.hub, "essais@courriel.example")
    ins = address.partition("@")[0]
    client = web_hub.client()
    for _ in range(MAX_FAILURES):
        assert client.call("POST", "/api/session", {"login": ins, "password": "devinette"}).status == 401
    # Now even the right password is refused, from this address, for this login...
    locked = client.call("POST", "/api/session", {"login": ins, "password": PATIENT_PASSWORD})
    assert locked.status == 429 and locked.error["fr"] and locked.error["en"]
    # ...but not another person's login from the same address (a proxy's, a family's, a ward's).
    other, _ = active_patient(web_hub.hub, "autre@courriel.example")
    assert client.call("POST", "/api/session", {"login": other, "password": PATIENT_PASSWORD}).status == 201
    history = web_hub.hub.read_sync(lambda conn: audit.access_history(conn, account_id))
    outcomes = [e.outcome for e in history if e.action == audit.LOGIN]
    assert outcomes.count("refused") == MAX_FAILURES and "throttled" in outcomes and "ok" not in outcomes


def test_one_address_trying_codes_on_many_ins_is_stopped(web_hub):
    from mssante_hub.patients import provision
    from tests.patients.helpers import new_ins

    client = web_hub.client()
    for n in range(MAX_FAILURES):  # a different INS each time: the per-INS lock never triggers
        record = provision.PatientRecord(new_ins(), "DURAND", "Paul", "1970-05-06", "M", f"p{n}@courriel.example")
        provision.add_patient(web_hub.hub, record)
        answer = client.call("POST", "/api/objection", {"ins": record.ins, "code": "AAAA-BBBB-CCCC"})
        assert answer.status == 403
    assert client.call("POST", "/api/objection", {"ins": record.ins, "code": "AAAA-BBBB-CCCC"}).status == 429


def _sign_in(web_hub, login: str, password: str, forwarded: str | None = None, source: str = PROXY) -> int:
    import http.client
    import json

    connection = http.client.HTTPConnection("127.0.0.1", web_hub.port, timeout=60, source_address=(source, 0))
    headers = {"Content-Type": "application/json"}
    if forwarded:
        headers["X-Forwarded-For"] = forwarded
    try:
        connection.request("POST", "/api/session", body=json.dumps({"login": login, "password": password}),
                           headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


def test_behind_the_proxy_others_failures_do_not_lock_the_holder_out(web_hub):
    address, _ = active_patient(web_hub.hub, "proxy@courriel.example")
    ins = address.partition("@")[0]
    for _ in range(MAX_FAILURES):
        assert _sign_in(web_hub, ins, "devinette", forwarded="198.51.100.7") == 401
    assert _sign_in(web_hub, ins, PATIENT_PASSWORD, forwarded="198.51.100.7") == 429  # that client is locked
    # The holder, from another address behind the same proxy: slowed by a delay, not refused.
    assert _sign_in(web_hub, ins, PATIENT_PASSWORD, forwarded="203.0.113.9") == 201


def test_forwarded_for_from_an_untrusted_peer_is_ignored(web_hub):
    address, _ = active_patient(web_hub.hub, "spoof@courriel.example")
    ins = address.partition("@")[0]
    for n in range(MAX_FAILURES):  # a new claimed address each time, from a peer that is no proxy
        assert _sign_in(web_hub, ins, "devinette", forwarded=f"192.0.2.{n + 1}", source="127.0.0.5") == 401
    assert _sign_in(web_hub, ins, PATIENT_PASSWORD, forwarded="192.0.2.99", source="127.0.0.5") == 429


def _headers(web_hub, forwarded_proto: str | None, source: str) -> dict[str, str]:
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", web_hub.port, timeout=60, source_address=(source, 0))
    try:
        connection.request("GET", "/", headers={"X-Forwarded-Proto": forwarded_proto} if forwarded_proto else {})
        response = connection.getresponse()
        response.read()
        return {k.lower(): v for k, v in response.getheaders()}
    finally:
        connection.close()


def test_security_headers_and_hsts_only_behind_tls(web_hub):
    behind_tls = _headers(web_hub, "https", PROXY)  # the trusted proxy says the client used TLS
    assert behind_tls["strict-transport-security"].startswith("max-age=")
    assert behind_tls["x-content-type-options"] == "nosniff" and behind_tls["referrer-policy"] == "no-referrer"
    policy = behind_tls["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "'unsafe-inline'" not in policy
    assert "strict-transport-security" not in _headers(web_hub, None, PROXY)  # plain HTTP
    assert "strict-transport-security" not in _headers(web_hub, "https", "127.0.0.7")  # not a proxy: not believed
