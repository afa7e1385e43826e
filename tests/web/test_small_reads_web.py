"""The web door's small reads on the event loop (storage/loop_reader.py; docs/web.md): a served hub, a patient's
webmail session over real HTTP, and the hub's own /metrics (`mssante_hub_db_reads_total{where}`) telling where
each read ran. The session check of every request, the inbox page and the documents page are small on SQLite;
`storage.small_reads_on_loop = false` sends them all to the read pool."""

from __future__ import annotations

import pytest

from mssante_hub.config import Config
from mssante_hub.hub import Hub
from tests.conftest import make_data_dir
from tests.patients.test_notify import active_patient
from tests.support.served import served
from tests.test_observability import scrape, value
from tests.web.support import WebClient

READS = "mssante_hub_db_reads_total"
PATIENT_PASSWORD = "mot de passe de camille"  # what active_patient sets
REQUESTS = 5
PAGES = ("/api/session", "/api/messages?folder=INBOX&limit=50", "/api/dossier/documents")
LISTINGS = 2  # the inbox and documents pages; every request also checks its session


def _reads(port: int) -> tuple[float, float]:
    samples = scrape(port)
    return value(samples, READS, where="loop"), value(samples, READS, where="pool")


def _patient_hub(tmp_path, on_loop: bool) -> tuple:
    data_dir = make_data_dir(tmp_path)
    config = Config.load(data_dir)
    config.set("storage.small_reads_on_loop", on_loop)
    config.save()
    with Hub.open(data_dir) as hub:
        patient, _ = active_patient(hub, "lectures.web@courriel.example")
    return data_dir, patient


@pytest.mark.parametrize("on_loop", [True, False])
def test_the_webmails_session_check_and_pages_read_where_the_setting_says(tmp_path, on_loop):
    data_dir, patient = _patient_hub(tmp_path, on_loop)
    with served(data_dir, ["web"]) as running:
        web = WebClient(running.port("web")).login(patient, PATIENT_PASSWORD)
        loop0, pool0 = _reads(running.port("web"))
        for _ in range(REQUESTS):
            for page in PAGES:
                answer = web.call("GET", page)
                assert answer.status == 200, (page, answer.status, answer.body)
        loop1, pool1 = _reads(running.port("web"))
    small_reads = REQUESTS * (len(PAGES) + LISTINGS)
    if on_loop:
        assert loop1 - loop0 >= small_reads, (loop0, loop1, pool0, pool1)
    else:
        assert loop1 == loop0, (loop0, loop1)
        assert pool1 - pool0 >= small_reads, (pool0, pool1)
