"""The webmail in a real headless Chromium (Debian's chromium and chromedriver, driven by Selenium).

A patient signs in with the INS, finds the professional's message in French, opens
it, replies, is refused in French when writing to someone who never wrote, reads
the access history and signs out. A message whose subject and body are HTML and
script is shown as text: nothing runs, and the page's CSP reports no violation.
"""

from __future__ import annotations

import re

from tests.conftest import add_professional
from tests.patients.helpers import send
from tests.patients.test_notify import active_patient
from tests.web.browser import PATIENT_PASSWORD, browser, by_id, css, csp_violations, go, open_page, visible_text, wait

__all__ = ["browser"]  # the fixture, used by name
HOSTILE = '<img src=x onerror="document.title=\'pwned\'"><script>document.title="pwned"</script>'


def test_a_patient_uses_the_webmail_in_chromium(web_hub, browser):
    hub = web_hub.hub
    doctor = add_professional(hub, "dr.navigateur", password=None)
    stranger = add_professional(hub, "dr.jamais", password=None)
    patient, _ = active_patient(hub, "navigateur@courriel.example")
    send(hub, doctor, [patient], subject="Résultats de votre bilan", body="Tout est normal.\nBonne journée.")
    send(hub, doctor, [patient], subject=HOSTILE, body=HOSTILE)

    open_page(browser, web_hub.port)
    wait(browser, lambda d: by_id(d, "login-view").is_displayed())
    assert browser.title == "Connexion – Mon espace santé"
    by_id(browser, "login").send_keys(patient.partition("@")[0])
    by_id(browser, "password").send_keys("pas le bon")
    by_id(browser, "login-form").submit()
    wait(browser, lambda d: "Identifiant ou mot de passe incorrect" in visible_text(d, "error"))

    by_id(browser, "password").clear()
    by_id(browser, "password").send_keys(PATIENT_PASSWORD)
    by_id(browser, "login-form").submit()
    wait(browser, lambda d: by_id(d, "home-view").is_displayed() and len(css(d, "#home-list a.message")) == 2)
    assert "2 nouveaux messages" in visible_text(browser, "home-summary")
    go(browser, "#messagerie/recus", "list-pane")
    wait(browser, lambda d: len(css(d, "#list a.message")) == 2)
    rows = css(browser, "#list a.message")
    subjects = [row.find_element("css selector", ".subject").text for row in rows]
    assert "Résultats de votre bilan" in subjects and HOSTILE in subjects  # the markup shown as text

    # The hostile message opens as text: no script ran, no image was made of it.
    rows[subjects.index(HOSTILE)].click()
    wait(browser, lambda d: visible_text(d, "read-subject") == HOSTILE)
    assert visible_text(browser, "read-text").strip() == HOSTILE
    assert "pwned" not in browser.title and not css(browser, "#read-pane img")

    go(browser, "#messagerie/recus", "list-pane")
    wait(browser, lambda d: len(css(d, "#list a.message")) == 2)
    [row] = [r for r in css(browser, "#list a.message") if "bilan" in r.text]
    row.click()
    wait(browser, lambda d: "Tout est normal." in visible_text(d, "read-text"))
    assert "Bonne journée." in visible_text(browser, "read-text")

    by_id(browser, "reply").click()
    wait(browser, lambda d: by_id(d, "compose-pane").is_displayed())
    assert by_id(browser, "compose-to-select").get_attribute("value") == doctor
    assert by_id(browser, "compose-subject").get_attribute("value") == "Re: Résultats de votre bilan"
    by_id(browser, "compose-body").send_keys("Merci docteur.")
    by_id(browser, "compose-form").submit()
    wait(browser, lambda d: "Message envoyé." in visible_text(d, "notice"))
    assert [m.summary["subject"] for m in _inbox(hub, doctor)] == ["Re: Résultats de votre bilan"]

    # The professional who never wrote is not offered; the API refuses him all the same, in French.
    go(browser, "#nouveau", "compose-pane")
    wait(browser, lambda d: len(css(d, "#compose-to-select option")) == 1)
    offered = [o.get_attribute("value") for o in css(browser, "#compose-to-select option")]
    assert offered == [doctor] and stranger not in offered
    refused = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch('/api/messages', {method: 'POST', headers: {'Content-Type': 'application/json',"
        " Authorization: 'Bearer ' + sessionStorage.getItem('mssante-hub-token')},"
        " body: JSON.stringify({to: [arguments[0]], subject: 'Bonjour', body: ''})})"
        ".then((r) => r.json()).then(done);", stranger)
    assert refused["error"]["fr"].startswith("Vous ne pouvez écrire qu'à un professionnel qui vous a écrit")
    assert _inbox(hub, stranger) == []

    go(browser, "#historique", "history-view")
    wait(browser, lambda d: len(css(d, "#history tbody tr")) > 0)
    history = by_id(browser, "history").text
    assert "Dr Navigateur" in history and "Lecture d'un message" in history and "Connexion" in history

    by_id(browser, "logout").click()
    wait(browser, lambda d: by_id(d, "login-view").is_displayed())
    assert csp_violations(browser) == []


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
    assert not re.search(rb"<script(?![^>]*\bsrc=)", body) and not re.search(rb"\son[a-z]+=", body)  # nothing inline
    for path in ("/static/", "/pages.py", "/../setup.cfg", "/app.js/x"):
        connection.request("GET", path)
        answer = connection.getresponse()
        answer.read()
        assert answer.status == 404, path


def test_activation_then_a_reply_with_a_document_in_chromium(web_hub, browser, tmp_path):
    from mssante_hub.patients import provision
    from tests.patients.helpers import new_ins

    hub = web_hub.hub
    record = provision.PatientRecord(new_ins(), "ROUSSEAU", "Inès", "1988-07-14", "F", "ines@courriel.example")
    code = provision.add_patient(hub, record)
    browser.execute_script("sessionStorage.clear()")
    open_page(browser, web_hub.port)
    wait(browser, lambda d: by_id(d, "activate-form").is_displayed())
    by_id(browser, "activate-ins").send_keys(record.ins)
    by_id(browser, "activate-code").send_keys("AAAA-BBBB-CCCC-DDDD")
    by_id(browser, "activate-password").send_keys("mon nouveau mot de passe")
    by_id(browser, "activate-form").submit()
    wait(browser, lambda d: "Code invalide" in visible_text(d, "error"))
    by_id(browser, "activate-code").clear()
    by_id(browser, "activate-code").send_keys(code)
    by_id(browser, "activate-password").clear()
    by_id(browser, "activate-password").send_keys("mon nouveau mot de passe")
    by_id(browser, "activate-form").submit()
    wait(browser, lambda d: "Votre espace est activé" in visible_text(d, "notice"))

    patient = f"{record.ins.lower()}@{hub.config.get('hub.patient_domain')}"
    doctor = add_professional(hub, "dr.document", password=None)
    send(hub, doctor, [patient], subject="Envoyez votre ordonnance")
    assert by_id(browser, "login").get_attribute("value") == record.ins
    by_id(browser, "password").send_keys("mon nouveau mot de passe")
    by_id(browser, "login-form").submit()
    wait(browser, lambda d: len(css(d, "#home-list a.message")) == 1)
    css(browser, "#home-list a.message")[0].click()
    wait(browser, lambda d: by_id(d, "read-pane").is_displayed())
    by_id(browser, "reply").click()
    wait(browser, lambda d: by_id(d, "compose-pane").is_displayed())
    document = tmp_path / "ordonnance.pdf"
    document.write_bytes(b"%PDF-1.4 ordonnance scannee")
    by_id(browser, "compose-files").send_keys(str(document))
    by_id(browser, "compose-form").submit()
    wait(browser, lambda d: "Message envoyé." in visible_text(d, "notice"))
    [received] = _inbox(hub, doctor)
    assert b"ordonnance.pdf" in received.raw and received.summary["subject"] == "Re: Envoyez votre ordonnance"
    by_id(browser, "logout").click()
    wait(browser, lambda d: by_id(d, "login-view").is_displayed())
