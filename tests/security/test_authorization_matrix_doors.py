"""The authorization matrix, continued: the dossier's web resources and the SMTP submission door.

Same rules as test_authorization_matrix.py: someone else's resource is 404 (its existence is not confirmed),
a professional is refused the patient's own dossier API (403), no session is 401; on submission, only an
account's own addresses may send, a patient never signs in (535, the same answer as a wrong password) and
nothing is relayed without authentication. Served hub, real clients (http.client, smtplib over STARTTLS).
"""

from __future__ import annotations

import smtplib

import pytest

from mssante_hub.hub import Hub
from tests.conftest import TEST_PASSWORD, add_professional, make_data_dir
from tests.dossier import builder, support
from tests.patients.test_notify import active_patient
from tests.smtp.messages import message
from tests.smtp.support import configure_smtp, make_pki
from tests.support.served import served
from tests.web.conftest import configure
from tests.web.support import WebClient

HOLDER_PASSWORD = "mot de passe de dominique"
OTHER_PASSWORD = "mot de passe de camille"
DOCTOR_LOCAL, COLLEAGUE_LOCAL = "dr.matrice", "dr.collegue"

# --- the dossier API: role -> resource -> expected HTTP status ------------------------------------
WEB_ROLES = ("anonymous", "holder", "other_patient", "professional")
DOSSIER = {
    # resource                     anonymous holder other_patient professional
    "categories":                  (401,     200,   200,          403),  # each patient sees their own only
    "list documents":              (401,     200,   200,          403),
    "read document":               (401,     200,   404,          403),
    "show document again":         (401,     200,   404,          403),
    "who can see the dossier":     (401,     200,   200,          403),
    "block a professional":        (401,     None,  200,          403),  # None: it would change the scene
}


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    base = tmp_path_factory.mktemp("matrix-doors")
    data_dir = make_data_dir(base)
    pki = make_pki(base)
    configure(data_dir, {})
    configure_smtp(data_dir, pki)
    hub = Hub.open(data_dir)
    try:
        app = support.add_app(hub)
        doctor = add_professional(hub, DOCTOR_LOCAL, password=TEST_PASSWORD)
        colleague = add_professional(hub, COLLEAGUE_LOCAL, password=TEST_PASSWORD)
        holder = support.provision_patient(hub)
        other, _ = active_patient(hub, "autre.patient@courriel.example")
        with served(data_dir, ["web", "submission"]) as running:
            scene = Scene(running, pki, hub, app=app, doctor=doctor, colleague=colleague, holder=holder, other=other)
            assert scene.submit(app, TEST_PASSWORD, app, holder,
                                support.document_message(builder.cda_package(builder.generated_cda()))) == 250
            assert scene.submit(doctor, TEST_PASSWORD, doctor, holder, message(doctor, holder)) == 250  # in care
            web = running.port("web")
            scene.clients = {
                "anonymous": WebClient(web),
                "holder": WebClient(web).login(support.INS, HOLDER_PASSWORD),
                "other_patient": WebClient(web).login(other.partition("@")[0], OTHER_PASSWORD),
                "professional": WebClient(web).login(doctor, TEST_PASSWORD),
            }
            documents = scene.clients["holder"].call("GET", "/api/dossier/documents").body["documents"]
            assert len(documents) == 1, documents
            scene.document_id = documents[0]["id"]
            yield scene
    finally:
        hub.close()


class Scene:
    def __init__(self, running, pki, hub, **addresses: str) -> None:
        self.running, self.pki, self.hub = running, pki, hub
        self.addresses = addresses
        self.clients: dict[str, WebClient] = {}
        self.document_id = 0

    def __getattr__(self, name: str) -> str:
        try:
            return self.__dict__["addresses"][name]
        except KeyError:
            raise AttributeError(name) from None

    def submit(self, login: str | None, password: str | None, mail_from: str, to: str, raw: bytes) -> int:
        """The SMTP code that ends the attempt: 250 once accepted, else the refusing reply's code."""
        client = smtplib.SMTP("127.0.0.1", self.running.port("submission"), timeout=60)
        try:
            client.starttls(context=self.pki.client_context(None))
            if login is not None:
                client.login(login, password)
            refused = client.sendmail(mail_from, [to], raw)
            return 250 if not refused else refused[to][0]
        except (smtplib.SMTPAuthenticationError, smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            return exc.smtp_code
        except smtplib.SMTPRecipientsRefused as exc:
            return exc.recipients[to][0]
        finally:
            try:
                client.quit()
            except smtplib.SMTPException:
                pass


def _dossier_call(scene: Scene, client: WebClient, resource: str):
    document = f"/api/dossier/documents/{scene.document_id}"
    if resource == "categories":
        return client.call("GET", "/api/dossier")
    if resource == "list documents":
        return client.call("GET", "/api/dossier/documents")
    if resource == "read document":
        return client.call("GET", document)
    if resource == "show document again":
        return client.call("POST", f"{document}/visibility", {"hidden_from_professionals": False})
    if resource == "who can see the dossier":
        return client.call("GET", "/api/dossier/professionals")
    if resource == "block a professional":
        return client.call("POST", f"/api/dossier/professionals/{scene.colleague}/block")
    raise AssertionError(resource)


CELLS = [(r, role) for r in DOSSIER for role in WEB_ROLES if DOSSIER[r][WEB_ROLES.index(role)] is not None]


@pytest.mark.parametrize("resource, role", CELLS, ids=[f"{r}-{role}" for r, role in CELLS])
def test_dossier_matrix(scene, resource, role):
    answer = _dossier_call(scene, scene.clients[role], resource)
    assert answer.status == DOSSIER[resource][WEB_ROLES.index(role)], answer.body
    if role == "other_patient" and resource == "list documents":
        assert answer.body["documents"] == []  # the holder's document is nowhere in another patient's dossier
    if role == "other_patient" and resource == "categories":
        assert all(category["count"] == 0 for category in answer.body["categories"]), answer.body


# --- SMTP submission: who signs in -> what they try -> the code that ends it ----------------------
SMTP_ROLES = ("professional", "app", "patient", "anonymous")
SUBMISSION = {
    # attempt                                   professional app  patient anonymous
    "send as oneself to a colleague":           (250,        250, 535,    530),
    "send to a patient (opens a conversation)": (250,        250, None,   530),
    "MAIL FROM another account's address":      (553,        553, None,   530),
    "From: header of another account":          (550,        550, None,   530),
}
# None: a patient is refused at AUTH whatever they try next, and a third refused sign-in in a row is
# throttled (421, accounts/throttle.py): one attempt here, the other in the test below.


def _submission(scene: Scene, role: str, attempt: str) -> int:
    login, password = {"professional": (scene.doctor, TEST_PASSWORD), "app": (scene.app, TEST_PASSWORD),
                       "patient": (support.INS, HOLDER_PASSWORD), "anonymous": (None, None)}[role]
    own = scene.holder if role == "patient" else (scene.app if role == "app" else scene.doctor)
    to = scene.holder if "patient" in attempt else scene.colleague
    mail_from = scene.colleague if attempt.startswith("MAIL FROM") else own
    author = scene.colleague if attempt.startswith("From:") else own
    return scene.submit(login, password, mail_from, to, message(author, to, subject="Matrice"))


SMTP_CELLS = [(a, role) for a in SUBMISSION for role in SMTP_ROLES if SUBMISSION[a][SMTP_ROLES.index(role)] is not None]


@pytest.mark.parametrize("attempt, role", SMTP_CELLS, ids=[f"{a}-{role}" for a, role in SMTP_CELLS])
def test_submission_matrix(scene, attempt, role):
    assert _submission(scene, role, attempt) == SUBMISSION[attempt][SMTP_ROLES.index(role)]


def test_a_patient_signing_in_by_address_gets_the_same_answer_as_a_wrong_password(scene):
    """Neither the INS nor the patient address opens submission, and the answer does not say the account exists."""
    by_address = scene.submit(scene.holder, HOLDER_PASSWORD, scene.holder, scene.doctor,
                              message(scene.holder, scene.doctor))
    wrong = scene.submit(scene.doctor, "pas le bon mot de passe", scene.doctor, scene.colleague,
                         message(scene.doctor, scene.colleague))
    assert by_address == wrong == 535
