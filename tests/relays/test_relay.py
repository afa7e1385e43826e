"""The outbound relay: queue -> mutual-TLS delivery to another operator, retries, DSN, exactly once."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import smtplib

import pytest

from mssante_hub import relaying
from mssante_hub.reader import read_folder
from storage.models import OutboundItem
from tests.conftest import TEST_PASSWORD
from tests.relays.peer import free_port, start_peer
from tests.smtp.messages import message
from tests.smtp.support import REMOTE_DOMAIN

JEAN = "jean.dupont@hub.test"
CONFRERE = f"confrere@{REMOTE_DOMAIN}"
PORT = free_port()


@pytest.fixture
def smtp_settings():
    return {"relay.routes": [f"{REMOTE_DOMAIN}=127.0.0.1:{PORT}"], "relay.retry_schedule_s": [60]}


def submit(smtp_hub, pki, rcpt=CONFRERE, notify="", count=1, subject="Avis"):
    with smtplib.SMTP("127.0.0.1", smtp_hub.port("submission"), timeout=30) as client:
        client.starttls(context=pki.client_context(None))
        client.login(JEAN, TEST_PASSWORD)
        for _ in range(count):
            client.mail(JEAN)
            assert client.rcpt(rcpt, [f"NOTIFY={notify}"] if notify else [])[0] == 250
            assert client.data(message(JEAN, rcpt, subject=subject))[0] == 250


def queue_states(hub) -> list[tuple[str, int]]:
    rows = hub.read_sync(lambda c: c.execute(OutboundItem.__table__.select().order_by(OutboundItem.id)).all())
    return [(r.state, r.attempts) for r in rows]


def worker(smtp_hub, after: dt.timedelta = dt.timedelta(0)):
    clock = lambda: dt.datetime.now(dt.timezone.utc) + after  # noqa: E731
    return relaying.build(smtp_hub.hub, clock=clock)


def report_of(smtp_hub) -> email.message.EmailMessage:
    inbox = read_folder(smtp_hub.hub, JEAN)
    assert len(inbox) == 1
    return email.message_from_bytes(inbox[0].raw, policy=email.policy.default)


def status_fields(report: email.message.EmailMessage):
    assert report.get_content_type() == "multipart/report"
    assert report.get_param("report-type") == "delivery-status"
    human, status, returned = report.get_payload()
    assert human.get_content_type() == "text/plain"
    text = human.get_content()
    assert text.startswith("Votre message") and "Your message" in text  # French first, then English
    assert status.get_content_type() == "message/delivery-status"
    per_message, per_recipient = status.get_payload()
    return per_message, per_recipient, returned


def test_a_professional_reaches_another_operator_over_mutual_tls_with_a_success_dsn(smtp_hub, pki):
    peer, handler = start_peer(pki, PORT)
    try:
        submit(smtp_hub, pki, notify="SUCCESS,FAILURE")
        assert queue_states(smtp_hub.hub) == [("queued", 0)]
        assert smtp_hub.loop.run(worker(smtp_hub).run_once()) == 1
    finally:
        peer.stop()
    assert len(handler.received) == 1
    got = handler.received[0]
    assert got.mail_from == JEAN and got.rcpt_tos == [CONFRERE] and b"Subject: Avis" in got.content
    assert (("commonName", "mx.hub.test"),) in got.client_subject  # the hub showed its certificate
    assert queue_states(smtp_hub.hub) == [("sent", 1)]
    per_message, per_recipient, _ = status_fields(report_of(smtp_hub))
    assert per_message["Reporting-MTA"].startswith("dns;")
    assert per_recipient["Action"] == "relayed" and per_recipient["Status"] == "2.0.0"
    assert per_recipient["Final-Recipient"] == f"rfc822;{CONFRERE}"


def test_remote_down_is_retried_and_delivered_exactly_once_when_back(smtp_hub, pki):
    submit(smtp_hub, pki)
    assert smtp_hub.loop.run(worker(smtp_hub).run_once()) == 1  # nobody listens yet
    assert queue_states(smtp_hub.hub) == [("queued", 1)]
    assert smtp_hub.loop.run(worker(smtp_hub).run_once()) == 0  # not due before the retry wait
    peer, handler = start_peer(pki, PORT)
    try:
        later = worker(smtp_hub, dt.timedelta(minutes=2))
        assert smtp_hub.loop.run(later.run_once()) == 1
        assert smtp_hub.loop.run(worker(smtp_hub, dt.timedelta(hours=1)).run_once()) == 0
    finally:
        peer.stop()
    assert len(handler.received) == 1
    assert queue_states(smtp_hub.hub) == [("sent", 2)]
    assert read_folder(smtp_hub.hub, JEAN) == []  # no report asked, none sent


def test_never_back_gives_a_delay_then_a_failure_dsn(smtp_hub, pki):
    submit(smtp_hub, pki, subject="Urgent")
    assert smtp_hub.loop.run(worker(smtp_hub, dt.timedelta(hours=5)).run_once()) == 1
    _, per_recipient, returned = status_fields(report_of(smtp_hub))
    assert per_recipient["Action"] == "delayed" and per_recipient["Status"].startswith("4.")
    assert "Will-Retry-Until" in per_recipient
    assert returned.get_content_type() == "text/rfc822-headers"
    assert queue_states(smtp_hub.hub) == [("queued", 1)]
    assert smtp_hub.loop.run(worker(smtp_hub, dt.timedelta(days=6)).run_once()) == 1
    assert queue_states(smtp_hub.hub) == [("failed", 2)]
    inbox = read_folder(smtp_hub.hub, JEAN)
    assert len(inbox) == 2
    failure = email.message_from_bytes(inbox[1].raw, policy=email.policy.default)
    _, per_recipient, returned = status_fields(failure)
    assert per_recipient["Action"] == "failed" and per_recipient["Status"].startswith("5.")
    assert returned.get_content_type() == "message/rfc822"
    assert returned.get_payload()[0]["Subject"] == "Urgent"


def test_a_permanent_refusal_bounces_at_once_with_the_remote_reason(smtp_hub, pki):
    peer, _ = start_peer(pki, PORT, refuse_with="550 5.1.1 Destinataire inconnu")
    try:
        submit(smtp_hub, pki)
        smtp_hub.loop.run(worker(smtp_hub).run_once())
    finally:
        peer.stop()
    assert queue_states(smtp_hub.hub) == [("failed", 1)]
    _, per_recipient, _ = status_fields(report_of(smtp_hub))
    assert per_recipient["Status"] == "5.1.1"
    assert "550 5.1.1" in per_recipient["Diagnostic-Code"]


def test_two_workers_never_send_one_message_twice(smtp_hub, pki):
    submit(smtp_hub, pki, count=12)
    peer, handler = start_peer(pki, PORT)
    try:
        first, second = worker(smtp_hub), worker(smtp_hub)

        async def both():
            total = 0
            while True:
                done = await asyncio.gather(first.run_once(), second.run_once())
                total += sum(done)
                if not any(done):
                    return total

        assert smtp_hub.loop.run(both()) == 12
    finally:
        peer.stop()
    assert len(handler.received) == 12
    assert queue_states(smtp_hub.hub) == [("sent", 1)] * 12
