"""The private ICS feed read by a real iCalendar parser, revoked -> 404; prevention campaigns loaded by the
operator's command appear for the targeted patients only, with their status; on a served hub."""

from __future__ import annotations

import http.client
import json

import icalendar
import pytest

from mssante_hub.hub import Hub
from storage import agenda as agenda_store
from tests.agenda.support import DOCTOR, Submitter, ics, imip_message
from tests.conftest import add_professional, make_data_dir
from tests.dossier import support
from tests.dossier.support import INS, PATIENT, with_key
from tests.smtp.support import configure_smtp, make_pki
from tests.support.served import run_cli, served
from tests.web.conftest import configure
from tests.web.support import WebClient

PATIENT_PASSWORD = "mot de passe de dominique"
MAN_INS = with_key("1500175123456")
MAN_PASSWORD = "mot de passe de claude"
CAMPAIGNS = [
    {"id": "depistage-sein-2026", "kind": "exam", "sex": "F", "min_age": 40, "max_age": 74,
     "window": {"start": "2020-01-01", "end": "2099-12-31"},
     "title": {"fr": "Dépistage organisé du cancer du sein", "en": "Breast cancer screening"},
     "text": {"fr": "Une mammographie tous les deux ans.", "en": "A mammogram every two years."}},
    {"id": "vaccin-zona", "kind": "vaccination", "min_age": 65, "max_age": 200,
     "window": {"start": "2020-01-01", "end": "2099-12-31"}, "title": {"fr": "Vaccination contre le zona"}},
    {"id": "ancienne", "kind": "exam", "window": {"start": "2001-01-01", "end": "2001-12-31"},
     "title": {"fr": "Campagne passée"}},
]


def _man(hub) -> None:
    from mssante_hub.patients import lifecycle
    from mssante_hub.patients.provision import PatientRecord, add_patient

    code = add_patient(hub, PatientRecord(MAN_INS, "MARTIN", "CLAUDE", "1950-01-01", "M", "claude@example.org"))
    lifecycle.activate(hub, MAN_INS, code, MAN_PASSWORD)


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    base = tmp_path_factory.mktemp("agenda-feed")
    data_dir = make_data_dir(base)
    pki = make_pki(base)
    configure(data_dir, {})
    configure_smtp(data_dir, pki)
    campaigns = base / "campagnes.json"
    campaigns.write_text(json.dumps(CAMPAIGNS, ensure_ascii=False), encoding="utf-8")
    hub = Hub.open(data_dir)
    try:
        add_professional(hub, "jean.dupont")
        support.provision_patient(hub)
        _man(hub)
        hub.close()
        loaded = run_cli("agenda", "campaign", "load", str(campaigns), "--data-dir", str(data_dir))
        assert loaded.returncode == 0 and "loaded 3" in loaded.stdout, loaded.stderr
        hub = Hub.open(data_dir)
        with served(data_dir, ["web", "submission"]) as running:
            client = Submitter(running.port("submission"), pki)
            calendar = ics("feed-1@cabinet.test", summary="Bilan annuel", location="Centre de santé",
                           start="20270301T090000", end="20270301T093000",
                           extra="RRULE:FREQ=WEEKLY;COUNT=3")
            assert client.send(PATIENT, imip_message(DOCTOR, PATIENT, calendar)) == {}
            client.close()
            web = WebClient(running.port("web")).login(INS, PATIENT_PASSWORD)
            yield running, hub, web, data_dir
    finally:
        hub.close()


def _get(port: int, path: str) -> tuple[int, str, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.getheader("content-type") or "", response.read()
    finally:
        connection.close()


def test_the_ics_feed_parses_with_icalendar_and_a_revoked_token_gets_404(scene):
    running, hub, web, _ = scene
    assert web.call("GET", "/api/agenda/feed").body["active"] is False
    made = web.call("POST", "/api/agenda/feed")
    assert made.status == 201 and made.body["url"] == f"/ical/{made.body['token']}.ics"
    status, content_type, body = _get(running.port("web"), made.body["url"])
    assert status == 200 and content_type.startswith("text/calendar")
    calendar = icalendar.Calendar.from_ical(body)
    events = calendar.walk("VEVENT")
    # A weekly appointment, three times: each occurrence in the feed.
    assert [str(e["SUMMARY"]) for e in events] == ["Bilan annuel"] * 3
    assert [e["DTSTART"].dt.isoformat() for e in events] == [
        "2027-03-01T08:00:00+00:00", "2027-03-08T08:00:00+00:00", "2027-03-15T08:00:00+00:00"]
    assert str(events[0]["LOCATION"]) == "Centre de santé"
    # The token is stored as its hash only.
    with hub.engine.connect() as conn:
        stored = conn.execute(agenda_store.AgendaFeed.__table__.select()).all()
    assert len(stored) == 1 and made.body["token"] not in stored[0].token_hash
    # Regenerated: the old URL is gone; revoked: the new one too.
    again = web.call("POST", "/api/agenda/feed").body
    assert _get(running.port("web"), made.body["url"])[0] == 404
    assert _get(running.port("web"), again["url"])[0] == 200
    assert web.call("DELETE", "/api/agenda/feed").status == 204
    assert _get(running.port("web"), again["url"])[0] == 404
    assert _get(running.port("web"), "/ical/../../etc/passwd.ics")[0] == 404
    assert web.call("GET", "/api/agenda/feed").body["active"] is False
    # Each fetch is in the patient's access history, in words.
    history = web.call("GET", "/api/history?limit=500").body["history"]
    fetched = [h for h in history if h["action"] == "agenda.access" and h["actor"].startswith("Votre lien")]
    assert len(fetched) == 2 and fetched[0]["action_label"] == "Consultation de l'agenda"


def test_prevention_items_appear_for_the_targeted_patients_only(scene):
    running, _, web, _ = scene
    mine = web.call("GET", "/api/agenda").body["prevention"]
    assert [(p["id"], p["status"]) for p in mine] == [("depistage-sein-2026", "to_plan")]
    assert mine[0]["title"] == "Dépistage organisé du cancer du sein"
    man = WebClient(running.port("web")).login(MAN_INS, MAN_PASSWORD)
    assert [p["id"] for p in man.call("GET", "/api/agenda").body["prevention"]] == ["vaccin-zona"]
    # Status per patient: set by the patient, only for a campaign that targets them.
    assert web.call("POST", "/api/agenda/prevention/depistage-sein-2026", {"status": "done"}).status == 200
    assert web.call("GET", "/api/agenda").body["prevention"][0]["status"] == "done"
    assert man.call("POST", "/api/agenda/prevention/depistage-sein-2026", {"status": "done"}).status == 404
    assert web.call("POST", "/api/agenda/prevention/depistage-sein-2026", {"status": "peut-être"}).status == 400
    assert [p["status"] for p in man.call("GET", "/api/agenda").body["prevention"]] == ["to_plan"]


def test_a_bad_campaign_file_is_refused_with_its_reason(scene, tmp_path):
    _, _, _, data_dir = scene
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"id": "x", "kind": "exam", "min_age": 80, "max_age": 20,
                                "window": {"start": "2027-01-01", "end": "2027-12-31"}, "title": {"fr": "x"}}]))
    done = run_cli("agenda", "campaign", "load", str(bad), "--data-dir", str(data_dir))
    assert done.returncode == 1 and "min_age" in done.stderr


def test_the_router_serves_every_route_it_declares():
    from mssante_hub.web.agenda_api import AgendaApi

    api = AgendaApi(None, None, None)
    for method, path in AgendaApi.ROUTES:
        parts = path.removeprefix("/api/agenda").strip("/").replace("{id}", "7").split("/")
        handler, _, known = api.route(method, [p for p in parts if p])
        assert known and handler is not None, (method, path)
