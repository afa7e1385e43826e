"""iMIP (RFC 6047): finding the calendar a message carries, and writing the calendars the hub sends.

- calendar_part(): the `text/calendar` part of a message (or an attached `.ics`), its bytes bounded;
- reply(): the patient's answer to an organiser, METHOD:REPLY with the patient's PARTSTAT (RFC 5546 §3.2.3),
  as a mail whose `text/calendar; method=REPLY` part a calendar client acts on;
- own_event(): the iCalendar of an appointment or reminder the patient writes for themselves.
"""

from __future__ import annotations

import datetime as dt
import email.policy
import email.utils
import secrets
from dataclasses import dataclass
from email.message import EmailMessage

import icalendar

from mssante_hub.agenda.ical import MAX_TEXT_CHARS, CalendarRefused
from mssante_hub.rules import refusals

PRODID = "-//mssante-hub//Agenda//FR"
CALENDAR_TYPES = frozenset({"text/calendar", "application/ics"})
MAX_CALENDAR_PARTS = 4  # an iMIP message carries one, maybe twice (inline and attached)
PARTSTATS = ("ACCEPTED", "DECLINED")
REPLY_MAX_BYTES = 64 * 1024  # rules/policy.py lets a patient's iMIP REPLY part through up to this size
KIND_HEADER = "X-MSSANTE-AGENDA"  # own or reminder, on the patient's own items (set by web/agenda_api.py)


@dataclass(frozen=True)
class Part:
    method: str  # the Content-Type's method parameter, upper case ("" when absent)
    data: bytes


def calendar_part(message: EmailMessage, max_bytes: int) -> Part | None:
    """The message's calendar part, None when it has none; CalendarRefused when one is over `max_bytes`."""
    found: list[Part] = []
    for part in message.walk():
        if part.is_multipart():
            continue
        name = (part.get_filename() or "").lower()
        if part.get_content_type() not in CALENDAR_TYPES and not name.endswith(".ics"):
            continue
        if len(found) >= MAX_CALENDAR_PARTS:
            break
        payload = part.get_payload(decode=True) or b""
        if len(payload) > max_bytes:
            raise CalendarRefused(refusals.CALENDAR_TOO_BIG, "calendar too big")
        found.append(Part(str(part.get_param("method", "") or "").strip().upper(), payload))
    if not found:
        return None
    with_method = [p for p in found if p.method]
    return with_method[0] if with_method else found[0]


def is_reply_part(part: EmailMessage) -> bool:
    """A patient's iMIP REPLY as the hub writes it: inline, small, `text/calendar; method=REPLY`."""
    return (part.get_content_type() == "text/calendar" and not part.get_filename()
            and str(part.get_param("method", "")).upper() == "REPLY"
            and len(part.get_payload(decode=True) or b"") <= REPLY_MAX_BYTES)


def _clean(text: str) -> str:
    return " ".join(str(text).split())[:MAX_TEXT_CHARS]


def _stamp(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.timezone.utc).replace(microsecond=0)


def reply(*, patient: str, patient_name: str, organizer: str, organizer_name: str, uid: str, sequence: int,
          start: dt.datetime, end: dt.datetime, summary: str, partstat: str, hostname: str,
          now: dt.datetime | None = None) -> bytes:
    """The REPLY mail, from the patient to the organiser (RFC 6047 §3: multipart/alternative, text + calendar)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    calendar = icalendar.Calendar()
    calendar.add("PRODID", PRODID)
    calendar.add("VERSION", "2.0")
    calendar.add("METHOD", "REPLY")
    event = icalendar.Event()
    event.add("UID", uid)
    event.add("SEQUENCE", sequence)
    event.add("DTSTAMP", _stamp(now))
    event.add("DTSTART", _stamp(start))
    event.add("DTEND", _stamp(end))
    if summary:
        event.add("SUMMARY", _clean(summary))
    event.add("ORGANIZER", icalendar.vCalAddress(f"mailto:{organizer}"),
              parameters={"CN": organizer_name} if organizer_name else {})
    attendee = {"PARTSTAT": partstat}
    if patient_name:
        attendee["CN"] = patient_name
    event.add("ATTENDEE", icalendar.vCalAddress(f"mailto:{patient}"), parameters=attendee)
    calendar.add_component(event)
    answered = {"ACCEPTED": ("accepte", "accepts"), "DECLINED": ("décline", "declines")}[partstat]
    when = start.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = email.utils.formataddr((patient_name, patient)) if patient_name else patient
    message["To"] = email.utils.formataddr((organizer_name, organizer)) if organizer_name else organizer
    message["Subject"] = ("Accepté" if partstat == "ACCEPTED" else "Refusé") + " / " + \
        ("Accepted" if partstat == "ACCEPTED" else "Declined") + (f" : {_clean(summary)[:150]}" if summary else "")
    message["Date"] = email.utils.format_datetime(now)
    message["Message-ID"] = email.utils.make_msgid(domain=hostname)
    message.set_content(f"Le patient {answered[0]} le rendez-vous du {when}.\n\n"
                        f"The patient {answered[1]} the appointment of {when}.\n")
    message.add_alternative(calendar.to_ical(), maintype="text", subtype="calendar",
                            params={"method": "REPLY", "charset": "UTF-8"})
    return message.as_bytes()


def own_event(*, patient: str, kind: str, title: str, start: dt.datetime, end: dt.datetime, place: str,
              note: str, hostname: str, now: dt.datetime | None = None) -> tuple[bytes, str]:
    """(the mail filing it into Agenda, the event's UID) for an appointment or reminder of the patient's own."""
    now = now or dt.datetime.now(dt.timezone.utc)
    uid = f"{secrets.token_hex(16)}@{hostname}"
    calendar = icalendar.Calendar()
    calendar.add("PRODID", PRODID)
    calendar.add("VERSION", "2.0")
    calendar.add("METHOD", "PUBLISH")
    event = icalendar.Event()
    event.add("UID", uid)
    event.add("DTSTAMP", _stamp(now))
    event.add("DTSTART", _stamp(start))
    event.add("DTEND", _stamp(end))
    event.add("SUMMARY", _clean(title))
    if place:
        event.add("LOCATION", _clean(place))
    if note:
        event.add("DESCRIPTION", str(note)[:MAX_TEXT_CHARS])
    calendar.add_component(event)
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = patient
    message["To"] = patient
    message["Subject"] = _clean(title)
    message["Date"] = email.utils.format_datetime(now)
    message["Message-ID"] = email.utils.make_msgid(domain=hostname)
    message[KIND_HEADER] = kind
    message.set_content("Ajouté par vous-même à votre agenda.\n\nAdded to your agenda by yourself.\n")
    message.add_attachment(calendar.to_ical(), maintype="text", subtype="calendar", filename="agenda.ics",
                           params={"method": "PUBLISH"})
    return message.as_bytes(), uid
