"""The faults issue 15 found in the patient's webmail, each shown fixed in a real headless Chromium.

Senders by name (never an address), the document prefix hidden, HTML-only mail
shown sanitised with remote content blocked, a French footer, times in
Europe/Paris (or the zone chosen), message rows opened with the keyboard, the
access history in words, /favicon.ico, the "a mis fin à vos échanges" banner.
"""

from __future__ import annotations

import datetime as dt
import http.client
import http.server
import re
import threading
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest

from mssante_hub import audit
from tests.conftest import add_professional
from tests.patients.helpers import send
from tests.patients.test_notify import active_patient
from tests.web.browser import PATIENT_PASSWORD, browser, by_id, css, csp_violations, go, sign_in, visible_text, wait

__all__ = ["browser"]  # the fixture, used by name
TRUST_SPACE_SENDER = "dpi@chu-demo.test"
ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")


def _patient(hub, email: str):
    address, account_id = active_patient(hub, email)
    return address, account_id


def _page_text(driver) -> str:
    return driver.execute_script("return document.body.innerText")


def test_senders_are_shown_by_name_never_by_address(web_hub, browser):
    hub = web_hub.hub
    doctor = add_professional(hub, "dr.martin.nom", password=None)  # account display name "Dr Martin Nom"
    patient, _ = _patient(hub, "noms@courriel.example")
    # A local professional's own From claims another name: the account's name wins.
    send(hub, doctor, [patient], subject="Votre rendez-vous", from_name="Quelqu'un d'autre")
    send(hub, TRUST_SPACE_SENDER, [patient], subject="Vos résultats", from_name="Laboratoire du CHU Démo")

    sign_in(browser, web_hub.port, patient.partition("@")[0])
    go(browser, "#messagerie/recus", "list-pane")
    wait(browser, lambda d: len(css(d, "#list a.message")) == 2)
    names = [row.find_element("css selector", ".who").text for row in css(browser, "#list a.message")]
    assert sorted(names) == ["Dr Martin Nom", "Laboratoire du CHU Démo"]
    assert not ADDRESS.search(visible_text(browser, "list-pane"))

    go(browser, "#messagerie", "conversations-pane")
    wait(browser, lambda d: len(css(d, "#conversations a.conversation")) == 2)
    assert {c.find_element("css selector", ".who").text for c in css(browser, "#conversations a")} == {
        "Dr Martin Nom", "Laboratoire du CHU Démo"}

    css(browser, "#conversations a.conversation")[0].click()
    wait(browser, lambda d: len(css(d, "#list a.message")) == 1)
    css(browser, "#list a.message")[0].click()
    wait(browser, lambda d: by_id(d, "read-pane").is_displayed() and visible_text(d, "read-from"))
    assert visible_text(browser, "read-from") in ("Dr Martin Nom", "Laboratoire du CHU Démo")
    page = _page_text(browser)
    assert doctor not in page and TRUST_SPACE_SENDER not in page and patient not in page


def test_the_document_prefix_is_hidden_and_the_document_named(web_hub, browser):
    hub = web_hub.hub
    patient, _ = _patient(hub, "document@courriel.example")
    send(hub, TRUST_SPACE_SENDER, [patient], from_name="Laboratoire du CHU Démo",
         subject="XDM/1.0/DDM+VAC-NOTE_2023.01.xml PETIT Camille 04/03/1985")

    sign_in(browser, web_hub.port, patient.partition("@")[0])
    go(browser, "#messagerie/recus", "list-pane")
    wait(browser, lambda d: len(css(d, "#list a.message")) == 1)
    listed = visible_text(browser, "list")
    assert "XDM/1.0" not in listed and "DDM+" not in listed
    assert "Document : VAC-NOTE_2023.01.xml" in listed
    css(browser, "#list a.message")[0].click()
    wait(browser, lambda d: by_id(d, "read-pane").is_displayed() and visible_text(d, "read-subject"))
    assert visible_text(browser, "read-subject") == "VAC-NOTE_2023.01.xml PETIT Camille 04/03/1985"
    assert visible_text(browser, "read-document") == "VAC-NOTE_2023.01.xml"


class _Pixel(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):  # noqa: N802 - http.server's naming
        type(self).hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()

    def log_message(self, *args):  # quiet
        pass


@pytest.fixture
def pixel_server():
    _Pixel.hits = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Pixel)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_html_only_mail_is_shown_sanitised_with_remote_content_blocked(web_hub, browser, pixel_server):
    hub = web_hub.hub
    patient, _ = _patient(hub, "html@courriel.example")
    remote = f"http://127.0.0.1:{pixel_server.server_address[1]}"
    html = (f'<html><head><style>body {{ background: url({remote}/css.png) }}</style></head><body>'
            f'<p onclick="document.title=\'pwned\'">Bonjour <b>Camille</b>, voici vos résultats.</p>'
            f'<img src="{remote}/pixel.png" alt="">'
            f'<script>document.title="pwned"</script><iframe src="{remote}/frame"></iframe>'
            f'<p style="background:url({remote}/style.png)"><a href="javascript:document.title=\'pwned\'">ici</a> '
            f'et <a href="https://exemple.test/info">la notice</a></p><form action="{remote}/f"><input name=x></form>'
            f'</body></html>')
    message = EmailMessage()
    message["From"] = f"Laboratoire du CHU Démo <{TRUST_SPACE_SENDER}>"
    message["To"] = patient
    message["Subject"] = "Compte rendu en HTML"
    message.set_content(html, subtype="html")
    send(hub, TRUST_SPACE_SENDER, [patient], raw=bytes(message))

    sign_in(browser, web_hub.port, patient.partition("@")[0])
    go(browser, "#messagerie/recus", "list-pane")
    wait(browser, lambda d: len(css(d, "#list a.message")) == 1)
    css(browser, "#list a.message")[0].click()
    wait(browser, lambda d: by_id(d, "read-html").is_displayed())
    assert "Bonjour Camille, voici vos résultats." in visible_text(browser, "read-html")
    assert [b.text for b in css(browser, "#read-html b")] == ["Camille"]
    assert css(browser, "#read-html img, #read-html script, #read-html iframe, #read-html form, #read-html style") == []
    assert not css(browser, "#read-html [onclick], #read-html [style]")
    links = {a.text: a.get_attribute("href") for a in css(browser, "#read-html a")}
    assert links["la notice"] == "https://exemple.test/info" and links["ici"] is None
    assert all(a.get_attribute("rel") == "noopener noreferrer nofollow" for a in css(browser, "#read-html a"))
    assert "bloqués" in visible_text(browser, "read-remote")
    css(browser, "#read-html p")[0].click()
    assert "pwned" not in browser.title
    assert _Pixel.hits == []  # nothing was fetched from the sender's server
    assert csp_violations(browser) == []


def test_the_footer_is_french(web_hub, browser):
    browser.get(f"http://127.0.0.1:{web_hub.port}/")
    footer = css(browser, "footer")[0]
    wait(browser, lambda d: footer.text)
    assert footer.get_attribute("lang") in (None, "", "fr")
    assert "Messagerie sécurisée de santé" in footer.text and "encrypted" not in footer.text


def _paris(iso: str, zone: str = "Europe/Paris") -> str:
    return dt.datetime.fromisoformat(iso).astimezone(ZoneInfo(zone)).strftime("%d/%m/%Y %H:%M")


def test_times_have_an_offset_and_are_shown_in_paris_or_the_chosen_zone(web_hub, browser):
    hub = web_hub.hub
    doctor = add_professional(hub, "dr.horaire", password=None)
    patient, _ = _patient(hub, "heure@courriel.example")
    send(hub, doctor, [patient], subject="À quelle heure ?")
    sign_in(browser, web_hub.port, patient.partition("@")[0])
    token = browser.execute_script("return sessionStorage.getItem('mssante-hub-token')")
    [listed] = web_hub.client(token).call("GET", "/api/messages").body["messages"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00", listed["date"]), listed["date"]
    assert browser.execute_script("return Intl.DateTimeFormat().resolvedOptions().timeZone") != "Europe/Paris"

    go(browser, "#messagerie/recus", "list-pane")
    wait(browser, lambda d: len(css(d, "#list a.message time")) == 1)
    assert css(browser, "#list a.message time")[0].text == _paris(listed["date"])

    go(browser, "#parametres", "settings-view")
    wait(browser, lambda d: len(css(d, "#zone option")) > 1)
    from selenium.webdriver.support.ui import Select

    Select(by_id(browser, "zone")).select_by_value("Indian/Reunion")
    by_id(browser, "zone-form").submit()
    wait(browser, lambda d: "Fuseau horaire enregistré" in visible_text(d, "notice"))
    go(browser, "#messagerie/recus", "list-pane")
    wait(browser, lambda d: css(d, "#list a.message time")[0].text == _paris(listed["date"], "Indian/Reunion"))
    browser.execute_script("localStorage.clear()")


def test_message_rows_are_reached_and_opened_with_the_keyboard(web_hub, browser):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    hub = web_hub.hub
    doctor = add_professional(hub, "dr.clavier", password=None)
    patient, _ = _patient(hub, "clavier@courriel.example")
    send(hub, doctor, [patient], subject="Message à ouvrir au clavier", body="Lu sans souris.")
    sign_in(browser, web_hub.port, patient.partition("@")[0])
    go(browser, "#messagerie/recus", "list-pane")
    wait(browser, lambda d: len(css(d, "#list a.message")) == 1)
    browser.execute_script("document.activeElement.blur(); window.scrollTo(0, 0)")
    for _ in range(40):
        ActionChains(browser).send_keys(Keys.TAB).perform()
        focused = browser.switch_to.active_element
        if "message" in (focused.get_attribute("class") or "").split():
            break
    else:
        pytest.fail("Tab never reached a message")
    assert "Message à ouvrir au clavier" in focused.text
    ActionChains(browser).send_keys(Keys.ENTER).perform()
    wait(browser, lambda d: "Lu sans souris." in visible_text(d, "read-text"))


def test_the_access_history_is_in_words(web_hub, browser):
    hub = web_hub.hub
    doctor = add_professional(hub, "dr.historique", password=None)
    patient, account_id = _patient(hub, "historique@courriel.example")
    send(hub, doctor, [patient], subject="Question")
    # A failed mail-client sign-in on this space, traced as imap/auth.py traces it.
    hub.committer.run(lambda conn: audit.record(conn, actor=patient, actor_type="imap", action="imap.login_failed",
                                             subject_account_id=account_id, target="imap from:127.0.0.1",
                                             outcome="refused"))
    # The patient's own reply from the webmail (its Sent copy is a `deliver` trace whose actor is the patient).
    me = web_hub.client().login(patient.partition("@")[0], PATIENT_PASSWORD)
    assert me.send([doctor], subject="Re: Question", body="Réponse.").status == 201

    sign_in(browser, web_hub.port, patient.partition("@")[0])
    go(browser, "#historique", "history-view")
    wait(browser, lambda d: len(css(d, "#history tbody tr")) > 4)
    rows = [[td.text for td in row.find_elements("css selector", "td")] for row in css(browser, "#history tbody tr")]
    text = visible_text(browser, "history")
    for raw in ("imap.login_failed", "operator", "patient.provision", "deliver", "ins-holder"):
        assert raw not in text, raw
    assert not ADDRESS.search(text)
    assert ["Une personne utilisant votre identifiant", "Connexion refusée (logiciel de messagerie)"] in [
        r[1:3] for r in rows]
    assert ["L'équipe d'exploitation du service", "Création de l'espace"] in [r[1:3] for r in rows]
    assert ["Dr Historique", "Message reçu"] in [r[1:3] for r in rows]
    assert ["Vous", "Message envoyé"] in [r[1:3] for r in rows]
    assert ["Vous", "Message reçu"] not in [r[1:3] for r in rows]


def test_the_favicon_is_a_local_file(web_hub, browser):
    connection = http.client.HTTPConnection("127.0.0.1", web_hub.port, timeout=10)
    connection.request("GET", "/favicon.ico")
    answer = connection.getresponse()
    body = answer.read()
    assert answer.status == 200 and answer.getheader("content-type") == "image/x-icon"
    assert body[:4] == b"\x00\x00\x01\x00"  # an ICO file
    browser.get_log("browser")  # drop older entries
    browser.execute_script("sessionStorage.clear()")
    browser.get(f"http://127.0.0.1:{web_hub.port}/")
    wait(browser, lambda d: by_id(d, "login-view").is_displayed())
    icon = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(document.querySelector('link[rel=icon]').href).then((r) => done(r.status));")
    assert icon == 200
    assert [e for e in browser.get_log("browser") if "favicon" in e.get("message", "")] == []


def test_a_professional_ending_the_exchange_shows_the_banner(web_hub, browser):
    hub = web_hub.hub
    doctor = add_professional(hub, "dr.fin.echanges", password=None)
    other = add_professional(hub, "dr.toujours.la", password=None)
    patient, _ = _patient(hub, "fin@courriel.example")
    send(hub, doctor, [patient], subject="Suivi")
    send(hub, other, [patient], subject="Autre suivi")
    send(hub, doctor, [patient], subject="[FIN]", body="Fin de notre échange.")

    sign_in(browser, web_hub.port, patient.partition("@")[0])
    go(browser, "#messagerie", "conversations-pane")
    wait(browser, lambda d: len(css(d, "#conversations a.conversation")) == 2)
    assert "«Dr Fin Echanges» a mis fin à vos échanges" in visible_text(browser, "conversations")
    go(browser, "#messagerie/recus", "list-pane")
    wait(browser, lambda d: len(css(d, "#list a.message")) == 3)
    [ended] = [r for r in css(browser, "#list a.message") if "Suivi" == r.find_element("css selector", ".subject").text]
    ended.click()
    wait(browser, lambda d: visible_text(d, "read-banner"))
    assert visible_text(browser, "read-banner") == "«Dr Fin Echanges» a mis fin à vos échanges"
    assert not by_id(browser, "reply").is_displayed()
    go(browser, "#nouveau", "compose-pane")
    wait(browser, lambda d: len(css(d, "#compose-to-select option")) == 1)
    assert [o.text for o in css(browser, "#compose-to-select option")] == ["Dr Toujours La"]


def test_hostile_file_names_and_subjects_stay_text(web_hub, browser):
    hub = web_hub.hub
    doctor = add_professional(hub, "dr.fichier", password=None)
    patient, _ = _patient(hub, "fichier@courriel.example")
    hostile = '<img src=x onerror="document.title=\'pwned\'">.pdf'
    send(hub, doctor, [patient], subject='<svg onload="document.title=\'pwned\'">',
         attachments=[(hostile, "application/pdf", b"%PDF-1.4")])
    sign_in(browser, web_hub.port, patient.partition("@")[0])
    go(browser, "#messagerie/recus", "list-pane")
    wait(browser, lambda d: len(css(d, "#list a.message")) == 1)
    css(browser, "#list a.message")[0].click()
    wait(browser, lambda d: visible_text(d, "read-attachments"))
    assert hostile in visible_text(browser, "read-attachments")
    assert css(browser, "#read-pane img, #read-pane svg, #list svg") == [] and "pwned" not in browser.title
