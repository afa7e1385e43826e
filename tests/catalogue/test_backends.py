"""The catalogue's storage on SQLite and PostgreSQL: services loaded once and updated in place, consents granted,
asked to re-approve after a new version, lapsed by date and by suspension; a connected service's measure
filed through delivery.accept with its sealed index row of source "service"."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json

import pytest
from sqlalchemy import select

from mssante_hub import delivery
from mssante_hub.catalogue import consent, services
from mssante_hub.profile import entries
from mssante_hub.reader import Reader, read_folder
from mssante_hub.rules import refusals
from mssante_hub.rules.refusals import Refusal
from storage import catalogue as store
from storage import profile as profile_store
from storage.models import AuditEvent
from storage.patients import NotificationState
from tests.catalogue import support
from tests.conftest import add_professional
from tests.dossier import support as dossier

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.timezone.utc)


def _load(hub, *entries: dict, now: dt.datetime = NOW) -> services.Loaded:
    return services.load(hub, services.parse(json.dumps(list(entries)).encode()), now)


def _pending(hub, account_id: int) -> str:
    return hub.read_sync(lambda conn: conn.execute(select(NotificationState.pending).where(
        NotificationState.account_id == account_id)).scalar_one())


def _clear_pending(hub) -> None:
    hub.committer.run(lambda conn: conn.execute(NotificationState.__table__.update().values(pending="")))


def _push(hub, raw: bytes, sender: str = support.SERVICE_MAILBOX):
    account = dossier.account(hub, sender)
    envelope = delivery.Envelope(mail_from=sender, rcpt_to=(dossier.PATIENT,), channel=delivery.Channel.SUBMISSION)
    return asyncio.run(delivery.accept(hub, envelope, raw, delivery.Identity(sender, account.id, account.type)))


def test_services_and_consents_on_each_backend(any_hub):
    hub = any_hub
    add_professional(hub, support.SERVICE_LOCAL, type="APP")
    dossier.provision_patient(hub)
    patient = dossier.account(hub)
    first = _load(hub, support.SERVICE, support.OTHER)
    assert (first.new, first.updated, first.missing_mailboxes) == (2, 0, ["sommeil-plus@hub.test"])
    again = _load(hub, support.SERVICE, support.OTHER)
    assert (again.new, again.updated, again.unchanged) == (0, 0, 2)
    assert [s.id for s in hub.read_sync(store.services)] == ["sommeil-plus", "suivi-diabete"]  # by name
    hub.committer.run(lambda conn: store.grant(conn, patient.id, "suivi-diabete", ["measures"], "1.0"))
    held = hub.read_sync(lambda conn: store.consents_of(conn, patient.id))["suivi-diabete"]
    entry = hub.read_sync(lambda conn: store.service(conn, "suivi-diabete"))
    assert consent.state(entry, held, NOW) == consent.ACTIVE and held.scopes == ("measures",)

    # A measure pushed under the consent: an item in Dossier/Profil, sealed as coming from the service.
    _push(hub, support.measure_message(dossier.PATIENT))
    rows = hub.read_sync(lambda conn: profile_store.entries(conn, patient.id, patient.id))
    reader = Reader.of(hub, patient)
    opened = entries.open_fields(reader.key(rows[0]), rows[0].blob_id, rows[0].sealed)
    assert (opened["kind"], opened["source"]) == ("Observation", "service")
    assert len(read_folder(hub, dossier.PATIENT, "Dossier/Profil")) == 1
    with pytest.raises(Refusal) as refused:
        _push(hub, support.text_message(dossier.PATIENT))  # messages: not granted
    assert refused.value.reason is refusals.SERVICE_SCOPE_NOT_CONSENTED

    # A new version: re-approval asked by a limit date; past it, the rule refuses and the daily part marks it.
    _clear_pending(hub)  # the pushes' own news ("message")
    changed = _load(hub, support.service(version="2.0"))
    assert (changed.updated, changed.reapprovals) == (1, 1)
    held = hub.read_sync(lambda conn: store.consents_of(conn, patient.id))["suivi-diabete"]
    entry = hub.read_sync(lambda conn: store.service(conn, "suivi-diabete"))
    assert held.reapprove_by == NOW + dt.timedelta(days=30)
    assert _pending(hub, patient.id) == "service"  # content-free: news from a connected service, never which
    _clear_pending(hub)
    assert consent.refusal(entry, held, NOW + dt.timedelta(days=29)) is None
    assert consent.refusal(dataclasses.replace(entry, data_exchange=False), held, NOW) \
        is refusals.SERVICE_NO_DATA_EXCHANGE
    assert consent.refusal(dataclasses.replace(entry, status="offline"), held, NOW) is refusals.SERVICE_NOT_ONLINE
    assert consent.refusal(entry, held, NOW + dt.timedelta(days=30)) is refusals.SERVICE_CONSENT_LAPSED
    assert _load(hub, support.service(version="3.0")).reapprovals == 0  # a second change keeps the first date
    assert asyncio.run(consent.lapse_due(hub, NOW + dt.timedelta(days=29))) == 0
    assert asyncio.run(consent.lapse_due(hub, NOW + dt.timedelta(days=31))) == 1
    assert hub.read_sync(lambda conn: store.consents_of(conn, patient.id))["suivi-diabete"].state == store.LAPSED
    assert _pending(hub, patient.id) == "service"

    # Re-approved, then the service suspended: every consent lapses at once.
    hub.committer.run(lambda conn: store.grant(conn, patient.id, "suivi-diabete", ["measures"], "3.0"))
    assert _load(hub, support.service(version="3.0", status="suspended")).lapsed == 1
    actions = hub.read_sync(lambda conn: [(r.action, r.outcome) for r in conn.execute(
        AuditEvent.__table__.select().where(AuditEvent.subject_account_id == patient.id,
                                            AuditEvent.action.like("catalogue.%")).order_by(AuditEvent.id))])
    assert actions == [("catalogue.push", "ok"), ("catalogue.reapproval", "pending"), ("catalogue.lapse", "lapsed"),
                       ("catalogue.lapse", "suspended")]
    assert hub.committer.run(lambda conn: store.revoke(conn, patient.id, "suivi-diabete"))
    assert hub.read_sync(lambda conn: store.consents_of(conn, patient.id)) == {}


def test_a_consent_revoked_after_the_check_refuses_the_push_as_it_is_stored(any_hub):
    """The consent is read again in the transaction that stores the push: a revocation committed between the
    message's preparation and its commit refuses it (nothing stored) instead of letting it through."""
    from mssante_hub.delivery.accept import _store_many
    from mssante_hub.delivery.prepare import prepare

    hub = any_hub
    add_professional(hub, support.SERVICE_LOCAL, type="APP")
    dossier.provision_patient(hub)
    patient = dossier.account(hub)
    _load(hub, support.SERVICE)
    hub.committer.run(lambda conn: store.grant(conn, patient.id, "suivi-diabete", ["measures"], "1.0"))
    app = dossier.account(hub, support.SERVICE_MAILBOX)
    envelope = delivery.Envelope(mail_from=support.SERVICE_MAILBOX, rcpt_to=(dossier.PATIENT,),
                                 channel=delivery.Channel.SUBMISSION)
    identity = delivery.Identity(support.SERVICE_MAILBOX, app.id, app.type)
    prepared = prepare(hub, envelope, support.measure_message(dossier.PATIENT), [dossier.PATIENT], [], identity)
    assert prepared.extra_units  # the measure's item, planned under the consent
    hub.committer.run(lambda conn: store.revoke(conn, patient.id, "suivi-diabete"))
    with pytest.raises(Refusal) as refused:
        hub.committer.run(lambda conn: _store_many(conn, [prepared]))
    assert refused.value.reason is refusals.SERVICE_NOT_CONNECTED
    assert read_folder(hub, dossier.PATIENT) == [] and read_folder(hub, dossier.PATIENT, "Dossier/Profil") == []
    assert hub.read_sync(lambda conn: profile_store.entries(conn, patient.id, patient.id)) == []


def test_a_push_prepared_in_a_child_process_is_checked_and_filed_the_same(data_dir):
    """limits.parse_processes: the consent check, the measure's item and the storing check cross the process
    boundary (plain data), and a refusal comes back intact."""
    from mssante_hub.config import Config
    from mssante_hub.delivery import prepare_pool
    from mssante_hub.hub import Hub

    config = Config.load(data_dir)
    config.set("limits.parse_processes", 1)
    config.save()
    with Hub.open(data_dir) as hub:
        add_professional(hub, support.SERVICE_LOCAL, type="APP")
        dossier.provision_patient(hub)
        patient = dossier.account(hub)
        _load(hub, support.SERVICE)
        hub.committer.run(lambda conn: store.grant(conn, patient.id, "suivi-diabete", ["measures"], "1.0"))
        _push(hub, support.measure_message(dossier.PATIENT))
        assert prepare_pool.of(hub) is not None
        rows = hub.read_sync(lambda conn: profile_store.entries(conn, patient.id, patient.id))
        assert len(rows) == 1
        with pytest.raises(Refusal) as refused:
            _push(hub, support.text_message(dossier.PATIENT))
        assert refused.value.reason == refusals.SERVICE_SCOPE_NOT_CONSENTED  # a copy: it crossed processes
