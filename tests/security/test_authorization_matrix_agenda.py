"""The authorization matrix, continued: the agenda's web resources and its ICS feed.

Same rules as test_authorization_matrix.py: someone else's item is 404 (its existence is not confirmed), a
professional is refused the patient's own agenda API (403), no session is 401; the feed answers only its
own live token (404 for any other, whoever asks). Served hub, real clients (http.client, smtplib).
"""

from __future__ import annotations

import http.client

import pytest

from mssante_hub.hub import Hub
from tests.agenda.support import DOCTOR, Submitter, ics, imip_message
from tests.conftest import TEST_PASSWORD, add_professional, make_data_dir
from tests.dossier import support
from tests.patients.test_notify import active_patient
from tests.smtp.support import configure_smtp, make_pki
from tests.support.served import served
from tests.web.conftest import configure
from tests.web.support import WebClient

HOLDER_PASSWORD = "mot de passe de dominique"
OTHER_PASSWORD = "mot de passe de camille"
WEB_ROLES = ("anonymous", "holder", "other_patient", "professional")
AGENDA = {
    # resource                     anonymous holder other_patient professional
    "list the agenda":             (401,     200,   200,          403),  # each patient sees their own only
    "read an item":                (401,     200,   404,          403),
    "answer an item":              (401,     None,  404,          403),  # None: it would change the scene
    "add an own item":             (401,     None,  201,          403),
    "feed state":                  (401,     200,   200,          403),
    "a prevention status":         (401,     404,   404,          403),  # no campaign loaded: none targets anyone
}


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    base = tmp_path_factory.mktemp("matrix-agenda")
    data_dir = make_data_dir(base)
    pki = make_pki(base)
    configure(data_dir, {})
    configure_smtp(data_dir, pki)
    hub = Hub.open(data_dir)
    try:
        add_professional(hub, "jean.dupont", password=TEST_PASSWORD)
        holder = support.provision_patient(hub)
        other, _ = active_patient(hub, "autre.patient@courriel.example")
        with served(data_dir, ["web", "submission"]) as running:
            client = Submitter(running.port("submission"), pki)
            assert client.send(holder, imip_message(DOCTOR, holder, ics("matrix-1@cabinet.test",
                                                                        attendee=holder))) == {}
            client.close()
            web = running.port("web")
            clients = {
                "anonymous": WebClient(web),
                "holder": WebClient(web).login(support.INS, HOLDER_PASSWORD),
                "other_patient": WebClient(web).login(other.partition("@")[0], OTHER_PASSWORD),
                "professional": WebClient(web).login(DOCTOR, TEST_PASSWORD),
            }
            items = clients["holder"].call("GET", "/api/agenda?from=2027-01-01&to=2028-01-01").body["items"]
            assert len(items) == 1, items
            yield running, clients, items[0]["id"]
    finally:
        hub.close()


def _call(client: WebClient, resource: str, item_id: int):
    if resource == "list the agenda":
        return client.call("GET", "/api/agenda?from=2027-01-01&to=2028-01-01")
    if resource == "read an item":
        return client.call("GET", f"/api/agenda/{item_id}")
    if resource == "answer an item":
        return client.call("POST", f"/api/agenda/{item_id}/reply", {"partstat": "DECLINED"})
    if resource == "add an own item":
        return client.call("POST", "/api/agenda", {"title": "Rappel", "start": "2027-05-01T10:00:00+02:00"})
    if resource == "feed state":
        return client.call("GET", "/api/agenda/feed")
    if resource == "a prevention status":
        return client.call("POST", "/api/agenda/prevention/depistage", {"status": "done"})
    raise AssertionError(resource)


CELLS = [(r, role) for r in AGENDA for role in WEB_ROLES if AGENDA[r][WEB_ROLES.index(role)] is not None]


@pytest.mark.parametrize("resource, role", CELLS, ids=[f"{r}-{role}" for r, role in CELLS])
def test_agenda_matrix(scene, resource, role):
    _, clients, item_id = scene
    answer = _call(clients[role], resource, item_id)
    assert answer.status == AGENDA[resource][WEB_ROLES.index(role)], answer.body
    if role == "other_patient" and resource == "list the agenda":
        assert all(i["title"] != "Consultation de cardiologie" for i in answer.body["items"]), answer.body


def _feed(port: int, path: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def test_the_feed_answers_its_own_live_token_only(scene):
    running, clients, _ = scene
    token = clients["holder"].call("POST", "/api/agenda/feed").body["token"]
    port = running.port("web")
    assert _feed(port, f"/ical/{token}.ics") == 200
    for path in (f"/ical/{token[:-1]}x.ics", f"/ical/{token}", "/ical/", f"/ical/{token}.ics/x",
                 f"/ical/{'A' * 43}.ics"):
        assert _feed(port, path) == 404, path
    assert clients["professional"].call("DELETE", "/api/agenda/feed").status == 403
    assert clients["other_patient"].call("DELETE", "/api/agenda/feed").status == 204  # their own: none to revoke
    assert _feed(port, f"/ical/{token}.ics") == 200  # the holder's token is untouched
