"""A professional's FHIR JSON attachment received over SMTP offers its entries in the message's view, and the
patient adds one to the Profil médical from there, in headless Chromium; a hostile one says nothing could be taken;
axe-core at 1280 and 360 px."""

from __future__ import annotations

import json

import pytest

from tests.dossier.conftest import module_fixtures_dir  # noqa: F401  (fixture)
from tests.dossier.scene import PATIENT_PASSWORD, dossier_scene
from tests.dossier.support import APP, INS
from tests.profile.resources import of_each_kind
from tests.profile.test_fhir_offers import _by_subject, _with_json
from tests.web.browser import browser, by_id, csp_violations, css, go, sign_in, wait
from tests.web.test_browser_profile import checked, text_of

__all__ = ["browser"]  # the fixture, used by name


@pytest.fixture(scope="module")
def scene(tmp_path_factory, module_fixtures_dir):  # noqa: F811 - the fixture imported above
    with dossier_scene(tmp_path_factory.mktemp("fhir-offers-page"), doors=["web", "submission"]) as scene:
        kinds = of_each_kind("page")
        bundle = {"resourceType": "Bundle", "type": "collection",
                  "entry": [{"resource": kinds["Condition"]}, {"resource": kinds["Immunization"]}]}
        scene.deliver(_with_json(APP, [(json.dumps(bundle).encode(), "application/fhir+json", "synthese.json")],
                                 subject="Votre synthèse"))
        scene.deliver(_with_json(APP, [(b'{"resourceType": "Bundle", "entry": [[[[', "application/json",
                                        "abime.json")], subject="Pièce abîmée"))
        yield scene


def test_a_professionals_fhir_attachment_is_offered_in_the_message_and_one_is_added(scene, browser):
    port = scene.running.port("web")
    client = scene.patient()
    message_id = _by_subject(client, "Votre synthèse")
    sign_in(browser, port, INS, PATIENT_PASSWORD)
    go(browser, f"#message/{message_id}", "read-pane")
    wait(browser, lambda d: by_id(d, "read-offers").is_displayed())
    offered = text_of(browser, "read-offers-list")
    assert "Hypertension artérielle" in offered and "COVID-19 ARNm" in offered
    assert "Proposé par Dpi." in text_of(browser, "read-offers")
    checked(browser, "message-offres", "read-offers")
    [add] = [b for b in css(browser, "#read-offers-list button")
             if b.get_attribute("aria-label") == "Ajouter à mon profil : COVID-19 ARNm"]
    add.click()
    wait(browser, lambda d: "« COVID-19 ARNm » est ajouté à votre profil médical." in text_of(d, "notice"))
    entries = client.call("GET", "/api/profile").body["entries"]
    assert [(e["kind"], e["source"], e["source_name"]) for e in entries] == [("Immunization", "professional", "Dpi")]
    go(browser, "#profil", "profile-list-pane")
    wait(browser, lambda d: "COVID-19 ARNm" in text_of(d, "entries-Immunization"))
    # Shown again, the offer added is marked so and has no button.
    go(browser, f"#message/{message_id}", "read-pane")
    wait(browser, lambda d: "Ajouté à votre profil" in text_of(d, "read-offers-list"))
    assert len(css(browser, "#read-offers-list button")) == 1

    # A broken attachment: the message reads as mail, and the page says nothing could be taken.
    broken = _by_subject(client, "Pièce abîmée")
    go(browser, f"#message/{broken}", "read-pane")
    wait(browser, lambda d: by_id(d, "read-offers-refused").is_displayed())
    assert text_of(browser, "read-offers-refused").startswith("Cette pièce jointe n'a pas pu être reprise")
    assert css(browser, "#read-offers-list li") == [] and "abime.json" in text_of(browser, "read-attachments")
    assert csp_violations(browser) == []
