"""Who may see a filed document: confidentiality codes (docs/domain.md §6.2) and the patient's choices.

Decided on the index row's clear columns (codes, the patient's hide flag) so that the store can
leave masked rows out in SQL and nothing masked is ever opened for a reader who may not see it.
"""

from __future__ import annotations

import enum
import re

NORMAL = "N"
MASQUE_PS = "MASQUE_PS"  # hidden from professionals, except the author and the patient's GP
INVISIBLE_PATIENT = "INVISIBLE_PATIENT"  # not yet shown to the patient; once lifted, never again
INVISIBLE_REPRESENTANTS_LEGAUX = "INVISIBLE_REPRESENTANTS_LEGAUX"  # hidden from legal representatives
CODING_SCHEME = "1.2.250.1.213.1.1.4.13"
_CODE_SHAPE = re.compile(r"^[A-Z][A-Z0-9_]{0,39}$")
MAX_CODES = 4


class Viewer(str, enum.Enum):
    """Whom a document is shown to."""

    PATIENT = "patient"  # the holder
    REPRESENTATIVE = "representative"  # a legal representative acting on a dependant's space
    PROFESSIONAL = "professional"  # in care, granted, or by emergency access
    AUTHOR = "author"  # the professional who wrote it (or the patient's GP): MASQUE_PS does not hide it


def clean_codes(codes: list[str]) -> str:
    """Confidentiality codes as stored: upper-case words, sorted, at most MAX_CODES; N when none."""
    kept = sorted({c.strip().upper() for c in codes if _CODE_SHAPE.match(c.strip().upper())})[:MAX_CODES]
    return " ".join(kept) or NORMAL


def visible(codes: str, hidden_by_patient: bool, viewer: Viewer) -> bool:
    """Whether a document with these stored codes is shown to this viewer."""
    held = set(codes.split())
    if viewer is Viewer.PATIENT:
        return INVISIBLE_PATIENT not in held
    if viewer is Viewer.REPRESENTATIVE:
        return not held & {INVISIBLE_PATIENT, INVISIBLE_REPRESENTANTS_LEGAUX}
    if viewer is Viewer.AUTHOR:
        return not hidden_by_patient
    return MASQUE_PS not in held and not hidden_by_patient


def hidden_from_professionals(codes: str) -> bool:
    """A MASQUE_PS document must never be sent to a professional's mailbox (docs/domain.md §6.2)."""
    return MASQUE_PS in codes.split()
