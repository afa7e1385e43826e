"""The structured sections of an IPS-FR / VSM (level 3) CDA, offered to the patient as profile entries.

A document filed in the dossier may carry coded sections (docs/profile.md): problems (11450-4) and history
(11348-0) become Conditions, allergies (48765-2) AllergyIntolerances, medications (10160-0)
MedicationStatements, immunizations (11369-6) Immunizations. Each is only an offer: the patient adds those they
want through POST /api/profile, where it is validated like any entry. The CDA is parsed with the dossier's
bounded reader (dossier/safexml.py, dossier/cda.py's limits); entries without a code are left out.
"""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

from mssante_hub.dossier import safexml
from mssante_hub.dossier.cda import CDA_LIMITS, HL7

MAX_OFFERS = 200
PATIENT_REFERENCE = {"reference": "Patient/self"}  # the space's own patient (no identifier copied)
# CDA code systems (OIDs) -> FHIR system URIs; any other OID stays urn:oid:.
SYSTEMS = {"2.16.840.1.113883.6.96": "http://snomed.info/sct", "2.16.840.1.113883.6.1": "http://loinc.org",
           "2.16.840.1.113883.6.3": "http://hl7.org/fhir/sid/icd-10", "2.16.840.1.113883.6.73":
           "http://www.whocc.no/atc"}
PROBLEMS, HISTORY, ALLERGIES, MEDICATIONS, IMMUNIZATIONS = "11450-4", "11348-0", "48765-2", "10160-0", "11369-6"
_N = {"h": HL7}


def _concept(element: ET.Element | None) -> dict[str, Any] | None:
    if element is None or not element.get("code"):
        return None
    oid = element.get("codeSystem", "")
    coding = {"system": SYSTEMS.get(oid, f"urn:oid:{oid}") if oid else None, "code": element.get("code")[:100],
              "display": (element.get("displayName") or "")[:200] or None}
    return {"coding": [{k: v for k, v in coding.items() if v}]}


def _date(value: str | None) -> str | None:
    digits = (value or "")[:8]
    if not (digits.isascii() and digits.isdigit()) or len(digits) not in (4, 6, 8):
        return None
    return "-".join(part for part in (digits[:4], digits[4:6], digits[6:8]) if part)


def _low(element: ET.Element) -> str | None:
    time = element.find("h:effectiveTime", _N)
    if time is None:
        return None
    low = time.find("h:low", _N)
    return _date((low if low is not None else time).get("value"))


def _product_code(administration: ET.Element) -> dict[str, Any] | None:
    material = administration.find("h:consumable/h:manufacturedProduct/h:manufacturedMaterial", _N)
    if material is None:
        return None
    code = material.find("h:code", _N)
    found = _concept(code)
    if found is None and code is not None:
        found = _concept(code.find("h:translation", _N))
    name = material.findtext("h:name", default="", namespaces=_N).strip()
    if found is None and name:
        return {"text": name[:200]}
    return found


def _observations(entry: ET.Element) -> list[ET.Element]:
    """The entry's own observation, or each one its concern act groups (IPS-FR: one act, several problems)."""
    return entry.findall("h:observation", _N) + entry.findall("h:act/h:entryRelationship/h:observation", _N)


def _condition(observation: ET.Element) -> dict | None:
    code = _concept(observation.find("h:value", _N))
    if code is None:
        return None
    resource = {"resourceType": "Condition", "subject": PATIENT_REFERENCE, "code": code}
    onset = _low(observation)
    return {**resource, "onsetDateTime": onset} if onset else resource


def _allergy(observation: ET.Element) -> dict | None:
    substance = observation.find("h:participant/h:participantRole/h:playingEntity/h:code", _N)
    code = _concept(substance) or _concept(observation.find("h:value", _N))
    if code is None:
        return None
    resource = {"resourceType": "AllergyIntolerance", "patient": PATIENT_REFERENCE, "code": code}
    onset = _low(observation)
    return {**resource, "onsetDateTime": onset} if onset else resource


def _medication(administration: ET.Element) -> dict | None:
    code = _product_code(administration)
    if code is None:
        return None
    resource = {"resourceType": "MedicationStatement", "status": "unknown", "subject": PATIENT_REFERENCE,
                "medicationCodeableConcept": code}
    since = _low(administration)
    return {**resource, "effectiveDateTime": since} if since else resource


def _immunization(administration: ET.Element) -> dict | None:
    code = _product_code(administration)
    if code is None:
        return None
    when = _low(administration)
    return {"resourceType": "Immunization", "status": "completed", "patient": PATIENT_REFERENCE,
            "vaccineCode": code, **({"occurrenceDateTime": when} if when else {"occurrenceString": "date inconnue"})}


_BUILDERS = {PROBLEMS: _condition, HISTORY: _condition, ALLERGIES: _allergy, MEDICATIONS: _medication,
             IMMUNIZATIONS: _immunization}
_ADMINISTERED = frozenset({MEDICATIONS, IMMUNIZATIONS})


def offers(cda: bytes) -> list[dict[str, Any]]:
    """The entries a level-3 CDA's coded sections offer (FHIR JSON, not yet validated), at most MAX_OFFERS."""
    root = safexml.parse(cda, CDA_LIMITS)
    found: list[dict[str, Any]] = []
    for section in root.iter(f"{{{HL7}}}section"):
        code = section.find("h:code", _N)
        kind = code.get("code", "") if code is not None else ""
        build = _BUILDERS.get(kind)
        if build is None:
            continue
        for entry in section.findall("h:entry", _N):
            items = entry.findall("h:substanceAdministration", _N) if kind in _ADMINISTERED else _observations(entry)
            for item in items:
                offered = build(item)
                if offered is not None:
                    found.append(offered)
                if len(found) >= MAX_OFFERS:
                    return found
    return found
