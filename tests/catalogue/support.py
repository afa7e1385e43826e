"""A catalogue file, a service's pushes over real SMTP, and what the patient's webmail shows, for the catalogue
tests."""

from __future__ import annotations

import copy
import json
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

from tests.conftest import TEST_PASSWORD
from tests.support.served import run_cli

SERVICE_LOCAL = "suivi-diabete"
SERVICE_MAILBOX = f"{SERVICE_LOCAL}@hub.test"
SERVICE = {
    "id": "suivi-diabete", "editor": "Éditeur Santé SAS", "name": "Suivi Diabète",
    "description": "Carnet de glycémie connecté et rappels de rendez-vous.",
    "urls": {"site": "https://suivi-diabete.example", "privacy": "https://suivi-diabete.example/confidentialite"},
    "purposes": ["suivi de la glycémie", "rappels"], "themes": ["Diabète", "Maladies chroniques"],
    "status": "online", "data_exchange": True, "version": "1.0",
    "scopes": ["documents", "agenda", "measures", "messages"], "mailbox": SERVICE_MAILBOX,
}
OTHER = {
    "id": "sommeil-plus", "editor": "Sommeil SAS", "name": "Sommeil+", "description": "Journal du sommeil.",
    "urls": {"site": "https://sommeil.example"}, "purposes": ["sommeil"], "themes": ["Sommeil"],
    "status": "online", "data_exchange": True, "version": "3", "scopes": ["measures"],
    "mailbox": "sommeil-plus@hub.test",
}
OBSERVATION = {"resourceType": "Observation", "status": "final",
               "code": {"coding": [{"system": "http://loinc.org", "code": "2339-0",
                                    "display": "Glycémie"}]},
               "effectiveDateTime": "2026-11-30T08:00:00+01:00",
               "valueQuantity": {"value": 1.05, "unit": "g/L", "system": "http://unitsofmeasure.org",
                                 "code": "g/L"}}


def service(**changes) -> dict:
    entry = copy.deepcopy(SERVICE)
    entry.update(changes)
    return entry


def load(data_dir: Path, entries: list[dict], name: str = "catalogue.json") -> str:
    """`mssante-hub catalogue load` of these entries, as the operator runs it; its output."""
    path = data_dir.parent / name
    path.write_text(json.dumps(entries, ensure_ascii=False), encoding="utf-8")
    done = run_cli("catalogue", "load", "--data-dir", str(data_dir), str(path))
    assert done.returncode == 0, done.stderr
    return done.stdout


@dataclass
class Push:
    """What the hub answered to one push: RCPT's reply, then DATA's (None when RCPT refused)."""

    rcpt: tuple[int, str]
    data: tuple[int, str] | None

    @property
    def accepted(self) -> bool:
        return self.rcpt[0] == 250 and self.data is not None and self.data[0] == 250


def push(port: int, pki, raw: bytes, to: str, sender: str = SERVICE_MAILBOX) -> Push:
    """One submission from the service's APP mailbox (STARTTLS, AUTH), the replies step by step."""
    client = smtplib.SMTP("127.0.0.1", port, timeout=60)
    try:
        client.starttls(context=pki.client_context(None))
        client.login(sender, TEST_PASSWORD)
        assert client.mail(sender)[0] == 250
        code, text = client.rcpt(to)
        rcpt = (code, text.decode("utf-8", "replace"))
        if code != 250:
            client.rset()
            return Push(rcpt, None)
        code, text = client.data(raw)
        return Push(rcpt, (code, text.decode("utf-8", "replace")))
    finally:
        client.quit()


def _message(sender: str, to: str, subject: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = f"Suivi Diabète <{sender}>"
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = "Mon, 30 Nov 2026 08:00:00 +0000"
    return message


def text_message(to: str, subject: str = "Votre carnet", sender: str = SERVICE_MAILBOX) -> bytes:
    message = _message(sender, to, subject)
    message.set_content("Bonjour, votre carnet de glycémie est à jour.\n")
    return message.as_bytes(policy=SMTP)


def measure_message(to: str, resource: dict | None = None, sender: str = SERVICE_MAILBOX) -> bytes:
    message = _message(sender, to, "Nouvelle mesure")
    message.set_content("Une nouvelle mesure de glycémie.\n")
    message.add_attachment(json.dumps(resource or OBSERVATION).encode(), maintype="application",
                           subtype="fhir+json", filename="Observation.json")
    return message.as_bytes(policy=SMTP)


def history(client, action: str) -> list[dict]:
    """The patient's access history lines of one action, newest first."""
    answer = client.call("GET", "/api/history")
    assert answer.status == 200, answer.body
    return [e for e in answer.body["history"] if e["action"] == action]
