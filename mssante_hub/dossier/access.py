"""Which professionals may read a patient's dossier, and why (docs/domain.md §6.5).

A professional reads the dossier when the patient has not blocked them and either they are in
care (a message exchanged with the patient within `dossier.care_window_days`: the patient's
contacts, storage/patients.py) or the patient granted access. Emergency access ("bris de
glace") is an explicit act of a PER mailbox, always allowed, even against a block, for
EMERGENCY_ACCESS_HOURS; it is flagged for review and, like every access, traced and notified.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, select

from storage import dossier as dossier_store
from storage.models import Account, AccountType
from storage.patients import PatientContact

EMERGENCY_ACCESS_HOURS = 12
CARE = "care"
GRANTED = "granted"
EMERGENCY = "emergency"
BLOCKED = "blocked"
# Mailboxes that may read a dossier at all: people and organisations of care, not software (APP) nor the hub.
READING_TYPES = frozenset({AccountType.PER.value, AccountType.ORG.value, AccountType.CAB.value})
EMERGENCY_TYPES = frozenset({AccountType.PER.value})


@dataclass(frozen=True)
class Standing:
    address: str
    name: str
    reason: str  # CARE, GRANTED, EMERGENCY or BLOCKED
    last_at: dt.datetime | None


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    return value.replace(tzinfo=dt.timezone.utc) if value is not None and value.tzinfo is None else value


def _last_contact(conn: Connection, patient_id: int, address: str) -> dt.datetime | None:
    return _aware(conn.execute(select(PatientContact.last_at).where(
        PatientContact.patient_id == patient_id, PatientContact.address == address)).scalar_one_or_none())


def reason(conn: Connection, patient_id: int, address: str, now: dt.datetime, care_days: int) -> str | None:
    """Why `address` may read this dossier now (CARE, GRANTED, EMERGENCY), or None."""
    address = address.lower()
    if dossier_store.emergency_since(conn, patient_id, address, now - dt.timedelta(hours=EMERGENCY_ACCESS_HOURS)):
        return EMERGENCY
    rule = dossier_store.access_rules(conn, patient_id).get(address)
    if rule == dossier_store.BLOCK:
        return None
    if rule == dossier_store.GRANT:
        return GRANTED
    last = _last_contact(conn, patient_id, address)
    if last is not None and last >= now - dt.timedelta(days=care_days):
        return CARE
    return None


def standings(conn: Connection, patient_id: int, now: dt.datetime, care_days: int) -> list[Standing]:
    """Every professional with a standing in this dossier: in care, granted, under emergency, or blocked."""
    contacts = {r.address: _aware(r.last_at) for r in conn.execute(
        select(PatientContact.address, PatientContact.last_at).where(PatientContact.patient_id == patient_id))}
    rules = dossier_store.access_rules(conn, patient_id)
    since = now - dt.timedelta(hours=EMERGENCY_ACCESS_HOURS)
    emergencies = set(conn.execute(select(dossier_store.DossierEmergency.address).where(
        dossier_store.DossierEmergency.account_id == patient_id,
        dossier_store.DossierEmergency.opened_at >= since)).scalars())
    addresses = sorted(set(contacts) | set(rules) | emergencies)
    names = {r.address: (r.display_name, r.type) for r in conn.execute(
        select(Account.address, Account.display_name, Account.type).where(Account.address.in_(addresses)))} \
        if addresses else {}
    found = []
    for address in addresses:
        name, kind = names.get(address, ("", ""))
        if kind and kind not in READING_TYPES:
            continue
        why = reason(conn, patient_id, address, now, care_days)
        if why is None and rules.get(address) == dossier_store.BLOCK:
            why = BLOCKED
        if why is not None:
            found.append(Standing(address, name or address, why, contacts.get(address)))
    return found
