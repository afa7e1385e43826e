"""The webmail in a real headless Chromium (Debian's chromium and chromedriver, driven by Selenium).

A patient signs in with the INS, finds the professional's message in French, opens
it, replies, is refused in French when writing to someone who never wrote, reads
the access history and signs out. A message whose subject and body are HTML and
script is shown as text: nothing runs, and the page's CSP reports no violation.
"""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import add_professional
from tests.patients.helpers import send
from tests.patients.test_notify import active_patient

CHROMEDRIVER = shutil.which("chromedriver")
PATIENT_PASSWORD = "mot de passe de camille"
HOSTILE = '<img src=x onerror="document.title=\'pwned\'"><script>document.title="pwned"</script>'


@pytest.fixture(scope="module")
def browser():
    if CHROMEDRIVER is None:
        pytest.fail("chromedriver is missing: install Debian's chromium and chromium-driver (.ci/debian-packages.txt)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1200,900", "--no-proxy-server"):
        options.add_argument(argument)
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


def _wait(driver, predicate, timeout: float = 15):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(lambda d: predicate(d))


def _by_id(driver, element_id: str):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, element_id)


def _visible_text(driver, element_id: str) -> str:
    element = _by_id(driver, element_id)
    return element.text if element.is_displayed() else ""


def test_a_patient_uses_the_webmail_in_chromium(web_hub, browser):
    from selenium.webdriver.common.by import By

    hub = web_hub.hub
    doctor = add_professional(hub, "dr.navigateur", password=None)
    stranger = add_professional(hub, "dr.jamais", password=None)
    patient, _ = active_patient(hub, "navigateur@courriel.example")
    send(hub, doctor, [patient], subject="Résultats de votre bilan", body="Tout est normal.\nBonne journée.")
    send(hub, doctor, [patient], subject=HOSTILE, body=HOSTILE)

    browser.get(f"http://127.0.0.1:{web_hub.port}/")
    assert browser.title == "Messagerie de mon espace santé"
    _by_id(browser, "login").send_keys(patient.partition("@")[0])
    _by_id(browser, "password").send_keys("pas le bon")
    _by_id(browser, "login-form").submit()
    _wait(browser, lambda d: "Identifiant ou mot de passe incorrect" in _visible_text(d, "error"))

    _by_id(browser, "password").clear()
    _by_id(browser, "password").send_keys(PATIENT_PASSWORD)
    _by_id(browser, "login-form").submit()
    _wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#list tbody tr")) == 2)
    assert _visible_text(browser, "who-address") == patient
    rows = browser.find_elements(By.CSS_SELECTOR, "#list tbody tr")
    subjects = [row.find_elements(By.TAG_NAME, "td")[1].text for row in rows]
    assert "Résultats de votre bilan" in subjects and HOSTILE in subjects  # the markup shown as text

    # The hostile message opens as text: no script ran, no image was made of it.
    rows[subjects.index(HOSTILE)].click()
    _wait(browser, lambda d: _visible_text(d, "read-subject") == HOSTILE)
    assert _visible_text(browser, "read-text").strip() == HOSTILE
    assert browser.title != "pwned" and not browser.find_elements(By.CSS_SELECTOR, "#read-view img")

    browser.find_element(By.CSS_SELECTOR, "nav [data-folder=INBOX]").click()
    _wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#list tbody tr")) == 2)
    row = [r for r in browser.find_elements(By.CSS_SELECTOR, "#list tbody tr") if "bilan" in r.text][0]
    row.click()
    _wait(browser, lambda d: "Tout est normal." in _visible_text(d, "read-text"))
    assert "Bonne journée." in _visible_text(browser, "read-text")

    _by_id(browser, "reply").click()
    _wait(browser, lambda d: _by_id(d, "compose-view").is_displayed())
    assert _by_id(browser, "compose-to").get_attribute("value") == doctor
    assert _by_id(browser, "compose-subject").get_attribute("value") == "Re: Résultats de votre bilan"
    _by_id(browser, "compose-body").send_keys("Merci docteur.")
    _by_id(browser, "compose-form").submit()
    _wait(browser, lambda d: "Message envoyé." in _visible_text(d, "notice"))
    assert [m.summary["subject"] for m in _inbox(hub, doctor)] == ["Re: Résultats de votre bilan"]

    _by_id(browser, "nav-compose").click()
    _by_id(browser, "compose-to").send_keys(stranger)
    _by_id(browser, "compose-subject").send_keys("Bonjour")
    _by_id(browser, "compose-form").submit()
    _wait(browser, lambda d: "Vous ne pouvez écrire qu'à un professionnel qui vous a écrit" in _visible_text(d, "error"))
    assert _inbox(hub, stranger) == []

    _by_id(browser, "nav-history").click()
    _wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#history tbody tr")) > 0)
    history = _by_id(browser, "history").text
    assert "Dr Navigateur" in history and "Lecture d'un message" in history and "Connexion" in history

    _by_id(browser, "logout").click()
    _wait(browser, lambda d: _by_id(d, "login-view").is_displayed())
    violations = [e for e in browser.get_log("browser") if "Content Security Policy" in e.get("message", "")]
    assert violations == []


def _inbox(hub, address):
    from mssante_hub.reader import read_folder

    return read_folder(hub, address)


def test_pages_carry_a_strict_policy_and_nothing_else_is_served(web_hub):
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", web_hub.port, timeout=10)
    connection.request("GET", "/")
    page = connection.getresponse()
    body = page.read()
    policy = page.getheader("content-security-policy")
    assert page.status == 200 and b'lang="fr"' in body
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    for path in ("/static/", "/pages.py", "/../setup.cfg", "/app.js/x"):
        connection.request("GET", path)
        answer = connection.getresponse()
        answer.read()
        assert answer.status == 404, path


def test_activation_then_a_reply_with_a_document_in_chromium(web_hub, browser, tmp_path):
    from selenium.webdriver.common.by import By

    from mssante_hub.patients import provision
    from tests.patients.helpers import new_ins

    hub = web_hub.hub
    record = provision.PatientRecord(new_ins(), "ROUSSEAU", "Inès", "1988-07-14", "F", "ines@courriel.example")
    code = provision.add_patient(hub, record)
    browser.get(f"http://127.0.0.1:{web_hub.port}/")
    _wait(browser, lambda d: _by_id(d, "activate-form").is_displayed())
    _by_id(browser, "activate-ins").send_keys(record.ins)
    _by_id(browser, "activate-code").send_keys("AAAA-BBBB-CCCC-DDDD")
    _by_id(browser, "activate-password").send_keys("mon nouveau mot de passe")
    _by_id(browser, "activate-form").submit()
    _wait(browser, lambda d: "Code invalide" in _visible_text(d, "error"))
    _by_id(browser, "activate-code").clear()
    _by_id(browser, "activate-code").send_keys(code)
    _by_id(browser, "activate-password").clear()
    _by_id(browser, "activate-password").send_keys("mon nouveau mot de passe")
    _by_id(browser, "activate-form").submit()
    _wait(browser, lambda d: "Votre espace est activé" in _visible_text(d, "notice"))

    patient = f"{record.ins.lower()}@{hub.config.get('hub.patient_domain')}"
    doctor = add_professional(hub, "dr.document", password=None)
    send(hub, doctor, [patient], subject="Envoyez votre ordonnance")
    assert _by_id(browser, "login").get_attribute("value") == record.ins
    _by_id(browser, "password").send_keys("mon nouveau mot de passe")
    _by_id(browser, "login-form").submit()
    _wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#list tbody tr")) == 1)
    browser.find_element(By.CSS_SELECTOR, "#list tbody tr").click()
    _wait(browser, lambda d: _by_id(d, "read-view").is_displayed())
    _by_id(browser, "reply").click()
    document = tmp_path / "ordonnance.pdf"
    document.write_bytes(b"%PDF-1.4 ordonnance scannee")
    _by_id(browser, "compose-files").send_keys(str(document))
    _by_id(browser, "compose-form").submit()
    _wait(browser, lambda d: "Message envoyé." in _visible_text(d, "notice"))
    [received] = _inbox(hub, doctor)
    assert b"ordonnance.pdf" in received.raw and received.summary["subject"] == "Re: Envoyez votre ordonnance"
    _by_id(browser, "logout").click()
    _wait(browser, lambda d: _by_id(d, "login-view").is_displayed())
