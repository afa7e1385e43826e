"""Who a patient may write to: the professionals who wrote first (docs/domain.md §5).

Rows are written by the delivery of the professional's message, in its own
transaction; the patient's messages are checked against them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, select, update
from sqlalchemy.dialects import postgresql, sqlite

from storage.patients import PatientContact, Pharmacy


@dataclass(frozen=True)
class Contact:
    address: str
    opened_by: str
    display_name: str
    pharmacy: bool
    ended: bool


def contacts(conn: Connection, patient_id: int, addresses: list[str]) -> dict[str, Contact]:
    rows = conn.execute(
        select(PatientContact.address, PatientContact.opened_by, PatientContact.display_name,
               PatientContact.pharmacy, PatientContact.ended_at)
        .where(PatientContact.patient_id == patient_id, PatientContact.address.in_([a.lower() for a in addresses]))
    ).all()
    return {r.address: Contact(r.address, r.opened_by, r.display_name, r.pharmacy, r.ended_at is not None)
            for r in rows}


def conversation_list(conn: Connection, patient_id: int) -> list[Contact]:
    """Every contact of a patient, for the webmail (which shows names, not addresses)."""
    rows = conn.execute(
        select(PatientContact.address, PatientContact.opened_by, PatientContact.display_name,
               PatientContact.pharmacy, PatientContact.ended_at)
        .where(PatientContact.patient_id == patient_id).order_by(PatientContact.last_at.desc())
    ).all()
    return [Contact(r.address, r.opened_by, r.display_name, r.pharmacy, r.ended_at is not None) for r in rows]


def ended_text(contact: Contact) -> str:
    """What the patient sees once a professional ended the exchange."""
    name = contact.display_name or "Le professionnel"
    return f"«{name}» a mis fin à vos échanges / «{name}» has ended the conversation"


def is_pharmacy(conn: Connection, address: str) -> bool:
    return conn.execute(select(Pharmacy.address).where(Pharmacy.address == address.lower())).first() is not None


def flag_pharmacy(conn: Connection, address: str) -> None:
    if not is_pharmacy(conn, address):
        conn.execute(Pharmacy.__table__.insert().values(address=address.lower()))


def _upsert(conn: Connection):
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(PatientContact)


def record_professional_message(conn: Connection, patient_id: int, contact_addresses: list[str], opened_by: str,
                                display_name: str, pharmacy: bool, now: dt.datetime) -> None:
    """The professional wrote: each address becomes (again) an open contact of the patient."""
    rows = [dict(patient_id=patient_id, address=a.lower(), opened_by=opened_by.lower(), display_name=display_name,
                 pharmacy=pharmacy, last_at=now, ended_at=None) for a in contact_addresses]
    statement = _upsert(conn).values(rows)
    statement = statement.on_conflict_do_update(
        index_elements=[PatientContact.patient_id, PatientContact.address],
        set_=dict(opened_by=statement.excluded.opened_by, display_name=statement.excluded.display_name,
                  pharmacy=statement.excluded.pharmacy, last_at=statement.excluded.last_at, ended_at=None),
    )
    conn.execute(statement)


def end_conversation(conn: Connection, patient_id: int, opened_by: str, now: dt.datetime) -> int:
    """`X-MSS-MES: FIN` or `[FIN]`: every contact this professional opened is closed."""
    return conn.execute(
        update(PatientContact)
        .where(PatientContact.patient_id == patient_id, PatientContact.opened_by == opened_by.lower(),
               PatientContact.ended_at.is_(None))
        .values(ended_at=now, last_at=now)
    ).rowcount
