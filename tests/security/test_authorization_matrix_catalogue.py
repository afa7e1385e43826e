"""The authorization matrix, continued: the catalogue's web resources (web/catalogue_api.py).

Same rules as test_authorization_matrix.py: a professional is refused the patient's own catalogue API (403), no
session is 401; a patient's consents are their own (another patient's listing never shows them, and revoking
there finds nothing: 404). Served hub, real HTTP clients.
"""

from __future__ import annotations

import json

import pytest

from mssante_hub.hub import Hub
from tests.catalogue import support as catalogue
from tests.conftest import TEST_PASSWORD, add_professional, make_data_dir
from tests.dossier import support
from tests.patients.test_notify import active_patient
from tests.support.served import served
from tests.web.conftest import configure
from tests.web.support import WebClient

HOLDER_PASSWORD = "mot de passe de dominique"
OTHER_PASSWORD = "mot de passe de camille"
DOCTOR = "jean.dupont@hub.test"
WEB_ROLES = ("anonymous", "holder", "other_patient", "professional")
CATALOGUE = {
    # resource                      anonymous holder other_patient professional
    "list the catalogue":           (401,     200,   200,          403),  # each sees their own consents only
    "connect a service":            (401,     None,  200,          403),  # None: it would change the scene
    "connect an unknown service":   (401,     404,   404,          403),
    "revoke the holder's consent":  (401,     None,  404,          403),  # the other patient's own: none to revoke
}


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    base = tmp_path_factory.mktemp("matrix-catalogue")
    data_dir = make_data_dir(base)
    configure(data_dir, {})
    hub = Hub.open(data_dir)
    try:
        add_professional(hub, "jean.dupont", password=TEST_PASSWORD)
        add_professional(hub, catalogue.SERVICE_LOCAL, type="APP")
        support.provision_patient(hub)
        other, _ = active_patient(hub, "autre.patient@courriel.example")
        catalogue.load(data_dir, [catalogue.SERVICE, catalogue.OTHER])
        with served(data_dir, ["web"]) as running:
            web = running.port("web")
            clients = {
                "anonymous": WebClient(web),
                "holder": WebClient(web).login(support.INS, HOLDER_PASSWORD),
                "other_patient": WebClient(web).login(other.partition("@")[0], OTHER_PASSWORD),
                "professional": WebClient(web).login(DOCTOR, TEST_PASSWORD),
            }
            granted = clients["holder"].call("POST", "/api/catalogue/suivi-diabete/consent",
                                              {"scopes": ["measures"]})
            assert granted.status == 200, granted.body
            yield clients
    finally:
        hub.close()


def _call(client: WebClient, resource: str):
    if resource == "list the catalogue":
        return client.call("GET", "/api/catalogue")
    if resource == "connect a service":
        return client.call("POST", "/api/catalogue/sommeil-plus/consent", {"scopes": ["measures"]})
    if resource == "connect an unknown service":
        return client.call("POST", "/api/catalogue/inconnu/consent", {"scopes": ["measures"]})
    if resource == "revoke the holder's consent":
        return client.call("DELETE", "/api/catalogue/suivi-diabete/consent")
    raise AssertionError(resource)


CELLS = [(r, role) for r in CATALOGUE for role in WEB_ROLES if CATALOGUE[r][WEB_ROLES.index(role)] is not None]


@pytest.mark.parametrize("resource, role", CELLS, ids=[f"{r}-{role}" for r, role in CELLS])
def test_catalogue_matrix(scene, resource, role):
    answer = _call(scene[role], resource)
    assert answer.status == CATALOGUE[resource][WEB_ROLES.index(role)], answer.body
    if role == "other_patient" and resource == "list the catalogue":
        mine = {s["id"]: s["consent"] for s in answer.body["services"]}
        assert mine["suivi-diabete"] is None, json.dumps(answer.body)  # the holder's consent is not shown here


def test_the_holder_keeps_their_consent(scene):
    listed = scene["holder"].call("GET", "/api/catalogue").body["services"]
    assert {s["id"]: (s["consent"] or {}).get("scopes") for s in listed}["suivi-diabete"] == ["measures"]
