"""Accueil's new documents (issue 15, docs/web.md): GET /api/dossier/recent lists what was filed in the last 30
days, the latest filed first, at most 5, never what the patient may not see nor another patient's; the page shows
them as links under "Nouveaux documents" (headless Chromium), and says so when there are none."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, update

from mssante_hub.dossier import masking
from storage.dossier import DossierDocument
from tests.dossier import builder, support
from tests.patients.helpers import send
from tests.patients.test_notify import active_patient
from tests.web.browser import axe_violations, browser, by_id, css, go, sign_in, wait
from tests.web.test_documents_paging import cda

__all__ = ["browser"]  # the fixture, used by name
PASSWORD = "mot de passe de dominique"


def _file(hub, numbers: range, code: str = "11502-2") -> None:
    made = [builder.Document(f"DOC{n:04d}.XML", cda(n, code), type_code=code) for n in numbers]
    send(hub, support.APP, [support.PATIENT], raw=support.document_message(builder.package(made), receipt=False))


def test_recent_documents_on_accueil(web_hub, browser):
    hub = web_hub.hub
    support.add_app(hub)
    support.provision_patient(hub)
    sign_in(browser, web_hub.port, support.INS, PASSWORD)
    wait(browser, lambda d: by_id(d, "home-documents-empty").is_displayed())
    assert css(browser, "#home-documents a") == []

    _file(hub, range(0, 3))
    token = browser.execute_script("return sessionStorage.getItem('mssante-hub-token')")
    client = web_hub.client(token)
    everything = client.call("GET", "/api/dossier/documents?limit=200").body["documents"]
    assert len(everything) == 3
    # Two filed long ago: out of Accueil's 30 days.
    old = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=45)
    old_ids = [everything[0]["id"], everything[1]["id"]]
    hub.committer.run(lambda conn: conn.execute(update(DossierDocument).where(DossierDocument.id.in_(old_ids))
                                                .values(filed_at=old)))
    recent = client.call("GET", "/api/dossier/recent")
    assert recent.status == 200 and recent.body["days"] == 30
    assert [d["id"] for d in recent.body["documents"]] == [everything[2]["id"]]

    _file(hub, range(10, 17))  # seven more: Accueil shows the five latest filed
    recent = client.call("GET", "/api/dossier/recent").body["documents"]
    listed = client.call("GET", "/api/dossier/documents?limit=200").body["documents"]
    newest_filed = sorted((d for d in listed if d["id"] not in old_ids), key=lambda d: (d["filed_at"], d["id"]),
                          reverse=True)
    assert [d["id"] for d in recent] == [d["id"] for d in newest_filed[:5]]
    assert not set(old_ids) & {d["id"] for d in recent}

    # Another patient sees none of them; a document the patient may not see yet is never among them.
    stranger, _ = active_patient(hub, "autre.accueil@courriel.example")
    theirs = web_hub.client().login(stranger.partition("@")[0], "mot de passe de camille")
    assert theirs.call("GET", "/api/dossier/recent").body["documents"] == []
    hidden = builder.Document("HID00001.XML", cda(99, "11502-2"), type_code="11502-2",
                              confidentiality=("N", masking.INVISIBLE_PATIENT))
    filed = lambda: hub.committer.run(lambda conn: conn.execute(  # noqa: E731
        select(func.count()).select_from(DossierDocument)).scalar_one())
    before = filed()
    send(hub, support.APP, [support.PATIENT], raw=support.document_message(builder.package([hidden]), receipt=False))
    assert filed() == before + 1  # it is in the dossier, the latest filed
    assert [d["id"] for d in client.call("GET", "/api/dossier/recent").body["documents"]] == [d["id"] for d in recent]

    go(browser, "#accueil", "home-view")
    browser.refresh()
    wait(browser, lambda d: len(css(d, "#home-documents a.message")) == 5)
    assert not by_id(browser, "home-documents-empty").is_displayed()
    hrefs = [a.get_attribute("href").rsplit("#", 1)[1] for a in css(browser, "#home-documents a.message")]
    assert hrefs == [f"document/{d['id']}" for d in recent]
    assert browser.title == "Accueil – Mon espace santé"  # no title of a document in the tab
    assert axe_violations(browser) == []
    css(browser, "#home-documents a.message")[0].click()
    wait(browser, lambda d: by_id(d, "doc-read-pane").is_displayed())
