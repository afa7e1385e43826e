"""limits.parse_processes: preparing in child processes stores the same, refuses the same."""

import asyncio

import pytest

from mssante_hub.rules import refusals
from mssante_hub.config import Config
from mssante_hub.delivery import Envelope, accept, prepare_pool
from mssante_hub.hub import Hub
from mssante_hub.reader import read_folder
from mssante_hub.rules.refusals import Refusal
from tests.conftest import add_professional
from tests.support.mail import make_message


@pytest.fixture
def pooled_hub(data_dir):
    config = Config.load(data_dir)
    config.set("limits.parse_processes", 1)
    config.save()
    hub = Hub.open(data_dir)
    yield hub
    hub.close()


def test_child_processes_prepare_store_and_refuse(pooled_hub):
    reader = add_professional(pooled_hub, "dr.pool")

    async def scenario():
        raws = [make_message("labo@bio.example", reader, f"Résultat {n}", f"corps {n}") for n in range(12)]
        delivered = await asyncio.gather(*[
            accept(pooled_hub, Envelope("labo@bio.example", (reader,), channel="mx"), raw) for raw in raws
        ])
        with pytest.raises(Refusal) as refused:  # a refusal raised in the child reaches the caller intact
            await accept(pooled_hub, Envelope("labo@bio.example", (reader,), channel="mx"), b"Subject: x\r\n\r\nb\r\n")
        return delivered, refused.value

    delivered, refusal = asyncio.run(scenario())
    assert prepare_pool.of(pooled_hub) is not None
    assert refusal.reason == refusals.MISSING_FROM
    assert sorted(d.uids[reader] for d in delivered) == list(range(1, 13))
    subjects = sorted(m.summary["subject"] for m in read_folder(pooled_hub, reader))
    assert subjects == sorted(f"Résultat {n}" for n in range(12))


def test_policy_state_writes_cross_the_process_boundary(pooled_hub):
    from mssante_hub.delivery import Identity
    from mssante_hub.patients import conversations
    from storage import accounts as account_repo
    from tests.patients.helpers import add_patient_account

    doctor = add_professional(pooled_hub, "dr.traitant")
    patient = add_patient_account(pooled_hub)
    doctor_row = pooled_hub.read_sync(lambda c: account_repo.by_address(c, doctor))
    raw = make_message(doctor, patient, "Votre rendez-vous", "À jeudi")
    asyncio.run(accept(pooled_hub, Envelope(doctor, (patient,), channel="submission"), raw,
                       Identity(doctor, doctor_row.id, "PER")))
    patient_row = pooled_hub.read_sync(lambda c: account_repo.by_address(c, patient))
    contacts = pooled_hub.read_sync(lambda c: conversations.contacts(c, patient_row.id, [doctor]))
    assert doctor in contacts and not contacts[doctor].ended
