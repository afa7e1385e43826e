"""An IMAP session already logged in ends (BYE) once the operator changes its password, suspends or deletes
its mailbox from the command line (imap/recheck.py): served hub, imaplib and a raw client, the real CLI."""

from __future__ import annotations

import imaplib
import socket
import ssl
import time

import pytest

from tests.imap.conftest import ImapHub, start
from tests.imap.support import Raw, imaps
from tests.support.served import run_cli, served

RECHECK_S = 0.5  # imap.recheck_seconds of this module's hub
PAST_RECHECK_S = 3 * RECHECK_S  # waited so that the next command is past the interval (not a timing assert)
NEW_PASSWORD = "un tout nouveau mot de passe"
BYE_TEXT = "Credentials changed"


@pytest.fixture(scope="module")
def imap_hub(tmp_path_factory):
    data_dir, users = start(tmp_path_factory, {"imap.recheck_seconds": RECHECK_S})
    with served(data_dir, ["imaps"]) as running:
        yield ImapHub(running, data_dir, users)


def closed_by_the_hub(sock: socket.socket) -> bool:
    """The hub closed the connection (end of stream), as opposed to leaving it open with nothing to say."""
    try:
        while True:
            if not sock.recv(65536):
                return True
    except TimeoutError:  # the support module's guard timeout: still open
        return False
    except (ConnectionError, ssl.SSLError):
        return True


def operator(imap_hub: ImapHub, action: str, address: str) -> None:
    """The operator's command, as a separate process on the same data folder."""
    cli = ["--data-dir", str(imap_hub.data_dir), "--address", address]
    if action == "passwd":
        done = run_cli("account", "passwd", *cli, "--password-stdin", input=NEW_PASSWORD + "\n")
    elif action == "delete":
        done = run_cli("account", "delete", *cli, "--yes", address)
    else:
        done = run_cli("account", action, *cli)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("action", ["passwd", "suspend", "delete"])
def test_a_logged_in_session_gets_bye_at_its_next_command(imap_hub, action):
    user = imap_hub.fresh_user()
    client = imaps(imap_hub.port("imaps"), user, imap_hub.password)
    assert client.select("INBOX")[0] == "OK"
    time.sleep(PAST_RECHECK_S)
    assert client.noop()[0] == "OK"  # past the interval, credentials unchanged: the session goes on

    operator(imap_hub, action, user)
    time.sleep(PAST_RECHECK_S)
    with pytest.raises(imaplib.IMAP4.abort, match=BYE_TEXT):
        client.search(None, "ALL")
    assert closed_by_the_hub(client.sock)

    with pytest.raises(imaplib.IMAP4.error):
        imaps(imap_hub.port("imaps"), user, imap_hub.password)  # the old password opens nothing
    if action == "passwd":
        again = imaps(imap_hub.port("imaps"), user, NEW_PASSWORD)
        time.sleep(PAST_RECHECK_S)
        assert again.noop()[0] == "OK"  # the new password's session is not ended by its own change
        again.logout()


def test_an_idle_session_gets_bye_when_its_mailbox_is_suspended(imap_hub):
    user = imap_hub.fresh_user()
    raw = Raw(imap_hub.port("imaps"))
    raw.send(f'a LOGIN {user} "{imap_hub.password}"\r\nb SELECT INBOX\r\nc IDLE\r\n'.encode())
    raw.until_tagged(b"b")
    assert raw.line().startswith(b"+")
    operator(imap_hub, "suspend", user)
    lines = []
    while not lines or not lines[-1].startswith(b"* BYE"):  # the IDLE polls (imap.idle_poll_seconds) check too
        lines.append(raw.line())
    assert BYE_TEXT.encode() in lines[-1]
    assert closed_by_the_hub(raw.sock)
    operator(imap_hub, "resume", user)
    imaps(imap_hub.port("imaps"), user, imap_hub.password).logout()  # resumed: logs in again
