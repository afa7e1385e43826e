"""Filters of the access history on the server, and its CSV export (GET /api/history, /api/history.csv).

Query parameters (each optional, described in web/openapi.py):

    actor   holder | professional | representative | service   who acted, sorted as web/history.py words them
            (in SQL); any other value is one actor as worded ("Dr Martin"), kept after the wording
    action  an action key of web/history.ACTIONS (e.g. read, deliver, login, dossier.access)
    from, to  YYYY-MM-DD, both days included, in the zone `tz` (an IANA name, default Europe/Paris)
    format  json (default) or csv; /api/history.csv is the same as format=csv

The CSV is what a spreadsheet opens: UTF-8 with a BOM, `;`-separated, every cell quoted, and a cell that starts
like a formula (= + - @, tab, carriage return) prefixed with an apostrophe, so that a name such as `=1+1` a
sender chose is read as text (CSV injection).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import and_, func, not_, or_

from mssante_hub.audit import ActorType
from mssante_hub.web.history import ACTIONS, SERVICE_ACTORS, SERVICE_TYPES
from mssante_hub.web.http import ApiError
from storage.models import AuditEvent

ACTOR_KINDS = ("holder", "professional", "representative", "service")
DEFAULT_ZONE = "Europe/Paris"
MAX_ZONE_CHARS = 64
MAX_NAME_CHARS = 200
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_COLUMNS = ("Date", "Qui", "Action", "Moyen", "Résultat")
CSV_FIELDS = ("at", "actor", "action_label", "channel_label", "outcome_label")
CSV_TYPE = b"text/csv; charset=utf-8"
CSV_NAME = "historique-des-acces.csv"


def _bad(name: str) -> ApiError:
    return ApiError(400, "bad_request", f"Paramètre invalide : {name}", f"Invalid parameter: {name}")


@dataclass(frozen=True)
class Filters:
    actor: str | None = None
    action: str | None = None
    since: dt.datetime | None = None  # included
    until: dt.datetime | None = None  # excluded (the day after `to`)
    zone: ZoneInfo = ZoneInfo(DEFAULT_ZONE)
    csv: bool = False
    actor_name: str | None = None


def _arg(args: dict[bytes, list[bytes]], name: str) -> str | None:
    raw = args.get(name.encode(), [None])[0]
    if raw is None or raw == b"":
        return None
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        raise _bad(name) from None


def _day(value: str | None, name: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value) if len(value) == 10 else dt.date.fromisoformat("bad")
    except ValueError:
        raise _bad(name) from None


def parse(args: dict[bytes, list[bytes]], csv_path: bool = False) -> Filters:
    """The filters of one request; 400 for an unknown value."""
    action = _arg(args, "action")
    raw = args.get(b"actor", [b""])[0]
    named = raw.decode("utf-8", "replace") if raw else None
    if named is not None and len(named) > MAX_NAME_CHARS:
        raise _bad("actor")
    actor = named if named in ACTOR_KINDS else None
    named = None if actor else named
    if action is not None and action not in ACTIONS:
        raise _bad("action")
    name = _arg(args, "tz") or DEFAULT_ZONE
    try:
        if len(name) > MAX_ZONE_CHARS:
            raise ValueError(name)
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise _bad("tz") from None
    first, last = _day(_arg(args, "from"), "from"), _day(_arg(args, "to"), "to")
    shape = _arg(args, "format") or "json"
    if shape not in ("json", "csv"):
        raise _bad("format")
    since = dt.datetime.combine(first, dt.time(), zone).astimezone(dt.timezone.utc) if first else None
    until = (dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), zone).astimezone(dt.timezone.utc)
             if last else None)
    return Filters(actor, action, since, until, zone, csv_path or shape == "csv", named)


def conditions(filters: Filters, holder_id: int, holder_address: str) -> tuple:
    """SQL conditions on audit_events for audit.access_history, sorting actors as web/history.labelled does."""
    found: list[Any] = []
    if filters.action is not None:
        found.append(AuditEvent.action == filters.action)
    if filters.since is not None:
        found.append(AuditEvent.at >= _stored(filters.since))
    if filters.until is not None:
        found.append(AuditEvent.at < _stored(filters.until))
    if filters.actor is not None:
        representative = AuditEvent.actor_type == ActorType.REPRESENTATIVE.value
        holder = and_(not_(representative), func.lower(AuditEvent.actor).in_(
            [holder_address.lower(), f"ins-holder:{holder_id}"]))
        service = and_(not_(representative), not_(holder), or_(
            AuditEvent.actor.in_(list(SERVICE_ACTORS)), AuditEvent.actor_type.in_(list(SERVICE_TYPES))))
        found.append({"representative": representative, "holder": holder, "service": service,
                      "professional": not_(or_(representative, holder, service))}[filters.actor])
    return tuple(found)


def _stored(moment: dt.datetime) -> dt.datetime:
    """In UTC, as audit.purge_expired compares audit_events.at (SQLite and PostgreSQL alike)."""
    return moment.astimezone(dt.timezone.utc)


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def as_csv(lines: list[dict[str, Any]], zone: ZoneInfo) -> bytes:
    """The history lines as a spreadsheet reads them (the date in `zone`, ISO 8601 with its offset)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for line in lines:
        at = dt.datetime.fromisoformat(line["at"]).astimezone(zone).isoformat(timespec="seconds")
        writer.writerow([_cell(at if field == "at" else line[field]) for field in CSV_FIELDS])
    return ("\ufeff" + out.getvalue()).encode("utf-8")
