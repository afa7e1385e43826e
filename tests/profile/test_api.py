"""The profil médical's API over HTTP, on a served hub (`mssante-hub serve`): entries of each kind added, edited
and deleted; invalid and hostile FHIR refused, bounded; the Bundle valid; another patient's entry unseen; no
clear text on disk."""

from __future__ import annotations

import json
import uuid

import pytest
from fhir.resources.R4B.bundle import Bundle

from mssante_hub.hub import Hub
from storage import profile as profile_store
from storage.models import AuditEvent
from tests.conftest import make_data_dir
from tests.dossier import support
from tests.profile.resources import of_each_kind
from tests.support.served import served
from tests.test_no_plaintext import files_under, scan
from tests.web.conftest import configure
from tests.web.support import WebClient

PASSWORD = "mot de passe de dominique"
OTHER_INS = support.with_key("1850275123456")
MARKER = "PROFILMARK" + uuid.uuid4().hex[:10].upper()


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    base = tmp_path_factory.mktemp("profile-api")
    data_dir = make_data_dir(base)
    # Room for a 5 MB body to reach the profile API, whose own bound must refuse it.
    configure(data_dir, {"web.max_request_bytes": 8 * 1024 * 1024, "web.max_buffered_bytes": 16 * 1024 * 1024})
    hub = Hub.open(data_dir)
    try:
        support.provision_patient(hub)
        support.provision_patient(hub, OTHER_INS)
        with served(data_dir, ["web"]) as running:
            client = WebClient(running.port("web")).login(support.INS, PASSWORD)
            other = WebClient(running.port("web")).login(OTHER_INS, PASSWORD)
            yield data_dir, hub, client, other
    finally:
        hub.close()


def _actions(hub, action: str) -> list[tuple[str, str]]:
    with hub.engine.connect() as conn:
        return [(r.target, r.outcome) for r in conn.execute(AuditEvent.__table__.select().where(
            AuditEvent.action == action).order_by(AuditEvent.id))]


def test_entries_of_each_kind_added_listed_edited_and_deleted(scene):
    _, hub, client, _ = scene
    added = {}
    for kind, resource in of_each_kind().items():
        answer = client.call("POST", "/api/profile", resource)
        assert answer.status == 201, (kind, answer.body)
        assert answer.body["kind"] == kind
        added[kind] = answer.body["id"]
    listed = {e["id"]: e for e in client.call("GET", "/api/profile").body["entries"]}
    assert set(added.values()) <= set(listed)
    condition = listed[added["Condition"]]
    assert (condition["kind"], condition["label"], condition["code"], condition["display"], condition["date"],
            condition["source"]) == ("Condition", "Antécédent", "http://snomed.info/sct|38341003",
                                     "Hypertension artérielle", "2015-06-01", "patient")
    assert condition["resource"]["onsetDateTime"] == "2015-06-01"
    assert listed[added["RelatedPerson"]]["resource"]["telecom"][0]["value"] == "+33 6 12 34 56 78"

    # Each entry is an item of Dossier/Profil (a message with the resource attached).
    from mssante_hub.reader import read_folder
    items = read_folder(hub, support.PATIENT, "Dossier/Profil")
    assert len(items) >= len(added) and all(b"application/fhir+json" in m.raw for m in items)

    # Edit: a new version, the same id; the old one in the history.
    weight = of_each_kind()["Observation"]
    weight["valueQuantity"]["value"] = 70.0
    path = f"/api/profile/{added['Observation']}"
    assert client.call("PUT", path, weight).status == 200
    shown = client.call("GET", path).body
    assert shown["resource"]["valueQuantity"]["value"] == 70.0
    assert [v["state"] for v in shown["versions"]] == ["current", "replaced"]
    assert client.call("PUT", path, of_each_kind()["Condition"]).status == 422  # an entry keeps its kind

    # Withdrawn (advance directives may be, at any time): gone, every version, and its items.
    directives = f"/api/profile/{added['DocumentReference']}"
    assert client.call("DELETE", directives).status == 204
    assert client.call("GET", directives).status == 404
    assert client.call("DELETE", directives).status == 404
    assert added["DocumentReference"] not in {e["id"] for e in client.call("GET", "/api/profile").body["entries"]}
    assert len(read_folder(hub, support.PATIENT, "Dossier/Profil")) == len(items) + 1 - 1  # +1 edit, -1 delete

    changes = _actions(hub, "profile.change")
    assert (f"profile:{added['Observation']}", "replaced") in changes
    assert (f"profile:{added['DocumentReference']}", "deleted") in changes
    assert sum(outcome == "added" for _, outcome in changes) >= len(added)
    assert ("profile:*", "ok") in _actions(hub, "profile.read")
    # ... and the access history words them.
    labels = {line["action_label"] for line in client.call("GET", "/api/history").body["history"]}
    assert {"Modification du profil médical", "Consultation du profil médical"} <= labels


def test_invalid_fhir_is_refused_with_where_not_what(scene):
    _, _, client, _ = scene
    bad = of_each_kind()["Immunization"]
    bad["status"] = ["SECRET-VALUE-42"]  # a code must be a string
    bad["occurrenceDateTime"] = "not a date"
    answer = client.call("POST", "/api/profile", bad)
    assert answer.status == 422 and answer.body["error"]["code"] == "invalid_fhir"
    locations = {d["location"] for d in answer.body["error"]["details"]}
    assert {"status", "occurrenceDateTime"} <= locations
    assert "SECRET-VALUE-42" not in json.dumps(answer.body)
    unknown = client.call("POST", "/api/profile", {"resourceType": "Patient", "id": "x"})
    assert unknown.status == 422 and unknown.body["error"]["details"] == [
        {"location": "resourceType", "type": "unsupported_kind"}]
    extra = dict(of_each_kind()["Condition"], bogusField=1)
    assert {"location": "bogusField", "type": "extra_forbidden"} in client.call(
        "POST", "/api/profile", extra).body["error"]["details"]
    assert client.call("POST", "/api/profile", raw=b"{not json", headers={
        "Content-Type": "application/fhir+json"}).status == 422
    assert client.call("POST", "/api/profile", raw=b"{}", headers={"Content-Type": "text/plain"}).status == 415


def test_hostile_json_is_refused_bounded(scene):
    _, _, client, _ = scene
    deep = ('{"resourceType": "Condition", "note": ' + "[" * 50_000 + "]" * 50_000 + "}").encode()
    answer = client.call("POST", "/api/profile", raw=deep, headers={"Content-Type": "application/json"})
    assert answer.status == 422 and answer.body["error"]["code"] == "invalid_fhir"
    nested = {"resourceType": "Condition", "subject": {"reference": "Patient/self"}}
    level = nested
    for _ in range(30):  # deep but under the JSON parser's own recursion limit: our depth bound refuses it
        level["extension"] = [{"url": "http://example.org/x"}]
        level = level["extension"][0]
    refused = client.call("POST", "/api/profile", nested)
    assert refused.status == 422 and refused.body["error"]["details"] == [{"location": "", "type": "too_deep"}]
    huge = json.dumps({"resourceType": "Condition", "subject": {"reference": "Patient/self"},
                       "note": [{"text": "x" * (5 * 1024 * 1024)}]}).encode()
    too_big = client.call("POST", "/api/profile", raw=huge, headers={"Content-Type": "application/json"})
    assert too_big.status == 413 and too_big.body["error"]["details"] == [{"location": "", "type": "too_large"}]


def test_the_bundle_is_a_valid_collection(scene):
    _, _, client, _ = scene
    client.call("POST", "/api/profile", of_each_kind()["AllergyIntolerance"])
    answer = client.call("GET", "/api/profile/bundle")
    assert answer.status == 200
    bundle = Bundle.model_validate(answer.body)
    assert bundle.type == "collection"
    kinds = {e.resource.get_resource_type() for e in bundle.entry}
    assert "AllergyIntolerance" in kinds
    assert len(bundle.entry) == len(client.call("GET", "/api/profile").body["entries"])


def test_hiding_an_entry_from_professionals(scene):
    _, hub, client, other = scene
    entry = client.call("POST", "/api/profile", of_each_kind()["MedicationStatement"]).body["id"]
    path = f"/api/profile/{entry}/visibility"
    assert client.call("POST", path, {"hidden_from_professionals": True}).body["hidden_from_professionals"] is True
    assert client.call("GET", f"/api/profile/{entry}").body["hidden_from_professionals"] is True
    assert client.call("POST", path, {"hidden_from_professionals": "yes"}).status == 400
    assert other.call("POST", path, {"hidden_from_professionals": False}).status == 404
    assert client.call("POST", path, {"hidden_from_professionals": False}).status == 200
    assert client.call("GET", f"/api/profile/{entry}").body["hidden_from_professionals"] is False
    outcomes = [o for t, o in _actions(hub, "profile.change") if t == f"profile:{entry}"]
    assert outcomes == ["added", "hidden", "shown"]


def test_another_patient_gets_404_on_an_entry_id(scene):
    _, _, client, other = scene
    entry = client.call("POST", "/api/profile", of_each_kind()["Condition"]).body["id"]
    assert other.call("GET", f"/api/profile/{entry}").status == 404
    assert other.call("PUT", f"/api/profile/{entry}", of_each_kind()["Condition"]).status == 404
    assert other.call("DELETE", f"/api/profile/{entry}").status == 404
    assert entry not in {e["id"] for e in other.call("GET", "/api/profile").body["entries"]}
    assert other.call("GET", "/api/profile/bundle").body.get("entry", []) == []
    assert client.call("GET", f"/api/profile/{entry}").status == 200  # still the holder's
    assert client.call("GET", "/api/profile/not-an-id").status == 404


def test_nothing_in_clear_on_disk(scene):
    data_dir, hub, client, _ = scene
    for resource in of_each_kind(MARKER).values():
        assert client.call("POST", "/api/profile", resource).status == 201
    listed = client.call("GET", "/api/profile").body["entries"]
    assert any(MARKER in json.dumps(e["resource"]) for e in listed)  # the marker is really stored...
    with hub.engine.connect() as conn:
        rows = conn.execute(profile_store.ProfileEntry.__table__.select()).all()
    assert rows and all(b"Condition" not in r.sealed and b"38341003" not in r.sealed for r in rows)
    # ... and in no file of the data folder (database, WAL), nor the kinds and codes in clear in the index.
    assert scan(files_under(data_dir), [MARKER.encode()]) == []
