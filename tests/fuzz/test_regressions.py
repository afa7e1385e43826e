"""Crashes the fuzzers found, each kept as a regression test."""

from __future__ import annotations

import pytest

from mssante_hub import mime
from mssante_hub.dossier import cda
from mssante_hub.dossier.safexml import XmlRefused
from tests.fuzz.test_parsers import CDA_SEED, LIMITS


def test_cda_with_an_unknown_encoding_is_refused():
    """Found by test_cda_reader_answers_or_refuses: an unknown encoding escaped safexml.parse as LookupError."""
    data = CDA_SEED.replace(b'encoding="UTF-8"', b'encoding="U0TF-8"')
    with pytest.raises((cda.CdaError, XmlRefused)):
        cda.read_header(data)


def test_an_encoded_word_with_a_non_ascii_charset_name_is_kept_as_written():
    """Found by test_mime_parser_answers_or_refuses at 200,000 examples: email.errors.CharsetError escaped."""
    raw = b"From: a@b.test\r\nTo: c@d.test\r\nSubject: =?\xc7\xa8utf-8?b?w6k=?=\r\n\r\nbody\r\n"
    summary = mime.summary_fields(mime.parse(raw, LIMITS))
    assert summary["subject"] == "=?\u01e8utf-8?b?w6k=?="
