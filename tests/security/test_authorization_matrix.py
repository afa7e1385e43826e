"""The authorization matrix: roles x resources x doors, the expected answer of each cell written as a table.

No cross-account read or write anywhere: a resource of someone else's is 404 (its existence is not
confirmed) on the web API and NO on IMAP; without a session, 401. Served hub, real clients (http.client,
a raw IMAP client over TLS). New resources join the tables as they are built.
"""

from __future__ import annotations


import pytest

from tests.conftest import TEST_PASSWORD, add_professional, make_data_dir
from tests.imap.support import Raw, login_raw
from tests.patients.helpers import send
from tests.patients.test_notify import active_patient
from tests.support.served import served
from tests.web.conftest import WebHub, configure
from tests.web.support import Answer, WebClient

PATIENT_PASSWORD = "mot de passe de camille"
PDF = b"%PDF-1.4 compte rendu"

# --- web API: role -> resource -> expected HTTP status --------------------------------------------
WEB_ROLES = ("anonymous", "holder", "other_patient", "professional")
WEB = {
    # resource                 anonymous holder other_patient professional
    "read message":            (401,     200,   404,          404),
    "download attachment":     (401,     200,   404,          404),
    "delete message":          (401,     None,  404,          404),  # None: not tried (it would change the scene)
    "list INBOX":              (401,     200,   200,          200),  # 200 for one's own INBOX only (checked below)
    "access history":          (401,     200,   200,          200),
}


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    data_dir = make_data_dir(tmp_path_factory.mktemp("matrix"))
    configure(data_dir, {})
    from mssante_hub.hub import Hub

    hub = Hub.open(data_dir)
    try:
        with served(data_dir, ["web", "imaps"]) as running:
            web = WebHub(running, hub, data_dir)
            doctor = add_professional(hub, "dr.matrice", password=TEST_PASSWORD)
            holder, _ = active_patient(hub, "titulaire@courriel.example")
            other, _ = active_patient(hub, "autre.patient@courriel.example")
            send(hub, doctor, [holder], subject="Résultats", attachments=[("cr.pdf", "application/pdf", PDF)])
            clients = {
                "anonymous": web.client(),
                "holder": web.client().login(holder.partition("@")[0], PATIENT_PASSWORD),
                "other_patient": web.client().login(other.partition("@")[0], PATIENT_PASSWORD),
                "professional": web.client().login(doctor, TEST_PASSWORD),
            }
            listing = clients["holder"].call("GET", "/api/messages?folder=INBOX").body
            message_id = listing["messages"][0]["id"] if isinstance(listing, dict) else listing[0]["id"]
            yield web, running, clients, message_id
    finally:
        hub.close()


def _web_call(client: WebClient, resource: str, message_id: int):
    if resource == "read message":
        return client.call("GET", f"/api/messages/{message_id}")
    if resource == "download attachment":
        return _download(client, f"/api/messages/{message_id}/attachments/0")
    if resource == "delete message":
        return client.call("DELETE", f"/api/messages/{message_id}")
    if resource == "list INBOX":
        return client.call("GET", "/api/messages?folder=INBOX")
    if resource == "access history":
        return client.call("GET", "/api/history")
    raise AssertionError(resource)


def _download(client: WebClient, path: str) -> Answer:
    """A download is a file, not JSON: read it raw."""
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", client.port, timeout=60)
    try:
        connection.request("GET", path, headers={"Authorization": f"Bearer {client.token}"} if client.token else {})
        response = connection.getresponse()
        data = response.read()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
    finally:
        connection.close()


CELLS = [(r, role) for r in WEB for role in WEB_ROLES if WEB[r][WEB_ROLES.index(role)] is not None]


@pytest.mark.parametrize("resource, role", CELLS, ids=[f"{r}-{role}" for r, role in CELLS])
def test_web_matrix(scene, resource, role):
    _, _, clients, message_id = scene
    answer = _web_call(clients[role], resource, message_id)
    assert answer.status == WEB[resource][WEB_ROLES.index(role)], answer.body
    if resource == "list INBOX" and role != "holder" and answer.status == 200:
        listed = answer.body["messages"] if isinstance(answer.body, dict) else answer.body
        assert message_id not in [m["id"] for m in listed]  # nobody else's message in one's own listing
    if resource == "download attachment" and answer.status == 200:
        assert answer.headers["content-type"] == "application/octet-stream"


# --- IMAP: role -> operation on an organisation's INBOX -> expected status ------------------------
IMAP_ROLES = ("owner", "delegate_lr", "delegate_none", "other_professional")
IMAP = {
    # operation          owner  delegate_lr delegate_none other_professional
    "open":              ("OK", "OK",       "NO",         "NO"),
    "fetch body":        ("OK", "OK",       None,         None),  # None: nothing selected to fetch from
    "store \\Deleted":   ("OK", "NO",       None,         None),  # `t` not granted
    "append":            ("OK", "NO",       "NO",         "NO"),  # `i` not granted
    "getacl":            ("OK", "NO",       "NO",         "NO"),  # only the owner administers rights
}


@pytest.fixture(scope="module")
def imap_scene(scene):
    web, running, _, _ = scene
    hub = web.hub
    org = add_professional(hub, "accueil.matrice", type="ORG", password=TEST_PASSWORD)
    users = {"owner": org}
    for role in IMAP_ROLES[1:]:
        users[role] = add_professional(hub, f"imap.{role.replace('_', '.')}", password=TEST_PASSWORD)
    owner = Raw(running.port("imaps"))
    login_raw(owner, org, TEST_PASSWORD)
    owner.send(b'g SETACL INBOX "%s" lr\r\n' % users["delegate_lr"].encode())
    assert owner.until_tagged(b"g")[-1].startswith(b"g OK")
    body = b"From: x@hub.test\r\nSubject: dossier\r\n\r\ncontenu\r\n"
    owner.send(b"a APPEND INBOX {%d+}\r\n" % len(body) + body + b"\r\n")
    assert owner.until_tagged(b"a")[-1].startswith(b"a OK")
    owner.close()
    return running, org, users


def _imap_answer(running, org: str, user: str, role: str, operation: str) -> str:
    raw = Raw(running.port("imaps"))
    login_raw(raw, user, TEST_PASSWORD)
    name = b"INBOX" if role == "owner" else b'"Shared/%s/INBOX"' % org.encode()
    try:
        if operation == "append":
            body = b"From: y@hub.test\r\n\r\nz\r\n"
            raw.send(b"t APPEND %s {%d+}\r\n" % (name, len(body)) + body + b"\r\n")
        elif operation == "getacl":
            raw.send(b"t GETACL %s\r\n" % name)
        else:
            raw.send(b"o SELECT %s\r\n" % name)
            opened = raw.until_tagged(b"o")[-1]
            if operation == "open":
                return opened.split(b" ")[1].decode()
            assert opened.startswith(b"o OK"), opened
            raw.send(b"t FETCH 1 (BODY.PEEK[TEXT])\r\n" if operation == "fetch body"
                     else b"t STORE 1 +FLAGS (\\Deleted)\r\n")
        lines = raw.until_tagged(b"t")
        if operation == "fetch body" and lines[-1].startswith(b"t OK"):
            assert any(b"contenu" in line for line in lines)
        return lines[-1].split(b" ")[1].decode()
    finally:
        raw.close()


IMAP_CELLS = [(op, role) for op in IMAP for role in IMAP_ROLES if IMAP[op][IMAP_ROLES.index(role)] is not None]


@pytest.mark.parametrize("operation, role", IMAP_CELLS, ids=[f"{op}-{role}" for op, role in IMAP_CELLS])
def test_imap_matrix(imap_scene, operation, role):
    running, org, users = imap_scene
    assert _imap_answer(running, org, users[role], role, operation) == IMAP[operation][IMAP_ROLES.index(role)]
