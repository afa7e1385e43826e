"""Legal representatives' links to their dependants' spaces (table `legal_representatives`, storage/models.py).

Only ids, a kind and a date: who represents whom is needed in SQL on every request a representative makes
on a dependant's space (the check that keeps one space from reaching another's)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, delete, insert, select

from storage.models import Account, LegalRepresentative, utcnow

MINOR = "minor"
PROTECTED_ADULT = "protected_adult"
KINDS = (MINOR, PROTECTED_ADULT)


@dataclass(frozen=True)
class Link:
    representative_id: int
    dependant_id: int
    dependant_address: str
    dependant_name: str
    kind: str
    since: dt.datetime


def link(conn: Connection, representative_id: int, dependant_id: int, kind: str,
         now: dt.datetime | None = None) -> bool:
    """Record the link; False if it existed already."""
    if is_representative(conn, representative_id, dependant_id):
        return False
    conn.execute(insert(LegalRepresentative).values(representative_id=representative_id, dependant_id=dependant_id,
                                                    kind=kind, since=now or utcnow()))
    return True


def unlink(conn: Connection, representative_id: int, dependant_id: int) -> bool:
    return conn.execute(delete(LegalRepresentative).where(
        LegalRepresentative.representative_id == representative_id,
        LegalRepresentative.dependant_id == dependant_id)).rowcount > 0


def is_representative(conn: Connection, representative_id: int, dependant_id: int) -> bool:
    return conn.execute(select(LegalRepresentative.kind).where(
        LegalRepresentative.representative_id == representative_id,
        LegalRepresentative.dependant_id == dependant_id)).first() is not None


def _links(conn: Connection, query) -> list[Link]:
    return [Link(r.representative_id, r.dependant_id, r.address, r.display_name, r.kind,
                 r.since if r.since.tzinfo else r.since.replace(tzinfo=dt.timezone.utc))
            for r in conn.execute(query)]


_LINKS = (select(LegalRepresentative.representative_id, LegalRepresentative.dependant_id, LegalRepresentative.kind,
                 LegalRepresentative.since, Account.address, Account.display_name)
          .join(Account, Account.id == LegalRepresentative.dependant_id))


def dependants_of(conn: Connection, representative_id: int) -> list[Link]:
    """The spaces this account represents, by address."""
    return _links(conn, _LINKS.where(LegalRepresentative.representative_id == representative_id)
                  .order_by(Account.address))


def links(conn: Connection, kind: str | None = None, dependant_id: int | None = None) -> list[Link]:
    query = _LINKS
    if kind is not None:
        query = query.where(LegalRepresentative.kind == kind)
    if dependant_id is not None:
        query = query.where(LegalRepresentative.dependant_id == dependant_id)
    return _links(conn, query.order_by(LegalRepresentative.dependant_id, LegalRepresentative.representative_id))


def representative_addresses(conn: Connection, dependant_id: int) -> list[str]:
    return list(conn.execute(select(Account.address).join(
        LegalRepresentative, LegalRepresentative.representative_id == Account.id).where(
        LegalRepresentative.dependant_id == dependant_id).order_by(Account.address)).scalars())
