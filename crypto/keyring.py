"""Account key pairs, their private halves sealed under the master key."""

from __future__ import annotations

import threading

from nacl.public import PrivateKey, PublicKey

from crypto import aead


def _private_key_aad(key_id: str) -> bytes:
    return b"mssante-hub/account-key/" + key_id.encode()


def new_key_pair(master_key: bytes, key_id: str) -> tuple[bytes, bytes]:
    """(public key, private key sealed under the master key) for a new account."""
    private = PrivateKey.generate()
    return bytes(private.public_key), seal_private_key(master_key, key_id, bytes(private))


def seal_private_key(master_key: bytes, key_id: str, private: bytes) -> bytes:
    return aead.seal(master_key, private, _private_key_aad(key_id))


def open_private_key(master_key: bytes, key_id: str, sealed: bytes) -> bytes:
    return aead.open_(master_key, sealed, _private_key_aad(key_id))


class Keyring:
    """Opens sealed private keys with the master key, keeping opened ones in memory.

    The cache is keyed by (key id, sealed bytes), so a rotated or shredded key is
    never served from a stale entry.
    """

    def __init__(self, master_key: bytes, max_cached: int = 10_000) -> None:
        self._master = master_key
        self._cache: dict[tuple[str, bytes], PrivateKey] = {}
        self._max = max_cached
        self._lock = threading.Lock()

    @property
    def master_key(self) -> bytes:
        return self._master

    def private_key(self, key_id: str, sealed: bytes) -> PrivateKey:
        entry = (key_id, sealed)
        with self._lock:
            found = self._cache.get(entry)
        if found is not None:
            return found
        private = PrivateKey(open_private_key(self._master, key_id, sealed))
        with self._lock:
            if len(self._cache) >= self._max:
                self._cache.clear()
            self._cache[entry] = private
        return private

    def new_key_pair(self, key_id: str) -> tuple[bytes, bytes]:
        return new_key_pair(self._master, key_id)

    @staticmethod
    def public_key(raw: bytes) -> PublicKey:
        return PublicKey(raw)
