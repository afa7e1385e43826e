"""The Profil médical page in headless Chromium (docs/web.md): the patient adds weight measures and sees each on
the chart, a blood pressure on its own chart, an allergy whose text is an HTML payload (shown as text, nothing
runs), edits it, hides it from professionals, deletes it; adds a trusted person, advance directives and the
position on organ donation. axe-core finds no serious or critical violation at 1280 and 360 px, nothing scrolls
sideways at 360 px, screenshots are kept under tests/artifacts/web/; another patient's entry id is 404.
"""

from __future__ import annotations

from tests.patients.test_notify import active_patient
from tests.web.browser import (PATIENT_PASSWORD, axe_violations, browser, by_id, css, csp_violations, go,
                               overflows_horizontally, screenshot, wait, sign_in)

__all__ = ["browser"]  # the fixture, used by name
XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>Pénicilline'


def checked(driver, name: str, anchor: str | None = None) -> None:
    """axe-core at 1280 and 360 px, no sideways scrolling at 360 px, the screenshots kept (from `anchor`)."""
    assert axe_violations(driver) == [], name
    files = screenshot(driver, name, anchor)
    driver.set_window_size(360, 780)
    wait(driver, lambda d: d.execute_script("return window.innerWidth") <= 360)
    assert not overflows_horizontally(driver), name
    assert axe_violations(driver) == [], (name, "360 px")
    driver.set_window_size(1280, 900)
    assert all(f.stat().st_size > 0 for f in files)


def text_of(driver, element_id: str) -> str:
    """The element's rendered text, read in one script (a list re-rendered meanwhile is never stale)."""
    return driver.execute_script("const e = document.getElementById(arguments[0]);"
                                 "return e && e.offsetParent !== null ? e.innerText : ''", element_id)


def _type(driver, element_id: str, text: str) -> None:
    field = by_id(driver, element_id)
    field.clear()
    field.send_keys(text)


def _date(driver, element_id: str, iso: str) -> None:
    # A date input's keyboard entry depends on the locale: the value is set as a script would.
    driver.execute_script("document.getElementById(arguments[0]).value = arguments[1]", element_id, iso)


def _add(driver, kind: str) -> None:
    """Opened from the keyboard: the add link reached and followed with Enter."""
    from selenium.webdriver.common.keys import Keys

    go(driver, "#profil", "profile-list-pane")
    link = by_id(driver, "profile-groups").find_element("css selector", f'a[href="#profil/ajouter/{kind}"]')
    link.send_keys(Keys.ENTER)
    wait(driver, lambda d: by_id(d, "profile-form").is_displayed())


def _submit(driver, notice: str) -> None:
    from selenium.webdriver.common.keys import Keys

    by_id(driver, "pf-submit").send_keys(Keys.ENTER)
    wait(driver, lambda d: notice in text_of(d, "notice"))
    wait(driver, lambda d: by_id(d, "profile-list-pane").is_displayed())


def _points(driver, chart: str) -> list[float]:
    return driver.execute_script("return Array.from(document.querySelectorAll(arguments[0]),"
                                 " (c) => Number(c.dataset.value))", f"#{chart} circle.point")


def _weight(driver, kilos: str, day: str) -> None:
    from selenium.webdriver.support.ui import Select

    _add(driver, "Observation")
    Select(by_id(driver, "pf-measure")).select_by_value("weight")
    _type(driver, "pf-value", kilos)
    _date(driver, "pf-date", day)
    _submit(driver, "ajoutée")


def test_profile_page(web_hub, browser):
    from selenium.webdriver.support.ui import Select

    hub = web_hub.hub
    patient, _ = active_patient(hub, "profil@courriel.example")
    other, _ = active_patient(hub, "autre.profil@courriel.example")
    sign_in(browser, web_hub.port, patient.partition("@")[0])
    go(browser, "#profil", "profile-list-pane")
    wait(browser, lambda d: len(css(d, "#profile-groups section")) == 8)
    assert browser.title == "Profil médical – Mon espace santé"
    assert "Entourage et volontés" in text_of(browser, "profile-groups")
    assert not by_id(browser, "chart-weight-figure").is_displayed()

    # Weight: each measure is a point of the chart, in date order.
    _weight(browser, "72,5", "2026-10-01")
    assert by_id(browser, "chart-weight-figure").is_displayed()
    assert _points(browser, "chart-weight") == [72.5]
    assert "Poids : 72,5 kg" in text_of(browser, "entries-Observation")
    _weight(browser, "71", "2026-11-15")
    wait(browser, lambda d: _points(d, "chart-weight") == [72.5, 71.0])
    assert css(browser, "#chart-weight polyline")
    titles = browser.execute_script("return Array.from(document.querySelectorAll('#chart-weight circle.point'"
                                    " + ' title'), (t) => t.textContent)")
    assert titles == ["Poids : 72,5 kg le 01/10/2026", "Poids : 71 kg le 15/11/2026"]

    # Blood pressure: its own chart, two lines.
    _add(browser, "Observation")
    Select(by_id(browser, "pf-measure")).select_by_value("pressure")
    assert by_id(browser, "pf-systolic").is_displayed() and not by_id(browser, "pf-value").is_displayed()
    _type(browser, "pf-systolic", "128")
    _type(browser, "pf-diastolic", "82")
    _submit(browser, "ajoutée")
    assert sorted(_points(browser, "chart-pressure")) == [82.0, 128.0]
    assert "Tension artérielle : 128/82 mmHg" in text_of(browser, "entries-Observation")
    checked(browser, "profil", "pg-Observation")

    # An allergy whose text is markup: shown as text; edited, hidden, deleted.
    _add(browser, "AllergyIntolerance")
    assert browser.title == "Ajouter au profil médical – Mon espace santé"
    _type(browser, "pf-text", XSS)
    _type(browser, "pf-note", "Urticaire")
    checked(browser, "profil-ajout")
    _submit(browser, "ajoutée")
    assert XSS in text_of(browser, "entries-AllergyIntolerance")
    assert css(browser, "#profile-groups img, #profile-groups script") == []
    assert browser.execute_script("return window.__xss") is None
    token = browser.execute_script("return sessionStorage.getItem('mssante-hub-token')")
    mine = web_hub.client(token)
    [allergy] = [e for e in mine.call("GET", "/api/profile").body["entries"] if e["kind"] == "AllergyIntolerance"]
    assert allergy["resource"]["code"] == {"text": XSS}

    by_id(browser, "entries-AllergyIntolerance").find_element("link text", "Modifier").click()
    wait(browser, lambda d: by_id(d, "profile-form").is_displayed()
         and by_id(d, "pf-text").get_attribute("value") == XSS)
    assert by_id(browser, "pf-note").get_attribute("value") == "Urticaire"
    _type(browser, "pf-text", "Allergie à la pénicilline")
    _submit(browser, "modifiée")
    assert "Allergie à la pénicilline" in text_of(browser, "entries-AllergyIntolerance")
    shown = mine.call("GET", f"/api/profile/{allergy['id']}").body
    assert shown["resource"]["code"] == {"text": "Allergie à la pénicilline"} and len(shown["versions"]) == 2

    [hide] = [b for b in css(browser, "#entries-AllergyIntolerance button") if b.text == "Masquer"]
    hide.click()
    wait(browser, lambda d: "Masqué aux professionnels" in text_of(d, "entries-AllergyIntolerance"))
    assert mine.call("GET", f"/api/profile/{allergy['id']}").body["hidden_from_professionals"] is True
    [show] = [b for b in css(browser, "#entries-AllergyIntolerance button") if b.text == "Rendre visible"]
    show.click()
    wait(browser, lambda d: "Masqué" not in text_of(d, "entries-AllergyIntolerance"))

    stranger = web_hub.client().login(other.partition("@")[0], PATIENT_PASSWORD)
    assert stranger.call("GET", f"/api/profile/{allergy['id']}").status == 404
    assert stranger.call("DELETE", f"/api/profile/{allergy['id']}").status == 404

    [delete] = [b for b in css(browser, "#entries-AllergyIntolerance button") if b.text == "Supprimer"]
    delete.click()
    browser.switch_to.alert.accept()
    wait(browser, lambda d: "supprimée" in text_of(d, "notice"))
    wait(browser, lambda d: not css(d, "#entries-AllergyIntolerance"))
    assert mine.call("GET", f"/api/profile/{allergy['id']}").status == 404

    # Entourage et volontés.
    _add(browser, "RelatedPerson")
    Select(by_id(browser, "pf-role")).select_by_value("personne-de-confiance")
    _type(browser, "pf-family", "Martin")
    _type(browser, "pf-given", "Claire")
    _type(browser, "pf-relation", "Sœur")
    _type(browser, "pf-phone", "06 12 34 56 78")
    _submit(browser, "ajoutée")
    assert "Claire Martin" in text_of(browser, "entries-RelatedPerson")
    assert "Personne de confiance · Sœur · 06 12 34 56 78" in text_of(browser, "entries-RelatedPerson")
    _add(browser, "DocumentReference")
    _type(browser, "pf-directives", "Pas d'acharnement thérapeutique.")
    _submit(browser, "ajoutée")
    assert "Pas d'acharnement thérapeutique." in text_of(browser, "entries-DocumentReference")
    # Always shown to professionals (docs/profile.md): said, and no "Masquer" offered that would not hold.
    assert css(browser, "#entries-DocumentReference .always-shown")
    assert [b.text for b in css(browser, "#entries-DocumentReference button")] == ["Supprimer"]
    _add(browser, "Consent")
    Select(by_id(browser, "pf-position")).select_by_value("deny")
    _submit(browser, "ajoutée")
    assert "Je refuse le don de mes organes" in text_of(browser, "entries-Consent")
    kinds = sorted(e["kind"] for e in mine.call("GET", "/api/profile").body["entries"])
    assert kinds == ["Consent", "DocumentReference", "Observation", "Observation", "Observation", "RelatedPerson"]
    assert mine.call("GET", "/api/profile/bundle").status == 200  # every entry the page made is valid FHIR
    checked(browser, "profil-entourage", "pg-RelatedPerson")
    assert csp_violations(browser) == []
