"""The sealed part of a dossier index row, and the keyed digests its clear part uses for look-ups.

See storage/dossier.py for what is in clear and why. The sealed fields are under the filed
document's own content key (wrapped for the patient like any message's key), bound to the
document's blob id; the digests are HMAC-SHA-256 under a key the hub derives from its own
private key (as patients/derived_keys.py does, so a master-key rotation leaves them valid),
bound to the patient's account, so that equal identifiers in two dossiers give unequal digests.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import weakref

from crypto import aead
from mssante_hub.hub import Hub

_DIGEST_LABEL = b"mssante-hub/dossier-index/v1"
_cache: "weakref.WeakKeyDictionary[Hub, bytes]" = weakref.WeakKeyDictionary()
_lock = threading.Lock()

# What a digest stands for: one name each, part of what is hashed.
SET = "set"
AUTHOR = "author"
STRUCTURE = "structure"


def _key(hub: Hub) -> bytes:
    with _lock:
        key = _cache.get(hub)
    if key is None:
        system = hub.system_account()
        if system is None:
            raise RuntimeError("the hub has no system account; run mssante-hub init")
        key = hub.keyring.derive(system.key_id, system.sealed_private_key, _DIGEST_LABEL)
        with _lock:
            _cache[hub] = key
    return key


def digest(hub: Hub, account_id: int, kind: str, value: str) -> str:
    """A keyed digest of an identifier of one patient's dossier (hex); "" for an empty value."""
    if not value:
        return ""
    message = f"{account_id}\0{kind}\0{value}".encode()
    return hmac.new(_key(hub), message, hashlib.sha256).hexdigest()


def _aad(blob_id: str) -> bytes:
    return b"mssante-hub/dossier/" + blob_id.encode() + b"/index"


def seal(content_key: bytes, blob_id: str, fields: dict) -> bytes:
    return aead.seal(content_key, json.dumps(fields, ensure_ascii=False).encode(), _aad(blob_id))


def open_(content_key: bytes, blob_id: str, sealed: bytes) -> dict:
    return json.loads(aead.open_(content_key, sealed, _aad(blob_id)))
