"""Profession and structure beside a professional's name (issue 15, docs/web.md "What the patient sees of
people"): what the operator recorded for a local professional (`account add|describe`) comes with the name in
the conversations, the message and the list of whom the patient may write to, and shows in the page (headless
Chromium); a trust-space sender gets their display name only; an address is never shown."""

from __future__ import annotations

from mssante_hub.accounts.mailboxes import add_account
from tests.conftest import TEST_PASSWORD
from tests.patients.helpers import send
from tests.patients.test_notify import active_patient
from tests.support.served import run_cli
from tests.web.browser import PATIENT_PASSWORD, browser, css, go, sign_in, wait

__all__ = ["browser"]  # the fixture, used by name
PROFESSION, STRUCTURE = "Médecin généraliste", "Cabinet du Parc, Lyon"


def _conversations(client) -> dict[str, dict]:
    return {c["name"]: c for c in client.call("GET", "/api/conversations").body["conversations"]}


def test_profession_and_structure_beside_the_name(web_hub, browser):
    hub = web_hub.hub
    domain = hub.config.get("hub.domain")
    doctor = f"dr.parc@{domain}"
    add_account(hub, type="PER", address=doctor, display_name="Dr Claire Parc", password=TEST_PASSWORD,
                profession=PROFESSION, structure=STRUCTURE)
    plain = f"dr.nu@{domain}"
    add_account(hub, type="PER", address=plain, display_name="Dr Paul Nu", password=TEST_PASSWORD)
    patient, _ = active_patient(hub, "details@courriel.example")
    send(hub, doctor, [patient], subject="Bonjour")
    send(hub, plain, [patient], subject="Bonjour aussi")
    send(hub, "dpi@chu-details.test", [patient], from_name="CHU Details — Cardiologie", subject="Compte rendu")
    client = web_hub.client().login(patient.partition("@")[0], PATIENT_PASSWORD)

    shown = _conversations(client)
    assert (shown["Dr Claire Parc"]["profession"], shown["Dr Claire Parc"]["structure"]) == (PROFESSION, STRUCTURE)
    assert (shown["Dr Paul Nu"]["profession"], shown["Dr Paul Nu"]["structure"]) == ("", "")
    [remote] = [c for name, c in shown.items() if name.startswith("CHU Details")]
    assert (remote["profession"], remote["structure"]) == ("", "")
    recipients = {r["name"]: r for r in client.call("GET", "/api/recipients").body["recipients"]}
    assert recipients["Dr Claire Parc"]["profession"] == PROFESSION
    [message] = [m for m in client.call("GET", "/api/messages?folder=INBOX").body["messages"]
                 if m["subject"] == "Bonjour"]
    read = client.call("GET", f"/api/messages/{message['id']}").body
    assert (read["from_name"], read["from_profession"], read["from_structure"]) == (
        "Dr Claire Parc", PROFESSION, STRUCTURE)

    # The operator describes the other one, and clears a field of the first.
    done = run_cli("account", "describe", "--data-dir", str(web_hub.data_dir), "--address", plain,
                   "--profession", "Cardiologue", "--structure", "CHU de Lyon")
    assert done.returncode == 0, done.stderr
    done = run_cli("account", "describe", "--data-dir", str(web_hub.data_dir), "--address", doctor,
                   "--structure", "")
    assert done.returncode == 0, done.stderr
    shown = _conversations(client)
    assert (shown["Dr Paul Nu"]["profession"], shown["Dr Paul Nu"]["structure"]) == ("Cardiologue", "CHU de Lyon")
    assert (shown["Dr Claire Parc"]["profession"], shown["Dr Claire Parc"]["structure"]) == (PROFESSION, "")
    # What patients read is one line, never an address.
    refused = run_cli("account", "describe", "--data-dir", str(web_hub.data_dir), "--address", plain,
                      "--structure", "ecrire a secretariat@cabinet.test")
    assert refused.returncode != 0 and _conversations(client)["Dr Paul Nu"]["structure"] == "CHU de Lyon"
    assert run_cli("account", "describe", "--data-dir", str(web_hub.data_dir), "--address", plain).returncode != 0

    sign_in(browser, web_hub.port, patient.partition("@")[0])
    go(browser, "#messagerie", "conversations-pane")
    wait(browser, lambda d: len(css(d, "#conversations a.conversation")) == 3)
    rows = {r.find_element("css selector", ".who").text: r.text for r in css(browser, "#conversations a.conversation")}
    assert PROFESSION in rows["Dr Claire Parc"] and "Cardiologue · CHU de Lyon" in rows["Dr Paul Nu"]
    assert all("@" not in text for text in rows.values()), rows
