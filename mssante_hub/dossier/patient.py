"""What the hub holds about a patient space for the integration check: its INS and identity traits.

The INS is the account's (`accounts.ins`, also the address's local part); the traits (birth
name, first names, birth date, sex) are those given at provisioning, stored sealed in
`patient_profiles.traits`. A space created without a profile (`account add --type PATIENT`)
has an INS only: the check then compares the INS alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, select

from mssante_hub.accounts import identity
from mssante_hub.hub import Hub
from storage.models import Account, AccountType
from storage.patients import PatientProfile

# `patient add` without a first name stores this placeholder rather than invent one.
UNKNOWN_FIRST_NAMES = "-"


@dataclass(frozen=True)
class KnownPatient:
    """A patient space as the hub knows it; empty strings are traits the hub does not hold."""

    ins: str
    birth_name: str = ""
    first_names: str = ""
    birth_date: str = ""  # ISO YYYY-MM-DD
    sex: str = ""  # M or F

    @property
    def holds_traits(self) -> bool:
        return any((self.birth_name, self.first_names, self.birth_date, self.sex))


def _row(conn: Connection, address: str):
    return conn.execute(
        select(Account.ins, PatientProfile.traits)
        .outerjoin(PatientProfile, PatientProfile.account_id == Account.id)
        .where(Account.address == address.lower(), Account.type == AccountType.PATIENT.value)
    ).first()


def load(hub: Hub, address: str) -> KnownPatient | None:
    """The patient behind a local patient address, or None if the hub has no such patient.

    Blocking (a database read and a decryption): call it from a worker thread.
    """
    from mssante_hub.patients import derived_keys  # patients/ imports much of the hub; only needed here

    row = hub.read_sync(lambda conn: _row(conn, address))
    if row is None:
        return None
    ins = row.ins or identity.ins_of_address(address, hub.config.get("hub.patient_domain"))
    if not ins:
        return None
    if row.traits is None:
        return KnownPatient(ins)
    traits = derived_keys.open_traits(hub, ins, row.traits)
    first_names = str(traits.get("first_names") or "")
    return KnownPatient(
        ins=ins, birth_name=str(traits.get("birth_name") or ""),
        first_names="" if first_names.strip() == UNKNOWN_FIRST_NAMES else first_names,
        birth_date=str(traits.get("birth_date") or ""), sex=str(traits.get("sex") or ""),
    )
