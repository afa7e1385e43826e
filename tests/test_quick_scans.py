"""The quick scans of delivery (delivery/accept.py) on raw bytes: a message that may carry a calendar, a
dossier document or FHIR measures goes to the parse threads. They compare lower-cased bytes; the answer must be
the case-insensitive match's, for every casing a sender may use (a miss would skip the filing)."""

from __future__ import annotations

import re

import pytest

from mssante_hub.agenda.filing import may_carry_calendar
from mssante_hub.catalogue.measures import may_carry_measures
from mssante_hub.dossier.filing import may_carry_documents

SCANS = [
    (may_carry_calendar, re.compile(rb"text/calendar|application/ics|\.ics", re.I)),
    (may_carry_documents, re.compile(rb"ihe_xdm", re.I)),
    (may_carry_measures, re.compile(rb"fhir\+json", re.I)),
]
SAMPLES = [
    b"Content-Type: text/plain\r\n\r\nBonjour",
    b"Content-Type: TEXT/Calendar; method=REQUEST\r\n",
    b"Content-Type: application/ICS\r\n",
    b'Content-Disposition: attachment; filename="rdv.ICS"\r\n',
    b'Content-Disposition: attachment; filename="IHE_XDM.ZIP"\r\n',
    b"Content-Type: application/FHIR+JSON\r\n",
    b"fhir json, text calendar, ihe xdm, ics",  # near misses
    b"\xff\xfe\x00 text/calend\x00ar",  # not text
]


@pytest.mark.parametrize("sample", SAMPLES)
@pytest.mark.parametrize(("scan", "regex"), SCANS, ids=["calendar", "documents", "measures"])
def test_a_quick_scan_answers_as_a_case_insensitive_match(scan, regex, sample):
    assert scan(sample) is (regex.search(sample) is not None)


def test_each_scan_finds_its_own_word_in_any_case():
    assert may_carry_calendar(b"x TeXt/CaLeNdAr y") and may_carry_documents(b"iHe_XdM") \
        and may_carry_measures(b"FhIr+JsOn")
    assert not may_carry_calendar(b"text/plain") and not may_carry_documents(b"xdm") \
        and not may_carry_measures(b"json")
