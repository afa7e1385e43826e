"""Fuzzing the iCalendar reader of the agenda (mssante_hub/agenda/ical.py): it answers a Calendar or its own
CalendarRefused, never anything else, on mutations of real iMIP calendars (recurrences, time zones, alarms)."""

from __future__ import annotations

from hypothesis import given

from mssante_hub.agenda import ical
from tests.agenda.support import ics
from tests.fuzz.conftest import FUZZ
from tests.fuzz.mutations import batch, batches, reported

LIMITS = ical.Limits(max_bytes=16 * 1024, max_events=10, max_occurrences=100)
VTIMEZONE = ("BEGIN:VTIMEZONE\r\nTZID:Europe/Paris\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\n"
             "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\n"
             "BEGIN:DAYLIGHT\r\nDTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\n"
             "TZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n")
ICS_SEEDS = [
    ics("seed-1@x", attendee="p@patient.test").encode(),
    ics("seed-2@x", extra="RRULE:FREQ=WEEKLY;BYDAY=MO,TH;COUNT=6\nEXDATE;TZID=Europe/Paris:20271213T100000").encode(),
    ics("seed-3@x", method="CANCEL", status="CANCELLED",
        extra="BEGIN:VALARM\nACTION:DISPLAY\nTRIGGER:-PT1H\nDESCRIPTION:x\nEND:VALARM").encode(),
    ics("seed-4@x").replace("METHOD:REQUEST\r\n", "METHOD:REQUEST\r\n" + VTIMEZONE).encode(),
    ics("seed-5@x", extra="RRULE:FREQ=MONTHLY;BYMONTHDAY=31;UNTIL=20291231T000000Z\nRDATE:20280101T100000Z"
        "\nDURATION:PT45M").replace("DTEND;TZID=Europe/Paris:20271210T103000\r\n", "").encode(),
]


@FUZZ
@given(batches())
def test_ical_reader_answers_or_refuses(seed):
    for data in batch(seed, ICS_SEEDS, max_size=4096):
        with reported(data):
            try:
                calendar = ical.parse(data, LIMITS)
            except ical.CalendarRefused:
                continue
            assert calendar.events and all(e.occurrences for e in calendar.events)
            assert all(len(e.occurrences) <= LIMITS.max_occurrences for e in calendar.events)
