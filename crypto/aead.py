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


# open_many calls libsodium through PyNaCl's own cffi module (nacl._sodium, private; checked on PyNaCl
# 1.6.2): one output buffer for all, none of the per-call checks and allocations of nacl.bindings, which
# were ~80 % of a call for small texts (an agenda listing opens thousands). Without it: open_ each.
try:
    from nacl._sodium import ffi as _ffi, lib as _lib
except ImportError:  # pragma: no cover - another PyNaCl layout
    _ffi = _lib = None


def open_many(key: bytes, items: list[tuple[bytes, bytes]]) -> list[bytes]:
    """:func:`open_` of each (sealed, aad), in order; IntegrityError as soon as one fails."""
    if _lib is None or len(key) != KEY_BYTES:
        return [open_(key, sealed, aad) for sealed, aad in items]
    longest = max((len(sealed) for sealed, _ in items), default=0)
    out, out_len = _ffi.new("unsigned char[]", max(1, longest)), _ffi.new("unsigned long long *")
    decrypt, buffer, null, head = _lib.crypto_aead_xchacha20poly1305_ietf_decrypt, _ffi.buffer, _ffi.NULL, NONCE_BYTES
    opened = []
    for sealed, aad in items:
        if len(sealed) < NONCE_BYTES + TAG_BYTES:
            raise IntegrityError("ciphertext too short")
        body = sealed[head:]
        if decrypt(out, out_len, null, body, len(body), aad, len(aad), sealed[:head], key) != 0:
            raise IntegrityError("ciphertext failed authentication (altered, or not of this row)")
        opened.append(buffer(out, out_len[0])[:])
    return opened
