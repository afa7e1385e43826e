"""Who may send what to whom.

The seam every message passes through in :func:`mssante_hub.delivery.accept`.
The patient rules (docs/domain.md §5) live here: only professionals open a
conversation with a patient; a patient writes only to a professional who wrote
first and has not ended the exchange (honouring Reply-To), or to a pharmacy that
wrote before; never to another patient; patients' attachments are limited in type
and size. IMAP APPEND is filing, not sending: the rules do not apply to it.

What the message changes in the conversation state is returned as write steps
(`Decision.writes`) that the delivery runs inside its own transaction, so the
state and the message become durable together.
"""

from __future__ import annotations

import datetime as dt
import email.utils
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import TYPE_CHECKING, Callable

from sqlalchemy import Connection

from mssante_hub import audit

from mssante_hub.accounts import identity
from mssante_hub.agenda import imip

from mssante_hub.patients import notifications

from mssante_hub.rules import filetypes, refusals, trust
from mssante_hub.accounts.identity import Party
from mssante_hub.envelope import MAX_ADDRESS_CHARS, NOT_SENDING, Channel, Envelope, Identity
from mssante_hub.patients import conversations
from mssante_hub.rules.refusals import Refusal
from storage import accounts as account_repo
from storage.grants import may_post_as
from storage.models import AccountStatus

if TYPE_CHECKING:
    from mssante_hub.hub import Hub

Write = Callable[[Connection], None]

# docs/domain.md §5.6: the only file types a patient may attach.
PATIENT_ATTACHMENT_EXTENSIONS = frozenset({"jpg", "jpeg", "png", "tiff", "pdf", "txt", "rtf", "doc"})
MAX_REPLY_TO_ADDRESSES = 5
MAX_AUTHOR_ADDRESSES = 10  # From and Sender addresses checked at submission; more is refused outright
# Doors where someone signed in sends: the trust-space rule holds for every remote recipient.
TRUST_SPACE_CHANNELS = frozenset({Channel.SUBMISSION, Channel.WEB})
MAX_CONTACT_NAME_CHARS = 200
END_HEADER = "X-MSS-MES"
END_VALUE = "FIN"
END_SUBJECT = "[FIN]"
# The sender filing its own copy (the webmail's Sent folder), like IMAP APPEND: not sending.


@dataclass(frozen=True)
class Decision:
    """What policy found out about the recipients, and the writes the store step must add."""

    local: list[str]
    remote: list[str]
    writes: list[Write] = field(default_factory=list)
    accounts: dict[str, account_repo.AccountRow] | None = None  # local recipients already looked up, if any


@dataclass(frozen=True)
class _Known:
    sender: Party
    recipients: dict[str, tuple[int, str, str]]  # address -> (account id, type, status)
    contacts: dict[str, conversations.Contact]
    sender_is_pharmacy: bool
    sender_name: str  # the account's display name, for a local sender
    accounts: dict[str, account_repo.AccountRow]  # recipients that have an account here


def check(hub: "Hub", envelope: "Envelope", who: "Identity | None", message: EmailMessage,
          local: list[str], remote: list[str]) -> Decision:
    """Raise Refusal if the message may not go; otherwise the recipients and the state writes."""
    # The recipient count is checked by delivery.accept before the message is even parsed.
    if not local and not remote:
        raise Refusal(refusals.NO_RECIPIENTS)
    if envelope.channel in NOT_SENDING:
        return Decision(local=local, remote=remote)
    if envelope.channel in TRUST_SPACE_CHANNELS:
        far = trust.outside(hub, remote)
        if far:
            raise Refusal(refusals.OUTSIDE_TRUST_SPACE, far[0])
    if envelope.channel == Channel.SUBMISSION and who is not None:
        _check_authors(hub, who, message)
    patient_domain = hub.config.get("hub.patient_domain").lower()
    if not _involves_a_patient(envelope, who, local, patient_domain):
        return Decision(local=local, remote=remote)  # professionals among themselves: no lookup needed
    known = hub.read_sync(lambda conn: _look_up(conn, hub, envelope, who, local + remote))
    if known.sender.is_patient:
        _check_patient_sends(hub, known, message, local + remote, patient_domain)
        return Decision(local=local, remote=remote, accounts=known.accounts)
    if known.sender.type == identity.PATIENT_SPOOF:
        raise Refusal(refusals.PATIENT_SENDER_NOT_ALLOWED)
    writes = _professional_writes(hub, known, message, local)
    return Decision(local=local, remote=remote, writes=writes, accounts=known.accounts)


def recipient_reason(account_type: str | None, status: str | None) -> refusals.Reason | None:
    """Why a local address cannot receive (for RCPT TO checks too), or None.

    Patients' spaces get their own words (docs/domain.md §4: "patient space closed",
    "patient unknown"); other mailboxes the generic ones.
    """
    if account_type is None:
        return refusals.UNKNOWN_RECIPIENT
    if account_type == identity.PATIENT and status == AccountStatus.CLOSED.value:
        return refusals.PATIENT_SPACE_CLOSED
    if status != AccountStatus.ACTIVE.value:
        return refusals.MAILBOX_UNAVAILABLE
    return None


# --- Who is who ----------------------------------------------------------------

def _check_authors(hub: "Hub", who: "Identity", message: EmailMessage) -> None:
    """At submission the header From and Sender name the signed-in account, or an ORG it may post as.

    MAIL FROM is checked by the door; the header is what the recipient's client (and the
    patient's webmail) shows, so it is held to the same rule (no look-up when it is the account's own).
    """
    values = [str(v) for name in ("From", "Sender") for v in message.get_all(name, [])]
    try:
        pairs = email.utils.getaddresses(values)
    except (ValueError, TypeError, IndexError):
        raise Refusal(refusals.AUTHOR_NOT_ALLOWED) from None
    own = who.address.lower()
    others = {a.strip().lower() for _, a in pairs} - {own}
    if not others:
        return
    if len(others) > MAX_AUTHOR_ADDRESSES or who.account_id is None:
        raise Refusal(refusals.AUTHOR_NOT_ALLOWED)
    allowed = hub.read_sync(lambda conn: all(may_post_as(conn, who.account_id, a) for a in sorted(others)))
    if not allowed:
        raise Refusal(refusals.AUTHOR_NOT_ALLOWED)


def _involves_a_patient(envelope: "Envelope", who: "Identity | None", local: list[str], patient_domain: str) -> bool:
    sender = (who.address if who else envelope.mail_from or "").lower()
    return (
        (who is not None and who.type == identity.PATIENT)
        or sender.rpartition("@")[2] == patient_domain
        or any(a.rpartition("@")[2] == patient_domain for a in local)
    )


def _look_up(conn: Connection, hub: "Hub", envelope: "Envelope", who: "Identity | None",
             recipients: list[str]) -> _Known:
    sender_address = (who.address if who else envelope.mail_from or "").strip().lower()
    wanted = {a.lower() for a in recipients} | ({sender_address} if sender_address else set())
    # One look-up serves policy and the store step (Decision.accounts): it is on the hot path.
    rows = account_repo.by_addresses(conn, sorted(wanted))
    found = {a: (r.id, r.type, r.status) for a, r in rows.items()}
    sender = _sender(hub, envelope, who, sender_address, found)
    recipient_rows = {a: found[a] for a in (r.lower() for r in recipients) if a in found}
    contacts = (conversations.contacts(conn, sender.account_id, recipients)
                if sender.is_patient and sender.account_id is not None else {})
    to_patient = any(row[1] == identity.PATIENT for row in recipient_rows.values())
    pharmacy = conversations.is_pharmacy(conn, sender_address) if sender.is_professional and to_patient else False
    sender_name = rows[sender_address].display_name if sender.account_id and sender_address in rows else ""
    accounts = {a: rows[a] for a in recipient_rows}
    return _Known(sender, recipient_rows, contacts, pharmacy, sender_name, accounts)


def _sender(hub: "Hub", envelope: "Envelope", who: "Identity | None", address: str,
            found: dict[str, tuple[int, str, str]]) -> Party:
    local = hub.is_local(address) if address else False
    if local and address in found and (who is not None or envelope.channel in (Channel.INTERNAL, Channel.WEB)):
        account_id, type_, _ = found[address]
        return Party(address, type_, account_id)
    patient_domain = hub.config.get("hub.patient_domain").lower()
    if address.rpartition("@")[2] == patient_domain:
        # A patient address that did not log in (e.g. arriving on mx): never trusted.
        return Party(address, identity.PATIENT_SPOOF)
    if local and address in found:
        account_id, type_, _ = found[address]
        return Party(address, type_, account_id)
    return Party(address, identity.REMOTE_PROFESSIONAL)


# --- A patient sends --------------------------------------------------------------

def contact_refusal(address: str, contact: "conversations.Contact | None",
                    patient_domain: str) -> refusals.Reason | None:
    """Why a patient may not write to `address` (§5.1-5.4), or None: the one rule, for sending and for the
    webmail's list of whom a patient may write to."""
    if address.lower().rpartition("@")[2] == patient_domain.lower():
        return refusals.PATIENT_TO_PATIENT
    if contact is None:
        return refusals.PATIENT_NOT_A_CONTACT
    if contact.ended and not contact.pharmacy:
        return refusals.PATIENT_CONVERSATION_ENDED
    return None


def webmail_refusal(hub: "Hub", address: str, contact: "conversations.Contact | None") -> refusals.Reason | None:
    """Why check() would refuse a patient's webmail message to `address` now (trust space, then §5), or None."""
    if not hub.is_local(address) and trust.outside(hub, [address]):
        return refusals.OUTSIDE_TRUST_SPACE
    return contact_refusal(address, contact, hub.config.get("hub.patient_domain"))


def writable_contacts(conn: Connection, hub: "Hub", patient_id: int) -> list[conversations.Contact]:
    """The contacts a patient may write to now from the webmail, by the same rules as check()."""
    return [c for c in conversations.conversation_list(conn, patient_id) if webmail_refusal(hub, c.address, c) is None]


def _check_patient_sends(hub: "Hub", known: _Known, message: EmailMessage, recipients: list[str],
                         patient_domain: str) -> None:
    for address in (r.lower() for r in recipients):
        reason = contact_refusal(address, known.contacts.get(address), patient_domain)
        if reason is not None:
            raise Refusal(reason, address)
    _check_patient_attachments(message, hub.config.get("patients.attachment_budget_bytes"))


def _is_attachment(part: EmailMessage) -> bool:
    if part.is_multipart():
        return False
    if part.get_filename() or part.get_content_disposition() == "attachment":
        return True
    return part.get_content_type() not in ("text/plain", "text/html")


def _check_patient_attachments(message: EmailMessage, budget: int) -> None:
    total = 0
    for part in message.walk():
        if part is message and message.is_multipart():
            continue
        if not _is_attachment(part) or imip.is_reply_part(part):
            continue  # the patient's answer to an appointment, written by the hub (agenda/imip.py)
        name = part.get_filename() or ""
        extension = name.rpartition(".")[2].lower() if "." in name else ""
        if extension not in PATIENT_ATTACHMENT_EXTENSIONS:
            raise Refusal(refusals.PATIENT_ATTACHMENT_TYPE)
        payload = part.get_payload(decode=True) or b""
        if not filetypes.acceptable(extension, part.get_content_type(), payload):
            raise Refusal(refusals.PATIENT_ATTACHMENT_TYPE, "declared type or content does not match")
        total += len(payload)
        if total > budget:
            raise Refusal(refusals.PATIENT_ATTACHMENTS_TOO_BIG)


# --- A professional (or the hub) sends ----------------------------------------------

def ends_conversation(message: EmailMessage) -> bool:
    """`X-MSS-MES: FIN`, or a subject that is exactly `[FIN]`."""
    marker = str(message.get(END_HEADER, "") or "").strip().upper()
    subject = str(message.get("Subject", "") or "").strip()
    return marker == END_VALUE or subject == END_SUBJECT


def _reply_addresses(message: EmailMessage) -> list[str]:
    values = [str(v) for v in message.get_all("Reply-To", [])]
    pairs = email.utils.getaddresses(values)[:MAX_REPLY_TO_ADDRESSES]
    return [a.strip().lower() for _, a in pairs if "@" in a and len(a) <= MAX_ADDRESS_CHARS]


def _display_name(message: EmailMessage, fallback: str) -> str:
    try:
        name, _ = email.utils.parseaddr(str(message.get("From", "") or ""))
    except (ValueError, TypeError):
        name = ""
    name = "".join(c for c in name if c.isprintable()).strip()[:MAX_CONTACT_NAME_CHARS]
    return name or fallback


def _professional_writes(hub: "Hub", known: _Known, message: EmailMessage, local: list[str]) -> list[Write]:
    patients = [(a, known.recipients[a][0]) for a in local
                if a in known.recipients and known.recipients[a][1] == identity.PATIENT]
    if not patients:
        return []
    for address, _ in patients:
        reason = recipient_reason(identity.PATIENT, known.recipients[address][2])
        if reason is refusals.PATIENT_SPACE_CLOSED:
            raise Refusal(reason, address)
    sender = known.sender
    if sender.type == identity.SYSTEM:
        return []
    ending = ends_conversation(message)
    # A Reply-To outside the trust space is not an authorised contact; a bounce (null sender) opens nothing.
    opens = bool(sender.address)
    contact_addresses = [a for a in _reply_addresses(message) if trust.in_trust_space(hub, a)] or [sender.address]
    # A local account's own name wins over whatever its From field claims.
    name = known.sender_name or _display_name(message, sender.address.partition("@")[0])
    kind = notifications.kind_of(message)
    pharmacy = known.sender_is_pharmacy

    return [_ConversationWrite(tuple(patients), sender.address, sender.type, ending,
                               tuple(contact_addresses) if opens else (), name, pharmacy, kind)]


@dataclass(frozen=True)
class _ConversationWrite:
    """The conversation state a professional's message changes; plain data, so it can cross processes."""

    patients: tuple[tuple[str, int], ...]  # (address, account id)
    sender: str
    sender_type: str
    ending: bool
    contact_addresses: tuple[str, ...]  # empty: the message opens no conversation (a bounce), only notifies
    name: str
    pharmacy: bool
    kind: str

    def __call__(self, conn: Connection) -> None:
        now = dt.datetime.now(dt.timezone.utc)
        for _, patient_id in self.patients:
            if not self.contact_addresses:
                pass
            elif self.ending:
                conversations.end_conversation(conn, patient_id, self.sender, now)
                audit.record(conn, actor=self.sender, actor_type=self.sender_type, action=audit.CONVERSATION_END,
                             subject_account_id=patient_id, target=f"account:{patient_id}")
            else:
                conversations.record_professional_message(conn, patient_id, list(self.contact_addresses),
                                                          self.sender, self.name, self.pharmacy, now)
            notifications.mark_pending(conn, patient_id, self.kind)
