"""The single walk through the patient's space in ONE headless Chromium session against one served hub (web,
submission and IMAPS listeners): activation (INS + letter code + password) -> sign-in -> read a professional's
message (the name shown, never the address) -> reply -> the professional receives it over IMAP (imaplib) -> add a
weight measure and see it on the chart -> accept an appointment sent as iMIP over SMTP -> the professional gets the
iMIP REPLY over IMAP -> open a lab report in Documents -> hide it: the professional no longer sees it in the
patient's dossier over IMAP -> connect then revoke a catalogue service -> switch to a dependant's space and back ->
change a setting -> sign out. Every page on the way: axe-core (0 serious, 0 critical) at 1280 and 360 px, no
sideways scrolling at 360 px, screenshots kept under tests/artifacts/web/walk-*.png. Elements are picked by id,
role or data attribute, not by French words. The lab report is a real CI-SIS example (../shared/fixtures).
"""

from __future__ import annotations

import email
import email.policy

import icalendar
import pytest

from mssante_hub.hub import Hub
from mssante_hub.patients import lifecycle, notifications, provision, representatives
from tests.agenda.support import DOCTOR, Submitter, ics, imip_message
from tests.agenda.test_imip import _wait_inbox
from tests.catalogue import support as catalogue
from tests.conftest import TEST_PASSWORD, add_professional, make_data_dir
from tests.dossier import builder
from tests.dossier import support as dossier
from tests.imap.support import imaps
from tests.patients.helpers import new_ins, send
from tests.smtp.support import configure_smtp, make_pki
from tests.support.served import served
from tests.web.browser import (
    axe_violations,
    browser,
    by_id,
    csp_violations,
    css,
    go,
    open_page,
    overflows_horizontally,
    screenshot,
    visible_text,
    wait,
)
from tests.web.conftest import configure
from tests.web.support import WebClient
from tests.web.test_browser_profile import _points, _weight

__all__ = ["browser"]  # the fixture, used by name
PASSWORD = "mot de passe de la promenade"
SUBJECT = "Vos résultats de biologie"


@pytest.fixture(scope="module")
def walk_hub(tmp_path_factory):
    base = tmp_path_factory.mktemp("walk")
    data_dir = make_data_dir(base)
    pki = make_pki(base)
    configure(data_dir, {})
    configure_smtp(data_dir, pki)
    hub = Hub.open(data_dir)
    add_professional(hub, catalogue.SERVICE_LOCAL, type="APP")
    catalogue.load(data_dir, [catalogue.SERVICE])
    try:
        with served(data_dir, ["web", "submission", "imaps"]) as running:
            yield running, hub, pki
    finally:
        hub.close()


def _page(driver, name: str, seen: list) -> None:
    """axe-core at 1280 and 360 px, no sideways scrolling at 360 px, both screenshots kept."""
    assert axe_violations(driver) == [], (name, "1280 px")
    files = screenshot(driver, f"walk-{name}")
    driver.set_window_size(360, 780)
    wait(driver, lambda d: d.execute_script("return window.innerWidth") <= 360)
    assert not overflows_horizontally(driver), name
    assert axe_violations(driver) == [], (name, "360 px")
    driver.set_window_size(1280, 900)
    assert all(f.stat().st_size > 0 for f in files)
    seen.append(name)


def _imap_subjects(port: int, user: str) -> list[str]:
    client = imaps(port, user, TEST_PASSWORD)
    try:
        client.select("INBOX", readonly=True)
        _, data = client.search(None, "ALL")
        subjects = []
        for number in data[0].split():
            _, parts = client.fetch(number, "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
            header = email.message_from_bytes(parts[0][1], policy=email.policy.default)
            subjects.append(str(header["subject"]))
        return subjects
    finally:
        client.logout()


def _dossier_box(port: int, user: str, box: str) -> int | None:
    """How many documents `user` sees in one folder of a patient's dossier over IMAP (None: no such folder)."""
    client = imaps(port, user, TEST_PASSWORD)
    try:
        _, lines = client.list('""', '"Patients/*"')
        if not any(line and line.decode().endswith(f'"{box}"') for line in lines):
            return None
        status, data = client.select(f'"{box}"', readonly=True)
        assert status == "OK", data
        return int(data[0])
    finally:
        client.logout()


def test_the_walk_through_the_patients_space(walk_hub, browser, fixtures_dir):
    running, hub, pki = walk_hub
    port = running.port("web")
    seen: list[str] = []
    doctor = add_professional(hub, "claire.bernard")  # display name "Claire Bernard"
    dossier.add_app(hub)
    # The patient of the CI-SIS examples (their INS and identity traits), so that the lab report files.
    record = provision.PatientRecord(dossier.INS, "PAT-TROIS", "DOMINIQUE MARIE-LOUISE", "1979-03-28", "F",
                                     "dominique@example.org")
    code = provision.add_patient(hub, record)
    patient = f"{record.ins.lower()}@{hub.config.get('hub.patient_domain')}"
    # A child whose legal representative the patient is (a dependant's space).
    child_ins = new_ins()
    child_code = provision.add_patient(hub, provision.PatientRecord(child_ins, "PAT-TROIS", "LÉO", "2016-06-06", "M",
                                                                    "leo@courriel.example"))
    lifecycle.activate(hub, child_ins, child_code, "mot de passe de léo pat-trois")

    # Activation with the letter's code.
    if browser.current_url.startswith("http"):
        browser.execute_script("sessionStorage.clear()")
    open_page(browser, port)
    wait(browser, lambda d: by_id(d, "activate-form").is_displayed())
    _page(browser, "activation", seen)
    by_id(browser, "activate-ins").send_keys(record.ins)
    by_id(browser, "activate-code").send_keys(code)
    by_id(browser, "activate-password").send_keys(PASSWORD)
    by_id(browser, "activate-form").submit()
    wait(browser, lambda d: visible_text(d, "notice") != "" and by_id(d, "login-view").is_displayed())
    assert representatives.add(hub, record.ins, child_ins)
    send(hub, doctor, [patient], subject=SUBJECT, body="Tout est normal.")

    # Sign-in.
    assert by_id(browser, "login").get_attribute("value") == record.ins
    _page(browser, "connexion", seen)
    by_id(browser, "password").send_keys(PASSWORD)
    by_id(browser, "login-form").submit()
    wait(browser, lambda d: by_id(d, "home-view").is_displayed() and len(css(d, "#home-list a.message")) == 1)
    _page(browser, "accueil", seen)

    # Read the professional's message: the name, never the address.
    css(browser, "#home-list a.message")[0].click()
    wait(browser, lambda d: by_id(d, "read-pane").is_displayed() and visible_text(d, "read-subject") == SUBJECT)
    shown = visible_text(browser, "read-pane")
    assert "Claire Bernard" in shown and doctor not in shown, shown
    _page(browser, "message", seen)

    # Reply; the professional receives it over IMAP.
    by_id(browser, "reply").click()
    wait(browser, lambda d: by_id(d, "compose-pane").is_displayed())
    _page(browser, "reponse", seen)
    by_id(browser, "compose-body").send_keys("Merci docteur.")
    by_id(browser, "compose-form").submit()
    wait(browser, lambda d: by_id(d, "list-pane").is_displayed() and len(css(d, "#list a.message")) == 1)
    assert _imap_subjects(running.port("imaps"), doctor) == [f"Re: {SUBJECT}"]

    # A lab report from the hospital's system: open it in Documents, then hide it from professionals; the
    # professional (in care: they wrote to the patient) no longer sees it in the dossier over IMAP.
    report = builder.fixture(fixtures_dir, "BIO-CR-BIO_2024.01_TSH_1.xml")
    send(hub, dossier.APP, [patient], raw=dossier.document_message(builder.cda_package(report), to=patient,
                                                                    receipt=False))
    box = f"Patients/{record.ins}/Dossier/BIOLOGIE"
    assert _dossier_box(running.port("imaps"), doctor, box) == 1
    go(browser, "#documents/BIOLOGIE", "doc-list-pane")
    wait(browser, lambda d: len(css(d, "#doc-list a.message")) == 1)
    _page(browser, "documents", seen)
    css(browser, "#doc-list a.message")[0].click()
    wait(browser, lambda d: by_id(d, "doc-read-pane").is_displayed() and visible_text(d, "doc-read-title") != "")
    assert "TSH" in visible_text(browser, "doc-read-pane").upper()
    _page(browser, "document", seen)
    document_id = browser.execute_script("return location.hash").split("/")[1]
    token = browser.execute_script("return sessionStorage.getItem('mssante-hub-token')")
    web = WebClient(port, token)
    by_id(browser, "doc-hide").click()
    wait(browser, lambda d: web.call("GET", f"/api/dossier/documents/{document_id}").body[
        "hidden_from_professionals"] is True)
    assert _dossier_box(running.port("imaps"), doctor, box) in (None, 0)

    # Add a weight measure and see it on the chart.
    go(browser, "#profil", "profile-list-pane")
    _weight(browser, "68,4", "2026-11-20")
    wait(browser, lambda d: _points(d, "chart-weight") == [68.4])
    _page(browser, "profil", seen)

    # Accept an appointment the professional sent as iMIP over SMTP; the iMIP REPLY reaches them over IMAP.
    add_professional(hub, DOCTOR.partition("@")[0])
    client = Submitter(running.port("submission"), pki)
    try:
        assert client.send(patient, imip_message(DOCTOR, patient, ics(
            "walk-1@cabinet.test", attendee=patient, summary="Consultation de cardiologie"))) == {}
    finally:
        client.close()
    go(browser, "#agenda", "agenda-view")
    wait(browser, lambda d: "Consultation de cardiologie" in visible_text(d, "agenda-upcoming"))
    _page(browser, "agenda", seen)
    # Chosen by its data attribute, not its words (the page has an English switch).
    by_id(browser, "agenda-upcoming").find_element("css selector", "button[data-partstat='ACCEPTED']").click()
    wait(browser, lambda d: css(d, "#agenda-upcoming button[data-partstat='DECLINED']")
         and not css(d, "#agenda-upcoming button[data-partstat='ACCEPTED']"))
    replies = [m for m in _wait_inbox(running, DOCTOR, 1) if b"REPLY" in m]
    assert len(replies) == 1
    part = next(p for p in email.message_from_bytes(replies[0], policy=email.policy.default).walk()
                if p.get_content_type() == "text/calendar")
    [event] = icalendar.Calendar.from_ical(part.get_content()).walk("VEVENT")
    assert str(event["UID"]) == "walk-1@cabinet.test" and event["ATTENDEE"].params["PARTSTAT"] == "ACCEPTED"

    # Connect then revoke a service of the catalogue.
    go(browser, "#services", "catalogue-view")
    wait(browser, lambda d: css(d, "#catalogue-list form button[type=submit]"))
    _page(browser, "services", seen)
    css(browser, "#catalogue-list form button[type=submit]")[0].click()
    wait(browser, lambda d: css(d, "#catalogue-list form button[type=button]"))
    [listed] = web.call("GET", "/api/catalogue").body["services"]
    assert listed["consent"]["state"] == "active", listed
    css(browser, "#catalogue-list form button[type=button]")[0].click()
    browser.switch_to.alert.accept()
    wait(browser, lambda d: css(d, "#catalogue-list form button[type=submit]")
         and not css(d, "#catalogue-list form button[type=button]"))
    [listed] = web.call("GET", "/api/catalogue").body["services"]
    assert not listed.get("consent") or listed["consent"]["state"] != "active", listed

    # Switch to the dependant's space, and back to one's own; the banner always says whose space it is.
    go(browser, "#profils", "profiles-view")
    wait(browser, lambda d: css(d, "#profiles-list button"))
    _page(browser, "profils", seen)
    css(browser, "#profiles-list button")[0].click()
    wait(browser, lambda d: "LÉO" in visible_text(d, "space-banner").upper() and by_id(d, "space-back").is_displayed())
    assert "LÉO" in visible_text(browser, "who-name").upper()
    _page(browser, "espace-enfant", seen)
    by_id(browser, "space-back").click()
    wait(browser, lambda d: not by_id(d, "space-back").is_displayed() and "LÉO" not in visible_text(d, "who-name").upper())
    assert "DOMINIQUE" in visible_text(browser, "who-name").upper()

    # Change a setting: a notification preference, saved on the server.
    go(browser, "#parametres", "settings-view")
    wait(browser, lambda d: len(css(d, "#preferences input")) == len(notifications.KINDS))
    _page(browser, "parametres", seen)
    by_id(browser, "pref-document").click()
    by_id(browser, "preferences-form").submit()
    wait(browser, lambda d: visible_text(d, "notice") != "")
    assert web.call("GET", "/api/preferences").body["notifications"]["document"] is False

    # Sign out: the session is over on the server too.
    by_id(browser, "logout").click()
    wait(browser, lambda d: by_id(d, "login-view").is_displayed())
    assert web.call("GET", "/api/session").status == 401
    assert csp_violations(browser) == []
    assert seen == ["activation", "connexion", "accueil", "message", "reponse", "documents", "document", "profil",
                    "agenda", "services", "profils", "espace-enfant", "parametres"]
