"""iMIP messages as a professional's calendar sends them (RFC 6047), for the agenda tests and bench."""

from __future__ import annotations

import datetime as dt
import smtplib

from tests.conftest import TEST_PASSWORD

DOCTOR = "jean.dupont@hub.test"


def ics(uid: str, *, method: str = "REQUEST", sequence: int = 0, start: str = "20271210T100000",
        end: str = "20271210T103000", stamp: str = "20261201T100000Z", organizer: str = DOCTOR, attendee: str = "",
        summary: str = "Consultation de cardiologie", location: str = "Cabinet du Dr Dupont, Lyon",
        specialty: str = "Cardiologie", status: str = "", extra: str = "", events: int = 1) -> str:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Cabinet//Agenda 1.0//FR", f"METHOD:{method}"]
    for n in range(events):
        lines += ["BEGIN:VEVENT", f"UID:{uid if events == 1 else f'{n}-{uid}'}", f"SEQUENCE:{sequence}",
                  f"DTSTAMP:{stamp}", f"DTSTART;TZID=Europe/Paris:{start}", f"DTEND;TZID=Europe/Paris:{end}",
                  f"SUMMARY:{summary}", f"LOCATION:{location}", f"CATEGORIES:{specialty}",
                  f"ORGANIZER;CN=Dr Jean Dupont:mailto:{organizer}"]
        if attendee:
            lines.append(f"ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:{attendee}")
        if status:
            lines.append(f"STATUS:{status}")
        if extra:
            lines += extra.split("\n")
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return "\r\n".join(lines) + "\r\n"


def imip_message(sender: str, to: str, calendar: str, method: str = "REQUEST", subject: str = "Rendez-vous") -> bytes:
    """The covering mail: text, and the calendar as `text/calendar; method=...` (multipart/alternative)."""
    date = dt.datetime.now(dt.timezone.utc).strftime("%a, %d %b %Y %H:%M:%S +0000")
    return (f"From: Dr Jean Dupont <{sender}>\r\nTo: {to}\r\nSubject: {subject}\r\nDate: {date}\r\n"
            f"Message-ID: <{abs(hash(calendar))}.{dt.datetime.now().timestamp()}@hub.test>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n"
            "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nVotre rendez-vous.\r\n"
            f"--b1\r\nContent-Type: text/calendar; method={method}; charset=utf-8\r\n\r\n{calendar}"
            "--b1--\r\n").encode()


class Submitter:
    """One authenticated submission session (smtplib, STARTTLS) to a served hub."""

    def __init__(self, port: int, pki, sender: str = DOCTOR) -> None:
        self.sender = sender
        self.client = smtplib.SMTP("127.0.0.1", port, timeout=60)
        self.client.starttls(context=pki.client_context(None))
        self.client.login(sender, TEST_PASSWORD)

    def send(self, to: str, raw: bytes) -> dict:
        return self.client.sendmail(self.sender, [to], raw)

    def close(self) -> None:
        try:
            self.client.quit()
        except smtplib.SMTPException:
            pass
