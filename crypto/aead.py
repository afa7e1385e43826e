"""XChaCha20-Poly1305 with associated data: the one symmetric primitive we use."""

from __future__ import annotations

import nacl.bindings as sodium
import nacl.exceptions
import nacl.utils

from crypto.errors import IntegrityError

KEY_BYTES = sodium.crypto_aead_xchacha20poly1305_ietf_KEYBYTES
NONCE_BYTES = sodium.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
TAG_BYTES = sodium.crypto_aead_xchacha20poly1305_ietf_ABYTES


def new_key() -> bytes:
    """A fresh random 256-bit key."""
    return nacl.utils.random(KEY_BYTES)


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """Encrypt; the result is nonce || ciphertext || tag."""
    nonce = nacl.utils.random(NONCE_BYTES)
    return nonce + sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, aad, nonce, key)


def open_(key: bytes, sealed: bytes, aad: bytes) -> bytes:
    """Decrypt what :func:`seal` produced with the same key and associated data."""
    if len(sealed) < NONCE_BYTES + TAG_BYTES:
        raise IntegrityError("ciphertext too short")
    nonce, body = sealed[:NONCE_BYTES], sealed[NONCE_BYTES:]
    try:
        return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(body, aad, nonce, key)
    except nacl.exceptions.CryptoError as exc:
        raise IntegrityError("ciphertext failed authentication (altered, or not of this row)") from exc
