"""An IPS-FR document received over SMTP offers its coded sections in the document's view (Documents page), and the
patient adds one to the Profil médical from there, in headless Chromium; axe-core at 1280 and 360 px."""

from __future__ import annotations

import pytest

from tests.dossier import builder, support
from tests.dossier.builder import fixture
from tests.dossier.conftest import module_fixtures_dir  # noqa: F401  (fixture)
from tests.dossier.scene import PATIENT_PASSWORD, dossier_scene
from tests.dossier.support import INS
from tests.web.browser import browser, by_id, css, csp_violations, go, sign_in, wait
from tests.web.test_browser_profile import checked, text_of

__all__ = ["browser"]  # the fixture, used by name
IPS = "IPS-FR_2024.01.xml"


@pytest.fixture(scope="module")
def scene(tmp_path_factory, module_fixtures_dir):  # noqa: F811 - the fixture imported above
    with dossier_scene(tmp_path_factory.mktemp("offers-page"), doors=["web", "submission"]) as scene:
        scene.deliver(support.document_message(builder.cda_package(fixture(module_fixtures_dir, IPS), "60591-5")))
        yield scene


def test_a_documents_coded_sections_are_offered_and_one_is_added(scene, browser):
    port = scene.running.port("web")
    sign_in(browser, port, INS, PATIENT_PASSWORD)
    go(browser, "#documents/SYNTHESE", "doc-list-pane")
    wait(browser, lambda d: len(css(d, "#doc-list a.message")) == 1)
    css(browser, "#doc-list a.message")[0].click()
    wait(browser, lambda d: by_id(d, "doc-offers").is_displayed())
    offered = text_of(browser, "doc-offers-list")
    assert "PARACETAMOL" in offered and "Thyroïdite auto-immune" in offered
    checked(browser, "document-offres", "doc-offers")
    [add] = [b for b in css(browser, "#doc-offers-list button")
             if b.get_attribute("aria-label") == "Ajouter à mon profil : PARACETAMOL"]
    add.click()
    wait(browser, lambda d: "« PARACETAMOL » est ajouté à votre profil médical." in text_of(d, "notice"))
    assert "Ajouté à votre profil" in text_of(browser, "doc-offers-list")
    go(browser, "#profil", "profile-list-pane")
    wait(browser, lambda d: "PARACETAMOL" in text_of(d, "profile-groups"))
    assert "PARACETAMOL" in text_of(browser, "entries-AllergyIntolerance")
    entries = scene.patient().call("GET", "/api/profile").body["entries"]
    assert [(e["kind"], e["display"]) for e in entries] == [("AllergyIntolerance", "PARACETAMOL")]
    coded = entries[0]["resource"]["code"]
    assert coded["coding"]

    # Edited in the page (a note added): its coded substance and the fields the form does not show are kept.
    by_id(browser, "entries-AllergyIntolerance").find_element("link text", "Modifier").click()
    wait(browser, lambda d: by_id(d, "profile-form").is_displayed() and by_id(d, "pf-text").get_attribute("value"))
    by_id(browser, "pf-note").send_keys("Éruption cutanée")
    by_id(browser, "pf-submit").click()
    wait(browser, lambda d: "modifiée" in text_of(d, "notice"))
    [edited] = scene.patient().call("GET", "/api/profile").body["entries"]
    assert edited["resource"]["code"] == coded and edited["resource"]["note"] == [{"text": "Éruption cutanée"}]
    assert {k for k in entries[0]["resource"] if k != "note"} <= set(edited["resource"])
    assert csp_violations(browser) == []
