"""Account key pairs, their private halves sealed under the master key; keys derived from them."""

from __future__ import annotations

import hashlib
import hmac
import threading
from typing import Any

from nacl.public import PrivateKey, PublicKey

from crypto import aead
from crypto.content_keys import ContentKeys


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
    """Opens and seals account private keys with the master key, keeping opened ones in memory.

    The master key never leaves this object: callers seal, open, re-seal and derive through it.
    The cache is keyed by (key id, sealed bytes), so a rotated or shredded key is never served
    from a stale entry. A keyring pickles without its cache (bulk provisioning hands it to
    worker processes).
    """

    def __init__(self, master_key: bytes, max_cached: int = 10_000) -> None:
        self._master = master_key
        self._cache: dict[tuple[str, bytes], PrivateKey] = {}
        self._max = max_cached
        self._lock = threading.Lock()
        self.content_keys = ContentKeys()

    def __getstate__(self) -> dict[str, Any]:
        return {"master": self._master, "max": self._max}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["master"], state["max"])

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

    def seal(self, key_id: str, private: bytes) -> bytes:
        """A private key sealed under the master key, bound to its key id."""
        return seal_private_key(self._master, key_id, private)

    def open(self, key_id: str, sealed: bytes) -> bytes:
        """The raw private key (uncached: for re-sealing, not for reading mail)."""
        return open_private_key(self._master, key_id, sealed)

    def reseal_for(self, other: Keyring, key_id: str, sealed: bytes) -> bytes:
        """A private key sealed under this keyring's master key, re-sealed under `other`'s (rotation)."""
        return other.seal(key_id, self.open(key_id, sealed))

    def derive(self, key_id: str, sealed: bytes, label: bytes) -> bytes:
        """A 32-byte key for one purpose (`label`), derived from an account's private key (HMAC-SHA256).

        Derived from an account key, not the master key: a rotation re-seals the account key but
        leaves it the same, so what the derived key protects stays readable across rotations.
        """
        return hmac.new(bytes(self.private_key(key_id, sealed)), label, hashlib.sha256).digest()

    @staticmethod
    def public_key(raw: bytes) -> PublicKey:
        return PublicKey(raw)
