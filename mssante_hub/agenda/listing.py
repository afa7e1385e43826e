"""A patient's agenda as the webmail and the ICS feed show it: index rows opened with the patient's index key."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection

from mssante_hub.agenda import index
from mssante_hub.hub import Hub
from storage import accounts as account_repo
from storage import agenda as agenda_store


def _iso(value: dt.datetime | str) -> str:
    return value if value.__class__ is str else value.isoformat()


def entry(fields: dict, *, item_id: int, start: dt.datetime | str, end: dt.datetime | str, kind: str, tz: str, status: str,
          partstat: str, sequence: int) -> dict:
    return {"id": item_id, "kind": kind, "start": _iso(start), "end": _iso(end), "tz": tz,
            "title": fields.get("summary", ""), "place": fields.get("location", ""),
            "professional": fields.get("professional", ""), "specialty": fields.get("specialty", ""),
            "status": status, "partstat": partstat, "sequence": sequence, "all_day": bool(fields.get("all_day")),
            "recurring": bool(fields.get("recurring"))}


def items(conn: Connection, hub: Hub, patient: account_repo.AccountRow, start: dt.datetime, end: dt.datetime,
          limit: int, after: tuple[dt.datetime, int] | None = None) -> list[tuple[dict, dict]]:
    """(listed entry, its sealed fields) for each occurrence in [start, end), earliest first; with `after`
    (an entry's start and id), those after it (the next page)."""
    rows = agenda_store.listing(conn, patient.id, start, end, limit, after)
    if not rows:
        return []
    opened = index.open_many(index.key(hub, patient), patient.id, [(row.blob_id, row.sealed) for row in rows])
    found = []
    for row, fields in zip(rows, opened):
        found.append((entry(fields, item_id=row.item_id, start=row.occurrence_start, end=row.occurrence_end,
                            kind=row.kind, tz=row.tz, status=row.status, partstat=row.partstat,
                            sequence=row.sequence), fields))
    return found
