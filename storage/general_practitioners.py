"""The patient's declared general practitioner (médecin traitant), table `patient_general_practitioners`
(storage/models.py): a MASQUE_PS document is hidden from professionals except the author and this one
(docs/domain.md §6.2)."""

from __future__ import annotations

from sqlalchemy import Connection, delete, insert, select

from storage.models import GeneralPractitioner, utcnow


def of_patient(conn: Connection, account_id: int) -> str | None:
    return conn.execute(select(GeneralPractitioner.address).where(
        GeneralPractitioner.account_id == account_id)).scalar_one_or_none()


def of_patients(conn: Connection, account_ids: list[int]) -> dict[int, str]:
    if not account_ids:
        return {}
    return dict(conn.execute(select(GeneralPractitioner.account_id, GeneralPractitioner.address).where(
        GeneralPractitioner.account_id.in_(sorted(set(account_ids))))).all())


def declare(conn: Connection, account_id: int, address: str | None) -> None:
    """Set (or, with None, clear) the patient's general practitioner."""
    conn.execute(delete(GeneralPractitioner).where(GeneralPractitioner.account_id == account_id))
    if address:
        conn.execute(insert(GeneralPractitioner).values(account_id=account_id, address=address.lower(), at=utcnow()))
