"""The integration check of document messages: each code it produces (902-906), and OK."""

from __future__ import annotations

import random

import pytest

from mssante_hub.accounts import identity
from mssante_hub.config import SETTINGS
from mssante_hub.dossier import integration
from mssante_hub.dossier.patient import KnownPatient
from mssante_hub.mime import Limits
from tests.dossier import builder
from tests.dossier.builder import FIXTURE_INS, FIXTURES, fixture

SENDER = "jean.dupont@hub.test"
SPACE = f"{FIXTURE_INS}@patient.hub.test"
# The fixtures' patient as provisioned: PAT-TROIS DOMINIQUE MARIE-LOUISE, born 28/03/1979, F.
WITH_TRAITS = KnownPatient(FIXTURE_INS, "Pat-Trois", "Dominique Marie-Louise", "1979-03-28", "F")
INS_ONLY = KnownPatient(FIXTURE_INS)
OTHER_INS = identity.random_ins(random.Random(902))


@pytest.fixture(scope="module")
def limits() -> Limits:
    """The hub's default message limits (what hub.limits holds on a default data folder)."""
    defaults = {setting.key: setting.default for setting in SETTINGS}
    return Limits(*(defaults[f"limits.{name}"] for name in Limits.__dataclass_fields__))


def check(xdm_zip: bytes | None, patient: KnownPatient | None, limits: Limits) -> integration.IntegrationResult:
    return integration.check(builder.document_message(SENDER, SPACE, xdm_zip), patient, limits)


def small_cda() -> bytes:
    """A document of the fixtures' patient, generated: these tests run without ../shared/fixtures."""
    return builder.generated_cda()


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_each_ci_sis_example_integrates_or_says_why(fixtures_dir, limits, name):
    type_code, ins = FIXTURES[name]
    result = check(builder.cda_package(fixture(fixtures_dir, name), type_code), WITH_TRAITS, limits)
    if identity.is_valid_ins(ins):
        assert result.ok and result.carries_xdm
        assert [d.type_code for d in result.documents] == [type_code]
    else:
        assert result.error == integration.INCOMPLETE_INS


def test_a_message_without_xdm_is_not_checked(limits):
    result = check(None, INS_ONLY, limits)
    assert result == integration.NOT_A_DOCUMENT_MESSAGE and result.ok and not result.carries_xdm


def test_another_patients_document_is_902(limits):
    other = builder.with_patient_ins(small_cda(), OTHER_INS)
    assert check(builder.cda_package(other), WITH_TRAITS, limits).error == integration.UNKNOWN_PATIENT
    assert check(builder.cda_package(small_cda()), None, limits).error == integration.UNKNOWN_PATIENT


def test_a_document_without_ins_is_903(limits):
    without = builder.with_patient_ins(small_cda(), None)
    assert check(builder.cda_package(without), WITH_TRAITS, limits).error == integration.NO_INS


@pytest.mark.parametrize("trait", ["birth_name", "first_names", "birth_date", "sex"])
def test_a_trait_that_disagrees_is_904(limits, trait):
    wrong = {"birth_name": "MARTIN", "first_names": "Jeanne", "birth_date": "1979-03-29", "sex": "M"}[trait]
    patient = KnownPatient(**{**WITH_TRAITS.__dict__, trait: wrong})
    result = check(builder.cda_package(small_cda()), patient, limits)
    assert result.error == integration.TRAITS_DISAGREE


def test_names_compare_without_case_accents_or_extra_spaces(limits):
    patient = KnownPatient(FIXTURE_INS, " pat-trois ", "Dominiqué", "1979-03-28", "f")
    assert check(builder.cda_package(small_cda()), patient, limits).ok


def test_only_the_traits_the_hub_holds_are_compared(limits):
    assert check(builder.cda_package(small_cda()), INS_ONLY, limits).ok
    assert check(builder.cda_package(small_cda()), KnownPatient(FIXTURE_INS, sex="F"), limits).ok


@pytest.mark.parametrize("ins", ["27903512151898", "2790351215189890", "279035121518988", "27903512151898X"])
def test_a_malformed_or_wrongly_keyed_ins_is_905(limits, ins):
    cda = builder.with_patient_ins(small_cda(), ins)
    assert check(builder.cda_package(cda), WITH_TRAITS, limits).error == integration.INCOMPLETE_INS


def test_an_ins_with_a_null_flavor_is_905(limits):
    cda = small_cda().replace(
        b'<id extension="279035121518989" root="1.2.250.1.213.1.4.10"/>',
        b'<id root="1.2.250.1.213.1.4.10" nullFlavor="UNK"/>', 1)
    assert check(builder.cda_package(cda), WITH_TRAITS, limits).error == integration.INCOMPLETE_INS


def test_package_faults_are_906_each_with_its_label(limits):
    cda = small_cda()
    good = builder.cda_package(cda)
    cases = {
        b"not a zip": integration.XDM_UNREADABLE,
        builder.package([builder.Document("DOC0001.XML", cda, listed_hash="b" * 40)]): integration.XDM_MISMATCH,
        builder.cda_package(builder.BILLION_LAUGHS): integration.XML_REFUSED,
        builder.zip_bomb(10): integration.XDM_LIMITS,
        builder.package([], extra={"../x": b""}): integration.XDM_UNSAFE_NAME,
        builder.package([]): integration.XDM_NO_METADATA,
        builder.package([builder.Document("DOC0001.XML", cda)], metadata_bytes=b"<x/>"): integration.XDM_BAD_METADATA,
        builder.cda_package(b"<html xmlns='http://www.w3.org/1999/xhtml'/>"): integration.NOT_CDA,
        builder.package([builder.Document("D.PDF", b"%PDF", mime_type="application/pdf")]): integration.NO_CDA,
    }
    assert check(good, WITH_TRAITS, limits).ok
    for package, error in cases.items():
        assert (error.code, check(package, WITH_TRAITS, limits).error) == ("906", error)


def test_labels_are_french_and_fit_the_disposition_field():
    errors = [v for v in vars(integration).values() if isinstance(v, integration.IntegrationError)]
    assert {e.code for e in errors} == {"902", "903", "904", "905", "906"}  # 900 and 901 not produced yet
    for error in errors:
        assert error.label and "^" not in error.label and "\n" not in error.label and len(error.label) < 100
