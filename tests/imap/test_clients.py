"""Real mail clients against the served hub: curl, mbsync (isync), neomutt in tmux."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path


from tests.imap.support import TIMEOUT_S, imaps, message
from tests.support.neomutt import neomutt
from tests.support.programs import need

MBSYNC_MESSAGES = 500
# mbsync's counters: F(ar) and N(ear), each "+new *flags #trashed" as done/planned.
STATS = re.compile(r"F: \+\d+/(\d+) \*\d+/(\d+) #\d+/(\d+)\s+N: \+\d+/(\d+) \*\d+/(\d+) #\d+/(\d+)")


def test_curl_fetches_a_message_over_imaps(imap_hub):
    need("curl")
    user = imap_hub.fresh_user()
    client = imaps(imap_hub.port("imaps"), user, imap_hub.password)
    client.append("INBOX", None, None, message("Fetched by curl", body="curl body line\r\n", to=user))
    client.logout()
    result = subprocess.run(
        ["curl", "--silent", "--show-error", "--insecure", "--user", f"{user}:{imap_hub.password}",
         f"imaps://127.0.0.1:{imap_hub.port('imaps')}/INBOX;UID=1"],
        capture_output=True, timeout=TIMEOUT_S)
    assert result.returncode == 0, result.stderr
    assert b"Subject: Fetched by curl" in result.stdout and b"curl body line" in result.stdout


def write_maildir_message(folder: Path, n: int, to: str) -> None:
    for sub in ("cur", "new", "tmp"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    flags = "S" if n % 3 else "FS"
    body = message(f"Local message {n}", body=f"Local body {n}\r\n", to=to, sender="local@hub.test")
    (folder / "cur" / f"{1700000000 + n}.M{n}P1.local:2,{flags}").write_bytes(body)


def mbsync_config(tmp: Path, imap_hub, user: str) -> Path:
    cert = imap_hub.data_dir / "tls" / "cert.pem"
    config = tmp / "mbsyncrc"
    config.write_text(f"""
IMAPAccount hub
Host 127.0.0.1
Port {imap_hub.port('imaps')}
User {user}
Pass "{imap_hub.password}"
SSLType IMAPS
CertificateFile {cert}

IMAPStore hub-remote
Account hub

MaildirStore local
Path {tmp}/mail/
Inbox {tmp}/mail/INBOX
SubFolders Verbatim

Channel sync
Far :hub-remote:
Near :local:
Patterns INBOX
Create Both
Expunge Both
SyncState *
Sync All
""")
    return config


def run_mbsync(config: Path) -> tuple[int, ...]:
    # mbsync prints its counters only to a terminal: give it one with script(1).
    result = subprocess.run(["script", "-q", "-e", "-c", f"mbsync -c {config} sync", "/dev/null"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    found = STATS.findall(result.stdout + result.stderr)
    assert found, result.stdout + result.stderr
    return tuple(int(x) for x in found[-1])


def maildir_count(folder: Path) -> int:
    return sum(1 for sub in ("cur", "new") for _ in (folder / sub).iterdir())


def test_mbsync_two_way_sync_of_500_messages_then_nothing_to_do(imap_hub, tmp_path):
    need("mbsync")
    user = imap_hub.fresh_user()
    half = MBSYNC_MESSAGES // 2
    client = imaps(imap_hub.port("imaps"), user, imap_hub.password)
    for n in range(half):
        client.append("INBOX", "(\\Seen)" if n % 2 else None, None,
                      message(f"Hub message {n}", body=f"Hub body {n}\r\n", to=user))
    inbox = tmp_path / "mail" / "INBOX"
    for n in range(half):
        write_maildir_message(inbox, n, user)
    config = mbsync_config(tmp_path, imap_hub, user)
    first = run_mbsync(config)
    assert first[0] == half and first[3] == half, first  # +250 each way
    client.select("INBOX")
    assert int(client.select("INBOX")[1][0]) == MBSYNC_MESSAGES
    assert maildir_count(inbox) == MBSYNC_MESSAGES
    flagged = client.search(None, "SUBJECT", '"Local message 3"')[1][0].split()
    assert b"\\Flagged" in client.fetch(flagged[0], "(FLAGS)")[1][0]
    second = run_mbsync(config)
    assert second == (0,) * 6, second  # nothing to do
    # A change on each side travels, then again nothing to do.
    client.store("1", "+FLAGS", "(\\Flagged)")
    client.logout()
    changed = run_mbsync(config)
    assert changed[4] == 1, changed  # one flag change applied near
    assert run_mbsync(config) == (0,) * 6


def test_neomutt_in_tmux_lists_and_opens_a_message(imap_hub, tmp_path):
    user = imap_hub.fresh_user()
    client = imaps(imap_hub.port("imaps"), user, imap_hub.password)
    client.append("INBOX", None, None, message("Lettre de liaison", body="Patient vu ce jour, RAS.\r\n", to=user))
    client.logout()
    certificate = (imap_hub.data_dir / "tls" / "cert.pem").read_bytes()
    with neomutt(tmp_path, user=user, password=imap_hub.password, port=imap_hub.port("imaps"), spool="INBOX",
                 certificate=certificate, settings="set sort = date") as screen:
        assert screen.shows("Lettre de liaison"), screen.capture()
        screen.keys("Enter")
        assert screen.shows("Patient vu ce jour"), screen.capture()
