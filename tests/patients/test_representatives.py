"""Legal representatives over real HTTP on a served hub: the operator links a parent to a minor's space (the CLI),
the parent signs in with their own account and acts on the child's space (X-Space), every act traced as the
parent's; INVISIBLE_REPRESENTANTS_LEGAUX is withheld; nobody else reaches the child's space (IDOR: 404); at 18
the link ends (the daily job) and the young adult is told."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import smtplib
import time
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from mssante_hub.accounts import identity
from mssante_hub.hub import Hub
from mssante_hub.patients import lifecycle, representatives
from mssante_hub.patients.provision import PatientRecord, add_patient
from mssante_hub.reader import Reader, read_folder
from storage.models import AuditEvent, Blob, OutboundItem, WrappedKey
from tests.conftest import TEST_PASSWORD, add_professional, make_data_dir
from tests.dossier import builder, support
from tests.dossier.builder import fixture
from tests.dossier.conftest import module_fixtures_dir  # noqa: F401  (fixture)
from tests.smtp.messages import message
from tests.smtp.support import configure_smtp, make_pki
from tests.support.served import run_cli, served
from tests.web.conftest import configure
from tests.web.support import WebClient

CHILD_INS = builder.FIXTURE_INS  # the CI-SIS examples' patient, provisioned here as a child born in 2012
PARENT_INS = support.with_key("1750575123456")
STRANGER_INS = support.with_key("2820675123457")
PASSWORD = "un mot de passe assez long"
DOCTOR = "jean.dupont@hub.test"
CHILD = support.PATIENT


def _as_child(cda: bytes) -> bytes:
    assert b'birthTime value="19790328"' in cda
    return cda.replace(b'birthTime value="19790328"', b'birthTime value="20120328"')


def _space(hub, ins: str, birth_date: str, name: str) -> str:
    code = add_patient(hub, PatientRecord(ins, name, "DOMINIQUE MARIE-LOUISE" if ins == CHILD_INS else "CAMILLE",
                                          birth_date, "F", f"{ins}@example.org"))
    lifecycle.activate(hub, ins, code, PASSWORD)
    return identity.patient_address(ins, hub.config.get("hub.patient_domain"))


@pytest.fixture(scope="module")
def scene(tmp_path_factory, module_fixtures_dir):
    base = tmp_path_factory.mktemp("representatives")
    data_dir = make_data_dir(base)
    pki = make_pki(base)
    configure(data_dir, {})
    configure_smtp(data_dir, pki)
    hub = Hub.open(data_dir)
    try:
        support.add_app(hub)
        add_professional(hub, "jean.dupont")
        _space(hub, CHILD_INS, "2012-03-28", "PAT-TROIS")
        parent = _space(hub, PARENT_INS, "1980-01-02", "PAT-TROIS")
        stranger = _space(hub, STRANGER_INS, "1982-06-03", "AUTRE")
        linked = run_cli("patient", "representative", "add", "--data-dir", str(data_dir),
                         "--holder", PARENT_INS, "--dependant", CHILD_INS)
        assert linked.returncode == 0, linked.stderr
        with served(data_dir, ["web", "submission"]) as running:
            def send(raw: bytes, sender: str = support.APP) -> None:
                client = smtplib.SMTP("127.0.0.1", running.port("submission"), timeout=60)
                client.starttls(context=pki.client_context(None))
                client.login(sender, TEST_PASSWORD)
                assert client.sendmail(sender, [CHILD], raw) == {}
                client.quit()

            vaccination = _as_child(fixture(module_fixtures_dir, builder.SMALL_FIXTURE))
            send(support.document_message(builder.cda_package(vaccination, "87273-9")))
            secret = _as_child(fixture(module_fixtures_dir, "LDL-SES_2022.01.xml"))
            send(support.document_message(builder.cda_package(secret, "11490-0",
                                                              ("N", "INVISIBLE_REPRESENTANTS_LEGAUX"))))
            send(message(DOCTOR, CHILD, subject="Rendez-vous de Dominique"), sender=DOCTOR)
            web = WebClient(running.port("web"))
            yield {"hub": hub, "running": running, "data_dir": data_dir, "parent": parent, "stranger": stranger,
                   "parent_web": web.login(PARENT_INS, PASSWORD), "child_web": web.login(CHILD_INS, PASSWORD),
                   "stranger_web": web.login(STRANGER_INS, PASSWORD),
                   "doctor_web": web.login(DOCTOR, TEST_PASSWORD)}
    finally:
        hub.close()


def _child_id(scene) -> int:
    return support.account(scene["hub"], CHILD).id


def _on_child(scene) -> dict[str, str]:
    return {"X-Space": str(_child_id(scene))}


def test_profiles_list_the_own_space_then_the_dependants(scene):
    profiles = scene["parent_web"].call("GET", "/api/profiles").body["profiles"]
    assert [(p["address"], p["own"], p["kind"]) for p in profiles] == [
        (scene["parent"], True, None), (CHILD, False, "minor")]
    assert profiles[1]["id"] == _child_id(scene)
    alone = scene["stranger_web"].call("GET", "/api/profiles").body["profiles"]
    assert [p["address"] for p in alone] == [scene["stranger"]]


def test_the_representative_reads_the_dossier_without_what_is_kept_from_them(scene):
    parent, child = scene["parent_web"], scene["child_web"]
    counts = {c["code"]: c["count"] for c in parent.call("GET", "/api/dossier", headers=_on_child(scene)).body[
        "categories"]}
    assert counts["CAR_VAC"] == 1 and counts["CPT_REND"] == 0
    own_counts = {c["code"]: c["count"] for c in child.call("GET", "/api/dossier").body["categories"]}
    assert own_counts["CPT_REND"] == 1  # the child sees it
    secret = child.call("GET", "/api/dossier/documents?category=CPT_REND").body["documents"][0]
    listed = parent.call("GET", "/api/dossier/documents", headers=_on_child(scene)).body["documents"]
    assert [d["category"] for d in listed] == ["CAR_VAC"]
    assert parent.call("GET", f"/api/dossier/documents/{secret['id']}", headers=_on_child(scene)).status == 404
    assert parent.call("GET", f"/api/dossier/documents/{secret['id']}/pdf", headers=_on_child(scene)).status == 404
    shown = parent.call("GET", f"/api/dossier/documents/{listed[0]['id']}", headers=_on_child(scene))
    assert shown.status == 200 and shown.body["title"] == "NOTE DE VACCINATION"
    # Without X-Space the parent is on their own (empty) dossier.
    assert parent.call("GET", "/api/dossier/documents").body["documents"] == []


def test_the_covering_message_of_a_withheld_document_is_withheld_too(scene):
    parent, child = scene["parent_web"], scene["child_web"]
    own = child.call("GET", "/api/messages?folder=INBOX").body["messages"]
    seen_by_parent = parent.call("GET", "/api/messages?folder=INBOX", headers=_on_child(scene)).body["messages"]
    assert len(own) == 3 and len(seen_by_parent) == 2
    withheld = [m for m in own if m["id"] not in {s["id"] for s in seen_by_parent}]
    assert len(withheld) == 1 and withheld[0]["document"]
    for path in (f"/api/messages/{withheld[0]['id']}", f"/api/messages/{withheld[0]['id']}/attachments/0"):
        assert parent.call("GET", path, headers=_on_child(scene)).status == 404
    assert parent.call("DELETE", f"/api/messages/{withheld[0]['id']}", headers=_on_child(scene)).status == 404
    assert parent.call("GET", "/api/messages?folder=Dossier/CPT_REND", headers=_on_child(scene)).body[
        "messages"] == []
    home = parent.call("GET", "/api/home", headers=_on_child(scene)).body
    assert withheld[0]["id"] not in [m["id"] for m in home["latest_unread"]]
    assert home["messages"] == 2 and child.call("GET", "/api/home").body["messages"] == 3  # not counted either


def test_acts_on_the_childs_space_are_traced_as_the_representatives(scene):
    hub, parent = scene["hub"], scene["parent_web"]
    inbox = parent.call("GET", "/api/messages?folder=INBOX", headers=_on_child(scene)).body["messages"]
    letter = next(m for m in inbox if m["subject"] == "Rendez-vous de Dominique")
    assert parent.call("GET", f"/api/messages/{letter['id']}", headers=_on_child(scene)).status == 200
    sent = parent.call("POST", "/api/messages", {"to": [DOCTOR], "subject": "Réponse pour Dominique",
                                                 "body": "Merci."}, headers=_on_child(scene))
    assert sent.status == 201, sent.body
    received = [parsed for parsed in (email.message_from_bytes(m.raw, policy=email.policy.default)
                                      for m in read_folder(hub, DOCTOR))
                if parsed["subject"] == "Réponse pour Dominique"]
    assert len(received) == 1 and received[0]["from"].addresses[0].addr_spec == CHILD  # sent as the child's space
    child_id = _child_id(scene)
    with hub.engine.connect() as conn:
        events = conn.execute(AuditEvent.__table__.select().where(
            AuditEvent.subject_account_id == child_id, AuditEvent.actor == scene["parent"])).fetchall()
    actions = {e.action for e in events}
    assert {"read", "deliver", "dossier.access"} <= actions, actions
    assert {e.actor_type for e in events} == {"REPRESENTATIVE"}
    history = scene["child_web"].call("GET", "/api/history").body["history"]
    assert any(h["actor"].startswith("Votre représentant légal") and h["action"] == "read" for h in history)


def test_nobody_else_reaches_the_childs_space(scene):
    child_id = _child_id(scene)
    secret = scene["child_web"].call("GET", "/api/dossier/documents?category=CAR_VAC").body["documents"][0]
    message_id = scene["child_web"].call("GET", "/api/messages?folder=INBOX").body["messages"][0]["id"]
    for who in ("stranger_web", "doctor_web"):
        client = scene[who]
        for path in ("/api/messages?folder=INBOX", f"/api/messages/{message_id}", "/api/dossier",
                     f"/api/dossier/documents/{secret['id']}", "/api/history", "/api/home"):
            answer = client.call("GET", path, headers={"X-Space": str(child_id)})
            assert answer.status == 404, (who, path, answer.status)
    stranger_id = support.account(scene["hub"], scene["stranger"]).id
    for space in (str(stranger_id), "abc", "-1", "9" * 30, ""):
        answer = scene["parent_web"].call("GET", "/api/messages?folder=INBOX", headers={"X-Space": space})
        assert answer.status == 404, space
    # The holder's own acts are never a representative's.
    answer = scene["parent_web"].call("POST", "/api/space/close", {"password": PASSWORD}, headers=_on_child(scene))
    assert answer.status == 403 and answer.error["code"] == "holder_only"


def test_the_cli_refuses_an_adult_as_a_minor_and_links_a_protected_adult(scene):
    data_dir = str(scene["data_dir"])
    refused = run_cli("patient", "representative", "add", "--data-dir", data_dir, "--holder", STRANGER_INS,
                      "--dependant", PARENT_INS)
    assert refused.returncode == 1 and "majeur" in refused.stderr
    linked = run_cli("patient", "representative", "add", "--data-dir", data_dir, "--holder", STRANGER_INS,
                     "--dependant", PARENT_INS, "--protected-adult")
    assert linked.returncode == 0, linked.stderr
    listed = run_cli("patient", "representative", "list", "--data-dir", data_dir).stdout
    assert f"{scene['stranger']}  represents  {scene['parent']}  protected_adult" in listed
    removed = run_cli("patient", "representative", "remove", "--data-dir", data_dir, "--holder", STRANGER_INS,
                      "--dependant", PARENT_INS)
    assert removed.returncode == 0 and "link removed" in removed.stdout
    def traced(address: str) -> list[str]:
        with scene["hub"].engine.connect() as conn:
            return [e.outcome for e in conn.execute(AuditEvent.__table__.select().where(
                AuditEvent.action.like("representative.%"),
                AuditEvent.subject_account_id == support.account(scene["hub"], address).id).order_by(AuditEvent.id))]

    # On both spaces: the parent's holds its own link to the child ("minor") too.
    assert traced(scene["parent"]) == ["minor", "protected_adult", "operator"]
    assert traced(scene["stranger"]) == ["protected_adult", "operator"]


def test_at_eighteen_the_link_ends_and_the_young_adult_is_told(scene):
    hub = scene["hub"]
    assert asyncio.run(representatives.end_at_majority(hub, dt.datetime(2030, 3, 27, tzinfo=dt.timezone.utc))) == 0
    assert asyncio.run(representatives.end_at_majority(hub, dt.datetime(2030, 3, 28, tzinfo=dt.timezone.utc))) == 1
    assert scene["parent_web"].call("GET", "/api/dossier", headers=_on_child(scene)).status == 404
    assert [p["own"] for p in scene["parent_web"].call("GET", "/api/profiles").body["profiles"]] == [True]
    told = [m for m in read_folder(hub, CHILD) if b"Vous avez 18 ans" in m.raw]
    assert len(told) == 1


def _queued_texts(hub, to: str) -> list[str]:
    """The text of every message queued for a remote address, opened with the hub's key as the relay does."""
    system = hub.system_account()
    with hub.engine.connect() as conn:
        rows = conn.execute(select(Blob.id, Blob.body, WrappedKey.wrapped)
                            .join(OutboundItem, OutboundItem.blob_id == Blob.id)
                            .join(WrappedKey, WrappedKey.blob_id == Blob.id)
                            .where(OutboundItem.rcpt_to == to, WrappedKey.account_id == system.id)).all()
    reader = Reader(hub.keyring, system)
    return [email.message_from_bytes(reader.body(SimpleNamespace(blob_id=r.id, wrapped=r.wrapped, body=r.body)),
                                     policy=email.policy.default).get_content() for r in rows]


def test_the_representative_is_notified_at_their_own_address_without_content(scene):
    deadline = time.monotonic() + 60
    while True:
        told = [t for t in _queued_texts(scene["hub"], f"{PARENT_INS}@example.org".lower())
                if "représentant légal" in t]
        if told or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert told, "no notification queued for the representative"
    assert "aucune information de santé" in told[0]
    assert "Dominique" not in told[0] and "VACCINATION" not in told[0].upper()  # neither who nor what


def test_a_closed_dependants_space_is_reached_by_nobody(scene):
    assert representatives.add(scene["hub"], PARENT_INS, CHILD_INS, "protected_adult")  # linked again, as adult
    parent = scene["parent_web"]
    assert parent.call("GET", "/api/home", headers=_on_child(scene)).status == 200
    lifecycle.close_space(scene["hub"], CHILD_INS, actor="operator")
    assert parent.call("GET", "/api/home", headers=_on_child(scene)).status == 404
