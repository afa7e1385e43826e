"""A connected service's measures filed into the patient's profil médical, while its message is prepared.

A service whose patient granted the `measures` scope sends FHIR R4 Observations as `application/fhir+json`
attachments. Each one, validated like any profile entry (profile/fhir.py), becomes an item in `Dossier/Profil`
(the message the profile builds around a resource, from the service's mailbox) with its sealed index row of
source `service` (profile/entries.py): one more storage Unit of the same delivery, like the dossier's and the
agenda's items, so one commit holds the covering message, the items and their rows. Anything else than a
valid Observation refuses the whole message (SERVICE_MEASURE_INVALID). Reads only; returns picklable data.
"""

from __future__ import annotations

import json
import secrets
import uuid

from crypto.envelope import encrypt_message, wrap_key
from mssante_hub import audit, mime
from mssante_hub.catalogue.consent import Pass
from mssante_hub.catalogue.services import MEASURES
from mssante_hub.hub import Hub
from mssante_hub.profile import entries, fhir
from mssante_hub.rules import refusals
from mssante_hub.rules.refusals import Refusal
from storage import deliveries

MAX_MEASURES = 50  # Observations one message may carry
KIND = "Observation"
# Quick test on the raw bytes (delivery/accept.py): a message that may carry FHIR is validated in a parse
# thread, never in the writer's; a false positive costs a thread hop.
_MAY_CARRY = b"fhir+json"  # searched in the lower-cased bytes (agenda/filing.py says why not a regex)


def may_carry_measures(raw: bytes) -> bool:
    return _MAY_CARRY in raw.lower()


def observations(hub: Hub, message: mime.ParsedMessage) -> list:
    """The message's FHIR attachments, each a valid Observation; Refusal otherwise."""
    limit = hub.config.get("profile.max_resource_bytes")
    found = []
    for part in message.walk():
        if part.is_multipart() or part.get_content_type() != entries.FHIR_TYPE:
            continue
        if len(found) >= MAX_MEASURES:
            raise Refusal(refusals.SERVICE_MEASURE_INVALID, f"more than {MAX_MEASURES} measures")
        payload = part.get_payload(decode=True)
        try:
            resource = fhir.validate(fhir.parse_bytes(payload if isinstance(payload, bytes) else b"", limit), limit)
        except fhir.Invalid as invalid:
            where = ",".join(e.get("location", "") for e in invalid.errors[:3])
            raise Refusal(refusals.SERVICE_MEASURE_INVALID, where[:200]) from None
        if resource.get_resource_type() != KIND:
            raise Refusal(refusals.SERVICE_MEASURE_INVALID, resource.get_resource_type())
        found.append(resource)
    return found


def plan(hub: Hub, allowed: Pass, message: mime.ParsedMessage, source_blob_id: str,
         who: tuple[str, str, str]) -> tuple[list[deliveries.Unit], list[deliveries.Trace]]:
    """One item per Observation and patient, and the push's trace per patient on the covering message."""
    resources = observations(hub, message) if MEASURES in allowed.scopes else []
    hostname = hub.config.get("hub.hostname")
    units, traces = [], []
    # Each measure's key is wrapped for the hub too: the professionals' read-only view of the profile opens it.
    system = entries.hub_reader(hub)
    hub_key = hub.keyring.public_key(system.public_key) if system is not None else None
    for address, patient in allowed.patients.items():
        public = hub.keyring.public_key(patient.public_key)
        for resource in resources:
            blob_id = secrets.token_hex(16)
            key = str(uuid.uuid4())
            raw = entries.build(address, hostname, key, resource, sender=allowed.service.mailbox)
            parsed = mime.parse(raw, hub.limits, storing=True)
            summary = json.dumps(mime.summary_fields(parsed), ensure_ascii=False).encode()
            sealed = encrypt_message(blob_id, raw, summary)
            readers = [deliveries.Reader(patient.id, wrap_key(sealed.content_key, blob_id, public))]
            if hub_key is not None:
                readers.append(deliveries.Reader(system.id, wrap_key(sealed.content_key, blob_id, hub_key)))
            units.append(deliveries.Unit(
                body=deliveries.Body(blob_id, sealed.body, sealed.summary, len(raw)),
                readers=readers,
                placements=[deliveries.Placement(address, patient.id, fhir.FOLDER, create=True)],
                traces=[deliveries.Trace(who[0], who[1], audit.PROFILE_CHANGE, patient.id,
                                         f"blob:{blob_id} source:{source_blob_id} service:{allowed.service.id}"
                                         f"{who[2]}", "added")],
                writes=[entries.resource_write(patient, key, resource, blob_id, sealed.content_key,
                                               entries.SERVICE, in_view=hub_key is not None)]))
        traces.append(deliveries.Trace(who[0], who[1], audit.CATALOGUE_PUSH, patient.id,
                                       f"blob:{source_blob_id} service:{allowed.service.id} scopes:"
                                       f"{'+'.join(sorted(allowed.scopes))} measures:{len(resources)}{who[2]}",
                                       "ok"))
    return units, traces
