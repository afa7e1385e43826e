"""Who is who: the INS of patients, the idNatPS of professionals, mailbox types, addresses.

One home for these nouns (docs/domain.md §1). Everything here is pure: no database,
no settings, so front doors, policy and provisioning share one definition.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from storage.models import AccountType

# --- INS (matricule INS: NIR or NIA, 13 characters + 2-digit key) ----------------

INS_LENGTH = 15
INS_BODY_LENGTH = 13
INS_KEY_MODULUS = 97
# Corsica: the department letters are read as numbers for the key (docs/domain.md §1).
_CORSICA = {"2A": "19", "2B": "18"}
_INS_SHAPE = re.compile(r"^[12378]\d{4}(\d{2}|2A|2B)\d{8}$")

OID_INS_NIR = "1.2.250.1.213.1.4.8"
OID_INS_NIA = "1.2.250.1.213.1.4.9"
OID_INS_NIR_TEST = "1.2.250.1.213.1.4.10"
OID_INS_DEMO = "1.2.250.1.213.1.4.11"
INS_OIDS = frozenset({OID_INS_NIR, OID_INS_NIA, OID_INS_NIR_TEST, OID_INS_DEMO})


class IdentityError(ValueError):
    """An identifier is malformed; the message says what is wrong (never echoes it in full)."""


def _ins_number(body: str) -> int:
    department = body[5:7]
    return int(body[:5] + _CORSICA.get(department, department) + body[7:])


def ins_key(body: str) -> int:
    """The 2-digit key of a 13-character NIR/NIA: 97 - (N mod 97)."""
    return INS_KEY_MODULUS - _ins_number(body) % INS_KEY_MODULUS


def validate_ins(value: str) -> str:
    """The matricule INS in canonical form (upper case), or IdentityError saying why."""
    if not isinstance(value, str):
        raise IdentityError("an INS is a string of 15 characters")
    ins = value.strip().upper()
    if len(ins) != INS_LENGTH:
        raise IdentityError(f"an INS has {INS_LENGTH} characters, not {len(ins)}")
    if not _INS_SHAPE.match(ins):
        raise IdentityError("an INS is a sex digit, 4 digits, a department (digits, 2A or 2B) and 8 digits")
    if int(ins[13:]) != ins_key(ins[:13]):
        raise IdentityError("the INS key (last 2 digits) does not match the first 13 characters")
    return ins


def is_valid_ins(value: str) -> bool:
    try:
        validate_ins(value)
    except IdentityError:
        return False
    return True


def random_ins(rng: random.Random | None = None) -> str:
    """A well-formed INS with a correct key (tests and benchmarks; not a real person)."""
    rng = rng or random.Random()
    sex = rng.choice("12")
    year = f"{rng.randrange(100):02d}"
    month = f"{rng.randrange(1, 13):02d}"
    department = rng.choice([f"{rng.randrange(1, 96):02d}", "2A", "2B"])
    body = f"{sex}{year}{month}{department}{rng.randrange(1000):03d}{rng.randrange(1, 1000):03d}"
    return f"{body}{ins_key(body):02d}"


def ins_hl7(ins: str, oid: str = OID_INS_NIR) -> str:
    """The HL7 v2 / XDS form: `<INS>^^^&<OID>&ISO^NH`."""
    if oid not in INS_OIDS:
        raise IdentityError(f"{oid} is not an INS OID")
    return f"{validate_ins(ins)}^^^&{oid}&ISO^NH"


def is_ins_oid(oid: str) -> bool:
    return oid.strip() in INS_OIDS


# --- Addresses ------------------------------------------------------------------

def patient_address(ins: str, patient_domain: str) -> str:
    """`<INS>@<patient domain>`, lower case (addresses compare case-insensitively)."""
    return f"{validate_ins(ins)}@{patient_domain}".lower()


def ins_of_address(address: str, patient_domain: str) -> str | None:
    """The INS of a patient address in `patient_domain`, or None if it is not one."""
    local, _, domain = address.strip().rpartition("@")
    if domain.lower() != patient_domain.lower():
        return None
    try:
        return validate_ins(local)
    except IdentityError:
        return None


def same_address(a: str, b: str) -> bool:
    return a.strip().lower() == b.strip().lower()


# --- Professionals: idNatPS -----------------------------------------------------

OID_IDNATPS = "1.2.250.1.71.4.2.1"
OID_STRUCTURE = "1.2.250.1.71.4.2.2"
_RPPS = re.compile(r"^\d{11}$")
_IDNATPS = re.compile(r"^(8\d{11}|0\d{9})$")  # 8 + RPPS (11 digits), or 0 + ADELI (9 digits)


def idnatps_from_rpps(rpps: str) -> str:
    if not _RPPS.match(rpps.strip()):
        raise IdentityError("an RPPS number has 11 digits")
    return RPPS_PREFIX + rpps.strip()


_ADELI = re.compile(r"^\d{9}$")
RPPS_PREFIX, ADELI_PREFIX = "8", "0"  # idNatPS = prefix + number (docs/domain.md §1.2)


def idnatps_from_adeli(adeli: str) -> str:
    if not _ADELI.match(adeli.strip()):
        raise IdentityError("an ADELI number has 9 digits")
    return ADELI_PREFIX + adeli.strip()


def idnatps_of_account(number: str | None) -> str:
    """The idNatPS a professional account's number stands for, or "". The account's `rpps` column holds an RPPS
    (11 digits: `account add --rpps`), or an idNatPS itself: `0` + ADELI (`account add --adeli`; no column of its
    own, which would take a migration), or `8` + RPPS (as some data dirs were made). The lengths (11, 10, 12)
    cannot be taken for one another."""
    number = (number or "").strip()
    if _RPPS.match(number):
        return RPPS_PREFIX + number
    return number if _IDNATPS.match(number) else ""


def validate_idnatps(value: str) -> str:
    value = value.strip()
    if not _IDNATPS.match(value):
        raise IdentityError("an idNatPS is 8 followed by the 11-digit RPPS, or 0 followed by the ADELI")
    return value


# --- Mailbox types --------------------------------------------------------------

PROFESSIONAL_TYPES = frozenset({AccountType.PER.value, AccountType.ORG.value, AccountType.APP.value,
                                AccountType.CAB.value})
PATIENT = AccountType.PATIENT.value
SYSTEM = AccountType.SYSTEM.value
# A sender from another operator of the trust space: a professional we have no account for.
REMOTE_PROFESSIONAL = "REMOTE"
# A patient address that did not authenticate as that patient: trusted as nobody.
PATIENT_SPOOF = "UNTRUSTED_PATIENT"


@dataclass(frozen=True)
class Party:
    """A sender or recipient as the messaging rules see it."""

    address: str
    type: str  # PER, ORG, APP, CAB, PATIENT, SYSTEM, REMOTE
    account_id: int | None = None

    @property
    def is_patient(self) -> bool:
        return self.type == PATIENT

    @property
    def is_professional(self) -> bool:
        return self.type in PROFESSIONAL_TYPES or self.type == REMOTE_PROFESSIONAL
