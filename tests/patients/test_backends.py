"""The same patient-space paths on SQLite and PostgreSQL (upserts differ by dialect)."""

from __future__ import annotations

import asyncio

import pytest

from mssante_hub.patients import worker

from mssante_hub.rules import refusals
from mssante_hub.patients import lifecycle, provision
from mssante_hub.reader import read_folder
from mssante_hub.rules.refusals import Refusal
from tests.conftest import add_professional
from tests.patients.helpers import new_ins, send


def test_provision_converse_notify_close_on_each_backend(any_hub):
    hub = any_hub
    records = [(i + 2, provision.PatientRecord(new_ins(), "NOM", "Prénom", "1970-01-01", "M", f"p{i}@perso.example"))
               for i in range(300)]
    # Worker processes, as big files use them (small ones build in a thread, as the other tests do).
    result = provision.provision(hub, records, keep_codes=True, batch_size=128, processes=True)
    assert result.created == 300
    ins = records[0][1].ins
    lifecycle.activate(hub, ins, result.codes[ins], "mot de passe tout neuf")
    patient = f"{ins.lower()}@{hub.config.get('hub.patient_domain')}"
    doctor = add_professional(hub, "dr.backend", password=None)
    with pytest.raises(Refusal):
        send(hub, patient, [doctor])
    send(hub, doctor, [patient])
    send(hub, doctor, [patient], subject="Suite")  # the upsert path: the contact exists already
    send(hub, patient, [doctor])
    send(hub, doctor, [patient], headers={"X-MSS-MES": "FIN"})
    with pytest.raises(Refusal) as refused:
        send(hub, patient, [doctor])
    assert refused.value.reason == refusals.PATIENT_CONVERSATION_ENDED
    assert asyncio.run(worker.send_due(hub)) == 1
    lifecycle.close_space(hub, ins, actor=patient)
    lifecycle.reopen_space(hub, ins, actor=patient)
    assert len(read_folder(hub, patient)) == 3
