"""The authorization matrix, spaces (`X-Space`, web/spaces.py), exports and settings: roles x resources on the web API.

The scene is the legal representatives' one (tests/patients/test_representatives.py): a child's space, the
parent linked to it by the operator, a stranger patient, a professional who wrote to the child, and two
documents in the child's dossier, one coded INVISIBLE_REPRESENTANTS_LEGAUX. Each role is a signed-in client
and the `X-Space` it sends (or none): the representative reaches the dependant's resources, never what is
kept from representatives, never the holder's own acts (export, the notification address, closing the
space: 403 holder_only), and never another space (404, like an unknown id). The expected answer of each
cell is the table below.
"""

from __future__ import annotations

import pytest

from tests.dossier.conftest import module_fixtures_dir  # noqa: F401  (fixture of the scene)
from tests.patients.test_representatives import CHILD, PASSWORD, scene  # noqa: F401  (the scene, a fixture)
from tests.dossier import support
from tests.web.support import Answer, WebClient

ROLES = ("anonymous", "holder", "rep_on_child", "rep_own", "rep_on_stranger", "stranger_on_child",
         "professional_on_child", "professional")
# The child's resources, reached by each role (its client, and the X-Space it sends).
# "+"/"-" after 200: the child's message is / is not in the listing answered.
TABLE = {
    # resource               anon  holder  rep_on_child rep_own rep_on_stranger stranger_on_child pro_on_child pro
    "child's message":       (401, 200,    200,         404,    404,            404,              404,         404),
    "child's INBOX":         (401, "200+", "200+",      "200-", 404,            404,              404,         "200-"),
    "visible document":      (401, 200,    200,         404,    404,            404,              404,         403),
    "withheld document":     (401, 200,    404,         404,    404,            404,              404,         403),
    "access history":        (401, 200,    200,         200,    404,            404,              404,         200),
    "export":                (401, 200,    403,         None,   403,            403,              403,         403),
    "preferences (read)":    (401, 200,    200,         200,    404,            404,              404,         200),
    "notification address":  (401, 200,    200,         200,    404,            404,              404,         403),
    "change notif. address": (401, None,   403,         None,   403,            403,              403,         403),
    "close the space":       (401, None,   403,         None,   403,            403,              403,         403),
}
# None: not tried (it would change the scene, or it is the holder's own act on their own space, shown
# in tests/patients/ and tests/web/). The holder's own acts answer 403 holder_only to any X-Space, before
# the space is looked at: the answer tells nothing of the space named. A professional has preferences of
# their own (their notifications), no dossier (403), no patient space to export or close (403).


@pytest.fixture(scope="module")
def cast(scene):  # noqa: F811 - the imported fixture
    hub = scene["hub"]
    child_id = str(support.account(hub, CHILD).id)
    stranger_id = str(support.account(hub, scene["stranger"]).id)
    child = scene["child_web"]
    message_id = child.call("GET", "/api/messages?folder=INBOX").body["messages"][0]["id"]
    everything = {d["id"] for d in child.call("GET", "/api/dossier/documents").body["documents"]}
    shown = {d["id"] for d in scene["parent_web"].call("GET", "/api/dossier/documents",
                                                      headers={"X-Space": child_id}).body["documents"]}
    [withheld] = everything - shown
    [visible] = sorted(shown)[:1]
    web = WebClient(scene["running"].port("web"))
    clients = {
        "anonymous": (web, None),
        "holder": (child, None),
        "rep_on_child": (scene["parent_web"], child_id),
        "rep_own": (scene["parent_web"], None),
        "rep_on_stranger": (scene["parent_web"], stranger_id),
        "stranger_on_child": (scene["stranger_web"], child_id),
        "professional_on_child": (scene["doctor_web"], child_id),
        "professional": (scene["doctor_web"], None),
    }
    return clients, {"message": message_id, "withheld": withheld, "visible": visible}


def _call(client: WebClient, space: str | None, resource: str, ids: dict):
    headers = {"X-Space": space} if space else None
    if resource == "child's message":
        return client.call("GET", f"/api/messages/{ids['message']}", headers=headers)
    if resource == "child's INBOX":
        return client.call("GET", "/api/messages?folder=INBOX", headers=headers)
    if resource == "visible document":
        return client.call("GET", f"/api/dossier/documents/{ids['visible']}", headers=headers)
    if resource == "withheld document":
        return client.call("GET", f"/api/dossier/documents/{ids['withheld']}", headers=headers)
    if resource == "access history":
        return client.call("GET", "/api/history", headers=headers)
    if resource == "export":
        return _post_for_file(client, "/api/space/export",
                              {"password": PASSWORD, "passphrase": "une phrase de passe assez longue"}, headers)
    if resource == "preferences (read)":
        return client.call("GET", "/api/preferences", headers=headers)
    if resource == "notification address":
        return client.call("GET", "/api/personal-email", headers=headers)
    if resource == "change notif. address":
        return client.call("PUT", "/api/personal-email", {"email": "autre@courriel.example"}, headers=headers)
    if resource == "close the space":
        return client.call("POST", "/api/space/close", {"password": PASSWORD}, headers=headers)
    raise AssertionError(resource)


def _post_for_file(client: WebClient, path: str, body: dict, headers: dict | None) -> Answer:
    """An export answers a file (an encrypted archive), not JSON: read it raw."""
    import http.client
    import json

    sent = {"Content-Type": "application/json", **(headers or {})}
    if client.token:
        sent["Authorization"] = f"Bearer {client.token}"
    connection = http.client.HTTPConnection("127.0.0.1", client.port, timeout=120)
    try:
        connection.request("POST", path, body=json.dumps(body).encode(), headers=sent)
        response = connection.getresponse()
        data = response.read()
        status = response.status
        parsed = json.loads(data) if response.getheader("content-type", "").startswith("application/json") else data
        return Answer(status, {k.lower(): v for k, v in response.getheaders()}, parsed)
    finally:
        connection.close()


CELLS = [(r, role) for r in TABLE for role in ROLES if TABLE[r][ROLES.index(role)] is not None]


@pytest.mark.parametrize("resource, role", CELLS, ids=[f"{r}-{role}" for r, role in CELLS])
def test_spaces_matrix(cast, resource, role):
    clients, ids = cast
    client, space = clients[role]
    expected = TABLE[resource][ROLES.index(role)]
    answer = _call(client, space, resource, ids)
    status = expected if isinstance(expected, int) else int(expected[:3])
    assert answer.status == status, (answer.status, answer.body)
    if isinstance(expected, str):
        listed = [m["id"] for m in answer.body["messages"]]
        assert (ids["message"] in listed) == expected.endswith("+"), listed
    if status == 403 and space:
        assert answer.error["code"] == "holder_only"
