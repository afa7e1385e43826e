"""The webmail's optional second factor: TOTP (RFC 6238, with `pyotp`) and single-use recovery codes.

The secret (160 random bits, base32) is sealed with XChaCha20-Poly1305 under a key derived from the hub's system
key (patients/derived_keys.totp_key), bound to the account id, before it is stored (storage/totp.py); it is
shown once, when the holder sets the factor up. A code is accepted within one time step either side (clock
drift) and once only: the step accepted is recorded by a conditional UPDATE, so a code seen over a shoulder or
replayed by a second request fails. Recovery codes (60 random bits each) are kept as HMAC-SHA256 under the same
derived key, each spent once.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
import time

import pyotp
import segno

from crypto import aead
from mssante_hub.hub import Hub
from mssante_hub.patients import derived_keys
from storage import totp as totp_store

ISSUER = "Mon espace santé"
STEP_S = 30  # RFC 6238's default time step; authenticator applications assume it
DIGITS = 6
DRIFT_STEPS = 1  # one step either side
RECOVERY_CODES = 10
RECOVERY_BYTES = 8  # 60 bits kept after base32 (12 characters)
MAX_CODE_CHARS = 32


def _aad(account_id: int) -> bytes:
    return b"mssante-hub/totp/" + str(account_id).encode()


def new_secret() -> str:
    return pyotp.random_base32()


def seal(hub: Hub, account_id: int, secret: str) -> bytes:
    return aead.seal(derived_keys.totp_key(hub), secret.encode("ascii"), _aad(account_id))


def open_(hub: Hub, account_id: int, sealed: bytes) -> str:
    return aead.open_(derived_keys.totp_key(hub), sealed, _aad(account_id)).decode("ascii")


def provisioning_uri(secret: str, label: str) -> str:
    """The otpauth:// URI an authenticator application reads (typed or scanned)."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_S).provisioning_uri(name=label, issuer_name=ISSUER)


def qr_rows(uri: str) -> list[str]:
    """The QR code of the URI (segno, error correction M) as rows of "0"/"1" modules, no quiet zone: the page
    draws them as an inline SVG (no image from elsewhere, nothing inline to run)."""
    matrix = segno.make(uri, error="m", boost_error=False).matrix
    return ["".join("1" if module else "0" for module in row) for row in matrix]


def matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The time step whose code this is (within the drift), or None."""
    code = code.strip().replace(" ", "")
    if len(code) != DIGITS or not (code.isascii() and code.isdigit()):  # compare_digest refuses non-ASCII str
        return None
    now = time.time() if now is None else now
    otp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_S)
    current = int(now // STEP_S)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(otp.at(step * STEP_S), code):
            return step
    return None


def new_recovery_codes() -> list[str]:
    """Codes as the holder writes them down: 12 base32 characters in groups of four."""
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = base64.b32encode(secrets.token_bytes(RECOVERY_BYTES)).decode("ascii").lower()[:12]
        codes.append("-".join(raw[i:i + 4] for i in range(0, 12, 4)))
    return codes


def recovery_hash(hub: Hub, account_id: int, code: str) -> bytes:
    normal = code.strip().lower().replace("-", "").replace(" ", "")
    return hmac.new(derived_keys.totp_key(hub), str(account_id).encode() + b"\0" + normal.encode(),
                    hashlib.sha256).digest()


def check(hub: Hub, conn, account_id: int, code: str, now: dt.datetime) -> bool:
    """A current TOTP code (spent: never accepted twice) or an unused recovery code (spent), for an enabled
    factor. Runs in a write transaction."""
    if not code or len(code) > MAX_CODE_CHARS:
        return False
    row = totp_store.of(conn, account_id)
    if row is None or not row.enabled:
        return False
    step = matching_step(open_(hub, account_id, row.sealed_secret), code, now.timestamp())
    if step is not None:
        return totp_store.spend_step(conn, account_id, step)
    return totp_store.spend_recovery(conn, account_id, recovery_hash(hub, account_id, code), now)


def enabled(conn, account_id: int) -> bool:
    row = totp_store.of(conn, account_id)
    return row is not None and row.enabled
