"""Schemathesis against the served /api/openapi.json with a signed-in patient: no 5xx, no answer outside the
description (body schema and content type). Its CLI (`st run`) drives real HTTP requests at the served hub.

The suite runs it for SCHEMATHESIS_SECONDS (60 by default, so that CI stays short); the issue's five-minute run is
`SCHEMATHESIS_SECONDS=300 python3 -m pytest tests/web/test_schemathesis.py` (figures in docs/web.md).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import add_professional
from tests.patients.helpers import send
from tests.patients.test_notify import active_patient
from tests.support.programs import need
from tests.web.browser import PATIENT_PASSWORD

SECONDS = int(os.environ.get("SCHEMATHESIS_SECONDS", "60"))
SEED = 20261202
CHECKS = "not_a_server_error,response_schema_conformance,content_type_conformance"
# What would end the run's own session or space: signing out (one or every session), closing the space, asking
# for its deletion, objecting. Each has its own tests (tests/web/test_space.py, test_messaging_api.py).
EXCLUDED = ("--exclude-name", "DELETE /api/session", "--exclude-path", "/api/sessions",
            "--exclude-path", "/api/space/close", "--exclude-path", "/api/space/deletion",
            "--exclude-path", "/api/objection")


def test_the_api_answers_fuzzed_requests_without_5xx_and_as_described(web_hub, tmp_path):
    st = need("st")  # pip install schemathesis (the test extras)
    hub = web_hub.hub
    doctor = add_professional(hub, "dr.schemathesis", password=None)
    patient, _account = active_patient(hub, "schemathesis@courriel.example")
    for n in range(3):  # something to list, read and move
        send(hub, doctor, [patient], subject=f"Résultats {n}", body=f"Texte {n}.")
    token = web_hub.client().login(patient.partition("@")[0], PATIENT_PASSWORD).token

    done = subprocess.run(
        [st, "run", f"http://127.0.0.1:{web_hub.port}/api/openapi.json", "--header", f"Authorization: Bearer {token}",
         "--checks", CHECKS, "--max-time", str(SECONDS), "--seed", str(SEED), "--workers", "1", "--no-color",
         "--report", "junit", "--report-dir", str(tmp_path / "report"), *EXCLUDED],
        capture_output=True, text=True, timeout=SECONDS + 240, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", "")})
    summary = done.stdout[-6000:]
    assert done.returncode == 0, summary + done.stderr[-2000:]
    assert " passed" in summary and "generated" in summary, summary
    # The session was alive to the end: an operation that needs it still answers 200 with the same token.
    answer = web_hub.client(token).call("GET", "/api/home")
    assert answer.status == 200, answer.body
    sys.stdout.write(summary[summary.rfind("Test cases:"):] + "\n")
    Path(tmp_path / "summary.txt").write_text(summary)
