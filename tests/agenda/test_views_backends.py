"""The professionals' view of the agenda (storage/views.py) on SQLite and PostgreSQL: each appointment's current
version only, the patient's own item never; two updates of one event prepared at once and committed in the wrong
order leave the newer one in the view (the older is taken out in its own transaction)."""

from __future__ import annotations

import asyncio

from mssante_hub import delivery
from mssante_hub.delivery.prepare import prepare
from mssante_hub.reader import Reader
from storage import agenda as agenda_store
from storage import deliveries, views
from tests.agenda.support import DOCTOR, ics, imip_message
from tests.agenda.test_backends import _deliver
from tests.conftest import add_professional
from tests.dossier import support
from tests.dossier.support import PATIENT

SUBMITTED = delivery.Envelope(mail_from=DOCTOR, rcpt_to=(PATIENT,), channel=delivery.Channel.SUBMISSION)


def _prepared(hub, sequence: int) -> list[deliveries.Unit]:
    found = prepare(hub, SUBMITTED, imip_message(DOCTOR, PATIENT, ics("v-1@cabinet.test", sequence=sequence)),
                    [PATIENT], [], delivery.Identity(DOCTOR, None, "PER"))
    return [found.unit, *found.extra_units]


def _view(hub, patient_id: int) -> set[str]:
    return hub.read_sync(lambda conn: views.placed(conn, patient_id, views.AGENDA_VIEW))


def test_the_agenda_view_on_each_backend(any_hub):
    hub = any_hub
    add_professional(hub, "jean.dupont")
    support.provision_patient(hub)
    patient = support.account(hub)
    _deliver(hub, imip_message(DOCTOR, PATIENT, ics("v-1@cabinet.test")))
    first = hub.read_sync(lambda conn: agenda_store.current_appointments(conn, patient.id))
    assert _view(hub, patient.id) == set(first) and len(first) == 1
    # Both prepared against version 0; the newer (2) is committed first, then the older (1).
    newer, older = _prepared(hub, 2), _prepared(hub, 1)
    hub.committer.run(lambda conn: deliveries.store_many(conn, newer))
    hub.committer.run(lambda conn: deliveries.store_many(conn, older))
    current = hub.read_sync(lambda conn: agenda_store.current_appointments(conn, patient.id))
    assert current == [newer[1].body.blob_id]
    assert _view(hub, patient.id) == set(current)
    # The hub's own key opens what the view holds.
    system = hub.system_account()
    wrapped = hub.read_sync(lambda conn: views.keys_of(conn, system.id, current))
    assert Reader.of(hub, system).key(type("Stored", (), {"blob_id": current[0], "wrapped": wrapped[current[0]]}))
    # The patient's own item is theirs alone.
    own = delivery.Envelope(mail_from=PATIENT, rcpt_to=(PATIENT,), channel=delivery.Channel.FILING, folder="Agenda")
    raw = imip_message(PATIENT, PATIENT, ics("own-1@hub.test", method="PUBLISH"), method="PUBLISH")
    asyncio.run(delivery.accept(hub, own, raw, delivery.Identity(PATIENT, patient.id, patient.type)))
    assert _view(hub, patient.id) == set(current)
