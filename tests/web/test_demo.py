"""The README's first command: `init --demo` then `serve`; the demo patient signs in to the webmail,
finds the demo doctor's welcome and may answer it."""

from __future__ import annotations

import re

from tests.support.served import run_cli, served
from tests.web.support import WebClient


def test_demo_patient_finds_a_welcome_and_answers(tmp_path):
    data_dir = tmp_path / "demo"
    done = run_cli("init", "--demo", "--data-dir", str(data_dir))
    assert done.returncode == 0, done.stderr
    professional, _ = re.search(r"demo professional: (\S+)\s+password: (\S+)", done.stdout).groups()
    patient, password = re.search(r"demo patient:\s+(\S+)\s+password: (\S+)", done.stdout).groups()
    with served(data_dir, ["web"]) as running:
        me = WebClient(running.port("web")).login(patient.partition("@")[0], password)
        [welcome] = me.call("GET", "/api/messages").body["messages"]
        assert welcome["subject"] == "Bienvenue dans votre messagerie santé" and professional in welcome["from"]
        answer = me.send([professional], subject="Re: Bienvenue", body="Merci !")
        assert answer.status == 201, answer.body
