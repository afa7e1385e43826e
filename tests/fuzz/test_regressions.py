"""Crashes the fuzzers found, each kept as a regression test."""

from __future__ import annotations

import pytest

from mssante_hub.dossier import cda
from mssante_hub.dossier.safexml import XmlRefused
from tests.fuzz.test_parsers import CDA_SEED


def test_cda_with_an_unknown_encoding_is_refused():
    """Found by test_cda_reader_answers_or_refuses: an unknown encoding escaped safexml.parse as LookupError."""
    data = CDA_SEED.replace(b'encoding="UTF-8"', b'encoding="U0TF-8"')
    with pytest.raises((cda.CdaError, XmlRefused)):
        cda.read_header(data)
