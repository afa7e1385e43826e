"""Delivery status notifications (RFC 3464) and message disposition notifications (RFC 8098).

Pure functions from facts to message bytes: the worker and the front doors decide when a
report is due, these decide what it says. Human parts are in French, then English
(docs/domain.md §4). Header values that came from outside are stripped of CR/LF first.
"""

from __future__ import annotations

import datetime as dt
import email.header
import email.utils
import secrets
from dataclasses import dataclass

from relays.xtext import xtext_decode

DSN_ACTIONS = ("failed", "delayed", "delivered", "relayed", "expanded")
MDN_PROCESSED = "processed"
MDN_DISPATCHED = "dispatched"

_HUMAN = {
    "failed": ("Votre message n'a pas pu être remis au destinataire ci-dessous.",
               "Your message could not be delivered to the recipient below."),
    "delayed": ("Votre message n'a pas encore pu être remis ; de nouvelles tentatives auront lieu.",
                "Your message has not been delivered yet; delivery will be retried."),
    "delivered": ("Votre message a été remis au destinataire ci-dessous.",
                  "Your message was delivered to the recipient below."),
    "relayed": ("Votre message a été transmis au serveur du destinataire ci-dessous.",
                "Your message was relayed to the recipient's server below."),
}
_SUBJECT = {
    "failed": "Non remis / Undelivered Mail Returned to Sender",
    "delayed": "Remise retardée / Delivery delayed",
    "delivered": "Remis / Delivered",
    "relayed": "Transmis / Relayed",
}


def _clean(value: str, limit: int = 900) -> str:
    return " ".join(value.replace("\r", " ").replace("\n", " ").split())[:limit]


def _date(when: dt.datetime | None = None) -> str:
    return email.utils.format_datetime(when or dt.datetime.now(dt.timezone.utc))


def _boundary() -> str:
    return "=_report_" + secrets.token_hex(12)


def header_section(raw: bytes) -> bytes:
    """The header section of a message (for RET=HDRS and MDN-less reports)."""
    end = raw.find(b"\r\n\r\n")
    return raw[: end + 2] if end >= 0 else raw


@dataclass(frozen=True)
class RecipientStatus:
    final_recipient: str
    action: str  # failed, delayed, delivered, relayed
    status: str  # enhanced status code, e.g. 5.1.1
    diagnostic: str = ""  # the remote reply, e.g. "550 5.1.1 no such user"
    remote_mta: str = ""
    original_recipient: str = ""  # ORCPT as received: addr-type;xtext
    will_retry_until: dt.datetime | None = None


def delivery_status_notification(
    *,
    reporting_mta: str,
    postmaster: str,
    sender: str,
    recipients: list[RecipientStatus],
    original: bytes,
    ret: str = "",
    envid: str = "",
    arrival: dt.datetime | None = None,
) -> bytes:
    """A complete RFC 3464 report to `sender`, sent with a null return path."""
    action = recipients[0].action
    fr, en = _HUMAN.get(action, _HUMAN["failed"])
    lines = [fr, "", en, ""]
    for r in recipients:
        lines.append(f"  <{_clean(r.final_recipient)}>: {_clean(r.diagnostic) or r.status}")
    human = "\r\n".join(lines) + "\r\n"
    fields = [f"Reporting-MTA: dns; {_clean(reporting_mta)}"]
    if envid:
        fields.append(f"Original-Envelope-Id: {_clean(xtext_decode(envid), 100)}")
    if arrival:
        fields.append(f"Arrival-Date: {_date(arrival)}")
    blocks = ["\r\n".join(fields)]
    for r in recipients:
        block = []
        if r.original_recipient:
            addr_type, _, addr = r.original_recipient.partition(";")
            block.append(f"Original-Recipient: {_clean(addr_type)};{_clean(xtext_decode(addr), 500)}")
        block += [f"Final-Recipient: rfc822;{_clean(r.final_recipient)}", f"Action: {r.action}",
                  f"Status: {r.status}"]
        if r.remote_mta:
            block.append(f"Remote-MTA: dns; {_clean(r.remote_mta)}")
        if r.diagnostic:
            block.append(f"Diagnostic-Code: smtp; {_clean(r.diagnostic)}")
        block.append(f"Last-Attempt-Date: {_date()}")
        if r.will_retry_until:
            block.append(f"Will-Retry-Until: {_date(r.will_retry_until)}")
        blocks.append("\r\n".join(block))
    status_part = "\r\n\r\n".join(blocks) + "\r\n"
    headers_only = ret == "HDRS" or action != "failed"
    returned_type = "text/rfc822-headers" if headers_only else "message/rfc822"
    returned = header_section(original) if headers_only else original
    boundary = _boundary()
    head = (
        f"From: Mail Delivery System <{postmaster}>\r\nTo: <{sender}>\r\nSubject: {_SUBJECT.get(action, action)}\r\n"
        f"Date: {_date()}\r\nMessage-ID: <{secrets.token_hex(16)}@{_clean(reporting_mta)}>\r\n"
        f"Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\r\n\r\n'
    )
    body = (
        f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        f"{human}\r\n--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n{status_part}\r\n"
        f"--{boundary}\r\nContent-Type: {returned_type}\r\n\r\n"
    )
    return head.encode() + body.encode() + returned + f"\r\n--{boundary}--\r\n".encode()


def disposition_notification(
    *,
    reporting_ua: str,
    from_address: str,
    to_address: str,
    final_recipient: str,
    original_message_id: str,
    original_subject: str,
    disposition: str = MDN_PROCESSED,
    error: tuple[str, str] | None = None,
    original_recipient: str = "",
    quarantined: bool = False,
    note: str = "",
) -> bytes:
    """An RFC 8098 MDN sent automatically (a patient space cannot refuse one, docs/domain.md §4).

    `error` is (code, label) of the integration error codes 900-906; it makes the
    disposition `processed/Error: code^label` and prefixes the subject. `quarantined` says, in the
    human part, that the message is held out of the recipient's space (it concerns another patient); `note`
    is added to the human part as given.
    """
    modifier = f"/Error: {_clean(error[0], 10)}^{_clean(error[1], 200)}" if error else ""
    subject = _clean(original_subject, 300)
    if error:
        subject = f"[KO Intégration système !][{_clean(error[0], 10)}] {subject}"
        human = (f"Le message a été reçu mais son intégration a échoué ({error[0]} : {error[1]}).\r\n\r\n"
                 f"The message was received but could not be integrated ({error[0]}: {error[1]}).\r\n")
        if quarantined:
            human += ("\r\nLe message concerne un autre patient : il a été mis en quarantaine et n'est pas visible "
                      "dans l'espace du destinataire.\r\n\r\nThe message concerns another patient: it is held in "
                      "quarantine and is not shown in the recipient's space.\r\n")
    elif disposition == MDN_DISPATCHED:
        human = ("Le message a été remis dans la boîte du destinataire.\r\n\r\n"
                 "The message was placed in the recipient's mailbox.\r\n")
    else:
        human = "Le message a été reçu et traité.\r\n\r\nThe message was received and processed.\r\n"
    if note:  # e.g. what the hub made of the message's signature (French first, then English)
        human += "\r\n" + note
    fields = [f"Reporting-UA: {_clean(reporting_ua)}"]
    if original_recipient:
        fields.append(f"Original-Recipient: rfc822;{_clean(original_recipient)}")
    fields += [
        f"Final-Recipient: rfc822;{_clean(final_recipient)}",
        f"Original-Message-ID: {_clean(original_message_id)}",
        f"Disposition: automatic-action/MDN-sent-automatically; {disposition}{modifier}",
    ]
    boundary = _boundary()
    encoded_subject = email.header.Header(f"Accusé de réception / Receipt: {subject}", "utf-8").encode()
    head = (
        f"From: <{from_address}>\r\nTo: <{to_address}>\r\nSubject: {encoded_subject}\r\n"
        f"Date: {_date()}\r\nMessage-ID: <{secrets.token_hex(16)}@{_clean(reporting_ua.split(';')[0])}>\r\n"
        f"Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=disposition-notification; boundary="{boundary}"\r\n\r\n'
    )
    body = (
        f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        f"{human}\r\n--{boundary}\r\nContent-Type: message/disposition-notification\r\n\r\n"
        + "\r\n".join(fields) + f"\r\n\r\n--{boundary}--\r\n"
    )
    return (head + body).encode()
