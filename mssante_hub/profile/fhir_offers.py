"""A professional's FHIR JSON attachment offered to the patient as profile entries (docs/profile.md).

Two halves, so that nothing slows or endangers the delivery:

- While the message is prepared (delivery/prepare.py), `provenance()` says, in the message's sealed summary,
  that a professional sent it to a patient and that it carries a JSON attachment: the signed-in professional
  at submission, the trust-space sender over mx (mutual TLS), never a patient, a filing, the hub's own mail
  or a catalogue service (whose Observations under consent are filed by catalogue/measures.py). Nothing is
  parsed or validated there: a hostile attachment cannot refuse, delay or crash the delivery; it is mail.
- When the patient asks (web/profile_api.py), `read()` opens the attachments under the profile's limits: at
  most MAX_ATTACHMENTS, each at most `profile.max_resource_bytes` (measured on the encoded part, before it is
  decoded) and MAX_TOTAL_RESOURCES times that for them all, MAX_DEPTH + BUNDLE_DEPTH levels for a Bundle, at
  most ips.MAX_OFFERS resources examined (offered or not); each resource of a
  kind in OFFERED_KINDS, alone or in a Bundle, validated with fhir.resources (profile/fhir.py). Each is only an
  offer: the patient accepts it (filed with source `professional`) or leaves it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

from mssante_hub.accounts import identity as ids
from mssante_hub.envelope import Channel, Envelope, Identity
from mssante_hub.profile import entries, fhir, ips
from storage import accounts as account_repo
from storage.models import AccountType

# The sealed summary's field naming the professional who sent a FHIR attachment to the patient.
SUMMARY_KEY = "profile_source"
OFFER_CHANNELS = frozenset({Channel.SUBMISSION, Channel.MX})
JSON_TYPES = frozenset({entries.FHIR_TYPE, "application/json"})
JSON_SUFFIX = ".json"
OFFERED_KINDS = ("Condition", "AllergyIntolerance", "MedicationStatement", "Immunization", "Observation")
MAX_ATTACHMENTS = 10  # JSON attachments read per message; more are refused, unread
# JSON read per message, in resource bounds (profile.max_resource_bytes): what bounds the validations' time. One:
# listing a message's offers costs about what one POST /api/profile of the largest resource does (bench/fhir_offers.py
# measured 8 resources of 117 KB at 6.5 s under load with four).
MAX_TOTAL_RESOURCES = 1
BUNDLE_DEPTH = 3  # Bundle -> entry[] -> {} -> resource: what a Bundle adds to an entry's own depth
MAX_FILENAME_CHARS = 200
# The references to the patient a resource may carry; replaced by the space's own patient.
_SUBJECT_FIELDS = ("subject", "patient")
_INS_SYSTEMS = frozenset(f"urn:oid:{oid}" for oid in (ids.OID_INS_NIR, ids.OID_INS_NIA, ids.OID_INS_NIR_TEST,
                                                      ids.OID_INS_DEMO))


def _candidate(part: Message) -> bool:
    if part.is_multipart():
        return False
    name = (part.get_filename() or "").lower()
    return part.get_content_type() in JSON_TYPES or name.endswith(JSON_SUFFIX)


def candidates(message: Message) -> list[Message]:
    """The message's parts that may carry FHIR JSON (a type or a name says so)."""
    return [part for part in message.walk() if _candidate(part)]


def sender(envelope: Envelope, identity: Identity | None, patient_domain: str) -> str:
    """The professional who sends this message, or "": the signed-in professional at submission, the envelope
    sender over mx (a patient address there was already refused by rules/policy.py; checked again)."""
    if envelope.channel not in OFFER_CHANNELS:
        return ""
    if envelope.channel is Channel.SUBMISSION:
        if identity is None or identity.type not in ids.PROFESSIONAL_TYPES:
            return ""
        return identity.address.strip().lower()
    address = (envelope.mail_from or "").strip().lower()
    if not address or address.rpartition("@")[2] == patient_domain.lower():
        return ""
    return address


def provenance(envelope: Envelope, identity: Identity | None, message: Message,
               readers: dict[str, account_repo.AccountRow], patient_domain: str,
               service: object | None) -> dict[str, str]:
    """The summary field of a professional's message carrying JSON to a patient; {} for any other.

    `service` is what catalogue/consent.check let through (a catalogue service's push): never a source here.
    """
    if service is not None or not any(r.type == AccountType.PATIENT.value for r in readers.values()):
        return {}
    who = sender(envelope, identity, patient_domain)
    if not who or not candidates(message):
        return {}
    return {SUMMARY_KEY: who}


# --- Reading the offers (the patient's request) --------------------------------------------------------------

@dataclass
class Offers:
    """What a message offers: the validated resources (JSON), and each attachment or entry refused, and why."""

    offers: list[dict[str, Any]] = field(default_factory=list)  # {"kind", "resource", "attachment"}
    refused: list[dict[str, str]] = field(default_factory=list)  # {"attachment", "reason"}


def _filename(part: Message, position: int) -> str:
    name = "".join(c for c in (part.get_filename() or "") if c.isprintable())[:MAX_FILENAME_CHARS]
    return name or f"pièce jointe {position + 1}"


def _payload(part: Message, limit: int) -> bytes:
    """The decoded part, its encoded size checked first: a 10 MB attachment is refused without decoding."""
    encoded = part.get_payload()
    if not isinstance(encoded, str):
        raise fhir.Invalid([{"location": "", "type": "not_json"}])
    transfer = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
    decoded_size = len(encoded) * 3 // 4 if transfer == "base64" else len(encoded)
    if decoded_size > limit + 4:
        raise fhir.Invalid([{"location": "", "type": "too_large"}], status=413)
    raw = part.get_payload(decode=True)
    return raw if isinstance(raw, bytes) else b""


def _other_patient(reference: Any, ins: str) -> bool:
    """Whether a reference names, by its INS, another patient than the space's."""
    if not isinstance(reference, dict):
        return False
    found = reference.get("identifier")
    return (isinstance(found, dict) and found.get("system") in _INS_SYSTEMS
            and str(found.get("value", "")) != ins)


def _resources(value: dict[str, Any], ins: str) -> list[dict[str, Any]]:
    """The resources of one attachment: itself, or a Bundle's entries (a Patient there must be this one)."""
    if value.get("resourceType") != "Bundle":
        return [value]
    listed = value.get("entry")
    if not isinstance(listed, list):
        raise fhir.Invalid([{"location": "entry", "type": "list_type"}])
    if len(listed) > ips.MAX_OFFERS:
        raise fhir.Invalid([{"location": "entry", "type": "too_many"}])
    found = [e.get("resource") for e in listed if isinstance(e, dict) and isinstance(e.get("resource"), dict)]
    for resource in found:
        if resource.get("resourceType") == "Patient" and any(
                _other_patient({"identifier": i}, ins) for i in resource.get("identifier") or [] if isinstance(i, dict)):
            raise fhir.Invalid([{"location": "entry", "type": "other_patient"}])
    return [r for r in found if r.get("resourceType") != "Patient"]


def _offered(resource: dict[str, Any], ins: str, limit: int) -> dict[str, Any]:
    """One resource as an offer: about this patient, of an offered kind, valid FHIR R4; Invalid otherwise."""
    if resource.get("resourceType") not in OFFERED_KINDS:
        raise fhir.Invalid([{"location": "resourceType", "type": "unsupported_kind"}])
    if any(_other_patient(resource.get(name), ins) for name in _SUBJECT_FIELDS):
        raise fhir.Invalid([{"location": "subject", "type": "other_patient"}])
    # The sender's own patient id means nothing here: the entry is about the space's patient.
    resource = {**resource, **{name: ips.PATIENT_REFERENCE for name in _SUBJECT_FIELDS if name in resource}}
    return json.loads(fhir.to_json(fhir.validate(resource, limit)))


def read(message: Message, ins: str, limit: int) -> Offers:
    """Every offer of the message's JSON attachments, in order (an offer's index is its place in this list)."""
    found, examined, budget = Offers(), 0, MAX_TOTAL_RESOURCES * limit
    for position, part in enumerate(candidates(message)):
        name = _filename(part, position)
        if position >= MAX_ATTACHMENTS:
            found.refused.append({"attachment": name, "reason": "too_many"})
            continue
        try:
            raw = _payload(part, min(limit, budget))
            budget -= len(raw)
            value = fhir.parse_bytes(raw, limit)
            if fhir.depth(value, fhir.MAX_DEPTH + BUNDLE_DEPTH) > fhir.MAX_DEPTH + BUNDLE_DEPTH:
                raise fhir.Invalid([{"location": "", "type": "too_deep"}])
            resources = _resources(value, ins)
        except fhir.Invalid as invalid:
            found.refused.append({"attachment": name, "reason": invalid.errors[0]["type"]})
            continue
        for resource in resources:
            examined += 1
            if examined > ips.MAX_OFFERS:
                found.refused.append({"attachment": name, "reason": "too_many"})
                return found
            try:
                offered = _offered(resource, ins, limit)
            except fhir.Invalid as invalid:
                found.refused.append({"attachment": name, "reason": invalid.errors[0]["type"]})
                continue
            found.offers.append({"kind": offered["resourceType"], "resource": offered, "attachment": name})
    return found


def offer_id(blob_id: str, index: int) -> str:
    """What the entry filed from an offer keeps (sealed) of it: the message's body and the offer's place."""
    return f"{blob_id}:{index}"
