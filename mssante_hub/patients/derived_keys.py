"""Keys the patient-space code derives for its own purposes.

Derived from the hub's own (system) private key rather than from the master key:
a master-key rotation re-seals the system key but leaves it the same, so traits,
code hashes and archives stay readable across rotations.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import weakref

from crypto import aead
from mssante_hub.hub import Hub

_TRAITS_LABEL = b"mssante-hub/patient-traits/v1"
_CODES_LABEL = b"mssante-hub/activation-codes/v1"
_ARCHIVE_LABEL = b"mssante-hub/archive-wrapping/v1"
_EMAIL_LINK_LABEL = b"mssante-hub/personal-email-link/v1"
_TOTP_LABEL = b"mssante-hub/web-totp/v1"

_cache: "weakref.WeakKeyDictionary[Hub, dict[bytes, bytes]]" = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def _derived(hub: Hub, label: bytes) -> bytes:
    with _lock:
        keys = _cache.setdefault(hub, {})
        if label in keys:
            return keys[label]
    system = hub.system_account()
    if system is None:
        raise RuntimeError("the hub has no system account; run mssante-hub init")
    key = hub.keyring.derive(system.key_id, system.sealed_private_key, label)
    with _lock:
        _cache.setdefault(hub, {})[label] = key
    return key


def _traits_aad(ins: str) -> bytes:
    return b"mssante-hub/traits/" + ins.encode()


def traits_key(hub: Hub) -> bytes:
    return _derived(hub, _TRAITS_LABEL)


def codes_key(hub: Hub) -> bytes:
    return _derived(hub, _CODES_LABEL)


def seal_traits_with(key: bytes, ins: str, traits: dict) -> bytes:
    """Identity traits (names, birth date, sex, personal e-mail) sealed, bound to the INS."""
    return aead.seal(key, json.dumps(traits, ensure_ascii=False).encode(), _traits_aad(ins))


def seal_traits(hub: Hub, ins: str, traits: dict) -> bytes:
    return seal_traits_with(traits_key(hub), ins, traits)


def open_traits(hub: Hub, ins: str, sealed: bytes) -> dict:
    return json.loads(aead.open_(traits_key(hub), sealed, _traits_aad(ins)))


def code_hash_with(key: bytes, ins: str, code: str) -> bytes:
    """Keyed hash of an activation code, bound to its INS (fast: codes are random, not chosen)."""
    return hmac.new(key, ins.encode() + b"\0" + code.encode(), hashlib.sha256).digest()


def code_hash(hub: Hub, ins: str, code: str) -> bytes:
    return code_hash_with(codes_key(hub), ins, code)


def archive_wrapping_key(hub: Hub) -> bytes:
    return _derived(hub, _ARCHIVE_LABEL)


def email_link_key(hub: Hub) -> bytes:
    """Signs the links that confirm a new personal e-mail address (patients/personal_email.py)."""
    return _derived(hub, _EMAIL_LINK_LABEL)


def totp_key(hub: Hub) -> bytes:
    """Seals the webmail's TOTP secrets and keys the hashes of their recovery codes (web/totp.py)."""
    return _derived(hub, _TOTP_LABEL)
