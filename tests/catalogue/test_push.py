"""Acceptance of the catalogue (issue 14) on a served hub, over real SMTP and HTTP clients: the operator loads
the catalogue, the patient connects a service through the webmail API, the service pushes from its APP
mailbox; only what the consent allows is accepted and filed, everything else is refused with the named
French+English reply and traced in the patient's access history; a new version lapses after its limit date.

Each test acts for its own patient and service, so their consents never cross.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import unicodedata

import pytest

from mssante_hub.patients.jobs import run_daily
from mssante_hub.rules import refusals
from storage import catalogue as store
from tests.agenda.support import ics, imip_message
from tests.catalogue import support
from tests.catalogue.support import SERVICE_MAILBOX, load, measure_message, push, service, text_message
from tests.conftest import add_professional
from tests.dossier import builder
from tests.dossier import support as dossier
from tests.dossier.scene import PATIENT_PASSWORD, dossier_scene
from tests.support.served import run_cli
from tests.web.support import WebClient

PATIENTS = {name: dossier.with_key(nir) for name, nir in (
    ("connect", "2790375123456"), ("scopes", "1850275123457"), ("version", "2790375123458"),
    ("at-once", "1850275123459"), ("suspended", "2790375123460"))}
SERVICES = {"version": "carnet-tension", "at-once": "carnet-poids", "suspended": "carnet-sommeil"}


def _reply(reason: refusals.Reason) -> str:
    """The reply text as it crosses the wire: ASCII, the French words without their accents (RFC 5321 §4.2)."""
    text = unicodedata.normalize("NFKD", f"{reason.status} {reason.text}")
    return text.encode("ascii", "ignore").decode("ascii")


def _accounts(hub) -> None:
    add_professional(hub, support.SERVICE_LOCAL, type="APP")
    for local in SERVICES.values():
        add_professional(hub, local, type="APP")
    for ins in PATIENTS.values():
        dossier.provision_patient(hub, ins)


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    with dossier_scene(tmp_path_factory.mktemp("catalogue"), _accounts, doors=["web", "submission"]) as scene:
        data_dir = scene.hub.config.data_dir
        entries = [service()] + [service(id=sid, name=sid, mailbox=f"{sid}@hub.test") for sid in SERVICES.values()]
        out = load(data_dir, entries)
        assert "4 new" in out, out
        yield scene


def _patient(scene, name: str) -> WebClient:
    return WebClient(scene.running.port("web")).login(PATIENTS[name], PATIENT_PASSWORD)


def _address(name: str) -> str:
    return f"{PATIENTS[name]}@patient.hub.test".lower()


def _account_id(scene, name: str) -> int:
    return dossier.account(scene.hub, _address(name)).id


def _send(scene, raw: bytes, to: str, sender: str = SERVICE_MAILBOX):
    return push(scene.running.port("submission"), scene.pki, raw, to, sender)


def _consent(client, service_id: str, scopes: list[str]):
    answer = client.call("POST", f"/api/catalogue/{service_id}/consent", {"scopes": scopes})
    assert answer.status == 200, answer.body
    return answer.body


def test_connect_push_revoke(scene):
    """Catalogue load -> connect (API) -> a document pushed over SMTP is accepted and filed in the dossier;
    revoke -> refused at RCPT with the text, and the history says both."""
    client = scene.patient()  # the fixtures' patient: the XDM's CDA names them
    to = dossier.PATIENT
    document = builder.document_message(SERVICE_MAILBOX, to, builder.cda_package(builder.generated_cda()))
    before = _send(scene, document, to)
    assert before.rcpt[0] == 550 and before.rcpt[1] == _reply(refusals.SERVICE_NOT_CONNECTED), before

    listed = client.call("GET", "/api/catalogue").body["services"]
    mine = next(s for s in listed if s["id"] == support.SERVICE["id"])
    assert mine["consent"] is None and [s["scope"] for s in mine["scopes"]] == support.SERVICE["scopes"]
    shown = _consent(client, "suivi-diabete", ["documents", "messages"])
    assert shown["outcome"] == "granted" and shown["consent"]["state"] == "active"

    accepted = _send(scene, document, to)
    assert accepted.accepted, accepted
    documents = client.call("GET", "/api/dossier/documents").body["documents"]
    assert [d["title"] for d in documents] == ["Document de test"], documents
    assert _send(scene, text_message(to), to).accepted  # the messages scope: a plain mail

    assert client.call("DELETE", "/api/catalogue/suivi-diabete/consent").status == 204
    assert client.call("DELETE", "/api/catalogue/suivi-diabete/consent").status == 404
    after = _send(scene, text_message(to), to)
    assert after.rcpt == (550, _reply(refusals.SERVICE_NOT_CONNECTED)), after
    consents = support.history(client, "catalogue.consent")
    assert [(e["outcome"], e["action_label"]) for e in consents] == [
        ("withdrawn", "Accord donné à un service du catalogue"), ("granted", "Accord donné à un service du catalogue")]
    assert consents[0]["outcome_label"] == "accord retiré" and consents[0]["actor"] == "Vous"
    pushes = support.history(client, "catalogue.push")
    assert [e["outcome"] for e in pushes] == ["refused", "ok", "ok", "refused"], pushes
    assert pushes[0]["action_label"] == "Envoi d'un service connecté" and pushes[0]["outcome_label"] == "refusé"
    assert pushes[0]["actor"] == "Suivi-Diabete"  # the APP mailbox's name, never its address


def test_a_scope_not_consented_is_refused_at_data_and_a_measure_is_filed(scene):
    client = _patient(scene, "scopes")
    to = _address("scopes")
    _consent(client, "suivi-diabete", ["measures"])
    appointment = imip_message(SERVICE_MAILBOX, to, ics("rdv-1@suivi-diabete.example", attendee=to))
    refused = _send(scene, appointment, to)
    assert refused.rcpt[0] == 250 and refused.data == (554, _reply(refusals.SERVICE_SCOPE_NOT_CONSENTED)), \
        refused
    assert client.call("GET", "/api/agenda?from=2027-01-01&to=2028-01-01").body["items"] == []
    assert _send(scene, text_message(to), to).data[0] == 554  # messages not granted either

    assert _send(scene, measure_message(to), to).accepted
    entries = client.call("GET", "/api/profile").body["entries"]
    assert [(e["kind"], e["source"], e["code"]) for e in entries] == [
        ("Observation", "service", "http://loinc.org|2339-0")], entries
    assert entries[0]["resource"]["valueQuantity"]["value"] == 1.05
    # A connected service is no professional source: its covering message offers nothing (docs/profile.md).
    inbox = client.call("GET", "/api/messages?folder=INBOX").body["messages"]
    assert len(inbox) == 1
    assert client.call("GET", f"/api/messages/{inbox[0]['id']}").body["profile_offers"] is False
    assert client.call("GET", f"/api/profile/offers/messages/{inbox[0]['id']}").status == 404
    invalid = _send(scene, measure_message(to, {"resourceType": "Observation", "status": "nonsense"}), to)
    assert invalid.data[0] == 554 and _reply(refusals.SERVICE_MEASURE_INVALID) in invalid.data[1], invalid
    condition = {"resourceType": "Condition", "subject": {"reference": "Patient/1"},
                 "code": {"text": "Diabète de type 2"}}
    assert _send(scene, measure_message(to, condition), to).data[0] == 554  # measures are Observations only
    assert len(client.call("GET", "/api/profile").body["entries"]) == 1
    assert [e["outcome"] for e in support.history(client, "catalogue.push")] == ["refused", "refused", "ok",
                                                                                 "refused", "refused"]


def test_a_new_version_lapses_after_its_limit_date(scene):
    client = _patient(scene, "version")
    to, sid = _address("version"), SERVICES["version"]
    sender = f"{sid}@hub.test"
    _consent(client, sid, ["messages"])
    assert _send(scene, text_message(to, sender=sender), to, sender).accepted
    out = load(scene.hub.config.data_dir, [service(id=sid, name=sid, mailbox=sender, version="2.0")], "v2.json")
    assert "1 updated" in out and "1 consent(s) to approve again" in out, out
    mine = client.call("GET", "/api/catalogue?theme=diab%C3%A8te").body["services"]
    consent = next(s for s in mine if s["id"] == sid)["consent"]
    assert consent["state"] == "reapproval_needed" and consent["approved_version"] == "1.0"
    limit = dt.datetime.fromisoformat(consent["reapprove_by"])
    assert dt.timedelta(days=29) < limit - dt.datetime.now(dt.timezone.utc) <= dt.timedelta(days=30)
    assert _send(scene, text_message(to, sender=sender), to, sender).accepted  # until the limit date

    done = asyncio.run(run_daily(scene.hub, limit - dt.timedelta(hours=1)))
    assert done["consents_lapsed"] == 0
    done = asyncio.run(run_daily(scene.hub, limit + dt.timedelta(minutes=1)))
    assert done["consents_lapsed"] == 1
    lapsed = _send(scene, text_message(to, sender=sender), to, sender)
    assert lapsed.rcpt == (550, _reply(refusals.SERVICE_CONSENT_LAPSED)), lapsed
    shown = client.call("GET", "/api/catalogue").body["services"]
    assert next(s for s in shown if s["id"] == sid)["consent"]["state"] == "lapsed"
    lapse, = support.history(client, "catalogue.lapse")
    assert (lapse["action_label"], lapse["outcome_label"], lapse["actor"]) == (
        "Fin de l'accès d'un service", "accord expiré", "Traitement automatique quotidien")
    asked, = support.history(client, "catalogue.reapproval")
    assert (asked["action_label"], asked["outcome_label"]) == (
        "Nouvelle version d'un service : accord à renouveler", "en attente")

    again = _consent(client, sid, ["messages"])  # approving the new version gives access back
    assert again["outcome"] == "reapproved" and again["consent"]["approved_version"] == "2.0"
    assert _send(scene, text_message(to, sender=sender), to, sender).accepted


def test_with_no_delay_the_new_version_lapses_at_use_time(scene):
    """With `catalogue.reapproval_days` 0 the limit date is the load itself: RCPT refuses before any daily job."""
    client = _patient(scene, "at-once")
    to, sid = _address("at-once"), SERVICES["at-once"]
    sender = f"{sid}@hub.test"
    _consent(client, sid, ["messages"])
    data_dir = str(scene.hub.config.data_dir)
    assert run_cli("config", "set", "--data-dir", data_dir, "catalogue.reapproval_days", "0").returncode == 0
    try:
        load(scene.hub.config.data_dir, [service(id=sid, name=sid, mailbox=sender, version="9")], "v9.json")
    finally:
        assert run_cli("config", "set", "--data-dir", data_dir, "catalogue.reapproval_days", "30").returncode == 0
    refused = _send(scene, text_message(to, sender=sender), to, sender)
    assert refused.rcpt == (550, _reply(refusals.SERVICE_CONSENT_LAPSED)), refused


def test_a_suspended_service_loses_access_at_once(scene):
    client = _patient(scene, "suspended")
    to, sid = _address("suspended"), SERVICES["suspended"]
    sender = f"{sid}@hub.test"
    _consent(client, sid, ["messages"])
    assert _send(scene, text_message(to, sender=sender), to, sender).accepted
    load(scene.hub.config.data_dir, [service(id=sid, name=sid, mailbox=sender, status="suspended")], "suspended.json")
    refused = _send(scene, text_message(to, sender=sender), to, sender)
    assert refused.rcpt == (550, _reply(refusals.SERVICE_NOT_ONLINE)), refused
    assert [e["outcome"] for e in support.history(client, "catalogue.lapse")] == ["suspended"]
    answer = client.call("POST", f"/api/catalogue/{sid}/consent", {"scopes": ["messages"]})
    assert answer.status == 409, answer.body
    held = scene.hub.read_sync(lambda conn: store.consents_of(conn, _account_id(scene, "suspended")))
    assert held[sid].state == store.LAPSED


def test_an_app_mailbox_in_no_catalogue_entry_sends_as_before(scene):
    """The hospital's APP mailbox of the dossier scene is tied to no service: no consent asked of it."""
    to = _address("scopes")
    raw = text_message(to, sender=dossier.APP)
    assert _send(scene, raw, to, dossier.APP).accepted


def test_the_api_filters_by_theme_and_refuses_bad_consents(scene):
    client = _patient(scene, "scopes")
    _consent(client, "suivi-diabete", ["measures"])
    diabetes = client.call("GET", "/api/catalogue?theme=diab%C3%A8te").body  # any case: "Diabète" in the file
    assert diabetes["theme"] == "diabète" and len(diabetes["services"]) == 4
    assert client.call("GET", "/api/catalogue?theme=sommeil").body["services"] == []
    assert client.call("GET", "/api/catalogue?theme=" + "x" * 201).status == 400
    for scopes in ([], ["everything"], ["messages", "messages"], "messages", [1], None):
        answer = client.call("POST", "/api/catalogue/suivi-diabete/consent", {"scopes": scopes})
        assert answer.status == 422 and answer.error["code"] == "bad_scopes", (scopes, answer.body)
    assert client.call("POST", "/api/catalogue/suivi-diabete/consent", raw=b"{", headers={
        "Content-Type": "application/json"}).status == 400
    shown = next(s for s in client.call("GET", "/api/catalogue").body["services"] if s["id"] == "suivi-diabete")
    assert shown["consent"]["scopes"] == ["measures"]  # unchanged by the refusals
