"""`mssante-hub backup` then `restore` into an empty database (issue 16): every mailbox, read back over IMAP from
the restored hub, is what the first hub served (folders, UIDs, flags, bytes); the archive is OpenPGP-encrypted to
the operator's key and holds no master key unless asked."""

from __future__ import annotations

import imaplib
import os
import re
import shutil
import smtplib
import subprocess

import pytest

from mssante_hub.config import Config
from tests.imap.support import client_tls
from tests.support.mail import make_message
from tests.support.postgres import unique_db_name
from tests.support.programs import need
from tests.support.served import run_cli, served
from tests.test_workers import PASSWORD, SENDER, init_hub

LIST_LINE = re.compile(rb'\((?P<flags>[^)]*)\) "(?P<sep>[^"]*)" "?(?P<name>[^"]*)"?$')


def operator_key(home) -> str:
    """A key pair in the operator's GnuPG home (no passphrase: a test key); its armored public half."""
    need("gpg")
    home.mkdir(mode=0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}
    subprocess.run(["gpg", "--batch", "--passphrase", "", "--quick-gen-key", "Exploitant <exploitant@hub.test>",
                    "default", "default", "never"], check=True, capture_output=True, env=env)
    return subprocess.run(["gpg", "--armor", "--export", "exploitant@hub.test"], check=True, capture_output=True,
                          env=env, text=True).stdout


def mailboxes(port: int, users: list[str]) -> dict:
    """Every folder of every user: UIDVALIDITY and each message's UID, flags and bytes."""
    seen = {}
    for user in users:
        client = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=client_tls(), timeout=60)
        client.login(user, PASSWORD)
        _, listed = client.list()
        for line in listed:
            name = LIST_LINE.search(line)["name"].decode()
            if b"\\Noselect" in line:
                continue
            client.select(f'"{name}"', readonly=True)
            _, validity = client.response("UIDVALIDITY")
            _, fetched = client.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[])")
            # \Recent is per session (the first one to see a message claims it), not mailbox content.
            messages = sorted((part[0].replace(b" \\Recent", b"").replace(b"\\Recent", b""), part[1])
                              for part in fetched if isinstance(part, tuple))
            seen[(user, name)] = (validity, messages)
        client.logout()
    return seen


def fill(server, users: list[str]) -> None:
    with smtplib.SMTP("127.0.0.1", server.port("mx"), timeout=60) as smtp:
        for n in range(12):
            to = users[n % len(users)]
            smtp.sendmail(SENDER, [to], make_message(SENDER, to, f"Compte rendu {n}", f"Texte confidentiel {n}"))
    client = imaplib.IMAP4_SSL("127.0.0.1", server.port("imaps"), ssl_context=client_tls(), timeout=60)
    client.login(users[0], PASSWORD)
    client.create("Archives")
    client.select("INBOX")
    client.store("1:2", "+FLAGS", "(\\Seen \\Flagged)")
    client.copy("3", "Archives")
    client.store("4", "+FLAGS", "(\\Deleted)")
    client.expunge()
    client.logout()


@pytest.mark.parametrize("blob_store", ["database", "directory"])
def test_backup_then_restore_into_an_empty_database_reproduces_every_mailbox(tmp_path, storage_url, postgres,
                                                                             blob_store):
    # The directory store on a "shared filesystem" outside the data folder, lost before the restore.
    shared = tmp_path / "shared-blobs"
    data_dir, users = init_hub(tmp_path, storage_url, **{"storage.blob_store": blob_store,
                                                           "storage.blob_dir": str(shared)})
    public_key = operator_key(tmp_path / "gnupg")
    (tmp_path / "operator.asc").write_text(public_key)
    archive = tmp_path / "hub.backup.gpg"
    with served(data_dir, ["mx", "imaps"]) as server:
        fill(server, users)
        before = mailboxes(server.port("imaps"), users)
        made = run_cli("backup", "--data-dir", str(data_dir), "--recipient-key", str(tmp_path / "operator.asc"),
                       str(archive))  # while the hub serves: an online copy
        assert made.returncode == 0, made.stderr
        assert server.stop() == 0
    sealed = archive.read_bytes()
    assert b"Compte rendu" not in sealed and b"[hub]" not in sealed and sealed[:1] != b"\x1f"  # OpenPGP, not a tar
    listing = subprocess.run(["gpg", "--batch", "--decrypt", str(archive)], capture_output=True, check=True,
                             env={**os.environ, "GNUPGHOME": str(tmp_path / "gnupg")}).stdout
    assert b"data/hub.toml" in listing and b"data/keys/master.key" not in listing
    if blob_store == "directory":
        assert b"blobs/" in listing
        shutil.rmtree(shared)  # the bodies come back from the archive alone

    restored = tmp_path / "restored"
    target = [] if storage_url is None else ["--storage-url", postgres.create_database(unique_db_name())]
    done = run_cli("restore", "--data-dir", str(restored), "--gnupg-home", str(tmp_path / "gnupg"),
                   "--master-key", str(data_dir / "keys" / "master.key"), *target, str(archive))
    assert done.returncode == 0, done.stderr
    with served(restored, ["imaps"]) as server:
        after = mailboxes(server.port("imaps"), users)
        assert server.stop() == 0
    assert len(before[(users[0], "Archives")][1]) == 1 and sum(len(m) for _, m in before.values()) >= 12
    assert after == before


def test_restore_refuses_a_database_that_is_not_empty(tmp_path, postgres):
    data_dir, _ = init_hub(tmp_path, postgres.create_database(unique_db_name()))
    (tmp_path / "operator.asc").write_text(operator_key(tmp_path / "gnupg"))
    archive = tmp_path / "hub.backup.gpg"
    assert run_cli("backup", "--data-dir", str(data_dir), "--recipient-key", str(tmp_path / "operator.asc"),
                   str(archive)).returncode == 0
    used = Config.load(data_dir).get("storage.url")  # the first hub's own database
    refused = run_cli("restore", "--data-dir", str(tmp_path / "again"), "--gnupg-home", str(tmp_path / "gnupg"),
                      "--storage-url", used, str(archive))
    assert refused.returncode == 1 and "not empty" in refused.stderr

