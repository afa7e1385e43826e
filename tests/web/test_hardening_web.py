"""Hardening of the webmail (issue 11): the trust space, reproduced first over real HTTP."""

from __future__ import annotations

import pytest

from mssante_hub.hub import Hub
from mssante_hub.rules import refusals
from tests.conftest import TEST_PASSWORD, add_professional, make_data_dir
from tests.patients.helpers import send
from tests.patients.test_notify import active_patient
from tests.support.served import served
from tests.web.conftest import REMOTE_DOMAIN as LISTED, WebHub, configure
PATIENT_PASSWORD = "mot de passe de camille"
PER_ADDRESS = 4


@pytest.fixture(scope="module")
def trust_hub(tmp_path_factory):
    data_dir = make_data_dir(tmp_path_factory.mktemp("webtrust"))
    configure(data_dir, {"web.max_connections_per_address": PER_ADDRESS, "web.request_head_timeout_s": 2})  # lists LISTED only
    hub = Hub.open(data_dir)
    try:
        with served(data_dir, ["web"]) as running:
            yield WebHub(running, hub, data_dir)
    finally:
        hub.close()


def test_the_webmail_applies_the_trust_space_rule(trust_hub):
    address = add_professional(trust_hub.hub, "dr.web", password=TEST_PASSWORD)
    client = trust_hub.client().login(address, TEST_PASSWORD)
    answer = client.send(["x@not-whitelisted.example"], subject="Hors espace de confiance")
    assert answer.status == 403, answer.body  # as submission's 550 5.7.1
    reason = refusals.OUTSIDE_TRUST_SPACE
    assert answer.error == {"code": reason.status, "fr": reason.fr, "en": reason.en}
    assert client.send([f"confrere@{LISTED}"], subject="Dans l'espace").status == 201


def test_a_reply_to_outside_the_trust_space_is_not_a_contact(trust_hub):
    patient, _ = active_patient(trust_hub.hub, "reply-to@courriel.example")
    doctor = f"dr.distant@{LISTED}"
    send(trust_hub.hub, doctor, [patient], subject="Résultats", headers={"Reply-To": "someone@gmail.com"})
    client = trust_hub.client().login(patient.partition("@")[0], PATIENT_PASSWORD)
    answer = client.send(["someone@gmail.com"], subject="Re: Résultats")
    assert answer.status == 403, answer.body
    assert client.send([doctor], subject="Re: Résultats").status == 201  # the sender himself is the contact


def test_one_address_cannot_take_every_web_connection(trust_hub):
    import http.client
    import socket

    held = [socket.create_connection(("127.0.0.1", trust_hub.port), timeout=30) for _ in range(PER_ADDRESS)]
    extra = socket.create_connection(("127.0.0.1", trust_hub.port), timeout=10)
    try:
        extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = extra.recv(4096)
    except ConnectionResetError:
        answer = b""
    assert answer == b""  # closed at once, not served
    extra.close()
    other = http.client.HTTPConnection("127.0.0.1", trust_hub.port, timeout=30, source_address=("127.0.0.60", 0))
    other.request("GET", "/healthz")
    assert other.getresponse().status == 200  # another address is still served
    other.close()
    for sock in held:
        sock.close()


def test_a_slow_request_head_meets_a_total_deadline(trust_hub):
    import socket

    sock = socket.create_connection(("127.0.0.1", trust_hub.port), timeout=30)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    sock.settimeout(0.25)
    answer = b""
    for n in range(24):  # a header line every 0.25 s for up to 6 s: past the deadline (2 s)
        try:
            sock.sendall(b"X-Drip-%d: y\r\n" % n)
            answer += sock.recv(4096)
        except TimeoutError:
            continue
        except OSError:
            break
        if answer:
            break
    sock.close()
    assert answer.startswith(b"HTTP/1.1 408"), answer
