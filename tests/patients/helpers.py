"""Helpers for the patient-space tests: accounts, messages, sending through delivery.accept."""

from __future__ import annotations

import asyncio
import random
from email.message import EmailMessage

from mssante_hub import delivery

from mssante_hub.accounts import identity
from mssante_hub.accounts.mailboxes import add_account
from mssante_hub.hub import Hub
from storage import accounts as account_repo

_rng = random.Random(5)


def new_ins() -> str:
    return identity.random_ins(_rng)


def add_patient_account(hub: Hub, ins: str | None = None) -> str:
    """An active patient space made directly (no provisioning), for the rules tests."""
    ins = ins or new_ins()
    address = identity.patient_address(ins, hub.config.get("hub.patient_domain"))
    add_account(hub, type="PATIENT", address=address, display_name="", ins=ins)
    return address


def make_message(sender: str, to: list[str], subject: str = "Bonjour", body: str = "Texte.",
                 headers: dict[str, str] | None = None,
                 attachments: list[tuple[str, str, bytes]] = (), from_name: str = "") -> bytes:
    message = EmailMessage()
    message["From"] = f"{from_name} <{sender}>" if from_name else sender
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    for filename, ctype, data in attachments:
        maintype, _, subtype = ctype.partition("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return bytes(message).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def identity_of(hub: Hub, address: str) -> delivery.Identity:
    row = hub.read_sync(lambda conn: account_repo.by_address(conn, address))
    return delivery.Identity(address=address, account_id=row.id, type=row.type)


def send(hub: Hub, sender: str, to: list[str], *, channel: str | None = None, raw: bytes | None = None,
         **message_args) -> delivery.Delivered:
    """Send as `sender`: a local sender logs in on submission, a remote one arrives on mx."""
    raw = raw or make_message(sender, to, **message_args)
    if channel is None:  # patients write from the webmail; local professionals on submission; others on mx
        if sender.rpartition("@")[2] == hub.config.get("hub.patient_domain"):
            channel = "web"
        else:
            channel = "submission" if hub.is_local(sender) else "mx"
    who = identity_of(hub, sender) if channel in ("submission", "web", "imap") else None
    envelope = delivery.Envelope(mail_from=sender, rcpt_to=tuple(to), channel=channel)
    return asyncio.run(delivery.accept(hub, envelope, raw, who))
