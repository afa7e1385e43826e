"""The Agenda page in headless Chromium (docs/web.md), on a served hub with its submission and IMAP doors: a
professional's invitation (iMIP over real SMTP) is listed as upcoming, the patient accepts it in the page and
the professional receives the iMIP REPLY over IMAP (imaplib); a past appointment whose summary is markup is
shown as text; the patient adds a reminder (typed in Paris time, stored with its offset), sets a prevention item
as done, makes the ICS feed's address, makes a new one (the old one answers 404) and switches it off. axe-core
at 1280 and 360 px, no sideways scrolling, screenshots under tests/artifacts/web/, no CSP violation.
"""

from __future__ import annotations

import email
import email.policy
import http.client
import json

import icalendar
import pytest

from mssante_hub.hub import Hub
from tests.agenda.support import DOCTOR, Submitter, ics, imip_message
from tests.agenda.test_imip import _wait_inbox
from tests.conftest import add_professional, make_data_dir
from tests.dossier import support
from tests.dossier.support import INS, PATIENT
from tests.smtp.support import configure_smtp, make_pki
from tests.support.served import run_cli, served
from tests.web.browser import browser, by_id, csp_violations, go, sign_in, wait
from tests.web.conftest import configure
from tests.web.support import WebClient
from tests.web.test_browser_profile import checked, text_of

__all__ = ["browser"]  # the fixture, used by name
PASSWORD = "mot de passe de dominique"
XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>Bilan'
CAMPAIGN = {"id": "depistage-sein", "kind": "exam", "sex": "F", "min_age": 40, "max_age": 74,
            "window": {"start": "2020-01-01", "end": "2099-12-31"},
            "title": {"fr": "Dépistage organisé du cancer du sein"},
            "text": {"fr": "Une mammographie tous les deux ans."}}


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    base = tmp_path_factory.mktemp("agenda-page")
    data_dir = make_data_dir(base)
    pki = make_pki(base)
    configure(data_dir, {})
    configure_smtp(data_dir, pki)
    campaigns = base / "campagnes.json"
    campaigns.write_text(json.dumps([CAMPAIGN], ensure_ascii=False), encoding="utf-8")
    hub = Hub.open(data_dir)
    add_professional(hub, "jean.dupont")
    support.provision_patient(hub)
    hub.close()
    loaded = run_cli("agenda", "campaign", "load", str(campaigns), "--data-dir", str(data_dir))
    assert loaded.returncode == 0, loaded.stderr
    with served(data_dir, ["web", "submission", "imaps"]) as running:
        client = Submitter(running.port("submission"), pki)
        try:
            for calendar in (ics("page-1@cabinet.test", attendee=PATIENT, summary="Consultation de cardiologie",
                                 start="20271210T100000", end="20271210T103000"),
                             ics("page-0@cabinet.test", attendee=PATIENT, summary=XSS, location="Laboratoire",
                                 start="20260610T080000", end="20260610T081500", specialty="Biologie")):
                assert client.send(PATIENT, imip_message(DOCTOR, PATIENT, calendar)) == {}
        finally:
            client.close()
        yield running


def _feed(port: int, url: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", url.removeprefix(f"http://127.0.0.1:{port}"))
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


def test_agenda_page(scene, browser):
    from selenium.webdriver.support.ui import Select

    port = scene.port("web")
    sign_in(browser, port, INS, PASSWORD)
    go(browser, "#agenda", "agenda-view")
    wait(browser, lambda d: "Consultation de cardiologie" in text_of(d, "agenda-upcoming"))
    assert browser.title == "Agenda – Mon espace santé"
    upcoming = text_of(browser, "agenda-upcoming")
    assert "vendredi 10 décembre 2027 à 10:00" in upcoming  # Paris time
    assert "Dr Jean Dupont · Cardiologie" in upcoming and "Votre réponse est attendue" in upcoming
    assert XSS in text_of(browser, "agenda-past")  # the summary, as text
    assert browser.execute_script("return window.__xss") is None
    assert "Dépistage organisé du cancer du sein" in text_of(browser, "agenda-prevention")
    checked(browser, "agenda")

    # Accepting: the professional receives the iMIP REPLY over IMAP.
    from selenium.webdriver.common.keys import Keys

    accept = by_id(browser, "agenda-upcoming").find_element("css selector", "button")
    assert accept.text == "Accepter"
    accept.send_keys(Keys.ENTER)  # from the keyboard
    wait(browser, lambda d: "Vous avez accepté le rendez-vous" in text_of(d, "notice"))
    wait(browser, lambda d: "Vous avez accepté" in text_of(d, "agenda-upcoming"))
    replies = [m for m in _wait_inbox(scene, DOCTOR, 1) if b"REPLY" in m]
    assert len(replies) == 1
    mail = email.message_from_bytes(replies[0], policy=email.policy.default)
    part = next(p for p in mail.walk() if p.get_content_type() == "text/calendar")
    [event] = icalendar.Calendar.from_ical(part.get_content()).walk("VEVENT")
    assert str(event["UID"]) == "page-1@cabinet.test" and event["ATTENDEE"].params["PARTSTAT"] == "ACCEPTED"

    # The appointment's own view, opened with Enter: its answer, and the message that carried it.
    link = by_id(browser, "agenda-upcoming").find_element("link text", "Consultation de cardiologie")
    link.send_keys(Keys.ENTER)
    wait(browser, lambda d: by_id(d, "agenda-item-pane").is_displayed())
    assert browser.title == "Rendez-vous – Mon espace santé"
    assert text_of(browser, "agenda-item-when") == "vendredi 10 décembre 2027 à 10:00 – 10:30"
    assert text_of(browser, "agenda-item-who") == "Dr Jean Dupont · Cardiologie"
    assert "Vous avez accepté" in text_of(browser, "agenda-item-status")
    buttons = by_id(browser, "agenda-item-actions").find_elements("css selector", "button")
    assert [b.text for b in buttons] == ["Décliner"]
    checked(browser, "rendez-vous")
    by_id(browser, "agenda-item-message-link").send_keys(Keys.ENTER)
    wait(browser, lambda d: by_id(d, "read-pane").is_displayed() and text_of(d, "read-subject") == "Rendez-vous")
    go(browser, "#agenda", "agenda-list-pane")
    assert not by_id(browser, "agenda-item-pane").is_displayed()

    # A reminder typed in Paris time (winter: UTC+1).
    Select(by_id(browser, "ag-kind")).select_by_value("reminder")
    by_id(browser, "ag-title").send_keys("Renouveler l'ordonnance")
    browser.execute_script("document.getElementById('ag-date').value = '2027-01-15';"
                           "document.getElementById('ag-time').value = '10:30'")
    by_id(browser, "agenda-form").submit()
    wait(browser, lambda d: "Le rappel est ajouté" in text_of(d, "notice"))
    wait(browser, lambda d: "Renouveler l'ordonnance" in text_of(d, "agenda-upcoming"))
    token = browser.execute_script("return sessionStorage.getItem('mssante-hub-token')")
    web = WebClient(port, token)
    items = web.call("GET", "/api/agenda?from=2027-01-01&to=2027-12-31").body["items"]
    [reminder] = [i for i in items if i["kind"] == "reminder"]
    assert reminder["start"] == "2027-01-15T09:30:00+00:00"

    # Prevention: done.
    Select(by_id(browser, "prevention-depistage-sein")).select_by_value("done")
    wait(browser, lambda d: "C'est noté." in text_of(d, "notice"))
    assert web.call("GET", "/api/agenda").body["prevention"][0]["status"] == "done"

    # The ICS feed: made, made anew (the old address stops working), switched off.
    by_id(browser, "feed-create").click()
    wait(browser, lambda d: by_id(d, "feed-new").is_displayed() and by_id(d, "feed-url").get_attribute("value"))
    first = by_id(browser, "feed-url").get_attribute("value")
    status, body = _feed(port, first)
    assert status == 200 and b"Consultation de cardiologie" in body
    checked(browser, "agenda-flux", "feed-state")
    wait(browser, lambda d: by_id(d, "feed-create").text == "Créer un nouveau lien")
    by_id(browser, "feed-create").click()
    wait(browser, lambda d: by_id(d, "feed-url").get_attribute("value") not in ("", first))
    second = by_id(browser, "feed-url").get_attribute("value")
    assert _feed(port, first)[0] == 404 and _feed(port, second)[0] == 200
    by_id(browser, "feed-revoke").click()
    wait(browser, lambda d: "désactivé" in text_of(d, "notice"))
    assert _feed(port, second)[0] == 404
    assert not by_id(browser, "feed-revoke").is_displayed()
    assert csp_violations(browser) == []


def test_home_shows_the_next_appointment_and_what_to_plan(scene, browser):
    """Accueil lists the next appointment and the prevention items to plan, with a link to the Agenda page;
    the tab title stays content-free."""
    port = scene.port("web")
    sign_in(browser, port, INS, PASSWORD)
    web = WebClient(port, browser.execute_script("return sessionStorage.getItem('mssante-hub-token')"))
    assert web.call("POST", "/api/agenda/prevention/depistage-sein", {"status": "to_plan"}).status == 200
    go(browser, "#messagerie", "mail-view")
    go(browser, "#accueil", "home-view")
    # Waited for on the item to plan: the first visit's Accueil (before it was to plan) is still shown meanwhile.
    wait(browser, lambda d: "À planifier : Dépistage organisé du cancer du sein" in text_of(d, "home-plan"))
    assert "Prochain rendez-vous" in text_of(browser, "home-next")
    assert "Consultation de cardiologie" in text_of(browser, "home-next")
    assert browser.title == "Accueil – Mon espace santé"
    assert "Consultation" not in browser.title
    checked(browser, "accueil-agenda")
    link = browser.find_element("css selector", "#home-view a[href='#agenda']")
    link.click()
    wait(browser, lambda d: by_id(d, "agenda-view").is_displayed())
