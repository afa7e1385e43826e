"""A served hub with the fixtures' patient and an APP mailbox: the scene the dossier's door tests share.

Documents arrive by SMTP submission from the APP mailbox, professionals read over IMAPS, the patient acts
through the webmail API; each test module adds the professionals and the documents its cells need.
"""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mssante_hub.hub import Hub
from tests.conftest import TEST_PASSWORD, make_data_dir
from tests.dossier import support
from tests.dossier.support import APP, INS, PATIENT
from tests.smtp.support import configure_smtp, make_pki
from tests.support.served import served
from tests.web.conftest import configure
from tests.web.support import WebClient

PATIENT_PASSWORD = "mot de passe de dominique"
DOORS = ["web", "submission", "imaps"]


class DossierScene:
    def __init__(self, running, hub: Hub, pki) -> None:
        self.running, self.hub, self.pki = running, hub, pki

    def send(self, raw: bytes, to: list[str] | None = None, sender: str = APP) -> dict:
        """Submit `raw` as `sender` (signed in with the test password); the refused recipients, as smtplib says."""
        client = smtplib.SMTP("127.0.0.1", self.running.port("submission"), timeout=60)
        try:
            client.starttls(context=self.pki.client_context(None))
            client.login(sender, TEST_PASSWORD)
            return client.sendmail(sender, to or [PATIENT], raw)
        finally:
            client.quit()

    def deliver(self, raw: bytes, sender: str = APP) -> None:
        """Submit `raw` to the patient; every recipient accepted."""
        assert self.send(raw, sender=sender) == {}

    def patient(self) -> WebClient:
        """The patient signed in to the webmail API."""
        return WebClient(self.running.port("web")).login(INS, PATIENT_PASSWORD)


@contextmanager
def dossier_scene(base: Path, add_accounts=None, doors: list[str] = DOORS) -> Iterator[DossierScene]:
    """A served hub in `base` with the APP mailbox and the activated patient; `add_accounts(hub)` runs before serving."""
    data_dir = make_data_dir(base)
    pki = make_pki(base)
    configure(data_dir, {})
    configure_smtp(data_dir, pki)
    hub = Hub.open(data_dir)
    try:
        support.add_app(hub)
        if add_accounts is not None:
            add_accounts(hub)
        support.provision_patient(hub)
        with served(data_dir, doors) as running:
            yield DossierScene(running, hub, pki)
    finally:
        hub.close()
