"""Profile entries filed, versioned and deleted through delivery.accept on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid

from mssante_hub import delivery
from mssante_hub.profile import entries, fhir
from mssante_hub.reader import Reader, read_folder
from storage import profile as profile_store
from tests.dossier import support
from tests.profile.resources import of_each_kind


def _file(hub, key: str, resource: dict) -> None:
    patient = support.account(hub)
    raw = entries.build(support.PATIENT, "hub.test", key, fhir.validate(resource, 1 << 20))
    envelope = delivery.Envelope(mail_from=support.PATIENT, rcpt_to=(support.PATIENT,),
                                 channel=delivery.Channel.FILING, folder=fhir.FOLDER)
    asyncio.run(delivery.accept(hub, envelope, raw, delivery.Identity(support.PATIENT, patient.id, patient.type)))


def test_entries_on_each_backend(any_hub):
    hub = any_hub
    support.provision_patient(hub)
    patient = support.account(hub)
    key = str(uuid.uuid4())
    _file(hub, key, of_each_kind()["Observation"])
    heavier = of_each_kind()["Observation"]
    heavier["valueQuantity"]["value"] = 80
    _file(hub, key, heavier)
    rows = hub.read_sync(lambda conn: profile_store.entries(conn, patient.id, patient.id, key, current_only=False))
    assert [r.state for r in rows] == ["current", "replaced"]
    reader = Reader.of(hub, patient)
    opened = entries.open_fields(reader.key(rows[0]), rows[0].blob_id, rows[0].sealed)
    assert (opened["kind"], opened["code"], opened["source"]) == ("Observation", "http://loinc.org|29463-7", "patient")
    assert len(read_folder(hub, support.PATIENT, fhir.FOLDER)) == 2
    # An IMAP APPEND or any other channel into Dossier/Profil is no entry, whatever its headers say.
    assert entries.entry_key(delivery.Envelope(mail_from="", rcpt_to=(), channel=delivery.Channel.IMAP,
                                               folder=fhir.FOLDER), None) is None
    assert hub.committer.run(lambda conn: profile_store.remove_entry(conn, patient.id, key)) == 2
    assert hub.read_sync(lambda conn: profile_store.entries(conn, patient.id, patient.id, current_only=False)) == []
    assert read_folder(hub, support.PATIENT, fhir.FOLDER) == []
