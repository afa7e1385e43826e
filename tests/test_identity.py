"""INS, idNatPS and patient addresses (docs/domain.md §1)."""

from __future__ import annotations

import random

import pytest

from mssante_hub.accounts import identity
from mssante_hub.accounts.identity import IdentityError

VALID_INS = "279035121518989"  # the test matricule of the INS documentation
CORSICA_2A = "180022A12345636"  # key computed with 2A read as 19
CORSICA_2B = "275022B04501235"  # key computed with 2B read as 18


@pytest.mark.parametrize("ins", [VALID_INS, CORSICA_2A, CORSICA_2B, "2790351215189 89".replace(" ", ""),
                                 CORSICA_2A.lower()])
def test_valid_ins_accepted(ins):
    assert identity.validate_ins(ins) == ins.upper()


@pytest.mark.parametrize("ins, why", [
    ("279035121518988", "key"),  # key off by one
    ("180022A12345637", "key"),
    ("275022B04501234", "key"),
    ("180022A12345600", "key"),  # what a naive 2A -> 00 reading would never give
    ("27903512151898", "15 characters"),
    ("2790351215189890", "15 characters"),
    ("279035121518X89", "department"),
    ("579035121518989", "department"),  # no such sex digit
    ("", "15 characters"),
])
def test_invalid_ins_refused_with_a_reason(ins, why):
    with pytest.raises(IdentityError, match=why):
        identity.validate_ins(ins)
    assert not identity.is_valid_ins(ins)


def test_corsica_keys_use_19_and_18():
    assert identity.ins_key("180022A123456") == 97 - int("1800219123456") % 97
    assert identity.ins_key("275022B045012") == 97 - int("2750218045012") % 97


def test_unusual_months_are_not_refused():
    for month in ("20", "42", "50", "99"):
        body = f"2{'79'}{month}51215189"
        assert identity.is_valid_ins(f"{body}{identity.ins_key(body):02d}")


def test_a_thousand_random_valid_ins_are_accepted():
    rng = random.Random(20261122)
    generated = {identity.random_ins(rng) for _ in range(1000)}
    assert len(generated) > 990
    for ins in generated:
        assert identity.validate_ins(ins) == ins
        wrong = f"{ins[:13]}{(int(ins[13:]) % 97) + 1:02d}"
        assert not identity.is_valid_ins(wrong)


def test_patient_address_is_case_insensitive():
    address = identity.patient_address(CORSICA_2A.lower(), "Patient.Hub.Test")
    assert address == "180022a12345636@patient.hub.test"
    assert identity.ins_of_address("180022A12345636@PATIENT.HUB.TEST", "patient.hub.test") == CORSICA_2A
    assert identity.ins_of_address(address, "patient.hub.test") == CORSICA_2A
    assert identity.same_address(address, address.upper())
    assert identity.ins_of_address("dr.house@hub.test", "patient.hub.test") is None
    assert identity.ins_of_address("279035121518988@patient.hub.test", "patient.hub.test") is None


def test_ins_oids_and_hl7_form():
    assert identity.ins_hl7(VALID_INS) == "279035121518989^^^&1.2.250.1.213.1.4.8&ISO^NH"
    assert identity.ins_hl7(VALID_INS, identity.OID_INS_NIA).endswith("&1.2.250.1.213.1.4.9&ISO^NH")
    for oid in ("1.2.250.1.213.1.4.8", "1.2.250.1.213.1.4.9", "1.2.250.1.213.1.4.10", "1.2.250.1.213.1.4.11"):
        assert identity.is_ins_oid(oid)
    assert not identity.is_ins_oid("1.2.250.1.71.4.2.1")
    with pytest.raises(IdentityError):
        identity.ins_hl7(VALID_INS, "1.2.3")


def test_idnatps():
    assert identity.idnatps_from_rpps("10003456789") == "810003456789"
    assert identity.validate_idnatps("810003456789") == "810003456789"
    assert identity.validate_idnatps("0123456789") == "0123456789"
    for bad in ("910003456789", "81000345678", "8100034567890", "abc"):
        with pytest.raises(IdentityError):
            identity.validate_idnatps(bad)
    with pytest.raises(IdentityError):
        identity.idnatps_from_rpps("123")


def test_mailbox_types():
    assert identity.PROFESSIONAL_TYPES == {"PER", "ORG", "APP", "CAB"}
    assert identity.Party("a@b.c", "REMOTE").is_professional
    assert identity.Party("a@b.c", "PATIENT").is_patient
    assert not identity.Party("a@b.c", "SYSTEM").is_professional
