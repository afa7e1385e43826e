"""Export of everything a holder has (mail, dossier, agenda: all are folders) as one
OpenPGP-encrypted archive, through python-gnupg.

The tar archive is built in memory and handed to gpg on a pipe: no plaintext ever
touches the disk. gpg runs in a throw-away home (short path: the agent socket
must fit in ~107 characters) holding only the recipient's public key; its agent
is stopped and the home removed afterwards.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import gnupg
from sqlalchemy import select

from crypto.masterkey import write_private_file
from mssante_hub import audit
from mssante_hub.accounts import identity
from mssante_hub.hub import Hub
from mssante_hub.reader import Reader, open_message
from storage import accounts as account_repo
from storage import messages
from storage.models import Account, Folder

MAX_PUBLIC_KEY_CHARS = 64 * 1024
MIN_PASSPHRASE_CHARS = 12
GPG_HOME_PREFIX = "/tmp"


class ExportError(Exception):
    pass


def _safe_folder(name: str) -> str:
    # Folder names become archive paths: no parent references, no absolute paths.
    return "/".join(p for p in name.replace("\\", "/").split("/") if p not in ("", ".", ".."))


def build_archive(hub: Hub, account_id: int) -> tuple[bytes, int]:
    """(tar bytes, number of items): every message of every folder, decrypted, and a manifest."""
    with hub.engine.connect() as conn:
        account = account_repo.by_id(conn, account_id)
        folders = conn.execute(select(Folder.id, Folder.name).where(Folder.account_id == account_id)
                               .order_by(Folder.name)).all()
        stored = [(f.name, m) for f in folders for m in messages.messages_in_folder(conn, account_id, f.id)]
    reader = Reader.of(hub, account)
    buffer = io.BytesIO()
    manifest = []
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for folder, message in stored:
            opened = open_message(reader, message)
            path = f"{_safe_folder(folder)}/{opened.uid}.eml"
            info = tarfile.TarInfo(path)
            info.size = len(opened.raw)
            info.mode = 0o600
            tar.addfile(info, io.BytesIO(opened.raw))
            manifest.append(dict(folder=folder, uid=opened.uid, path=path, size=len(opened.raw),
                                 sha256=hashlib.sha256(opened.raw).hexdigest(), flags=opened.flags))
        data = json.dumps({"address": account.address, "items": manifest}, ensure_ascii=False, indent=1).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(data)
        info.mode = 0o600
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue(), len(manifest)


def encrypt(data: bytes, *, public_key: str | None = None, passphrase: str | None = None) -> bytes:
    """OpenPGP-encrypt to one public key, or symmetrically to a passphrase."""
    if (public_key is None) == (passphrase is None):
        raise ExportError("encrypt to a public key or to a passphrase, not both or neither")
    if public_key is not None and len(public_key) > MAX_PUBLIC_KEY_CHARS:
        raise ExportError("the public key is too large")
    if passphrase is not None and len(passphrase) < MIN_PASSPHRASE_CHARS:
        raise ExportError(f"the passphrase must have at least {MIN_PASSPHRASE_CHARS} characters")
    home = tempfile.mkdtemp(prefix="mhx-", dir=GPG_HOME_PREFIX)
    try:
        gpg = gnupg.GPG(gnupghome=home)
        gpg.encoding = "utf-8"  # passphrases with accents must reach gpg as the holder typed them
        if public_key is not None:
            imported = gpg.import_keys(public_key)
            if not imported.fingerprints:
                raise ExportError("the public key could not be read (armored OpenPGP public key expected)")
            result = gpg.encrypt(data, imported.fingerprints[0], always_trust=True, armor=False)
        else:
            result = gpg.encrypt(data, None, symmetric="AES256", passphrase=passphrase, armor=False)
        if not result.ok:
            raise ExportError(f"gpg could not encrypt: {result.status}")
        return result.data
    finally:
        subprocess.run(["gpgconf", "--homedir", home, "--kill", "all"], capture_output=True, check=False)
        shutil.rmtree(home, ignore_errors=True)


def export_space(hub: Hub, ins: str, out: Path, *, public_key: str | None = None, passphrase: str | None = None,
                 actor: str = "holder") -> int:
    """Write the holder's encrypted archive to `out` (mode 0600); returns the number of items."""
    ins = identity.validate_ins(ins)
    account_id = hub.read_sync(lambda conn: conn.execute(select(Account.id).where(Account.ins == ins)).scalar())
    if account_id is None:
        raise ExportError("no space for this INS")
    data, count = build_archive(hub, account_id)
    write_private_file(Path(out), encrypt(data, public_key=public_key, passphrase=passphrase))
    hub.committer.run(lambda conn: audit.record(conn, actor=actor, action=audit.PATIENT_EXPORT,
                                                subject_account_id=account_id, target=f"items:{count}"))
    return count
