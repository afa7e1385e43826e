"""swaks, a real command-line SMTP client: STARTTLS + AUTH on submission, and a smuggling attempt on mx."""

from __future__ import annotations

import subprocess

import pytest

from mssante_hub.reader import read_folder
from storage import messages
from tests.conftest import TEST_PASSWORD
from tests.support.programs import need

JEAN = "jean.dupont@hub.test"
MARIE = "marie.curie@hub.test"


def swaks(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([need("swaks"), "--server", "127.0.0.1", "--helo", "poste.test", "--timeout", "30", *args],
                          capture_output=True, text=True, timeout=60)


def test_swaks_submits_with_starttls_and_auth_plain(smtp_hub, pki):
    result = swaks("--port", str(smtp_hub.port("submission")), "--tls", "--tls-verify", "--tls-ca-path",
                   str(pki.ca_file), "--auth", "PLAIN", "--auth-user", JEAN, "--auth-password", TEST_PASSWORD,
                   "--from", JEAN, "--to", MARIE, "--header", "Subject: via swaks")
    assert result.returncode == 0, result.stdout + result.stderr
    assert [m.summary["subject"] for m in read_folder(smtp_hub.hub, MARIE)] == ["via swaks"]


def test_swaks_without_tls_cannot_authenticate(smtp_hub):
    result = swaks("--port", str(smtp_hub.port("submission")), "--auth", "PLAIN", "--auth-user", JEAN,
                   "--auth-password", TEST_PASSWORD, "--from", JEAN, "--to", MARIE)
    assert result.returncode != 0
    assert read_folder(smtp_hub.hub, MARIE) == []


@pytest.mark.parametrize("smtp_settings", [{"mx.trusted_networks": ["127.0.0.0/8"]}])
def test_swaks_smuggling_payload_is_refused(smtp_hub, tmp_path):
    data = tmp_path / "smuggle.eml"  # sent as is (--no-data-fixup), final CRLF.CRLF included
    data.write_bytes(b"From: app@interne.test\r\nSubject: x\r\n\r\nbody\n.\nMAIL FROM:<evil@hub.test>\n"
                     b"RCPT TO:<jean.dupont@hub.test>\nDATA\nsmuggled\n\r\n.\r\n")
    result = swaks("--port", str(smtp_hub.port("mx")), "--from", "app@interne.test", "--to", JEAN,
                   "--data", str(data), "--no-data-fixup")
    assert "550 5.6.0" in result.stdout
    assert smtp_hub.hub.read_sync(messages.count_messages) == 0
