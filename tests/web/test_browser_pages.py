"""Every page of the patient's space in headless Chromium: axe-core finds no serious or critical violation,
each is usable 360 px wide (no sideways scrolling), titles never carry content, and each is kept as a
screenshot at 1280 px and 360 px under tests/artifacts/web/. On the way: Accueil, Messagerie (attachments
within the allowed types and budget, the bin), Paramètres (a notification preference), sign-out, and a
session that lapsed after 2 hours idle.
"""

from __future__ import annotations

import datetime as dt

import pytest

from mssante_hub.patients import notifications
from sqlalchemy import update

from tests.conftest import add_professional
from tests.patients.helpers import send
from tests.patients.test_notify import active_patient
from tests.web.browser import (axe_violations, browser, by_id, css, csp_violations, go, open_page,
                               overflows_horizontally, screenshot, sign_in, visible_text, wait)
from storage import sessions as session_repo

__all__ = ["browser"]  # the fixture, used by name
BUDGET = 64 * 1024
SUBJECT = "Résultats de la prise de sang"


@pytest.fixture(scope="module")
def web_settings() -> dict:
    return {"patients.attachment_budget_bytes": BUDGET}


def _check_page(driver, name: str, checked: dict) -> None:
    """axe, the 360 px layout, the title, and the screenshots of the page shown now."""
    violations = axe_violations(driver)
    assert violations == [], (name, violations)
    assert SUBJECT not in driver.title and "Dr " not in driver.title, driver.title
    files = screenshot(driver, name)
    driver.set_window_size(360, 780)
    wait(driver, lambda d: d.execute_script("return window.innerWidth") <= 360)
    assert not overflows_horizontally(driver), name
    assert axe_violations(driver) == [], (name, "360 px")
    driver.set_window_size(1280, 900)
    assert all(f.stat().st_size > 0 for f in files)
    checked[name] = files


def test_every_page_is_accessible_usable_on_a_phone_and_kept_as_a_screenshot(web_hub, browser, tmp_path):
    hub = web_hub.hub
    doctor = add_professional(hub, "dr.pages", password=None)
    ended = add_professional(hub, "dr.pages.fin", password=None)
    patient, account_id = active_patient(hub, "pages@courriel.example")
    send(hub, doctor, [patient], subject=SUBJECT, body="Tout est normal.",
         attachments=[("compte-rendu.pdf", "application/pdf", b"%PDF-1.4 compte rendu")])
    send(hub, ended, [patient], subject="Suivi terminé")
    send(hub, ended, [patient], subject="[FIN]")
    send(hub, "dpi@chu-pages.test", [patient], from_name="CHU Pages — Biologie",
         subject="XDM/1.0/DDM+CR-BIO PETIT Camille 04/03/1985")
    checked: dict = {}

    if browser.current_url.startswith("http"):
        browser.execute_script("sessionStorage.clear()")
    open_page(browser, web_hub.port)
    wait(browser, lambda d: by_id(d, "login-view").is_displayed())
    _check_page(browser, "connexion", checked)

    sign_in(browser, web_hub.port, patient.partition("@")[0])
    wait(browser, lambda d: len(css(d, "#home-list a.message")) == 4)
    assert browser.title == "Accueil – Mon espace santé"
    assert "4 nouveaux messages" in visible_text(browser, "home-summary")
    assert visible_text(browser, "menu-unread") == "4 non lus"
    _check_page(browser, "accueil", checked)

    go(browser, "#messagerie", "conversations-pane")
    wait(browser, lambda d: len(css(d, "#conversations a.conversation")) == 3)
    _check_page(browser, "messagerie-conversations", checked)

    go(browser, "#messagerie/recus", "list-pane")
    wait(browser, lambda d: len(css(d, "#list a.message")) == 4)
    [with_file] = [r for r in css(browser, "#list a.message") if SUBJECT in r.text]
    assert "Pièce jointe" in with_file.text
    _check_page(browser, "messagerie-recus", checked)

    with_file.click()
    wait(browser, lambda d: visible_text(d, "read-subject") == SUBJECT)
    assert "compte-rendu.pdf" in visible_text(browser, "read-attachments")
    assert browser.title == "Message – Mon espace santé"
    _check_page(browser, "message", checked)

    # Writing: a file type outside docs/domain.md §5.6, then files over the budget: refused in French, nothing sent.
    by_id(browser, "reply").click()
    wait(browser, lambda d: by_id(d, "compose-pane").is_displayed())
    # Not the one who ended the exchange, nor the hospital outside the trust space (not on the whitelist).
    assert [o.text for o in css(browser, "#compose-to-select option")] == ["Dr Pages"]
    _check_page(browser, "nouveau-message", checked)
    script = tmp_path / "programme.exe"
    script.write_bytes(b"MZ")
    by_id(browser, "compose-files").send_keys(str(script))
    by_id(browser, "compose-form").submit()
    wait(browser, lambda d: "Type de document non autorisé" in visible_text(d, "error"))
    by_id(browser, "compose-files").clear()
    big = tmp_path / "radio.pdf"
    big.write_bytes(b"%PDF-1.4 " + b"x" * BUDGET)
    by_id(browser, "compose-files").send_keys(str(big))
    by_id(browser, "compose-form").submit()
    wait(browser, lambda d: visible_text(d, "error") == "La taille du ou des documents dépasse la limite autorisée")
    from mssante_hub.reader import read_folder

    assert read_folder(hub, doctor) == []
    by_id(browser, "compose-files").clear()
    small = tmp_path / "ordonnance.pdf"
    small.write_bytes(b"%PDF-1.4 ordonnance")
    by_id(browser, "compose-files").send_keys(str(small))
    by_id(browser, "compose-body").send_keys("Merci.")
    by_id(browser, "compose-form").submit()
    wait(browser, lambda d: "Message envoyé." in visible_text(d, "notice"))
    assert len(read_folder(hub, doctor)) == 1
    wait(browser, lambda d: len(css(d, "#list a.message")) == 1)
    assert "À Dr Pages" in visible_text(browser, "list")
    _check_page(browser, "messagerie-envoyes", checked)

    # The bin: to the bin, then deleted for good.
    go(browser, "#messagerie/recus", "list-pane")
    wait(browser, lambda d: len(css(d, "#list a.message")) == 4)
    [row] = [r for r in css(browser, "#list a.message") if "Suivi terminé" in r.text]
    row.click()
    wait(browser, lambda d: visible_text(d, "read-subject") == "Suivi terminé")
    assert "a mis fin à vos échanges" in visible_text(browser, "read-banner")
    by_id(browser, "delete").click()
    wait(browser, lambda d: "Message mis à la corbeille." in visible_text(d, "notice"))
    assert len(css(browser, "#list a.message")) == 3
    go(browser, "#messagerie/corbeille", "list-pane")
    wait(browser, lambda d: len(css(d, "#list a.message")) == 1)
    _check_page(browser, "messagerie-corbeille", checked)
    css(browser, "#list a.message")[0].click()
    wait(browser, lambda d: visible_text(d, "read-subject") == "Suivi terminé")
    by_id(browser, "delete").click()
    wait(browser, lambda d: "Message supprimé définitivement." in visible_text(d, "notice"))
    assert css(browser, "#list a.message") == [] and visible_text(browser, "list-empty") == "Aucun message."

    go(browser, "#historique", "history-view")
    wait(browser, lambda d: len(css(d, "#history tbody tr")) > 3)
    _check_page(browser, "historique", checked)

    go(browser, "#parametres", "settings-view")
    wait(browser, lambda d: len(css(d, "#preferences input")) == len(notifications.KINDS))
    labels = [label.text for label in css(browser, "#preferences label")]
    assert all(kind not in labels for kind in notifications.KINDS), labels  # every kind has its French words
    by_id(browser, "pref-document").click()
    by_id(browser, "preferences-form").submit()
    wait(browser, lambda d: "Préférences enregistrées." in visible_text(d, "notice"))
    token = browser.execute_script("return sessionStorage.getItem('mssante-hub-token')")
    assert web_hub.client(token).call("GET", "/api/preferences").body["notifications"]["document"] is False
    _check_page(browser, "parametres", checked)

    by_id(browser, "logout").click()
    wait(browser, lambda d: by_id(d, "login-view").is_displayed() and "déconnecté" in visible_text(d, "notice"))
    assert web_hub.client(token).call("GET", "/api/session").status == 401
    assert csp_violations(browser) == []
    assert len(checked) == 10


def test_a_session_idle_for_two_hours_lapses_in_the_page(web_hub, browser):
    hub = web_hub.hub
    patient, account_id = active_patient(hub, "inactif@courriel.example")
    sign_in(browser, web_hub.port, patient.partition("@")[0])
    since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=121)
    hub.committer.run(lambda conn: conn.execute(update(session_repo.WebSession).where(
        session_repo.WebSession.account_id == account_id).values(last_seen_at=since)))
    go(browser, "#messagerie/recus", "login-view")
    wait(browser, lambda d: "Votre session a expiré" in visible_text(d, "notice"))
    assert not by_id(browser, "menu").is_displayed()


def test_the_history_filters_and_exports_as_csv(web_hub, browser, tmp_path):
    import csv
    import io
    import time

    from selenium.webdriver.support.ui import Select

    hub = web_hub.hub
    doctor = add_professional(hub, "dr.filtre", password=None)
    patient, _ = active_patient(hub, "filtre@courriel.example")
    send(hub, doctor, [patient], subject="=HYPERLINK(\"http://x.test\")")  # a subject never reaches the CSV
    send(hub, "labo@chu-filtre.test", [patient], from_name="=1+1", subject="Résultat")  # a name like a formula
    sign_in(browser, web_hub.port, patient.partition("@")[0])
    go(browser, "#historique", "history-view")
    wait(browser, lambda d: len(css(d, "#history tbody tr")) >= 5)
    everything = len(css(browser, "#history tbody tr"))
    Select(by_id(browser, "filter-action")).select_by_visible_text("Connexion")
    wait(browser, lambda d: len(css(d, "#history tbody tr")) < everything)
    actions = {row.find_elements("css selector", "td")[2].text for row in css(browser, "#history tbody tr")}
    assert actions == {"Connexion"}
    Select(by_id(browser, "filter-action")).select_by_value("")
    Select(by_id(browser, "filter-actor")).select_by_visible_text("Professionnels de santé")  # on the server
    wait(browser, lambda d: len(css(d, "#history tbody tr")) == 2)
    assert {row.find_elements("css selector", "td")[1].text for row in css(browser, "#history tbody tr")} == {
        "Dr Filtre", "=1+1"}
    assert "2 opérations affichées" in visible_text(browser, "history-count")
    assert axe_violations(browser) == []
    # Today's entries only, then none from tomorrow on (days in the patient's zone, on the server).
    today = browser.execute_script("return new Intl.DateTimeFormat('en-CA', {timeZone: 'Europe/Paris'})"
                                   ".format(new Date())")
    tomorrow = (dt.date.fromisoformat(today) + dt.timedelta(days=1)).isoformat()
    browser.execute_script("const f = document.getElementById('filter-from'); f.value = arguments[0];"
                           "f.dispatchEvent(new Event('change'))", tomorrow)
    wait(browser, lambda d: len(css(d, "#history tbody tr")) == 0)
    browser.execute_script("const f = document.getElementById('filter-from'); f.value = arguments[0];"
                           "f.dispatchEvent(new Event('change'))", today)
    wait(browser, lambda d: len(css(d, "#history tbody tr")) == 2)

    browser.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(tmp_path)})
    by_id(browser, "history-csv").click()
    target = tmp_path / "historique-des-acces.csv"
    deadline = time.monotonic() + 15
    while not target.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    rows = list(csv.reader(io.StringIO(target.read_text(encoding="utf-8-sig")), delimiter=";"))
    assert rows[0] == ["Date", "Qui", "Action", "Moyen", "Résultat"]
    assert sorted(r[1:3] for r in rows[1:]) == [["'=1+1", "Message reçu"], ["Dr Filtre", "Message reçu"]]
    assert "HYPERLINK" not in target.read_text(encoding="utf-8-sig")
