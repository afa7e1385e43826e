"""The authorization matrix, the operator: what the `mssante-hub` commands that read print.

The operator runs local commands on the data folder (no network door). Those that read accounts, spaces,
histories and the dossier's queues print statuses, dates and counts: never a subject, a body, an
attachment's name or content, a password or its hash (docs/security.md, threat model). The quarantine
(documents about another patient) is a count only. Real commands in a subprocess, on a data folder where a
professional wrote to a patient; the expected answer of each row is the table below.
"""

from __future__ import annotations

import re

import pytest

from mssante_hub.hub import Hub
from tests.conftest import TEST_PASSWORD, add_professional, make_data_dir
from tests.patients.helpers import send
from tests.patients.test_notify import active_patient
from tests.support.served import run_cli

SUBJECT = "Résultat confidentiel ZX81"
BODY = "Votre taux de QW42 est élevé"
ATTACHMENT = "bilan-KP77.pdf"
SECRETS = (SUBJECT, BODY, ATTACHMENT, "ZX81", "QW42", "KP77", TEST_PASSWORD, "$argon2")

# command (with {doctor}, {ins})                     what its output may be: "no content", or a pattern it must match
TABLE = {
    "account list":                                   "no content",
    "account show --address {doctor}":                "no content",
    "patient list":                                   "no content",
    "patient show --ins {ins}":                       "no content",
    "patient history --ins {ins}":                    "no content",
    "dossier quarantine":                             r"quarantined \d+",
    "dossier emergencies":                            "no content",
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    data_dir = make_data_dir(tmp_path_factory.mktemp("operator"))
    hub = Hub.open(data_dir)
    try:
        doctor = add_professional(hub, "dr.operateur", password=TEST_PASSWORD)
        patient, _ = active_patient(hub, "operateur@courriel.example")
        send(hub, doctor, [patient], subject=SUBJECT, body=BODY,
             attachments=[(ATTACHMENT, "application/pdf", b"%PDF-1.4 " + BODY.encode())])
    finally:
        hub.close()
    return data_dir, doctor, patient.partition("@")[0]


@pytest.mark.parametrize("command", list(TABLE))
def test_operator_matrix(folder, command):
    data_dir, doctor, ins = folder
    words = command.format(doctor=doctor, ins=ins).split()
    result = run_cli(*words[:2], "--data-dir", str(data_dir), *words[2:])
    assert result.returncode == 0, result.stderr
    printed = result.stdout + result.stderr
    assert printed.strip(), "the command printed nothing: the row shows nothing"
    assert not [s for s in SECRETS if s in printed], printed
    if TABLE[command] != "no content":
        assert all(re.fullmatch(TABLE[command], line) for line in result.stdout.splitlines()), result.stdout
