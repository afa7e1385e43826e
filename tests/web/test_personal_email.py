"""The patient changes the personal address notifications go to: the password again, a link mailed to the
new address (through delivery, queued for the relay like any notification), the address changed only when
the link is opened in the browser; a forged, stale or replayed-after-change link is refused."""

from __future__ import annotations

import re

from tests.patients.test_notify import active_patient, queued_to
from tests.web.browser import PATIENT_PASSWORD, browser, by_id, go, sign_in, visible_text, wait

__all__ = ["browser"]  # the fixture, used by name
LINK = re.compile(r"(https?://\S+#confirmer-courriel/(\S+))")


def _link_sent_to(hub, address: str) -> tuple[str, str]:
    [(raw, _)] = queued_to(hub, address)
    assert b"Pour recevoir les notifications de votre espace sant\xc3\xa9" in raw  # and no health content
    return LINK.search(raw.decode("utf-8")).groups()


def test_a_new_personal_address_is_confirmed_by_a_link(web_hub, browser):
    hub = web_hub.hub
    patient, _ = active_patient(hub, "ancienne@courriel.example")
    sign_in(browser, web_hub.port, patient.partition("@")[0])
    go(browser, "#parametres", "settings-view")
    wait(browser, lambda d: visible_text(d, "email-current") == "ancienne@courriel.example")
    by_id(browser, "email-new").send_keys("nouvelle@courriel.example")
    by_id(browser, "email-password").send_keys("pas le bon mot de passe")
    by_id(browser, "email-form").submit()
    wait(browser, lambda d: "Mot de passe incorrect" in visible_text(d, "error"))
    assert queued_to(hub, "nouvelle@courriel.example") == []
    by_id(browser, "email-password").clear()
    by_id(browser, "email-password").send_keys(PATIENT_PASSWORD)
    by_id(browser, "email-form").submit()
    wait(browser, lambda d: "Un lien de confirmation a été envoyé à nouvelle@courriel.example" in
         visible_text(d, "notice"))
    token = browser.execute_script("return sessionStorage.getItem('mssante-hub-token')")
    me = web_hub.client(token)
    assert me.call("GET", "/api/personal-email").body["email"] == "ancienne@courriel.example"  # not yet

    _, link_token = _link_sent_to(hub, "nouvelle@courriel.example")
    browser.get(f"http://127.0.0.1:{web_hub.port}/#confirmer-courriel/{link_token}")
    wait(browser, lambda d: "Votre adresse de notification est confirmée : nouvelle@courriel.example" in
         visible_text(d, "notice"))
    assert "confirmer-courriel" not in browser.current_url
    assert me.call("GET", "/api/personal-email").body["email"] == "nouvelle@courriel.example"
    history = me.call("GET", "/api/history").body["history"]
    assert ("Vous", "Adresse de notification confirmée") in {(e["actor"], e["action_label"]) for e in history}

    # The same link again: the address it was made against has changed, so it is refused.
    again = web_hub.client().call("POST", "/api/email-confirmation", {"token": link_token})
    assert again.status == 403 and again.error["code"] == "link_refused"


def test_forged_links_are_refused(web_hub):
    hub = web_hub.hub
    patient, _ = active_patient(hub, "forge@courriel.example")
    me = web_hub.client().login(patient.partition("@")[0], PATIENT_PASSWORD)
    patient_mailbox = "x@" + hub.config.get("hub.patient_domain")  # never a patient space
    assert me.call("PUT", "/api/personal-email", {"email": patient_mailbox, "password": PATIENT_PASSWORD}
                   ).status == 422
    answer = me.call("PUT", "/api/personal-email", {"email": "cible@courriel.example", "password": PATIENT_PASSWORD})
    assert answer.status == 202
    _, token = _link_sent_to(hub, "cible@courriel.example")
    payload, _, signature = token.partition(".")
    anonymous = web_hub.client()
    for forged in (payload + "." + signature[:-2] + "AA", payload[:-2] + "AA." + signature, "x", "", "a.b.c",
                   "." * 2000):
        refused = anonymous.call("POST", "/api/email-confirmation", {"token": forged})
        assert refused.status in (403, 429) and refused.error["code"] in ("link_refused", "throttled"), forged
    assert me.call("GET", "/api/personal-email").body["email"] == "forge@courriel.example"
    for bad in ("pas une adresse", "a@b", "Nom <a@b.fr>", "a@b.fr\r\nBcc: x@y.fr"):
        assert me.call("PUT", "/api/personal-email", {"email": bad, "password": PATIENT_PASSWORD}).status == 422
