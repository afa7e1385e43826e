"""FHIR resources of the profil médical: bounded reading, validation with `fhir.resources`, the index fields.

`fhir.resources` 8 ships R5 at its top level and R4B (4.3.0) in `fhir.resources.R4B`; R4B's models of the
kinds below are R4's (4.0.1) for what the profile uses, and 8.x is the maintained line on pydantic 2
(docs/dependencies.md). The input is bounded before a model sees it: its size (`profile.max_resource_bytes`)
and its nesting depth (MAX_DEPTH). A refusal names where the error is (the field path and the pydantic error
type), never a value the patient sent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pydantic
from fhir.resources.R4B import get_fhir_model_class

FOLDER = "Dossier/Profil"
# The kinds of entry (docs/profile.md) -> the French word the patient reads.
KINDS: dict[str, str] = {
    "Condition": "Antécédent",
    "AllergyIntolerance": "Allergie",
    "MedicationStatement": "Traitement",
    "Immunization": "Vaccination",
    "Observation": "Mesure",
    "RelatedPerson": "Contact / personne de confiance",
    "Consent": "Volonté (don d'organes, consentement)",
    "DocumentReference": "Directives anticipées",
}
MAX_DEPTH = 12  # JSON nesting: a deep Observation (component.code.coding[]) stays under 8
MAX_ERRORS = 10
MAX_LOCATION_CHARS = 200
# The date an entry is listed by, per kind (the first of these present).
_DATE_FIELDS = ("onsetDateTime", "recordedDate", "effectiveDateTime", "effectivePeriod", "occurrenceDateTime",
                "dateAsserted", "dateTime", "date", "period", "issued")


class Invalid(Exception):
    """A resource refused: what to tell (field paths and error types only)."""

    def __init__(self, errors: list[dict[str, str]], status: int = 422) -> None:
        super().__init__(f"{len(errors)} error(s)")
        self.errors = errors
        self.status = status


def depth(value: Any, limit: int = MAX_DEPTH) -> int:
    """The nesting depth of a JSON value, counted without recursion; stops past `limit`."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if deepest > limit:
            return deepest
        if isinstance(item, dict):
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, level + 1) for v in item)
    return deepest


def parse_bytes(raw: bytes, max_bytes: int) -> dict[str, Any]:
    """A JSON object from bytes, bounded in size (checked first) and depth; Invalid otherwise."""
    if len(raw) > max_bytes:
        raise Invalid([{"location": "", "type": "too_large"}], status=413)
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise Invalid([{"location": "", "type": "json_invalid"}]) from None
    if not isinstance(value, dict):
        raise Invalid([{"location": "", "type": "not_an_object"}])
    return value


def _location(loc: tuple) -> str:
    return ".".join(str(part) for part in loc)[:MAX_LOCATION_CHARS]


def validate(value: dict[str, Any], max_bytes: int) -> Any:
    """The validated R4 model of one profile entry; Invalid names each error's location."""
    if len(json.dumps(value, ensure_ascii=False).encode()) > max_bytes:
        raise Invalid([{"location": "", "type": "too_large"}], status=413)
    if depth(value) > MAX_DEPTH:
        raise Invalid([{"location": "", "type": "too_deep"}])
    kind = value.get("resourceType")
    if not isinstance(kind, str) or kind not in KINDS:
        raise Invalid([{"location": "resourceType", "type": "unsupported_kind"}])
    try:
        return get_fhir_model_class(kind).model_validate(value)
    except pydantic.ValidationError as error:
        raise Invalid([{"location": _location(e["loc"]), "type": e["type"]}
                       for e in error.errors()[:MAX_ERRORS]]) from None
    except (ValueError, TypeError, RecursionError):
        raise Invalid([{"location": "", "type": "invalid"}]) from None


def to_json(resource: Any) -> bytes:
    return resource.model_dump_json(exclude_none=True).encode()


@dataclass(frozen=True)
class Summary:
    kind: str
    code: str  # system|code of the first coding, "" if none
    display: str
    date: str  # ISO date or date-time as written, "" if none


def _first_coding(resource: Any) -> tuple[str, str]:
    for field in ("code", "vaccineCode", "medicationCodeableConcept", "relationship", "category", "type", "scope"):
        concept = getattr(resource, field, None)
        if isinstance(concept, list):
            concept = concept[0] if concept else None
        if concept is None:
            continue
        for coding in getattr(concept, "coding", None) or []:
            if coding.code:
                return f"{coding.system or ''}|{coding.code}", coding.display or getattr(concept, "text", "") or ""
        if getattr(concept, "text", None):
            return "", concept.text
    return "", ""


def summary(resource: Any) -> Summary:
    """What the index row holds of an entry (sealed): kind, first code, its label, the entry's date."""
    code, display = _first_coding(resource)
    if resource.get_resource_type() == "RelatedPerson" and not display:
        names = getattr(resource, "name", None) or []
        display = names[0].text or " ".join([*(names[0].given or []), names[0].family or ""]).strip() if names else ""
    when = ""
    for field in _DATE_FIELDS:
        value = getattr(resource, field, None)
        if value is None:
            continue
        start = getattr(value, "start", value)  # a Period: its start
        if start is not None:
            when = start.isoformat() if hasattr(start, "isoformat") else str(start)
            break
    return Summary(resource.get_resource_type(), code[:200], str(display)[:200], when[:40])


def bundle(entries: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """A FHIR Bundle of type collection of (entry id, resource JSON), validated before it is served."""
    value = {"resourceType": "Bundle", "type": "collection",
             "entry": [{"fullUrl": f"urn:uuid:{entry_id}", "resource": resource} for entry_id, resource in entries]}
    return json.loads(get_fhir_model_class("Bundle").model_validate(value).model_dump_json(exclude_none=True))
