"""The Documents page in headless Chromium (docs/web.md): the patient adds a PDF of their own, finds it under
its category's tab with the count, opens it (its title written as text: an HTML payload stays inert), hides it
from professionals and shows it again, and blocks then unblocks a professional who can see the dossier; axe-core
finds no serious or critical violation at 1280 and 360 px; screenshots kept under tests/artifacts/web/.
Another patient's document id is 404.
"""

from __future__ import annotations

import http.client

import pytest

from tests.conftest import add_professional
from tests.patients.helpers import send
from tests.patients.test_notify import active_patient
from tests.web.browser import (PATIENT_PASSWORD, axe_violations, browser, by_id, css, csp_violations, go,
                               overflows_horizontally, screenshot, sign_in, visible_text, wait)

__all__ = ["browser"]  # the fixture, used by name
TITLE = '<img src=x onerror="window.pwned=1">Bilan <script>window.pwned=2</script>'


@pytest.fixture(scope="module")
def web_settings() -> dict:
    return {"patients.attachment_budget_bytes": 256 * 1024}


def _checked(driver, name: str) -> None:
    assert axe_violations(driver) == [], name
    files = screenshot(driver, name)
    driver.set_window_size(360, 780)
    wait(driver, lambda d: d.execute_script("return window.innerWidth") <= 360)
    assert not overflows_horizontally(driver), name
    assert axe_violations(driver) == [], (name, "360 px")
    driver.set_window_size(1280, 900)
    assert all(f.stat().st_size > 0 for f in files)


def test_documents_page(web_hub, browser, tmp_path):
    hub = web_hub.hub
    doctor = add_professional(hub, "dr.documents", password=None)
    patient, _ = active_patient(hub, "documents@courriel.example")
    other, _ = active_patient(hub, "autre.documents@courriel.example")
    send(hub, doctor, [patient], subject="Bonjour")  # a recent exchange: the doctor can see the dossier (care)
    sign_in(browser, web_hub.port, patient.partition("@")[0])

    go(browser, "#documents", "doc-list-pane")
    wait(browser, lambda d: len(css(d, "#doc-tabs a")) == 10)
    assert browser.title == "Documents – Mon espace santé"
    wait(browser, lambda d: "Dr Documents" in visible_text(d, "doc-pros"))
    assert "Prise en charge" in visible_text(browser, "doc-pros")
    _checked(browser, "documents")

    pdf = tmp_path / "bilan.pdf"
    pdf.write_bytes(b"%PDF-1.4 mon bilan\n%%EOF\n")
    from selenium.webdriver.support.ui import Select

    Select(by_id(browser, "doc-upload-category")).select_by_value("SYNTHESE")
    by_id(browser, "doc-upload-title").send_keys(TITLE)
    by_id(browser, "doc-upload-file").send_keys(str(pdf))
    by_id(browser, "doc-upload-form").submit()
    wait(browser, lambda d: "Votre document est ajouté." in visible_text(d, "notice"))
    wait(browser, lambda d: len(css(d, "#doc-list a.message")) == 1)
    [tab] = [a for a in css(browser, "#doc-tabs a") if a.get_attribute("aria-current") == "page"]
    assert tab.text.endswith(" 1"), tab.text
    [row] = css(browser, "#doc-list a.message")
    assert TITLE in row.text  # shown as text
    assert "Vous" in row.text

    row.click()
    wait(browser, lambda d: by_id(d, "doc-read-pane").is_displayed())
    assert browser.title == "Document – Mon espace santé"
    assert visible_text(browser, "doc-read-title") == TITLE
    assert by_id(browser, "doc-pdf").is_displayed()
    assert "Version 1" in visible_text(browser, "doc-versions")
    assert browser.execute_script("return window.pwned === undefined")
    _checked(browser, "document")
    document_id = browser.execute_script("return location.hash").split("/")[1]

    token = browser.execute_script("return sessionStorage.getItem('mssante-hub-token')")
    mine = web_hub.client(token)
    connection = http.client.HTTPConnection("127.0.0.1", web_hub.port, timeout=30)
    connection.request("GET", f"/api/dossier/documents/{document_id}/pdf", headers={"Authorization": f"Bearer {token}"})
    answer = connection.getresponse()
    assert (answer.status, answer.read()) == (200, pdf.read_bytes())
    assert answer.getheader("Content-Disposition").startswith("attachment")
    connection.close()
    by_id(browser, "doc-hide").click()
    wait(browser, lambda d: "masqué aux professionnels" in visible_text(d, "notice"))
    wait(browser, lambda d: visible_text(d, "doc-hide") == "Rendre visible aux professionnels")
    assert mine.call("GET", f"/api/dossier/documents/{document_id}").body["hidden_from_professionals"] is True
    by_id(browser, "doc-hide").click()
    wait(browser, lambda d: visible_text(d, "doc-hide") == "Masquer aux professionnels")
    assert mine.call("GET", f"/api/dossier/documents/{document_id}").body["hidden_from_professionals"] is False

    go(browser, "#documents/SYNTHESE", "doc-list-pane")
    wait(browser, lambda d: "Dr Documents" in visible_text(d, "doc-pros"))
    [block] = [b for b in css(browser, "#doc-pros button")]
    assert block.text == "Bloquer"
    block.click()
    wait(browser, lambda d: "Bloqué par vous" in visible_text(d, "doc-pros"))
    [pro] = mine.call("GET", "/api/dossier/professionals").body["professionals"]
    assert pro["reason"] == "blocked"
    css(browser, "#doc-pros button")[0].click()
    wait(browser, lambda d: "Prise en charge" in visible_text(d, "doc-pros"))

    stranger = web_hub.client().login(other.partition("@")[0], PATIENT_PASSWORD)
    assert stranger.call("GET", f"/api/dossier/documents/{document_id}").status == 404
    assert stranger.call("GET", f"/api/dossier/documents/{document_id}/pdf").status == 404
    assert stranger.call("POST", f"/api/dossier/documents/{document_id}/visibility",
                         {"hidden_from_professionals": True}).status == 404
    assert csp_violations(browser) == []


XSS_TITLE = "<img src=x onerror=\"window.__xss=1\"><script>window.__xss=2</script>Vaccin"


def test_a_cda_whose_title_and_narrative_carry_script_is_shown_inert_then_hidden(web_hub, browser):
    """A CDA filed from an application's message (delivery.accept), its title and narrative made of markup and
    script: shown as text in the list and the document, nothing runs; opened with Enter; hidden, marked so."""
    from html import escape

    from selenium.webdriver.common.keys import Keys

    from tests.dossier import builder, support

    hub = web_hub.hub
    support.add_app(hub)
    support.provision_patient(hub)
    cda = builder.generated_cda().replace(b"<title>Document de test</title>",
                                          f"<title>{escape(XSS_TITLE)}</title>".encode())
    cda = cda.replace(b"<paragraph>Paragraphe 0 ", f"<paragraph>{escape(XSS_TITLE)} ".encode(), 1)
    send(hub, support.APP, [support.PATIENT], raw=support.document_message(builder.cda_package(cda, "87273-9")))
    sign_in(browser, web_hub.port, support.INS, "mot de passe de dominique")
    go(browser, "#documents/CAR_VAC", "doc-list-pane")
    wait(browser, lambda d: len(css(d, "#doc-list a.message")) == 1)
    link = css(browser, "#doc-list a.message")[0]
    assert XSS_TITLE in link.text and "Masqué" not in link.text
    link.send_keys(Keys.ENTER)
    wait(browser, lambda d: visible_text(d, "doc-read-title") == XSS_TITLE)
    assert XSS_TITLE in visible_text(browser, "doc-read-html")  # the narrative, as text
    assert css(browser, "#doc-read-pane img, #doc-read-pane script") == []
    assert browser.execute_script("return window.__xss") is None
    by_id(browser, "doc-hide").click()
    wait(browser, lambda d: visible_text(d, "doc-read-visibility").startswith("Masqué aux professionnels"))
    [row] = support.index_rows(hub, category="CAR_VAC")
    assert row.hidden_from_professionals
    go(browser, "#documents/CAR_VAC", "doc-list-pane")
    wait(browser, lambda d: "Masqué aux professionnels" in visible_text(d, "doc-list"))
    assert browser.execute_script("return window.__xss") is None
    assert csp_violations(browser) == []
