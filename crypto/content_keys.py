"""Opened message content keys, kept in memory so a listing does not pay one X25519 per row each time.

Opening a sealed content key (crypto_box_seal_open) is the dominant cost of a listing: a patient's inbox page
or document list opens one per row, on every request. The cache holds what the process could open again at
once (it holds the readers' private keys already, crypto/keyring.py), so it widens nothing at rest. Entries
are keyed by the reader's public key, the blob id and the sealed bytes: another reader, another blob or a
re-wrapped key is never served from an entry and goes through the real open (and its checks). Bounded, least
recently used first out.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from nacl.public import PrivateKey

from crypto.envelope import unwrap_key

MAX_CACHED_CONTENT_KEYS = 20_000  # ~0.5 KiB each: about 10 MiB per process at most


class ContentKeys:
    def __init__(self, max_cached: int = MAX_CACHED_CONTENT_KEYS) -> None:
        self._cache: OrderedDict[tuple[bytes, str, bytes], bytes] = OrderedDict()
        self._max = max_cached
        self._lock = threading.Lock()

    def unwrap(self, wrapped: bytes, blob_id: str, reader: PrivateKey) -> bytes:
        """The content key sealed in `wrapped` for `reader` (crypto.IntegrityError if it is not theirs)."""
        entry = (bytes(reader.public_key), blob_id, bytes(wrapped))
        with self._lock:
            found = self._cache.get(entry)
            if found is not None:
                self._cache.move_to_end(entry)
                return found
        key = unwrap_key(wrapped, blob_id, reader)
        with self._lock:
            self._cache[entry] = key
            if len(self._cache) > self._max:
                self._cache.popitem(last=False)
        return key

    def __len__(self) -> int:
        return len(self._cache)
