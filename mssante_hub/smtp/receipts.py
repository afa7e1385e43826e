"""Automatic receipts: MDNs of patient spaces (RFC 8098, docs/domain.md §4.4) and success DSNs of local delivery.

When a patient space receives a message whose Disposition-Notification-To is the
Return-Path, the hub answers for it with a `processed` MDN (the patient cannot refuse),
plus a `dispatched` MDN when the sender asked for final-destination delivery. Never when
the two addresses differ, and never for a null sender (no receipt for a receipt).

A document message (an `IHE_XDM.zip` attachment) was checked and filed into the space while
it was prepared (dossier/filing.py; Delivered.filing): on failure the `processed` MDN carries
the error (`processed/Error: <code>^<label>`, codes 900-906) and no `dispatched` MDN is sent.
A message about another patient (902, 904) was quarantined, and the receipt says so; on any
other error the message stays delivered, its documents not filed.
"""

from __future__ import annotations

import email.policy
import email.utils
import logging
from email.parser import BytesParser

from mssante_hub import delivery
from mssante_hub.delivery import Delivered, Envelope
from mssante_hub.dossier import signatures
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
        # A patient whose document message was quarantined has no UID, but is owed the receipt all the same.
        patients = [a for a in {**delivered.uids, **delivered.filing} if a.rpartition("@")[2] == patient_domain]
        if not patients or not envelope.mail_from:
            return
        headers = BytesParser(policy=email.policy.compat32).parsebytes(raw, headersonly=True)
        notify_to = _single_address(headers.get("Disposition-Notification-To"))
        if not notify_to or notify_to != envelope.mail_from.lower():
            return  # RFC 8098 §2.1: not to an address other than the Return-Path
        dispatched = wants_dispatched(headers.get("Disposition-Notification-Options"))
        for patient in patients:
            # Decided while the message was prepared (dossier/filing.py): nothing to read again here.
            filed = delivered.filing.get(patient)
            error = filed.error if filed is not None else None
            dispositions = [MDN_PROCESSED] + ([MDN_DISPATCHED] if dispatched and error is None else [])
            for disposition in dispositions:
                mdn = disposition_notification(
                    reporting_ua=reporting_ua, from_address=patient, to_address=notify_to,
                    final_recipient=patient, original_message_id=str(headers.get("Message-ID", "")).strip(),
                    original_subject=str(headers.get("Subject", "")), disposition=disposition,
                    error=error, quarantined=filed is not None and filed.quarantined,
                    note=signatures.receipt_note(filed.signature) if filed is not None else "",
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
