"""The access history's filters on the server (actor, action, days in a zone) and its CSV export, over real
HTTP on a served hub: GET /api/history?actor=...&action=...&from=...&to=...&tz=..., /api/history.csv and
?format=csv (web/history_filters.py)."""

from __future__ import annotations

import csv
import datetime as dt
import http.client
import io

import pytest
from sqlalchemy import update

from storage.models import AuditEvent
from tests.conftest import add_professional
from tests.patients.helpers import send
from tests.patients.test_notify import active_patient
from tests.web.browser import PATIENT_PASSWORD
from tests.web.conftest import REMOTE_DOMAIN
from tests.web.support import WebClient

FORMULA_NAMES = ("=1+1", "+33 1 23", "-2+3")  # "@..." is not a display name a From field keeps: below
SERVICE_WORDS = {"L'équipe d'exploitation du service", "Traitement automatique quotidien",
                 "Service de notification", "Installation du service", "Le service Mon espace santé"}


@pytest.fixture(scope="module")
def scene(web_hub):
    hub = web_hub.hub
    doctor = add_professional(hub, "dr.histo.filtre", password=None)
    patient, account_id = active_patient(hub, "histo-filtre@courriel.example")
    send(hub, doctor, [patient], subject="Résultats")
    for number, name in enumerate(FORMULA_NAMES):
        send(hub, f"labo{number}@{REMOTE_DOMAIN}", [patient], from_name=name, subject="Compte rendu")
    me = WebClient(web_hub.port).login(patient.partition("@")[0], PATIENT_PASSWORD)
    [listed] = [m for m in me.call("GET", "/api/messages").body["messages"] if m["subject"] == "Résultats"]
    assert me.call("GET", f"/api/messages/{listed['id']}").status == 200  # a `read` by the holder
    return hub, account_id, me


def _lines(me: WebClient, query: str = "") -> list[dict]:
    answer = me.call("GET", "/api/history" + query)
    assert answer.status == 200, answer.body
    return answer.body["history"]


def test_by_actor_kind(scene):
    _, _, me = scene
    everything = _lines(me, "?limit=500")
    holder = _lines(me, "?actor=holder&limit=500")
    professional = _lines(me, "?actor=professional&limit=500")
    service = _lines(me, "?actor=service&limit=500")
    assert {e["actor"] for e in holder} == {"Vous"}
    assert {e["actor"] for e in professional} == {"Dr Histo Filtre", *FORMULA_NAMES}
    assert service and {e["actor"] for e in service} <= SERVICE_WORDS
    assert _lines(me, "?actor=representative") == []
    # Any other value is one actor as worded.
    assert {e["actor"] for e in _lines(me, "?actor=Dr%20Histo%20Filtre")} == {"Dr Histo Filtre"}
    assert _lines(me, "?actor=someone") == []
    # The kinds split the history exactly: none lost, none twice.
    assert len(holder) + len(professional) + len(service) == len(everything)


def test_by_action(scene):
    _, _, me = scene
    read = _lines(me, "?action=read")
    assert [(e["actor"], e["action_label"]) for e in read] == [("Vous", "Lecture d'un message")]
    received = _lines(me, "?action=deliver&actor=professional")
    assert len(received) == 1 + len(FORMULA_NAMES) and {e["action"] for e in received} == {"deliver"}


@pytest.mark.parametrize("query", ["actor=" + "x" * 201, "action=drop.table", "from=2025-13-01", "to=hier",
                                   "from=2025-06-15T00:00", "tz=Mars/Olympus", "format=xml", "limit=0"])
def test_a_bad_filter_is_refused_in_french(scene, query):
    _, _, me = scene
    answer = me.call("GET", "/api/history?" + query)
    assert answer.status == 400 and answer.error["fr"].startswith("Paramètre invalide")


def test_by_days_in_the_patients_zone(scene):
    hub, account_id, me = scene
    [first, second] = hub.read_sync(lambda conn: conn.execute(
        AuditEvent.__table__.select().where(AuditEvent.subject_account_id == account_id, AuditEvent.action == "read")
        .union_all(AuditEvent.__table__.select().where(AuditEvent.subject_account_id == account_id,
                                                       AuditEvent.action == "login"))).all())[:2]
    noon = dt.datetime(2025, 6, 15, 10, 0, tzinfo=dt.timezone.utc)  # 12:00 in Paris
    late = dt.datetime(2025, 6, 15, 23, 30, tzinfo=dt.timezone.utc)  # already 16 June in Paris
    hub.committer.run(lambda conn: conn.execute(update(AuditEvent).where(AuditEvent.id == first.id).values(at=noon)))
    hub.committer.run(lambda conn: conn.execute(update(AuditEvent).where(AuditEvent.id == second.id).values(at=late)))
    on_15 = _lines(me, "?from=2025-06-15&to=2025-06-15")
    assert [e["at"] for e in on_15] == [noon.isoformat()]
    assert [e["at"] for e in _lines(me, "?from=2025-06-16&to=2025-06-16")] == [late.isoformat()]
    assert [e["at"] for e in _lines(me, "?from=2025-06-15&to=2025-06-15&tz=UTC")] == [late.isoformat(),
                                                                                       noon.isoformat()]
    assert len(_lines(me, "?to=2025-06-16")) == 2
    assert len(_lines(me, "?from=2025-06-17&limit=500")) == len(_lines(me, "?limit=500")) - 2


def _get(port: int, token: str, path: str) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def test_the_csv_export_is_a_download_with_no_formula(scene, web_hub):
    _, _, me = scene
    status, headers, body = _get(web_hub.port, me.token, "/api/history.csv?actor=professional")
    assert status == 200 and headers["content-type"] == "text/csv; charset=utf-8"
    assert headers["content-disposition"] == 'attachment; filename="historique-des-acces.csv"'
    assert headers["x-content-type-options"] == "nosniff"
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["Date", "Qui", "Action", "Moyen", "Résultat"]
    names = sorted(r[1] for r in rows[1:])
    assert names == sorted(["Dr Histo Filtre", *("'" + n for n in FORMULA_NAMES)])
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
    assert all(r[0].endswith(("+01:00", "+02:00")) for r in rows[1:])  # in Europe/Paris, with its offset
    assert b'"Message re\xc3\xa7u"' in body  # every cell quoted
    # ?format=csv is the same export; the JSON keeps the names as they are.
    status, headers, same = _get(web_hub.port, me.token, "/api/history?actor=professional&format=csv")
    assert status == 200 and headers["content-disposition"].startswith("attachment") and same == body
    assert "=1+1" in {e["actor"] for e in _lines(me, "?actor=professional")}
    # Without a session: no export.
    status, _, _ = _get(web_hub.port, "nope", "/api/history.csv")
    assert status == 401


def test_a_cell_starting_with_at_or_a_tab_is_text_too():
    from zoneinfo import ZoneInfo

    from mssante_hub.web.history_filters import as_csv

    line = {"at": "2025-06-15T10:00:00+00:00", "actor": "@SUM(A1)", "action_label": "\t=cmd",
            "channel_label": "Messagerie web", "outcome_label": "réussi"}
    [_, row] = list(csv.reader(io.StringIO(as_csv([line], ZoneInfo("Europe/Paris")).decode("utf-8-sig")),
                               delimiter=";"))
    assert row == ["2025-06-15T12:00:00+02:00", "'@SUM(A1)", "'\t=cmd", "Messagerie web", "réussi"]
