"""One valid FHIR R4 resource of each profile kind, as a patient's webmail would send them."""

from __future__ import annotations

import base64

SELF = {"reference": "Patient/self"}
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"


def concept(system: str, code: str, display: str) -> dict:
    return {"coding": [{"system": system, "code": code, "display": display}]}


def of_each_kind(marker: str = "") -> dict[str, dict]:
    """kind -> resource; `marker` goes into a free text of each (to look for on disk)."""
    note = [{"text": f"Note {marker or 'libre'}"}]
    return {
        "Condition": {"resourceType": "Condition", "subject": SELF, "onsetDateTime": "2015-06-01",
                      "code": concept(SNOMED, "38341003", "Hypertension artérielle"), "note": note},
        "AllergyIntolerance": {"resourceType": "AllergyIntolerance", "patient": SELF,
                               "code": concept(SNOMED, "91936005", "Allergie à la pénicilline"),
                               "recordedDate": "2019-02-03", "note": note},
        "MedicationStatement": {"resourceType": "MedicationStatement", "status": "active", "subject": SELF,
                                "medicationCodeableConcept": concept("http://www.whocc.no/atc", "C09AA05",
                                                                     "Ramipril"),
                                "effectiveDateTime": "2020-01-10", "note": note},
        "Immunization": {"resourceType": "Immunization", "status": "completed", "patient": SELF,
                         "vaccineCode": concept("http://hl7.org/fhir/sid/cvx", "207", "COVID-19 ARNm"),
                         "occurrenceDateTime": "2021-05-04", "note": note},
        "Observation": {"resourceType": "Observation", "status": "final", "subject": SELF,
                        "code": concept(LOINC, "29463-7", "Poids"), "effectiveDateTime": "2024-03-02",
                        "valueQuantity": {"value": 72.5, "unit": "kg", "system": "http://unitsofmeasure.org",
                                          "code": "kg"}, "note": note},
        "RelatedPerson": {"resourceType": "RelatedPerson", "patient": SELF,
                          "relationship": [concept("http://terminology.hl7.org/CodeSystem/v3-RoleCode", "SIS",
                                                   "Sœur (personne de confiance)")],
                          "name": [{"family": "Martin", "given": ["Claire"]}],
                          "telecom": [{"system": "phone", "value": "+33 6 12 34 56 78"}]},
        "Consent": {"resourceType": "Consent", "status": "active", "patient": SELF, "dateTime": "2023-09-01",
                    "scope": concept("http://terminology.hl7.org/CodeSystem/consentscope", "adr",
                                     "Don d'organes"),
                    "category": [concept(LOINC, "59284-0", "Consentement")]},
        "DocumentReference": {"resourceType": "DocumentReference", "status": "current", "subject": SELF,
                              "date": "2024-01-15T10:00:00+01:00",
                              "type": concept(LOINC, "75320-2", "Directives anticipées"),
                              "content": [{"attachment": {"contentType": "text/plain", "data": base64.b64encode(
                                  f"Mes directives anticipées {marker}".encode()).decode()}}]},
    }
