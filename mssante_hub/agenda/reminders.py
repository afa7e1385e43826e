"""Reminders: the day before an appointment (`agenda.reminder_hours`), a content-free notification, once.

Each notification round of the worker (patients/worker.py) first marks the occurrences that start within
the next `agenda.reminder_hours` and were not reminded yet: in one transaction, each is marked reminded and
its patient's news of kind `reminder` pending (patients/notifications.py). The worker then mails the
fixed text, which names the kind of news and nothing of the appointment. Cancelled appointments, and those
the patient declined, are not reminded.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, func, select

from mssante_hub.hub import Hub
from mssante_hub.patients import notifications
from storage import agenda as agenda_store


def _any_due(conn: Connection, now: dt.datetime, until: dt.datetime) -> bool:
    occurrence = agenda_store.AgendaOccurrence
    return conn.execute(select(func.count()).select_from(occurrence).where(
        occurrence.reminded_at.is_(None), occurrence.start_at >= now, occurrence.start_at < until)).scalar_one() > 0


def _mark(conn: Connection, now: dt.datetime, until: dt.datetime) -> int:
    patients = agenda_store.mark_reminders(conn, now, until)
    for account_id in patients:
        notifications.mark_pending(conn, account_id, notifications.REMINDER)
    return len(patients)


async def mark_due(hub: Hub, now: dt.datetime | None = None) -> int:
    """Mark the reminders due now; returns how many patients get one. A read first: no write when none."""
    hours = hub.config.get("agenda.reminder_hours")
    if hours <= 0:
        return 0
    now = now or dt.datetime.now(dt.timezone.utc)
    until = now + dt.timedelta(hours=hours)
    if not await hub.read(lambda conn: _any_due(conn, now, until)):
        return 0
    return await hub.write(lambda conn: _mark(conn, now, until))
