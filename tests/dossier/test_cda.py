"""CDA headers of the ten CI-SIS examples, and XML that must be refused (DTD, entities, depth, size)."""

from __future__ import annotations

import time

import pytest

from mssante_hub.accounts import identity
from mssante_hub.dossier import cda, safexml
from tests.dossier.builder import BILLION_LAUGHS, FIXTURE_INS, FIXTURES, fixture


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_the_header_of_each_ci_sis_example(fixtures_dir, name):
    type_code, ins = FIXTURES[name]
    header = cda.read_header(fixture(fixtures_dir, name))
    assert header.type_code == type_code
    assert [(i.root, i.extension) for i in header.ins_ids] == [(identity.OID_INS_NIR_TEST, ins)]
    assert identity.is_valid_ins(ins) == (name != "CSE-CS8_2025.01.xml")  # that example's key is wrong
    assert header.title and header.effective_time[:4].isdigit() and header.version_number in ("1", "2")
    assert header.set_id is not None and header.set_id.root
    assert header.birth_names and header.first_birth_given_names and header.birth_given_names
    assert header.birth_time[:8].isdigit() and header.sex == "F"
    assert header.author_ids[0].root == identity.OID_IDNATPS


def test_the_patient_traits_are_read_by_qualifier(fixtures_dir):
    header = cda.read_header(fixture(fixtures_dir, "LDL-SES_2022.01.xml"))
    assert header.ins_ids[0].extension == FIXTURE_INS
    assert len(header.patient_ids) == 2  # the INS and the hospital's local id (IPP)
    assert (header.birth_names, header.used_names) == (("PAT-TROIS",), ("PAT-TROIS",))
    assert header.birth_given_names == ("DOMINIQUE MARIE-LOUISE",)
    assert (header.first_birth_given_names, header.used_given_names) == (("DOMINIQUE",), ("DOMINIQUE",))
    assert (header.birth_time, header.sex) == ("19790328", "F")


def test_reading_stops_at_the_body(fixtures_dir):
    # The level-1 example is mostly a base64 PDF in its body: a header read must not walk it.
    data = fixture(fixtures_dir, "DOC_NON_STRUCTURE_CDA-R2-N1.xml")
    cut = data.index(b"<component>")
    assert cda.read_header(data[:cut] + b"<component><nonXMLBody>") == cda.read_header(data)


def test_billion_laughs_is_refused_at_once():
    started = time.monotonic()
    with pytest.raises(safexml.XmlRefused, match="forbidden construct"):
        cda.read_header(BILLION_LAUGHS)
    assert time.monotonic() - started < 1


def test_an_external_entity_is_refused():
    data = (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b'<ClinicalDocument xmlns="urn:hl7-org:v3"><title>&x;</title></ClinicalDocument>')
    with pytest.raises(safexml.XmlRefused):
        cda.read_header(data)


def test_depth_elements_and_size_are_bounded():
    deep = b'<ClinicalDocument xmlns="urn:hl7-org:v3">' + b"<a>" * 10_000 + b"</a>" * 10_000 + b"</ClinicalDocument>"
    with pytest.raises(safexml.XmlRefused, match="nesting"):
        cda.read_header(deep)
    limits = safexml.XmlLimits(max_bytes=1000, max_depth=10, max_elements=5)
    with pytest.raises(safexml.XmlRefused, match="elements"):
        safexml.parse(b"<r>" + b"<a/>" * 10 + b"</r>", limits)
    with pytest.raises(safexml.XmlRefused, match="larger"):
        safexml.parse(b"<r>" + b" " * 1000 + b"</r>", limits)


def test_malformed_or_foreign_xml_is_refused():
    with pytest.raises(safexml.XmlRefused):
        cda.read_header(b"<ClinicalDocument xmlns='urn:hl7-org:v3'><title>")
    with pytest.raises(cda.CdaError):
        cda.read_header(b"<ClinicalDocument><title>no namespace</title></ClinicalDocument>")
