"""The sealed part of an agenda index row, and the keyed digests its clear part uses for look-ups.

See storage/agenda.py for what is in clear and why. The sealed fields are under a key derived from the
patient's own private key (Keyring.derive, so a master-key rotation leaves them readable), bound to the
patient's account and the item's blob id: one derivation per listing, then one AEAD per row (a listing of
thousands of items stays well under the 100 ms target; unwrapping each item's content key would not).
The digests are those of the dossier's index (dossier/index.py: HMAC under a key of the hub's, bound to
the patient's account), with their own kinds.
"""

from __future__ import annotations

import json

import orjson

from crypto import aead
from mssante_hub.dossier import index as dossier_index
from mssante_hub.hub import Hub
from storage import accounts as account_repo

_LABEL = b"mssante-hub/agenda-index/v1"
UID = "agenda.uid"  # what a digest stands for (dossier_index.digest's kinds)
OWNER = "agenda.owner"
PREVENTION = "prevention"


def key(hub: Hub, patient: account_repo.AccountRow) -> bytes:
    """The patient's agenda index key (one per patient; derived, never stored)."""
    return hub.keyring.derive(patient.key_id, patient.sealed_private_key, _LABEL)


def digest(hub: Hub, account_id: int, kind: str, value: str) -> str:
    return dossier_index.digest(hub, account_id, kind, value)


def _aad(account_id: int, bound_to: str) -> bytes:
    return f"mssante-hub/agenda/{account_id}/{bound_to}".encode()


def seal(index_key: bytes, account_id: int, bound_to: str, fields: dict) -> bytes:
    return aead.seal(index_key, json.dumps(fields, ensure_ascii=False).encode(), _aad(account_id, bound_to))


def open_(index_key: bytes, account_id: int, bound_to: str, sealed: bytes) -> dict:
    return orjson.loads(aead.open_(index_key, sealed, _aad(account_id, bound_to)))


def open_many(index_key: bytes, account_id: int, rows: list[tuple[str, bytes]]) -> list[dict]:
    """open_ of each (bound_to, sealed), in order: a listing opens thousands (aead.open_many, orjson:
    the two were half of listing 5,000 items with one AEAD call and json.loads each)."""
    plain = aead.open_many(index_key, [(sealed, _aad(account_id, bound_to)) for bound_to, sealed in rows])
    return [orjson.loads(text) for text in plain]
