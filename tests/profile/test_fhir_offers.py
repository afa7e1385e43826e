"""A professional's FHIR JSON attachment as a source of the profil médical (docs/profile.md): sent over real SMTP
(submission by a doctor of the hub, mx by a hospital's system over mutual TLS) to a served hub, offered to the
patient by the webmail API, accepted with the professional as source; hostile attachments offer nothing and the
message is still mail."""

from __future__ import annotations

import email.policy
import http.client
import json
import smtplib
from email.message import EmailMessage

import pytest

from mssante_hub.envelope import Channel, Envelope, Identity
from mssante_hub.profile import fhir_offers
from tests.conftest import add_professional
from tests.dossier.scene import dossier_scene
from tests.dossier.support import INS, PATIENT
from tests.profile.resources import of_each_kind
from tests.smtp.support import HOSPITAL_DOMAIN

DOCTOR_LOCAL = "claire.bernard"
DOCTOR_NAME = "Claire Bernard"
DPI = f"dpi@{HOSPITAL_DOMAIN}"
INS_SYSTEM = "urn:oid:1.2.250.1.213.1.4.10"
OFFERED = ("Condition", "AllergyIntolerance", "MedicationStatement", "Immunization", "Observation")


def _with_json(sender: str, payloads: list[tuple[bytes, str, str]], subject: str = "Synthèse") -> bytes:
    """A message from `sender` to the patient with each (payload, content type, file name) attached."""
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, PATIENT, subject
    message.set_content("Bonjour,\nvoici les éléments pour votre profil.\n")
    for data, ctype, filename in payloads:
        maintype, _, subtype = ctype.partition("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message.as_bytes(policy=email.policy.SMTP)


def _bundle() -> dict:
    """One resource of each offered kind, the patient (same INS) and an Encounter (a kind never offered)."""
    kinds = of_each_kind("bundle")
    entries = [{"fullUrl": f"urn:uuid:{n}", "resource": {**kinds[k], "subject" if "subject" in kinds[k] else "patient":
                                                         {"reference": "Patient/p1"}}} for n, k in enumerate(OFFERED)]
    entries.append({"resource": {"resourceType": "Patient", "id": "p1",
                                 "identifier": [{"system": INS_SYSTEM, "value": INS}]}})
    entries.append({"resource": {"resourceType": "Encounter", "status": "finished",
                                 "class": {"code": "AMB"}}})
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


@pytest.fixture(scope="module")
def scene(tmp_path_factory, module_fixtures_dir):
    def doctor(hub) -> None:
        add_professional(hub, DOCTOR_LOCAL)

    with dossier_scene(tmp_path_factory.mktemp("fhir-offers"), add_accounts=doctor,
                       doors=["web", "submission", "mx"]) as scene:
        scene.doctor = f"{DOCTOR_LOCAL}@{scene.hub.config.get('hub.domain')}"
        yield scene


def _by_subject(client, subject: str) -> int:
    listed = client.call("GET", "/api/messages?folder=INBOX").body["messages"]
    found = [m["id"] for m in listed if m["subject"] == subject]
    assert len(found) == 1, listed
    return found[0]


def _download(client, path: str) -> bytes:
    connection = http.client.HTTPConnection("127.0.0.1", client.port, timeout=60)
    try:
        connection.request("GET", path, headers={"Authorization": f"Bearer {client.token}"})
        response = connection.getresponse()
        assert response.status == 200
        return response.read()
    finally:
        connection.close()


def _no_address_in(body, *addresses: str) -> None:
    text = json.dumps(body)
    for address in addresses:
        assert address not in text


def test_a_doctors_bundle_is_offered_and_accepted_with_the_doctor_as_source(scene):
    raw = _with_json(scene.doctor, [(json.dumps(_bundle()).encode(), "application/fhir+json", "synthese.json")],
                     subject="Bundle du Dr Bernard")
    scene.deliver(raw, sender=scene.doctor)
    client = scene.patient()
    message_id = _by_subject(client, "Bundle du Dr Bernard")
    shown = client.call("GET", f"/api/messages/{message_id}")
    assert shown.status == 200 and shown.body["profile_offers"] is True
    assert [a["filename"] for a in shown.body["attachments"]] == ["synthese.json"]

    answer = client.call("GET", f"/api/profile/offers/messages/{message_id}")
    assert answer.status == 200, answer.body
    offers = answer.body["offers"]
    assert [o["kind"] for o in offers] == list(OFFERED)
    assert answer.body["source"] == "professional" and answer.body["source_name"] == DOCTOR_NAME
    assert answer.body["refused"] == [{"attachment": "synthese.json", "reason": "unsupported_kind"}]  # Encounter
    assert not any(o["added"] for o in offers)
    # The sender's own patient id is replaced by the space's patient.
    assert offers[0]["resource"]["subject"] == {"reference": "Patient/self"}
    assert offers[1]["resource"]["patient"] == {"reference": "Patient/self"}
    _no_address_in(answer.body, scene.doctor)
    assert client.call("GET", "/api/profile").body["entries"] == []  # never added by itself

    # The patient accepts two of them; once each.
    for index in (0, 1):
        accepted = client.call("POST", f"/api/profile/offers/messages/{message_id}/{index}")
        assert accepted.status == 201, accepted.body
        assert accepted.body["source"] == "professional"
    again = client.call("POST", f"/api/profile/offers/messages/{message_id}/0")
    assert again.status == 409 and again.error["code"] == "already_added"
    assert client.call("POST", f"/api/profile/offers/messages/{message_id}/{len(offers)}").status == 404

    listed = client.call("GET", "/api/profile").body["entries"]
    assert {(e["kind"], e["source"], e["source_name"]) for e in listed} == {
        ("Condition", "professional", DOCTOR_NAME), ("AllergyIntolerance", "professional", DOCTOR_NAME)}
    condition = next(e for e in listed if e["kind"] == "Condition")
    assert condition["display"] == "Hypertension artérielle" and condition["resource"]["note"][0]["text"] == \
        "Note bundle"
    _no_address_in(listed, scene.doctor)
    one = client.call("GET", f"/api/profile/{condition['id']}").body
    assert one["source"] == "professional" and one["source_name"] == DOCTOR_NAME
    marked = client.call("GET", f"/api/profile/offers/messages/{message_id}").body["offers"]
    assert [o["added"] for o in marked] == [True, True, False, False, False]

    # An entry the patient adds by hand stays the patient's.
    assert client.call("POST", "/api/profile", of_each_kind()["Immunization"]).status == 201
    sources = {e["kind"]: e["source"] for e in client.call("GET", "/api/profile").body["entries"]}
    assert sources["Immunization"] == "patient"
    # The patient's own profile items carry FHIR JSON too: no offer (not a professional's message).
    own = client.call("GET", f"/api/messages?folder={'Dossier/Profil'}").body["messages"]
    assert own and all(client.call("GET", f"/api/profile/offers/messages/{m['id']}").status == 404 for m in own)


def test_a_hospital_system_over_mx_is_a_source_too(scene):
    """A trust-space sender over mutual TLS, with `application/json` holding one resource."""
    allergy = of_each_kind("mx")["AllergyIntolerance"]
    raw = _with_json(f"Service de cardiologie <{DPI}>", [(json.dumps(allergy).encode(), "application/json",
                                                          "allergie.json")], subject="Depuis l'hôpital")
    with smtplib.SMTP("127.0.0.1", scene.running.port("mx"), timeout=60) as smtp:
        smtp.ehlo("dpi.hopital.test")
        smtp.starttls(context=scene.pki.client_context(scene.pki.hospital))
        smtp.ehlo("dpi.hopital.test")
        assert smtp.sendmail(DPI, [PATIENT], raw) == {}
    client = scene.patient()
    message_id = _by_subject(client, "Depuis l'hôpital")
    answer = client.call("GET", f"/api/profile/offers/messages/{message_id}").body
    assert [o["kind"] for o in answer["offers"]] == ["AllergyIntolerance"] and answer["refused"] == []
    assert answer["source_name"] == "Service de cardiologie"
    entry_id = client.call("POST", f"/api/profile/offers/messages/{message_id}/0").body["id"]
    entry = client.call("GET", f"/api/profile/{entry_id}").body
    assert (entry["source"], entry["source_name"]) == ("professional", "Service de cardiologie")
    _no_address_in(entry, DPI)


def _deep(levels: int) -> dict:
    value: dict = {"resourceType": "Condition", "subject": {"reference": "Patient/self"}}
    cursor = value
    for _ in range(levels):
        cursor["extension"] = [{"url": "urn:x"}]
        cursor = cursor["extension"][0]
    return value


HOSTILE = {
    "nesting": (b"[" * 50_000 + b"]" * 50_000, "json_invalid"),
    "deep": (json.dumps(_deep(30)).encode(), "too_deep"),
    "huge": (b'{"resourceType": "Condition", "note": [{"text": "' + b"x" * (10 * 1024 * 1024) + b'"}]}',
             "too_large"),
    "not-fhir": (b'{"hello": "world", "items": [1, 2, 3]}', "unsupported_kind"),
    "wrong-type": (json.dumps({"resourceType": "Patient", "id": "p"}).encode(), "unsupported_kind"),
    "invalid": (json.dumps({"resourceType": "Condition", "subject": {"reference": "Patient/self"},
                            "onsetDateTime": "pas une date"}).encode(), "value_error"),
    "other-patient": (json.dumps({"resourceType": "AllergyIntolerance", "code": {"text": "Arachide"},
                                  "patient": {"identifier": {"system": INS_SYSTEM, "value": "180017512345688"}}})
                      .encode(), "other_patient"),
    "not-json": (b"\xff\xfe not json at all", "json_invalid"),
    "other-patient-bundle": (json.dumps({"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {"resourceType": "Patient", "identifier": [{"system": INS_SYSTEM, "value": "180017512345688"}]}},
        {"resource": of_each_kind()["Condition"]}]}).encode(), "other_patient"),
    "too-many": (json.dumps({"resourceType": "Bundle", "type": "collection",
                             "entry": [{"resource": of_each_kind()["Condition"]}] * 201}).encode(), "too_many"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_attachment_offers_nothing_and_the_message_is_still_mail(scene, name):
    payload, reason = HOSTILE[name]
    subject = f"Pièce jointe {name}"
    scene.deliver(_with_json(scene.doctor, [(payload, "application/fhir+json", f"{name}.json")], subject=subject),
                  sender=scene.doctor)
    client = scene.patient()
    message_id = _by_subject(client, subject)
    shown = client.call("GET", f"/api/messages/{message_id}")
    assert shown.status == 200 and shown.body["profile_offers"] is True and shown.body["text"].startswith("Bonjour")
    answer = client.call("GET", f"/api/profile/offers/messages/{message_id}")
    assert answer.status == 200, answer.body
    assert answer.body["offers"] == []
    assert [r["attachment"] for r in answer.body["refused"]] == [f"{name}.json"]
    assert answer.body["refused"][0]["reason"].startswith(reason), answer.body
    assert answer.body["notice"]["fr"].startswith("Cette pièce jointe n'a pas pu être reprise")
    assert client.call("POST", f"/api/profile/offers/messages/{message_id}/0").status == 404
    # The server keeps serving, and nothing was added.
    assert all(e["source"] != "professional" or e["display"] != "Arachide"
               for e in client.call("GET", "/api/profile").body["entries"])
    # The attachment stays the patient's to download, as sent.
    assert _download(client, f"/api/messages/{message_id}/attachments/0") == payload


# --- Who may be a source (the delivery's own decision, on the real envelope and identity) ---------------------

def _json_message() -> EmailMessage:
    message = EmailMessage()
    message.set_content("x")
    message.add_attachment(b"{}", maintype="application", subtype="fhir+json", filename="a.json")
    return message


def test_only_a_professional_is_a_source(scene):
    hub = scene.hub
    readers = hub.accounts_by_address([PATIENT])
    domain = hub.config.get("hub.patient_domain")
    doctor = hub.accounts_by_address([scene.doctor])[scene.doctor]

    def marked(channel: Channel, who: Identity | None, mail_from: str = "", service=None, message=None) -> dict:
        envelope = Envelope(mail_from=mail_from, rcpt_to=(PATIENT,), channel=channel)
        return fhir_offers.provenance(envelope, who, message or _json_message(), readers, domain, service)

    as_doctor = Identity(scene.doctor, doctor.id, doctor.type)
    assert marked(Channel.SUBMISSION, as_doctor, scene.doctor) == {fhir_offers.SUMMARY_KEY: scene.doctor}
    assert marked(Channel.MX, None, DPI) == {fhir_offers.SUMMARY_KEY: DPI}
    patient = readers[PATIENT]
    as_patient = Identity(PATIENT, patient.id, patient.type)
    for channel in (Channel.WEB, Channel.IMAP, Channel.FILING, Channel.SUBMISSION):
        assert marked(channel, as_patient, PATIENT) == {}, channel
    assert marked(Channel.MX, None, PATIENT) == {}  # a patient address over mx is nobody
    assert marked(Channel.MX, None, "") == {}  # a bounce
    assert marked(Channel.INTERNAL, None, scene.doctor) == {}  # the hub's own mail
    assert marked(Channel.SUBMISSION, as_doctor, scene.doctor, service=object()) == {}  # a catalogue service's push
    plain = EmailMessage()
    plain.set_content("Bonjour")
    assert marked(Channel.SUBMISSION, as_doctor, scene.doctor, message=plain) == {}  # no JSON attached


def test_the_json_read_per_message_is_bounded_in_all(scene):
    """Two attachments each under profile.max_resource_bytes, together over it: the second is not read."""
    big = {**of_each_kind()["Condition"], "note": [{"text": "x" * 150_000}]}
    payload = json.dumps(big).encode()
    subject = "Deux grandes pièces"
    scene.deliver(_with_json(scene.doctor, [(payload, "application/fhir+json", "un.json"),
                                            (payload, "application/fhir+json", "deux.json")], subject=subject),
                  sender=scene.doctor)
    client = scene.patient()
    answer = client.call("GET", f"/api/profile/offers/messages/{_by_subject(client, subject)}").body
    assert [o["attachment"] for o in answer["offers"]] == ["un.json"]
    assert answer["refused"] == [{"attachment": "deux.json", "reason": "too_large"}]
