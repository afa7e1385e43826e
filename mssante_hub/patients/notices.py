"""Texts the hub itself mails: French first, then English; never any health content.

Built as plain bytes from fixed templates (no user-supplied text except the
addressee's own address), which is also fast enough for bulk provisioning.
"""

from __future__ import annotations

import datetime as dt
import functools
import email.header
import email.utils
import secrets
from dataclasses import dataclass

from mssante_hub.hub import Hub
from mssante_hub.mime import with_envelope

HUB_SENDER_NAME = "Mon espace santé (mssante-hub)"


@functools.lru_cache(maxsize=64)
def _encoded(text: str) -> str:
    """RFC 2047 form of a fixed text (cached: encoding costs more than the rest of a notice)."""
    return text if text.isascii() else email.header.Header(text, "utf-8").encode()


@dataclass(frozen=True)
class Context:
    """Settings a notice needs, read once (reading settings costs more than writing a notice)."""

    sender: str
    domain: str
    software: str
    portal: str

    @classmethod
    def of(cls, hub: Hub) -> "Context":
        return cls(hub.system_account().address, hub.config.get("hub.domain"),
                   hub.config.get("hub.software_reference"), hub.config.get("notify.portal_url"))


def system_mail(ctx: Context, to: str, subject: str, text: str, now: dt.datetime) -> tuple[bytes, dict]:
    """(raw RFC 5322 bytes, listing summary) of a text/plain message from the hub's postmaster."""
    sender = ctx.sender
    message_id = f"<{secrets.token_hex(12)}@{ctx.domain}>"
    date = email.utils.format_datetime(now)
    headers = (
        f"From: {_encoded(HUB_SENDER_NAME)} <{sender}>\r\n"
        f"To: <{to}>\r\n"
        f"Subject: {_encoded(subject)}\r\n"
        f"Date: {date}\r\n"
        f"Message-ID: {message_id}\r\n"
        f"X-MSS-NIL: {ctx.software}\r\n"
        "Auto-Submitted: auto-generated\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
    )
    body = text.replace("\n", "\r\n")
    summary = {"subject": subject, "from": f"{HUB_SENDER_NAME} <{sender}>", "to": to, "date": date,
               "message-id": message_id}
    raw = (headers + body).encode("utf-8")
    return raw, with_envelope(summary, raw)


def provisioning_notice(ctx: Context, to: str, code: str, objection_until: dt.datetime,
                        now: dt.datetime) -> tuple[bytes, dict]:
    """The letter of the opt-out: a space was created; object or activate with this code."""
    deadline = objection_until.strftime("%d/%m/%Y")
    portal = ctx.portal
    text = (
        "Bonjour,\n\n"
        "Un espace santé a été préparé pour vous. Vous pouvez l'activer, ou vous y opposer jusqu'au "
        f"{deadline} inclus ; l'opposition supprime l'espace immédiatement.\n"
        "Sans opposition de votre part, l'espace est ensuite créé et reçoit vos documents et messages de santé, "
        "même si vous ne l'activez pas ; les notifications ne vous sont envoyées qu'après activation.\n"
        f"Votre code provisoire, à usage unique : {code}\n"
        f"Rendez-vous sur {portal} avec votre matricule INS et ce code.\n\n"
        "---\n\n"
        "Hello,\n\n"
        "A health space has been prepared for you. You may activate it, or object to it until "
        f"{deadline}; objecting deletes the space at once.\n"
        "Without an objection, the space is then created and receives your health documents and messages, even "
        "if you do not activate it; notifications are sent to you only once it is activated.\n"
        f"Your one-time provisional code: {code}\n"
        f"Go to {portal} with your INS number and this code.\n"
    )
    return system_mail(ctx, to, "Votre espace santé / Your health space", text, now)


def inactivity_warning(ctx: Context, to: str, suspend_on: dt.datetime, now: dt.datetime) -> tuple[bytes, dict]:
    date = suspend_on.strftime("%d/%m/%Y")
    text = (
        "Bonjour,\n\n"
        "Votre boîte aux lettres de messagerie sécurisée de santé n'a pas été utilisée depuis près d'un an. "
        f"Sans connexion de votre part, elle sera suspendue le {date}.\n\n"
        "---\n\n"
        "Hello,\n\n"
        "Your secure health mailbox has not been used for almost a year. "
        f"Unless you log in, it will be suspended on {date}.\n"
    )
    return system_mail(ctx, to, "Boîte inutilisée : suspension prochaine / Unused mailbox: suspension ahead",
                       text, now)
