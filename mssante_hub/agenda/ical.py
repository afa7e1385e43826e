"""Reading an iCalendar object (RFC 5545) under limits, with the `icalendar` package.

A calendar arrives from outside in a message to a patient: it is read only within bounds, checked on
the bytes before the parser sees them, then on what it built:

- size (`agenda.max_calendar_bytes`), UTF-8, unfolded line length (MAX_PROPERTY_BYTES), nesting depth and
  number of components, number of VEVENTs (`agenda.max_events`);
- a recurrence must be bounded (COUNT or UNTIL; FREQ at least daily; the rule parts an appointment needs,
  and none that can never occur) and the calendar's events expand, with `recurring-ical-events`, to at
  most `agenda.max_occurrences` occurrences in all, within MAX_RECURRENCE_YEARS of each event's start;
- the whole reading stops at MAX_PARSE_SECONDS, checked between events.

Any breach raises CalendarRefused with the refusal's reason (rules/refusals.py): the message is refused
with a permanent error, nothing is stored. Returns plain, picklable data.
"""

from __future__ import annotations

import calendar as month_lengths
import datetime as dt
import itertools
import re
import time
import zoneinfo
from dataclasses import dataclass, field

import icalendar
import recurring_ical_events

from mssante_hub.rules import refusals
from mssante_hub.rules.refusals import Reason

MAX_PROPERTY_BYTES = 16 * 1024  # one unfolded content line (a long DESCRIPTION fits)
MAX_COMPONENTS = 200  # BEGIN: lines in all (events, alarms, time zones and their rules)
MAX_DEPTH = 4  # VCALENDAR > VEVENT > VALARM, VCALENDAR > VTIMEZONE > STANDARD
MAX_RECURRENCE_YEARS = 5  # occurrences further than this from the first are not expanded
MAX_PARSE_SECONDS = 2.0
MAX_TEXT_CHARS = 2000  # one text field kept (summary, place, description, names)
MAX_UID_CHARS = 255
MAX_SEQUENCE = 1_000_000
ALLOWED_FREQ = frozenset({"DAILY", "WEEKLY", "MONTHLY", "YEARLY"})
# The rule parts an appointment's recurrence needs. Not BYSETPOS, BYYEARDAY, BYWEEKNO, BYHOUR...: with them a rule
# may never occur, and dateutil finds that out only by walking every period up to year 9999 (tens of seconds).
ALLOWED_RULE_PARTS = frozenset({"FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "BYMONTHDAY", "BYMONTH", "WKST"})
_FILTERS = frozenset({"BYDAY", "BYMONTHDAY", "BYMONTH"})
METHODS = frozenset({"REQUEST", "CANCEL", "REPLY", "PUBLISH", "ADD", "REFRESH", "COUNTER", "DECLINECOUNTER"})
DEFAULT_DURATION = dt.timedelta(hours=1)
# A time without a zone (RFC 5545 "floating") or an all-day date: the patients' zone, metropolitan France.
FLOATING_ZONE = zoneinfo.ZoneInfo("Europe/Paris")

_FOLD = re.compile(r"\r?\n[ \t]")
_BEGIN = re.compile(r"^BEGIN:([A-Za-z0-9-]+)\s*$", re.I)
_END = re.compile(r"^END:([A-Za-z0-9-]+)\s*$", re.I)


class CalendarRefused(Exception):
    def __init__(self, reason: Reason, detail: str = "") -> None:
        super().__init__(detail or reason.en)
        self.reason, self.detail = reason, detail

    def __reduce__(self):
        return (CalendarRefused, (self.reason, self.detail))


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_events: int
    max_occurrences: int


@dataclass(frozen=True)
class Person:
    address: str  # lower case, without mailto:
    name: str = ""
    partstat: str = ""


@dataclass(frozen=True)
class Event:
    """One appointment (a VEVENT, with its recurrence expanded), as the index and the feed need it."""

    uid: str
    sequence: int
    dtstamp: dt.datetime | None
    start: dt.datetime  # aware (FLOATING_ZONE for a floating or all-day time)
    end: dt.datetime
    all_day: bool
    tz: str  # the TZID of DTSTART ("" when UTC or floating)
    summary: str
    location: str
    description: str
    status: str  # CONFIRMED, TENTATIVE, CANCELLED
    specialty: str  # the first CATEGORIES value
    organizer: Person | None
    attendees: tuple[Person, ...]
    occurrences: tuple[tuple[dt.datetime, dt.datetime], ...]  # (start, end), first one included
    recurring: bool


@dataclass(frozen=True)
class Calendar:
    method: str  # "" when the object has none
    events: tuple[Event, ...]
    text: str = field(repr=False, default="")  # the calendar as received (to attach to the item)


def _refuse(reason: Reason, detail: str = "") -> CalendarRefused:
    return CalendarRefused(reason, detail)


def _check_lines(text: str, limits: Limits) -> None:
    depth, components, events = 0, 0, 0
    for line in _FOLD.sub("", text).splitlines():
        if len(line) > MAX_PROPERTY_BYTES:
            raise _refuse(refusals.CALENDAR_TOO_BIG, "property too long")
        began = _BEGIN.match(line)
        if began:
            depth += 1
            components += 1
            if began[1].upper() == "VEVENT":
                events += 1
            if depth > MAX_DEPTH:
                raise _refuse(refusals.CALENDAR_INVALID, "components nested too deep")
            if components > MAX_COMPONENTS:
                raise _refuse(refusals.CALENDAR_TOO_MANY_EVENTS, "too many components")
            if events > limits.max_events:
                raise _refuse(refusals.CALENDAR_TOO_MANY_EVENTS, "too many events")
        elif _END.match(line):
            depth -= 1
            if depth < 0:
                raise _refuse(refusals.CALENDAR_INVALID, "END without BEGIN")
    if depth != 0:
        raise _refuse(refusals.CALENDAR_INVALID, "unbalanced BEGIN/END")


def _text(component, name: str) -> str:
    value = component.get(name)
    if value is None:
        return ""
    if isinstance(value, list):
        value = value[0] if value else ""
    value = str(value)
    return " ".join(value.split())[:MAX_TEXT_CHARS] if name != "DESCRIPTION" else value.strip()[:MAX_TEXT_CHARS]


def _person(prop) -> Person | None:
    if prop is None:
        return None
    address = str(prop).strip()
    if address.lower().startswith("mailto:"):
        address = address[7:]
    address = address.strip().lower()
    if not address or len(address) > 320:
        return None
    params = getattr(prop, "params", {})
    return Person(address, " ".join(str(params.get("CN", "")).split())[:200], str(params.get("PARTSTAT", "")).upper())


def _aware(value) -> tuple[dt.datetime, bool]:
    """(an aware time, whether it was a date): a floating time or a date is taken in FLOATING_ZONE."""
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo is not None else value.replace(tzinfo=FLOATING_ZONE)), False
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=FLOATING_ZONE), True
    raise _refuse(refusals.CALENDAR_INVALID, "date expected")


def _days(rule) -> list:
    found = []
    for value in rule.get("BYDAY", []):
        text = str(value).strip().upper()
        number = text[:-2]
        if not re.fullmatch(r"[+-]?\d{0,2}", number) or text[-2:] not in ("MO", "TU", "WE", "TH", "FR", "SA", "SU"):
            raise _refuse(refusals.CALENDAR_RECURRENCE_REFUSED, "bad BYDAY")
        found.append(type("Day", (), {"relative": int(number) if number not in ("", "+", "-") else 0}))
    return found


def _check_rule(rule, start: dt.datetime) -> None:
    """A recurrence an appointment may have: bounded, daily at most, and able to occur."""
    parts = {str(k).upper() for k in rule.keys()}
    if not parts <= ALLOWED_RULE_PARTS:
        raise _refuse(refusals.CALENDAR_RECURRENCE_REFUSED, "rule part not allowed")
    freq = [str(f).upper() for f in rule.get("FREQ", [])]
    if len(freq) != 1 or freq[0] not in ALLOWED_FREQ:
        raise _refuse(refusals.CALENDAR_RECURRENCE_REFUSED, "frequency not allowed")
    if "COUNT" not in parts and "UNTIL" not in parts:
        raise _refuse(refusals.CALENDAR_RECURRENCE_REFUSED, "unbounded recurrence")
    for count in rule.get("COUNT", []):
        if not 0 < int(count) <= 100_000:
            raise _refuse(refusals.CALENDAR_RECURRENCE_REFUSED, "bad COUNT")
    for interval in rule.get("INTERVAL", []):
        if not 0 < int(interval) <= 366:
            raise _refuse(refusals.CALENDAR_RECURRENCE_REFUSED, "bad INTERVAL")
    interval = int(rule.get("INTERVAL", [1])[0])
    if interval > 1 and freq[0] in ("DAILY", "WEEKLY") and parts & (_FILTERS - ({"BYDAY"} if freq[0] == "WEEKLY"
                                                                           else set())):
        # Every INTERVAL-th day (or week) may never fall on the days filtered: refused rather than walked.
        raise _refuse(refusals.CALENDAR_RECURRENCE_REFUSED, "interval with filters")
    if interval > 1 and freq[0] == "MONTHLY":
        if "BYMONTH" in parts or any(abs(int(d)) > 28 for d in rule.get("BYMONTHDAY", [])) or any(
                abs(int(getattr(day, "relative", 0) or 0)) > 4 for day in _days(rule)):
            raise _refuse(refusals.CALENDAR_RECURRENCE_REFUSED, "interval with filters")
    if any(abs(d.relative) > 53 for d in _days(rule)):
        raise _refuse(refusals.CALENDAR_RECURRENCE_REFUSED, "bad BYDAY")
    months = [int(m) for m in rule.get("BYMONTH", [])] or list(range(1, 13))
    if any(not 1 <= m <= 12 for m in months):
        raise _refuse(refusals.CALENDAR_RECURRENCE_REFUSED, "bad BYMONTH")
    days = [int(d) for d in rule.get("BYMONTHDAY", [])]
    longest = max(29 if m == 2 else month_lengths.monthrange(2001, m)[1] for m in months)
    if days and not any(0 < abs(d) <= longest for d in days):
        # Such a rule never occurs, and finding that out walks every day up to year 9999 (seconds).
        raise _refuse(refusals.CALENDAR_RECURRENCE_REFUSED, "recurrence that never occurs")


def _expand(calendar, event, start: dt.datetime, budget: int) -> tuple[tuple[dt.datetime, dt.datetime], ...]:
    """The occurrences of one recurring event, at most `budget` (what is left of the calendar's)."""
    horizon = start + dt.timedelta(days=366 * MAX_RECURRENCE_YEARS)
    # The series alone (its overrides share its UID), not the whole calendar: each event expands once.
    series = icalendar.Calendar()
    for component in calendar.subcomponents:
        if component.name == "VTIMEZONE" or (component.name == "VEVENT" and
                                              str(component.get("UID", "")) == str(event.get("UID", ""))):
            series.add_component(component)
    query = recurring_ical_events.of(series)
    found = []
    for occurrence in itertools.islice(query.between(start - dt.timedelta(days=1), horizon), budget + 1):
        if str(occurrence.get("UID", "")) != str(event.get("UID", "")):
            continue
        begin, _ = _aware(occurrence["DTSTART"].dt)
        end = occurrence.get("DTEND")
        finish = _aware(end.dt)[0] if end is not None else begin + DEFAULT_DURATION
        found.append((begin, finish))
    if len(found) > budget:
        raise _refuse(refusals.CALENDAR_TOO_MANY_OCCURRENCES, "too many occurrences")
    return tuple(sorted(found))


def _event(calendar, component, budget: int) -> Event:
    uid = str(component.get("UID", "")).strip()
    if not uid or len(uid) > MAX_UID_CHARS:
        raise _refuse(refusals.CALENDAR_INVALID, "UID missing or too long")
    if component.errors:
        raise _refuse(refusals.CALENDAR_INVALID, "malformed property")
    dtstart = component.get("DTSTART")
    if dtstart is None:
        raise _refuse(refusals.CALENDAR_INVALID, "DTSTART missing")
    start, all_day = _aware(dtstart.dt)
    if component.get("DTEND") is not None:
        end = _aware(component["DTEND"].dt)[0]
    elif component.get("DURATION") is not None and isinstance(component["DURATION"].dt, dt.timedelta):
        end = start + component["DURATION"].dt
    else:
        end = start + (dt.timedelta(days=1) if all_day else DEFAULT_DURATION)
    if end < start or end - start > dt.timedelta(days=366):
        raise _refuse(refusals.CALENDAR_INVALID, "end before start")
    try:
        sequence = int(component.get("SEQUENCE", 0))
    except (TypeError, ValueError):
        raise _refuse(refusals.CALENDAR_INVALID, "bad SEQUENCE") from None
    if not 0 <= sequence <= MAX_SEQUENCE:
        raise _refuse(refusals.CALENDAR_INVALID, "bad SEQUENCE")
    stamp = component.get("DTSTAMP")
    dtstamp = _aware(stamp.dt)[0] if stamp is not None else None
    rules = component.get("RRULE")
    rules = rules if isinstance(rules, list) else ([rules] if rules is not None else [])
    if len(rules) > 1:
        raise _refuse(refusals.CALENDAR_RECURRENCE_REFUSED, "more than one RRULE")
    for rule in rules:
        _check_rule(rule, start)
    recurring = bool(rules) or component.get("RDATE") is not None
    occurrences = _expand(calendar, component, start, budget) if recurring else ((start, end),)
    if not occurrences:
        occurrences = ((start, end),)
    attendees = component.get("ATTENDEE")
    attendees = attendees if isinstance(attendees, list) else ([attendees] if attendees is not None else [])
    categories = component.get("CATEGORIES")
    specialty = ""
    if categories is not None:
        first = categories[0] if isinstance(categories, list) else categories
        cats = getattr(first, "cats", None) or [str(first)]
        specialty = " ".join(str(cats[0]).split())[:200] if cats else ""
    tzid = dtstart.params.get("TZID", "") if not all_day else ""
    return Event(uid=uid, sequence=sequence, dtstamp=dtstamp, start=start, end=end, all_day=all_day,
                 tz=str(tzid)[:64], summary=_text(component, "SUMMARY"), location=_text(component, "LOCATION"),
                 description=_text(component, "DESCRIPTION"),
                 status=(_text(component, "STATUS").upper() or "CONFIRMED")[:12], specialty=specialty,
                 organizer=_person(component.get("ORGANIZER")),
                 attendees=tuple(p for p in (_person(a) for a in attendees[:100]) if p is not None),
                 occurrences=occurrences, recurring=recurring)


def parse(data: bytes, limits: Limits) -> Calendar:
    """The calendar's method and events, or CalendarRefused."""
    began = time.monotonic()
    if len(data) > limits.max_bytes:
        raise _refuse(refusals.CALENDAR_TOO_BIG, "calendar too big")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise _refuse(refusals.CALENDAR_INVALID, "not UTF-8") from None
    _check_lines(text, limits)
    try:
        calendar = icalendar.Calendar.from_ical(text)
    except Exception:  # noqa: BLE001 - whatever the parser chokes on is an invalid calendar
        raise _refuse(refusals.CALENDAR_INVALID, "unreadable") from None
    if not isinstance(calendar, icalendar.Calendar) or calendar.name != "VCALENDAR":
        raise _refuse(refusals.CALENDAR_INVALID, "not a VCALENDAR")
    method = str(calendar.get("METHOD", "")).strip().upper()
    if method and method not in METHODS:
        raise _refuse(refusals.CALENDAR_INVALID, "unknown METHOD")
    events: list[Event] = []
    seen: set[str] = set()
    try:
        for component in calendar.walk("VEVENT"):
            if component.get("RECURRENCE-ID") is not None:
                continue  # an override of one occurrence: expanded with its series
            event = _event(calendar, component, limits.max_occurrences - sum(len(e.occurrences) for e in events))
            if event.uid in seen:
                raise _refuse(refusals.CALENDAR_INVALID, "UID repeated")
            seen.add(event.uid)
            events.append(event)
            if time.monotonic() - began > MAX_PARSE_SECONDS:
                raise _refuse(refusals.CALENDAR_TOO_MANY_OCCURRENCES, "calendar too costly to read")
    except CalendarRefused:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError, IndexError):
        raise _refuse(refusals.CALENDAR_INVALID, "malformed event") from None
    # A well-formed calendar without events (tasks, free/busy) files nothing and is not refused.
    return Calendar(method, tuple(events), text)
