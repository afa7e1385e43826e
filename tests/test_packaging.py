"""`pip install .` in a fresh virtual environment gives a working `mssante-hub` command."""

import signal
import subprocess
import sys
import urllib.request
import venv
from pathlib import Path

import pytest

from tests.support.served import LISTENING

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_fresh_venv_install_init_serve_stop(tmp_path, monkeypatch):
    monkeypatch.delenv("PYTHONPATH", raising=False)  # the venv's own copy must be the one that runs
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python, command = env_dir / "bin" / "python", env_dir / "bin" / "mssante-hub"
    subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", str(REPO)],
                   check=True, cwd=tmp_path, timeout=600)
    where = subprocess.run([python, "-c", "import mssante_hub; print(mssante_hub.__file__)"], cwd=tmp_path,
                           capture_output=True, text=True, check=True).stdout
    assert where.startswith(str(env_dir)), where

    data_dir = tmp_path / "data"
    subprocess.run([command, "init", "--data-dir", str(data_dir)], check=True, cwd=tmp_path, timeout=120)
    refused = subprocess.run([command, "init", "--data-dir", str(data_dir)], cwd=tmp_path, capture_output=True)
    assert refused.returncode == 1
    server = subprocess.Popen([command, "serve", "--data-dir", str(data_dir), "--listen", "web=127.0.0.1:0"],
                              cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        listening = LISTENING.match(server.stdout.readline().strip())
        assert listening
        # The webmail's pages are package data: the installed package serves them.
        with urllib.request.urlopen(f"http://127.0.0.1:{listening[3]}/app.js", timeout=30) as page:
            assert b"textContent" in page.read()
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            server.kill()


def test_version_is_declared_once():
    from mssante_hub import __version__

    assert __version__ in subprocess.run([sys.executable, "-m", "mssante_hub.admin.cli", "--version"],
                                         capture_output=True, text=True).stdout
