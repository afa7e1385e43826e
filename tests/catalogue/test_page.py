"""The Services page in headless Chromium (docs/catalogue.md, app-catalogue.js): the patient sees the catalogue
filtered by theme, connects a service with the kinds of data they choose, finds the consent as the API holds it,
approves a new version, disconnects; a service's name written as text (an HTML payload stays inert); axe-core
finds no serious or critical violation at 1280 and 360 px, no CSP violation; screenshots under tests/artifacts/."""

from __future__ import annotations

import pytest

from storage import accounts as account_repo
from storage import catalogue as store
from tests.catalogue import support
from tests.conftest import add_professional
from tests.patients.test_notify import active_patient
from tests.web.browser import (axe_violations, browser, by_id, css, csp_violations, go, overflows_horizontally,
                               screenshot, sign_in, visible_text, wait)
from tests.web.conftest import web_hub  # noqa: F401  (fixture)

__all__ = ["browser"]  # the fixture, used by name
NAME = '<img src=x onerror="window.pwned=1">Suivi Diabète'


@pytest.fixture(scope="module")
def web_settings() -> dict:
    return {}


def _checked(driver, name: str) -> None:
    assert axe_violations(driver) == [], name
    files = screenshot(driver, name)
    driver.set_window_size(360, 780)
    wait(driver, lambda d: d.execute_script("return window.innerWidth") <= 360)
    assert not overflows_horizontally(driver), name
    assert axe_violations(driver) == [], (name, "360 px")
    driver.set_window_size(1280, 900)
    assert all(f.stat().st_size > 0 for f in files)


def _diabetes(driver):
    """The Suivi Diabète item of the list."""
    return next(li for li in css(driver, "#catalogue-list > li") if "Suivi Diabète" in li.text)


def _consent(hub, patient_id: int):
    return hub.read_sync(lambda conn: store.consents_of(conn, patient_id)).get("suivi-diabete")


def test_services_page(web_hub, browser):  # noqa: F811  (fixtures)
    hub = web_hub.hub
    add_professional(hub, support.SERVICE_LOCAL, type="APP")
    patient, _ = active_patient(hub, "services@courriel.example")
    patient_id = hub.read_sync(lambda conn: account_repo.by_address(conn, patient)).id
    support.load(web_hub.data_dir, [support.service(name=NAME), support.OTHER])
    sign_in(browser, web_hub.port, patient.partition("@")[0])

    go(browser, "#services", "catalogue-view")
    wait(browser, lambda d: len(css(d, "#catalogue-list > li")) == 2)
    assert browser.title == "Services – Mon espace santé"
    assert NAME in visible_text(browser, "catalogue-list") and browser.execute_script("return window.pwned") is None
    assert "Non connecté" in visible_text(browser, "catalogue-list")
    _checked(browser, "services")

    from selenium.webdriver.support.ui import Select

    Select(by_id(browser, "catalogue-theme")).select_by_visible_text("Sommeil")
    wait(browser, lambda d: len(css(d, "#catalogue-list > li")) == 1)
    assert "Sommeil+" in visible_text(browser, "catalogue-list")
    Select(by_id(browser, "catalogue-theme")).select_by_value("")
    wait(browser, lambda d: len(css(d, "#catalogue-list > li")) == 2)

    # Connect Suivi Diabète with measures only: every offered scope is ticked at first.
    item = _diabetes(browser)
    boxes = item.find_elements("css selector", "input[type=checkbox]")
    assert [b.get_attribute("value") for b in boxes] == support.SERVICE["scopes"]
    for box in boxes:
        if box.get_attribute("value") != "measures":
            box.click()
    item.find_element("css selector", "button[type=submit]").click()
    wait(browser, lambda d: "est connecté à votre espace" in visible_text(d, "notice"))
    assert _consent(hub, patient_id).scopes == ("measures",)
    wait(browser, lambda d: "Connecté" in visible_text(d, "catalogue-list"))

    # A new version: the page offers the approval, with its date; approving it gives the consent back its state.
    support.load(web_hub.data_dir, [support.service(name=NAME, version="2.0"), support.OTHER], "v2.json")
    go(browser, "#accueil", "home-view")
    go(browser, "#services", "catalogue-view")
    wait(browser, lambda d: "Nouvelle version à approuver avant le" in visible_text(d, "catalogue-list"))
    approve = _diabetes(browser).find_element("css selector", "button[type=submit]")
    assert approve.text == "Approuver la nouvelle version"
    approve.click()
    wait(browser, lambda d: "approuvée" in visible_text(d, "notice"))
    assert _consent(hub, patient_id).approved_version == "2.0"

    # Disconnect (the confirmation accepted).
    browser.execute_script("window.confirm = () => true")
    buttons = [b for b in _diabetes(browser).find_elements("css selector", "button")
               if b.text == "Déconnecter ce service"]
    buttons[0].click()
    wait(browser, lambda d: "est déconnecté" in visible_text(d, "notice"))
    assert _consent(hub, patient_id) is None
    assert csp_violations(browser) == []
