"""The operator interface: init, serve, doctor, config, keys rotate — as real subprocesses."""

import asyncio
import datetime as dt
import os
import signal
import urllib.request
from pathlib import Path

import pytest

from crypto.errors import IntegrityError
from crypto.keyring import open_private_key
from crypto.masterkey import load_master_key
from mssante_hub.delivery import Envelope, accept
from mssante_hub.hub import Hub
from mssante_hub.reader import read_folder
from mssante_hub.admin.tlsgen import write_self_signed
from storage import accounts as account_repo
from tests.conftest import TEST_PASSWORD, add_professional
from tests.support.mail import make_message
from tests.support.served import run_cli, served

EXIT_FAILURE, EXIT_USAGE = 1, 2


def test_init_creates_private_files_and_refuses_an_existing_folder(tmp_path):
    data_dir = tmp_path / "data"
    first = run_cli("init", "--data-dir", str(data_dir), "--domain", "hub.test", "--demo")
    assert first.returncode == 0, first.stderr
    assert "demo professional: demo.medecin@hub.test  password: " in first.stdout
    for path in ("keys/master.key", "tls/key.pem", "hub.sqlite3", "hub.toml"):
        assert (data_dir / path).stat().st_mode & 0o077 == 0, path
    again = run_cli("init", "--data-dir", str(data_dir))
    assert again.returncode == EXIT_FAILURE
    assert again.stderr.count("\n") == 1 and "already exists" in again.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_announces_listeners_answers_and_stops_cleanly(data_dir, sig):
    with served(data_dir, ["web"]) as hub:
        url = f"http://127.0.0.1:{hub.port('web')}/healthz"
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.status == 200
        assert hub.stop(sig) == 0


def test_serve_refuses_an_unknown_listener_with_a_usage_error(data_dir):
    result = run_cli("serve", "--data-dir", str(data_dir), "--listen", "gopher=127.0.0.1:0")
    assert result.returncode == EXIT_USAGE
    assert "unknown listener 'gopher'" in result.stderr


def test_doctor_is_happy_then_flags_a_world_readable_key(data_dir):
    assert run_cli("doctor", "--data-dir", str(data_dir)).returncode == 0
    os.chmod(data_dir / "keys" / "master.key", 0o644)
    result = run_cli("doctor", "--data-dir", str(data_dir))
    assert result.returncode == EXIT_FAILURE
    assert "master key" in result.stdout and "chmod 600" in result.stdout
    refused = run_cli("serve", "--data-dir", str(data_dir), "--listen", "web=127.0.0.1:0")
    assert refused.returncode == EXIT_FAILURE and "readable by group or others" in refused.stderr


def test_doctor_flags_an_expired_certificate(data_dir):
    long_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=30)
    write_self_signed(data_dir / "tls" / "cert.pem", data_dir / "tls" / "key.pem", ["hub.test"],
                      not_before=long_ago, days=1)
    result = run_cli("doctor", "--data-dir", str(data_dir))
    assert result.returncode == EXIT_FAILURE and "expired" in result.stdout


def test_config_get_set_validates_and_keeps_comments(data_dir):
    config_file = data_dir / "hub.toml"
    config_file.write_text("# kept by the operator\n" + config_file.read_text())
    assert run_cli("config", "set", "--data-dir", str(data_dir), "mx.trusted_networks",
                   '["127.0.0.0/8"]').returncode == 0
    got = run_cli("config", "get", "--data-dir", str(data_dir), "mx.trusted_networks")
    assert got.stdout.strip() == '["127.0.0.0/8"]'
    assert "# kept by the operator" in config_file.read_text()
    bad = run_cli("config", "set", "--data-dir", str(data_dir), "mx.trusted_networks", '["not a net"]')
    assert bad.returncode == EXIT_USAGE and "not a network" in bad.stderr
    unknown = run_cli("config", "get", "--data-dir", str(data_dir), "no.such.key")
    assert unknown.returncode == EXIT_USAGE and "unknown setting" in unknown.stderr


def test_every_setting_is_documented():
    from mssante_hub.config import SETTINGS

    doc = (Path(__file__).resolve().parents[1] / "docs" / "configuration.md").read_text()
    missing = [s.key for s in SETTINGS if f"`{s.key}`" not in doc]
    assert missing == []


def test_account_add_reads_the_password_from_stdin(data_dir):
    result = run_cli("account", "add", "--data-dir", str(data_dir), "--type", "PER", "--address",
                     "Jean.Dupont@hub.test", "--name", "Jean Dupont", "--password-stdin", input=TEST_PASSWORD + "\n")
    assert result.returncode == 0, result.stderr
    hub = Hub.open(data_dir)
    try:
        account = hub.read_sync(lambda c: account_repo.by_address(c, "jean.dupont@hub.test"))
        assert account is not None and hub.passwords.verify(account.password_hash, TEST_PASSWORD)
    finally:
        hub.close()
    wrong_domain = run_cli("account", "add", "--data-dir", str(data_dir), "--type", "PER", "--address",
                           "x@elsewhere.example", "--name", "X", "--password-stdin", input=TEST_PASSWORD + "\n")
    assert wrong_domain.returncode == EXIT_FAILURE and "domain" in wrong_domain.stderr


def test_keys_rotate_rewraps_keys_and_the_old_master_key_opens_nothing(data_dir):
    hub = Hub.open(data_dir)
    reader = add_professional(hub, "dr.rotation")
    raw = make_message("labo@bio.example", reader, "avant rotation", "corps")
    for _ in range(3):
        asyncio.run(accept(hub, Envelope("labo@bio.example", (reader,), channel="mx"), raw))
    bodies_before = hub.read_sync(lambda c: c.exec_driver_sql("SELECT id, body FROM blobs").all())
    hub.close()
    old_key = load_master_key(data_dir / "keys" / "master.key")

    result = run_cli("keys", "rotate", "--data-dir", str(data_dir))
    assert result.returncode == 0, result.stderr
    assert "re-sealed" in result.stdout

    new_key = load_master_key(data_dir / "keys" / "master.key")
    assert new_key != old_key
    hub = Hub.open(data_dir)
    try:
        assert [m.summary["subject"] for m in read_folder(hub, reader)] == ["avant rotation"] * 3
        assert hub.read_sync(lambda c: c.exec_driver_sql("SELECT id, body FROM blobs").all()) == bodies_before
        with hub.engine.connect() as conn:
            keys = list(account_repo.iter_sealed_keys(conn))
        assert len(keys) >= 2
        for _, key_id, sealed in keys:
            with pytest.raises(IntegrityError):
                open_private_key(old_key, key_id, sealed)
    finally:
        hub.close()
