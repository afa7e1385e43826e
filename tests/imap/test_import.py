"""`mssante-hub import-imap` from the baseline Dovecot on loopback: folders, flags, dates; resumable."""

from __future__ import annotations

import datetime as dt
import imaplib
import os
import socket
import subprocess
import tempfile

import pytest
import sqlalchemy as sa

from mssante_hub.hub import Hub
from mssante_hub.reader import read_folder
from storage.models import Folder, Message
from tests.conftest import SHARED, add_professional
from tests.imap.support import message
from tests.support.missing import missing
from tests.support.served import run_cli

BASELINE = SHARED / "tools" / "baseline" / "postfix_dovecot.sh"
DOVECOT_PORT = 1143  # the baseline's plain IMAP port (loopback only)
SOURCE_USER, SOURCE_PASSWORD = "u9@hub.test", "testpass"


def _dovecot_answers() -> bool:
    try:
        socket.create_connection(("127.0.0.1", DOVECOT_PORT), timeout=2).close()
        return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def dovecot():
    """The baseline Dovecot on loopback: used if running, else started here (and stopped after), as root.

    The script installs Postfix and Dovecot with apt-get when they are missing and starts private instances
    (BASELINE_DIR, loopback only); it is in ../shared/tools/baseline beside the checkout, in CI too.
    """
    started = False
    if not _dovecot_answers() and BASELINE.is_file() and os.geteuid() == 0:
        # Output goes to a file, not a pipe: the daemons it starts inherit the script's stdout, and a pipe
        # would stay open until they exit, so run() would wait for its timeout although the script is done.
        with tempfile.TemporaryFile() as log:
            result = subprocess.run(["bash", str(BASELINE), "start"], stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, timeout=900)
        started = result.returncode == 0
    yield _dovecot_answers()
    if started:
        subprocess.run(["bash", str(BASELINE), "stop"], capture_output=True, timeout=120)


def dovecot_or_skip(request, running: bool) -> None:
    if not running:
        missing(request.node.nodeid, "the baseline Dovecot is not running and could not be started here",
                f"run as root with {BASELINE} present (it starts it), or start it: bash {BASELINE} start")
    subprocess.run(["bash", str(BASELINE), "clean-mail", "u9"], capture_output=True, timeout=60)


def fill_source() -> None:
    source = imaplib.IMAP4("127.0.0.1", DOVECOT_PORT)
    source.login(SOURCE_USER, SOURCE_PASSWORD)
    delimiter = source.list()[1][0].split(b'"')[1].decode()
    for name in ("Projets", f"Projets{delimiter}2026"):
        source.create(name)
    source.append("INBOX", "(\\Seen \\Flagged)", '"03-Mar-2025 09:10:11 +0200"', message("Été à l'hôpital"))
    source.append("INBOX", "($Label1 \\Answered)", '"04-Mar-2025 23:59:59 +0000"', message("Second"))
    source.append(f"Projets{delimiter}2026", None, '"05-Jan-2024 08:00:00 +0100"', message("Troisième"))
    source.logout()


def import_into(data_dir, address: str):
    return run_cli("import-imap", "--data-dir", str(data_dir), "--address", address, "--host", "127.0.0.1",
                   "--port", str(DOVECOT_PORT), "--security", "none", "--user", SOURCE_USER,
                   "--password-stdin", "--quiet", input=SOURCE_PASSWORD + "\n")


def test_import_reproduces_folders_flags_and_dates_and_resumes(data_dir, dovecot, request):
    dovecot_or_skip(request, dovecot)
    fill_source()
    hub = Hub.open(data_dir)
    address = add_professional(hub, "imported")
    hub.close()
    first = import_into(data_dir, address)
    assert first.returncode == 0, first.stderr
    assert "imported 3 messages" in first.stdout
    second = import_into(data_dir, address)  # resumable: nothing twice
    assert second.returncode == 0 and "imported 0 messages" in second.stdout, second.stdout
    hub = Hub.open(data_dir)
    try:
        inbox = {m.summary["subject"]: m for m in read_folder(hub, address, "INBOX")}
        assert set(inbox) == {"Été à l'hôpital", "Second"}
        assert set(inbox["Été à l'hôpital"].flags.split()) == {"\\Seen", "\\Flagged"}
        assert set(inbox["Second"].flags.split()) == {"$Label1", "\\Answered"}
        nested = read_folder(hub, address, "Projets/2026")
        assert [m.summary["subject"] for m in nested] == ["Troisième"]
        with hub.engine.connect() as conn:
            dates = {frozenset(flags.split()): date for flags, date in
                     conn.execute(sa.select(Message.flags, Message.internal_date)).all()}
            names = set(conn.execute(sa.select(Folder.name)).scalars())
        assert "Projets" in names and "Projets/2026" in names
        assert dates[frozenset({"\\Seen", "\\Flagged"})].replace(tzinfo=None) == dt.datetime(2025, 3, 3, 7, 10, 11)
        assert dates[frozenset()].replace(tzinfo=None) == dt.datetime(2024, 1, 5, 7, 0, 0)
    finally:
        hub.close()
