"""Profils in headless Chromium (docs/web.md, "Spaces"): a parent linked as legal representative of a child's space
signs in with their own account, sees a banner naming their own space, switches to the child's (the banner names
the child, the pages show the child's messages and add a weight to the child's profil médical, the holder's own
settings are hidden), then back to their own (the child's message and measure are not there). A patient who
represents nobody sees neither the Profils link nor the banner. axe-core at 1280 and 360 px, screenshots.
"""

from __future__ import annotations

from mssante_hub.patients import lifecycle, representatives
from mssante_hub.patients.provision import PatientRecord, add_patient
from tests.conftest import add_professional
from tests.patients.helpers import new_ins, send
from tests.patients.test_notify import active_patient
from tests.web.browser import PATIENT_PASSWORD, browser, by_id, css, csp_violations, go, sign_in, wait
from tests.web.test_browser_profile import _weight, checked, text_of

__all__ = ["browser"]  # the fixture, used by name


def _child(hub) -> tuple[str, str]:
    ins = new_ins()
    code = add_patient(hub, PatientRecord(ins, "PETIT", "LÉA", "2015-05-05", "F", "lea@courriel.example"))
    lifecycle.activate(hub, ins, code, "mot de passe de léa petit")
    return ins, f"{ins.lower()}@{hub.config.get('hub.patient_domain')}"


def _banner(driver) -> str:
    return text_of(driver, "space-banner")


def test_a_representative_switches_to_the_childs_space_and_back(web_hub, browser):
    hub = web_hub.hub
    doctor = add_professional(hub, "dr.spaces", password=None)
    parent, _ = active_patient(hub, "parent@courriel.example")
    loner, _ = active_patient(hub, "seul@courriel.example")
    child_ins, child = _child(hub)
    assert representatives.add(hub, parent.partition("@")[0], child_ins)
    send(hub, doctor, [child], subject="Rappel de vaccination de Léa")
    send(hub, doctor, [parent], subject="Votre bilan")

    sign_in(browser, web_hub.port, parent.partition("@")[0])
    wait(browser, lambda d: "Vous êtes dans votre espace (Camille PETIT)." in _banner(d))
    assert by_id(browser, "menu-profiles").is_displayed()
    wait(browser, lambda d: "Votre bilan" in text_of(d, "home-list"))
    go(browser, "#profils", "profiles-view")
    wait(browser, lambda d: "Léa PETIT" in text_of(d, "profiles-list"))
    assert browser.title == "Profils – Mon espace santé"
    assert "enfant mineur : vous êtes son représentant légal" in text_of(browser, "profiles-list")
    checked(browser, "profils")

    [enter] = css(browser, "#profiles-list button")
    assert enter.text == "Aller dans l'espace de Léa PETIT"
    enter.click()
    wait(browser, lambda d: "Vous êtes maintenant dans l'espace de Léa PETIT." in text_of(d, "notice"))
    wait(browser, lambda d: "Rappel de vaccination de Léa" in text_of(d, "home-list"))
    assert "Votre bilan" not in text_of(browser, "home-list")
    assert "Vous êtes dans l'espace de Léa PETIT (enfant mineur" in _banner(browser)
    assert text_of(browser, "who-name") == "Espace de Léa PETIT"
    checked(browser, "profils-espace-enfant")

    # Every page acts on the child's space: a weight lands in the child's profil médical.
    _weight(browser, "31,5", "2026-11-20")
    assert "Léa PETIT" in _banner(browser)
    token = browser.execute_script("return sessionStorage.getItem('mssante-hub-token')")
    as_parent = web_hub.client(token)
    child_id = str(next(p["id"] for p in as_parent.call("GET", "/api/profiles").body["profiles"] if not p["own"]))
    on_child = as_parent.call("GET", "/api/profile", headers={"X-Space": child_id}).body["entries"]
    assert [e["resource"]["valueQuantity"]["value"] for e in on_child] == [31.5]
    assert as_parent.call("GET", "/api/profile").body["entries"] == []
    # The agenda too, and what the parent does there is traced as theirs in the child's history.
    go(browser, "#agenda", "agenda-view")
    wait(browser, lambda d: by_id(d, "feed-create").is_displayed() and text_of(d, "feed-state"))
    by_id(browser, "feed-create").click()
    wait(browser, lambda d: by_id(d, "feed-new").is_displayed())
    assert as_parent.call("GET", "/api/agenda/feed", headers={"X-Space": child_id}).body["active"] is True
    assert as_parent.call("GET", "/api/agenda/feed").body["active"] is False
    changes = as_parent.call("GET", "/api/history?action=agenda.change", headers={"X-Space": child_id}).body["history"]
    assert [h["actor"].startswith("Votre représentant légal") for h in changes] == [True], changes
    # The holder's own acts are not offered in the child's space.
    go(browser, "#parametres", "settings-view")
    assert by_id(browser, "holder-only-note").is_displayed()
    assert not by_id(browser, "close-form").is_displayed() and not by_id(browser, "export-form").is_displayed()
    assert by_id(browser, "preferences-form").is_displayed()

    # Back to their own space.
    by_id(browser, "space-back").click()
    wait(browser, lambda d: "Vous êtes de retour dans votre espace." in text_of(d, "notice"))
    wait(browser, lambda d: "Votre bilan" in text_of(d, "home-list"))
    assert "Rappel de vaccination de Léa" not in text_of(browser, "home-list")
    assert "Vous êtes dans votre espace" in _banner(browser)
    go(browser, "#profil", "profile-list-pane")
    wait(browser, lambda d: len(css(d, "#profile-groups section")) == 8)
    assert "31,5" not in text_of(browser, "profile-groups")
    go(browser, "#parametres", "settings-view")
    assert by_id(browser, "close-form").is_displayed() and not by_id(browser, "holder-only-note").is_displayed()
    assert browser.execute_script("return sessionStorage.getItem('mssante-hub-space')") is None
    assert csp_violations(browser) == []

    # Someone who represents nobody: no Profils, no banner.
    sign_in(browser, web_hub.port, loner.partition("@")[0], PATIENT_PASSWORD)
    assert not by_id(browser, "menu-profiles").is_displayed() and not by_id(browser, "space-banner").is_displayed()
