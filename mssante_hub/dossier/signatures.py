"""Signed reports: PGP/MIME signatures (RFC 3156) of document messages from APP mailboxes, checked with
python-gnupg against the OpenPGP public keys the mailbox registered (`mssante-hub account key add`).

A document message whose top-level part is `multipart/signed; protocol="application/pgp-signature"` is checked
once while it is prepared (dossier/filing.py): the first part's bytes exactly as sent (lines canonicalised to
CRLF, RFC 3156 §5) against the detached signature of the second. The outcome is stored in clear on each index
row it files (`dossier_documents.signature`), said in the receipt, and shown by the webmail's API:

- GOOD: a valid signature by a key the sending mailbox registered: the documents are marked verified;
- BAD: a signature that does not verify (altered content, a revoked or expired key, unreadable signature);
- UNKNOWN: a signature by no key the sender registered (or a sender that registered none);
- NONE (""): not signed.

gpg runs in a throw-away home (under /tmp: the agent socket path must be short) holding only the sender's
public keys, stopped and removed afterwards; the signed content goes to gpg on a pipe, never to disk (the
signature alone is written, it says nothing of the content).
"""

from __future__ import annotations

import email.policy
import logging
import os
import shutil
import subprocess
import tempfile
from email.parser import BytesParser

import gnupg

from mssante_hub.hub import Hub
from mssante_hub.mime import split_header

log = logging.getLogger("mssante_hub.dossier.signatures")

GOOD = "good"
BAD = "bad"
UNKNOWN = "unknown"
NONE = ""
SIGNED_TYPE = "multipart/signed"
PGP_SIGNATURE = "application/pgp-signature"
MAX_SIGNATURE_BYTES = 64 * 1024
MAX_KEY_CHARS = 64 * 1024
MAX_KEYS_PER_ACCOUNT = 20
GPG_HOME_PREFIX = "/tmp"
# What the API shows for each stored state (web/dossier_api.py).
SHOWN = {GOOD: "verified", BAD: "invalid", UNKNOWN: "unverified"}
# The receipt's words (smtp/receipts.py): French first.
RECEIPT_NOTES = {
    GOOD: ("Signature OpenPGP vérifiée : les documents sont marqués vérifiés.",
           "OpenPGP signature verified: the documents are marked verified."),
    BAD: ("Signature OpenPGP INVALIDE : les documents sont classés mais signalés comme non vérifiés.",
          "OpenPGP signature INVALID: the documents are filed but flagged as not verified."),
    UNKNOWN: ("Signature OpenPGP non vérifiable (clé non enregistrée pour l'expéditeur) : documents non vérifiés.",
              "OpenPGP signature not verifiable (no key registered for the sender): documents not verified."),
}


class KeyRefused(Exception):
    """An OpenPGP key the operator gave is not an armored public key."""


class _Gpg:
    """A throw-away gpg home with some public keys imported."""

    def __init__(self, armored: list[str]) -> None:
        self.home = tempfile.mkdtemp(prefix="mhs-", dir=GPG_HOME_PREFIX)
        self.gpg = gnupg.GPG(gnupghome=self.home)
        self.fingerprints: list[str] = []
        if armored:
            self.fingerprints = list(self.gpg.import_keys("\n".join(armored)).fingerprints)

    def __enter__(self) -> "_Gpg":
        return self

    def __exit__(self, *exc) -> None:
        subprocess.run(["gpgconf", "--homedir", self.home, "--kill", "all"], capture_output=True, check=False)
        shutil.rmtree(self.home, ignore_errors=True)


def read_public_key(armored: str) -> list[str]:
    """The fingerprints (upper-case hex) of an armored OpenPGP public key block; KeyRefused otherwise."""
    if len(armored) > MAX_KEY_CHARS or "-----BEGIN PGP PUBLIC KEY BLOCK-----" not in armored \
            or "PRIVATE KEY" in armored:
        raise KeyRefused("an armored OpenPGP public key is expected (no private key), at most 64 KiB")
    with _Gpg([armored]) as gpg:
        if not gpg.fingerprints:
            raise KeyRefused("the OpenPGP public key could not be read")
        return sorted({f.upper() for f in gpg.fingerprints})


def _canonical(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def signed_parts(raw: bytes) -> tuple[bytes, bytes] | None:
    """(the signed entity as sent, the detached signature) of a PGP/MIME-signed message; None if it is not one.

    A signed message whose structure cannot be read gives (b"", b""): it was signed, and does not verify."""
    # The header section alone: given the whole message, the parser still splits a 2 MB body into lines.
    headers = BytesParser(policy=email.policy.compat32).parsebytes(split_header(raw)[0], headersonly=True)
    if headers.get_content_type() != SIGNED_TYPE:
        return None
    if (headers.get_param("protocol") or "").lower() != PGP_SIGNATURE:
        return None
    boundary = headers.get_boundary()
    split = raw.find(b"\r\n\r\n")
    body = raw[split + 4:] if split >= 0 else b""
    if not boundary or not body:
        return b"", b""
    body = _canonical(body)
    delimiter = b"--" + boundary.encode("ascii", "replace")
    start = 0 if body.startswith(delimiter + b"\r\n") else body.find(b"\r\n" + delimiter + b"\r\n") + 2
    if start < 0 or start == 1:
        return b"", b""
    start += len(delimiter) + 2
    end = body.find(b"\r\n" + delimiter, start)
    if end < 0:
        return b"", b""
    second_start = end + 2 + len(delimiter) + 2
    second_end = body.find(b"\r\n" + delimiter, second_start)
    if second_end < 0 or second_end - second_start > MAX_SIGNATURE_BYTES:
        return b"", b""
    part = BytesParser(policy=email.policy.compat32).parsebytes(body[second_start:second_end])
    if part.get_content_type() != PGP_SIGNATURE:
        return b"", b""
    signature = part.get_payload(decode=True) or b""
    return body[start:end], signature


def verify(armored_keys: list[str], data: bytes, signature: bytes) -> str:
    """GOOD, BAD or UNKNOWN for a detached signature of `data` against these public keys."""
    if not data or not signature:
        return BAD
    if not armored_keys:
        return UNKNOWN
    with _Gpg(armored_keys) as gpg:
        path = os.path.join(gpg.home, "signature.asc")
        with open(path, "wb") as out:
            out.write(signature)
        result = gpg.gpg.verify_data(path, data)
        if result.valid and ((result.pubkey_fingerprint or result.fingerprint or "").upper()
                             in {f.upper() for f in gpg.fingerprints}):
            return GOOD
        if result.status == "no public key":
            return UNKNOWN
        return BAD


def check(hub: Hub, signer: str, raw: bytes) -> str:
    """The signature state of a message sent by the mailbox `signer` (NONE when not signed). Blocking."""
    parts = signed_parts(raw)
    if parts is None:
        return NONE
    from storage import accounts as account_repo
    from storage import openpgp_keys

    def keys(conn) -> list[str]:
        account = account_repo.by_address(conn, signer.lower())
        return [armored for _, armored in openpgp_keys.keys_of(conn, account.id)] if account is not None else []

    try:
        return verify(hub.read_sync(keys), *parts)
    except (OSError, ValueError) as exc:  # gpg missing or failing: never "verified"
        log.error("signature check failed: %s", type(exc).__name__)
        return BAD


def receipt_note(state: str) -> str:
    """The receipt's human words for a signature state ("" when not signed)."""
    words = RECEIPT_NOTES.get(state)
    return f"{words[0]}\r\n\r\n{words[1]}\r\n" if words else ""


# --- The operator's side: `mssante-hub account key add|list|remove` -------------------------------

def _app_account(conn, address: str):
    from storage import accounts as account_repo
    from storage.models import AccountType

    account = account_repo.by_address(conn, address.strip().lower())
    if account is None or account.type != AccountType.APP.value:
        raise KeyRefused(f"no APP mailbox {address.strip().lower()} (only software mailboxes register keys)")
    return account


def add_key(hub: Hub, address: str, armored: str) -> list[str]:
    """Register an APP mailbox's public key; returns the fingerprints added (traced, actor `operator`)."""
    from mssante_hub import audit
    from storage import openpgp_keys

    fingerprints = read_public_key(armored)

    def work(conn) -> list[str]:
        account = _app_account(conn, address)
        if len(openpgp_keys.keys_of(conn, account.id)) + len(fingerprints) > MAX_KEYS_PER_ACCOUNT:
            raise KeyRefused(f"at most {MAX_KEYS_PER_ACCOUNT} keys per mailbox")
        added = [f for f in fingerprints if openpgp_keys.add(conn, account.id, f, armored)]
        for fingerprint in added:
            audit.record(conn, actor="operator", actor_type=audit.ActorType.OPERATOR, action=audit.ACCOUNT_KEY,
                         subject_account_id=account.id, target=f"openpgp:{fingerprint}", outcome="added")
        return added

    return hub.committer.run(work)


def list_keys(hub: Hub, address: str) -> list[str]:
    from storage import openpgp_keys

    return hub.read_sync(lambda conn: [f for f, _ in openpgp_keys.keys_of(conn, _app_account(conn, address).id)])


def remove_key(hub: Hub, address: str, fingerprint: str) -> bool:
    from mssante_hub import audit
    from storage import openpgp_keys

    wanted = "".join(fingerprint.split()).upper()

    def work(conn) -> bool:
        account = _app_account(conn, address)
        removed = openpgp_keys.remove(conn, account.id, wanted)
        if removed:
            audit.record(conn, actor="operator", actor_type=audit.ActorType.OPERATOR, action=audit.ACCOUNT_KEY,
                         subject_account_id=account.id, target=f"openpgp:{wanted}", outcome="removed")
        return removed

    return hub.committer.run(work)
