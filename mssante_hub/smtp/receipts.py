"""Automatic receipts: MDNs of patient spaces (RFC 8098, docs/domain.md §4) and success DSNs of local delivery.

When a patient space receives a message whose Disposition-Notification-To is the
Return-Path, the hub answers for it with a `processed` MDN (the patient cannot refuse),
plus a `dispatched` MDN when the sender asked for final-destination delivery. Never when
the two addresses differ, and never for a null sender (no receipt for a receipt).

A document message (an `IHE_XDM.zip` attachment) is first checked for integration into
the space (dossier/integration.py): on failure the `processed` MDN carries the error
(`processed/Error: <code>^<label>`, codes 902-906) and no `dispatched` MDN is sent. The
message stays delivered either way.
"""

from __future__ import annotations

import asyncio
import email.policy
import email.utils
import functools
import logging
from email.parser import BytesParser

from mssante_hub import delivery
from mssante_hub.delivery import Delivered, Envelope
from mssante_hub.dossier import integration, patient as known_patient
from mssante_hub.hub import Hub
from mssante_hub.envelope import Channel
from relays.reports import (MDN_DISPATCHED, MDN_PROCESSED, RecipientStatus, delivery_status_notification,
                            disposition_notification)

log = logging.getLogger("mssante_hub.smtp.receipts")
FINAL_DELIVERY_OPTION = "x-direct-final-destination-delivery=optional,true"


def _single_address(value: str | None) -> str:
    addresses = email.utils.getaddresses([value or ""])
    return addresses[0][1].strip().lower() if len(addresses) == 1 else ""


def wants_dispatched(options: str | None) -> bool:
    return FINAL_DELIVERY_OPTION in "".join((options or "").split()).lower()


def mdn_hook(hub: Hub):
    """An after-delivery step for the SMTP doors."""
    patient_domain = hub.config.get("hub.patient_domain").lower()
    reporting_ua = f"{hub.config.get('hub.hostname')}; {hub.config.get('hub.software_reference')}"

    async def after(envelope: Envelope, raw: bytes, delivered: Delivered) -> None:
        patients = [a for a in delivered.uids if a.rpartition("@")[2] == patient_domain]
        if not patients or not envelope.mail_from:
            return
        headers = BytesParser(policy=email.policy.compat32).parsebytes(raw, headersonly=True)
        notify_to = _single_address(headers.get("Disposition-Notification-To"))
        if not notify_to or notify_to != envelope.mail_from.lower():
            return  # RFC 8098 §2.1: not to an address other than the Return-Path
        dispatched = wants_dispatched(headers.get("Disposition-Notification-Options"))
        # Off the loop: unzipping, hashing and XML parsing of documents take milliseconds to seconds.
        try:
            results = await asyncio.get_running_loop().run_in_executor(
                hub.parse_pool, integration.check_recipients, raw, patients,
                functools.partial(known_patient.load, hub), hub.limits)
        except Exception as exc:  # noqa: BLE001 - a database or key failure: say the type, never the traits
            log.error("integration check failed: %s", type(exc).__name__)
            results = dict.fromkeys(patients, integration.IntegrationResult(error=integration.INTERNAL))
        for patient in patients:
            error = results[patient].error
            dispositions = [MDN_PROCESSED] + ([MDN_DISPATCHED] if dispatched and error is None else [])
            for disposition in dispositions:
                mdn = disposition_notification(
                    reporting_ua=reporting_ua, from_address=patient, to_address=notify_to,
                    final_recipient=patient, original_message_id=str(headers.get("Message-ID", "")).strip(),
                    original_subject=str(headers.get("Subject", "")), disposition=disposition,
                    error=(error.code, error.label) if error is not None else None,
                )
                await delivery.accept(hub, Envelope(mail_from="", rcpt_to=(notify_to,), channel=Channel.MDN), mdn)

    return after


def success_dsn_hook(hub: Hub):
    """An after-delivery step: a `delivered` DSN (RFC 3464) for local recipients that asked NOTIFY=SUCCESS."""
    hostname = hub.config.get("hub.hostname")
    postmaster = f"postmaster@{hub.config.get('hub.domain')}"

    async def after(envelope: Envelope, raw: bytes, delivered: Delivered) -> None:
        if not envelope.mail_from:
            return
        asked = [a for a in delivered.uids if "SUCCESS" in envelope.rcpt_dsn.get(a, {}).get("notify", "").split(",")]
        if not asked:
            return
        statuses = [RecipientStatus(a, "delivered", "2.0.0", "250 2.0.0 OK", hostname,
                                    envelope.rcpt_dsn[a].get("orcpt", "")) for a in asked]
        report = delivery_status_notification(
            reporting_mta=hostname, postmaster=postmaster, sender=envelope.mail_from, recipients=statuses,
            original=raw, ret=envelope.dsn.get("ret", ""), envid=envelope.dsn.get("envid", ""),
        )
        await delivery.accept(hub, Envelope(mail_from="", rcpt_to=(envelope.mail_from,), channel=Channel.DSN), report)

    return after
