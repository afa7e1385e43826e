"""What travels with a message on its one path: where it came from, for whom, and who sent it.

A leaf module (it imports nothing of the hub) so that front doors, rules and delivery
share one vocabulary without importing one another. A channel is always given
explicitly: no default, so a caller that forgets to say where a message comes from
gets a TypeError, never the trusted path.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field

# RFC 5321 §4.5.3.1.3: a path (address) is at most 256 octets, but mailbox lists and logins
# in the wild run longer; one generous bound, used by every door for every address it parses.
MAX_ADDRESS_CHARS = 320
INBOX = "INBOX"


class Channel(str, enum.Enum):
    """Where a message enters the hub (also the audit actor type of a door's own events)."""

    MX = "mx"  # a peer operator or hospital system over mutual TLS
    SUBMISSION = "submission"  # an authenticated professional's mail client
    IMAP = "imap"  # APPEND into the user's own folder: storing, not sending
    WEB = "web"  # the patients' webmail
    FILING = "filing"  # a copy filed into the sender's own folder: not sending
    INTERNAL = "internal"  # the hub's own mail (demo, notices, notifications)
    RELAY = "relay"  # delivery reports written by the relay worker
    DSN = "dsn"  # delivery status notifications of the SMTP doors
    MDN = "mdn"  # disposition notifications (receipts) of the SMTP doors

    def __str__(self) -> str:
        return self.value


# Channels that store into the user's own mailbox rather than send to someone: delivery rules
# meant for someone else (patient rules, From present) do not apply to them.
NOT_SENDING = frozenset({Channel.IMAP, Channel.FILING})


@dataclass(frozen=True)
class Envelope:
    """What the front door knows besides the bytes."""

    mail_from: str
    rcpt_to: tuple[str, ...]
    channel: Channel
    peer: str = ""
    folder: str = INBOX  # IMAP APPEND names its folder
    flags: str = ""
    internal_date: dt.datetime | None = None
    dsn: dict[str, str] = field(default_factory=dict)  # notify, ret, envid (RFC 3461)
    declared_size: int | None = None  # SMTP SIZE=, checked before a byte is read
    rcpt_dsn: dict[str, dict[str, str]] = field(default_factory=dict)  # lower-case rcpt -> notify, orcpt
    sent_copy: str | None = None  # the sender's folder that files the same body (webmail: "Sent")
    # A migration import's package (its SHA-256): recorded in the delivery's own transaction, so that a
    # resumed import files nothing twice (dossier/importer.py).
    import_key: str = ""
    # Came as SMTP DATA (the SMTP doors set it): a bare CR or LF is refused (RFC 5321 §2.3.8, mime.pre_scan).
    crlf_only: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.channel, Channel):
            object.__setattr__(self, "channel", Channel(self.channel))


@dataclass(frozen=True)
class Identity:
    """Who authenticated on the front door (None for an anonymous peer)."""

    address: str
    account_id: int | None = None
    type: str = ""
    # A legal representative acting on this (dependant's) space from the webmail: the traces' actor is them.
    representative: str = ""


@dataclass(frozen=True)
class Filed:
    """What became of a document message's documents for one patient recipient (docs/domain.md §4.4)."""

    error: tuple[str, str] | None = None  # (integration error code, French label); None: filed
    documents: int = 0  # documents filed into the dossier
    quarantined: bool = False  # about another patient: held out of the patient's folders
    signature: str = ""  # the message's PGP/MIME signature: "" none, good, bad, unknown (dossier/signatures.py)


@dataclass(frozen=True)
class Delivered:
    blob_id: str
    uids: dict[str, int]  # local recipient -> UID in its folder
    queued: tuple[str, ...]  # remote recipients handed to the relay
    sent_copy_uid: int | None = None  # UID of the sender's filed copy (Envelope.sent_copy), if filed
    filing: dict[str, Filed] = field(default_factory=dict)  # patient recipient -> its documents' fate
