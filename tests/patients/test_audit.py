"""Audit: the patient's access history, retention, professionals' inactivity."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import insert, select, update

from mssante_hub import audit
from mssante_hub.accounts.inactivity import check_inactive_mailboxes
from mssante_hub.reader import read_folder
from storage.models import Account, AuditEvent
from tests.conftest import add_professional
from tests.patients.helpers import send
from tests.patients.test_notify import active_patient
from tests.support.served import run_cli


def test_access_history_names_the_actors_and_never_the_content(hub):
    patient, account_id = active_patient(hub, "history@courriel.example")
    doctor = add_professional(hub, "dr.history", password=None)
    send(hub, doctor, [patient], subject="Résultat confidentiel")
    hub.committer.run(lambda conn: audit.record(conn, actor=doctor, actor_type="imap", action=audit.DOSSIER_ACCESS,
                                                subject_account_id=account_id, target="folder:Dossier/BIOLOGIE"))
    history = hub.read_sync(lambda conn: audit.access_history(conn, account_id))
    assert history[0].action == audit.DOSSIER_ACCESS
    assert (history[0].actor_type, history[0].actor_name) == ("PER", "Dr History")
    actions = [e.action for e in history]
    assert audit.DELIVER in actions and audit.PATIENT_ACTIVATE in actions and audit.PATIENT_PROVISION in actions
    assert [e.at for e in history] == sorted((e.at for e in history), reverse=True)
    assert not any("confidentiel" in repr(e) for e in history)
    ins = patient.partition("@")[0].upper()
    hub.close()
    done = run_cli("patient", "history", "--data-dir", str(hub.config.data_dir), "--ins", ins)
    assert done.returncode == 0, done.stderr
    assert "Dr History" in done.stdout and audit.DOSSIER_ACCESS in done.stdout


def test_retention_purge_keeps_at_least_six_months(hub):
    now = dt.datetime.now(dt.timezone.utc)
    ages = {"ancient": 400, "older": 190, "recent": 100, "fresh": 1}
    hub.committer.run(lambda conn: conn.execute(insert(AuditEvent), [
        dict(at=now - dt.timedelta(days=days), actor=name, action="test", actor_type="", target="", outcome="ok")
        for name, days in ages.items()
    ]))

    def actors():
        return set(hub.read_sync(lambda conn: conn.execute(
            select(AuditEvent.actor).where(AuditEvent.action == "test")).scalars().all()))

    assert hub.committer.run(lambda conn: audit.purge_expired(conn, 30, now)) == 2  # 30 days asked: 183 kept
    assert actors() == {"recent", "fresh"}
    hub.committer.run(lambda conn: audit.purge_expired(conn, 365, now + dt.timedelta(days=300)))
    assert actors() == {"fresh"}


def _age(hub, address, days_since_login: int | None, created_days_ago: int = 800):
    now = dt.datetime.now(dt.timezone.utc)
    last = now - dt.timedelta(days=days_since_login) if days_since_login is not None else None
    hub.committer.run(lambda conn: conn.execute(update(Account).where(Account.address == address).values(
        last_login_at=last, created_at=now - dt.timedelta(days=created_days_ago))))


def test_professional_mailboxes_warned_at_11_months_suspended_at_12(hub):
    recent = add_professional(hub, "dr.actif", password=None)
    sleepy = add_professional(hub, "dr.endormi", password=None)
    gone = add_professional(hub, "dr.parti", type="ORG", password=None)
    never = add_professional(hub, "dr.jamais", password=None)
    _age(hub, recent, 10)
    _age(hub, sleepy, 340)
    _age(hub, gone, 370)
    _age(hub, never, None, created_days_ago=20)
    assert asyncio.run(check_inactive_mailboxes(hub)) == {"warned": 1, "suspended": 1}
    statuses = dict(hub.read_sync(lambda conn: conn.execute(select(Account.address, Account.status).where(
        Account.address.in_([recent, sleepy, gone, never]))).all()))
    assert statuses == {recent: "active", sleepy: "active", gone: "suspended", never: "active"}
    warning = read_folder(hub, sleepy)
    assert len(warning) == 1 and "suspendue le" in warning[0].raw.decode()
    # Warned once, not every day.
    assert asyncio.run(check_inactive_mailboxes(hub)) == {"warned": 0, "suspended": 0}
    traced = hub.read_sync(lambda conn: conn.execute(select(AuditEvent.action).where(
        AuditEvent.action.in_([audit.MAILBOX_INACTIVE_WARN, audit.MAILBOX_SUSPEND]))).scalars().all())
    assert sorted(traced) == [audit.MAILBOX_INACTIVE_WARN, audit.MAILBOX_SUSPEND]


def test_logins_traced_by_the_front_doors_count_as_use(hub):
    mailbox = add_professional(hub, "dr.connecte", password=None)
    _age(hub, mailbox, None)  # created long ago, never seen logging in...
    now = dt.datetime.now(dt.timezone.utc)
    hub.committer.run(lambda conn: audit.record(conn, actor=mailbox, action="imap.login", outcome="ok"))
    assert asyncio.run(check_inactive_mailboxes(hub, now)) == {"warned": 0, "suspended": 0}  # ...but it did
    last = hub.read_sync(lambda conn: conn.execute(
        select(Account.last_login_at).where(Account.address == mailbox)).scalar())
    assert last is not None


def test_inactivity_limits_are_settings(hub):
    mailbox = add_professional(hub, "dr.reglage", password=None)
    _age(hub, mailbox, 40)
    hub.config.set("professionals.inactivity_warn_days", 20)
    hub.config.set("professionals.inactivity_suspend_days", 30)
    assert asyncio.run(check_inactive_mailboxes(hub))["suspended"] == 1
