"""The patient's private ICS feed (`/ical/<token>.ics`): their agenda as one iCalendar object for their own
calendar application. The token is random, shown once, stored as its SHA-256 (storage/agenda.py), revocable
and regenerable from the webmail; a revoked or unknown token gets 404.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets

import icalendar
from sqlalchemy import Connection

from mssante_hub.agenda import imip, listing
from mssante_hub.hub import Hub
from storage import accounts as account_repo
from storage import agenda as agenda_store

TOKEN_BYTES = 32
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,100}$")
PAST_DAYS = 90  # the feed holds the agenda from this many days ago
FUTURE_DAYS = 2 * 366  # to this many days ahead


def new_token() -> tuple[str, str]:
    """(token, its hash to store)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def well_formed(token: str) -> bool:
    return bool(_TOKEN.match(token))


def calendar_of(conn: Connection, hub: Hub, patient: account_repo.AccountRow, now: dt.datetime) -> bytes:
    """The feed's iCalendar (METHOD:PUBLISH), one VEVENT per occurrence held."""
    calendar = icalendar.Calendar()
    calendar.add("PRODID", imip.PRODID)
    calendar.add("VERSION", "2.0")
    calendar.add("METHOD", "PUBLISH")
    calendar.add("X-WR-CALNAME", "Mon espace santé")
    found = listing.items(conn, hub, patient, now - dt.timedelta(days=PAST_DAYS), now + dt.timedelta(days=FUTURE_DAYS),
                          hub.config.get("agenda.max_listed"))
    stamp = now.astimezone(dt.timezone.utc).replace(microsecond=0)
    for shown, fields in found:
        event = icalendar.Event()
        start = dt.datetime.fromisoformat(shown["start"])
        uid = fields.get("uid") or f"item-{shown['id']}"
        # Each occurrence its own event: the recurrence is expanded already, and bounded.
        event.add("UID", uid if not fields.get("recurring") else f"{start:%Y%m%dT%H%M%SZ}-{uid}")
        event.add("DTSTAMP", stamp)
        event.add("DTSTART", start)
        event.add("DTEND", dt.datetime.fromisoformat(shown["end"]))
        event.add("SEQUENCE", shown["sequence"])
        event.add("SUMMARY", shown["title"] or "Rendez-vous")
        if shown["place"]:
            event.add("LOCATION", shown["place"])
        if shown["specialty"]:
            event.add("CATEGORIES", [shown["specialty"]])
        event.add("STATUS", shown["status"] if shown["status"] in ("CONFIRMED", "TENTATIVE", "CANCELLED")
                  else "CONFIRMED")
        calendar.add_component(event)
    return calendar.to_ical()


def account_of(conn: Connection, token: str) -> int | None:
    if not well_formed(token):
        return None
    return agenda_store.feed_account(conn, token_hash(token))
