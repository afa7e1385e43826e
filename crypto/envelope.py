"""Per-message envelope encryption.

A message gets a random content key. Its body and its listing summary are
encrypted with that key, each bound to the blob id by associated data. The
content key is sealed (X25519 sealed box) to every reader's public key, together
with the blob id, so a wrapped key moved to another blob is refused.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

import nacl.exceptions
from nacl.public import PrivateKey, PublicKey, SealedBox

from crypto import aead
from crypto.errors import IntegrityError


def body_aad(blob_id: str) -> bytes:
    return b"mssante-hub/blob/" + blob_id.encode() + b"/body"


def summary_aad(blob_id: str) -> bytes:
    return b"mssante-hub/blob/" + blob_id.encode() + b"/summary"


@dataclass(frozen=True)
class SealedMessage:
    blob_id: str
    content_key: bytes
    body: bytes
    summary: bytes


def encrypt_message(blob_id: str, body: bytes, summary: bytes) -> SealedMessage:
    """Encrypt a message's raw bytes and its summary under a fresh content key."""
    key = aead.new_key()
    return SealedMessage(
        blob_id=blob_id,
        content_key=key,
        body=aead.seal(key, body, body_aad(blob_id)),
        summary=aead.seal(key, summary, summary_aad(blob_id)),
    )


def wrap_key(content_key: bytes, blob_id: str, reader: PublicKey) -> bytes:
    """Seal the content key, tied to its blob, to one reader."""
    return SealedBox(reader).encrypt(blob_id.encode() + b"\0" + content_key)


def unwrap_key(wrapped: bytes, blob_id: str, reader: PrivateKey) -> bytes:
    try:
        plain = SealedBox(reader).decrypt(wrapped)
    except nacl.exceptions.CryptoError as exc:
        raise IntegrityError("content key does not open with this reader's key") from exc
    bound, _, key = plain.partition(b"\0")
    if not hmac.compare_digest(bound, blob_id.encode()) or len(key) != aead.KEY_BYTES:
        raise IntegrityError("content key belongs to another message")
    return key


def decrypt_body(content_key: bytes, blob_id: str, ciphertext: bytes) -> bytes:
    return aead.open_(content_key, ciphertext, body_aad(blob_id))


def decrypt_summary(content_key: bytes, blob_id: str, ciphertext: bytes) -> bytes:
    return aead.open_(content_key, ciphertext, summary_aad(blob_id))
