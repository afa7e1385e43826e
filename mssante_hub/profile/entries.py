"""A profile entry as an item: the message the hub builds around a FHIR resource, and its sealed index row.

The webmail's POST/PUT build the message (a short covering text, the resource as `application/fhir+json`)
and hand it to `delivery.accept` (channel FILING into `Dossier/Profil`), like the patient's own dossier
document. The entry key (a UUID, the API's id) travels in the ENTRY_HEADER of that message: only a FILING,
which only the webmail makes, is read for it. prepare() calls `write()` with the message's content key, so
the index row is sealed under it and written in the delivery's own transaction.
"""

from __future__ import annotations

import datetime as dt
import email.policy
import email.utils
import functools
import json
from email.message import EmailMessage
from typing import Any

from mssante_hub import mime
from mssante_hub.dossier import index
from mssante_hub.envelope import Channel, Envelope
from mssante_hub.hub import Hub
from mssante_hub.profile import fhir
from storage import accounts as account_repo
from storage import profile as profile_store

ENTRY_HEADER = "X-MSSante-Hub-Profile-Entry"
# An entry accepted from a professional's offer (profile/fhir_offers.py): "<offer id> <professional's address>".
ORIGIN_HEADER = "X-MSSante-Hub-Profile-Origin"
MAX_ORIGIN_CHARS = 400
FHIR_TYPE = "application/fhir+json"
# Where an entry came from (docs/profile.md): sealed with it.
PATIENT, PROFESSIONAL, SERVICE = "patient", "professional", "service"
# Advance directives (directives anticipées) are always shown to a professional who may read the dossier, and
# under emergency access: the patient's hide choice does not take them out of the view (docs/domain.md §6.5).
ALWAYS_SHOWN_KINDS = frozenset({"DocumentReference"})


def _aad_id(blob_id: str) -> str:
    return f"profile/{blob_id}"


def build(address: str, hostname: str, entry_key: str, resource: Any, sender: str = "", origin: str = "") -> bytes:
    """The item message of one entry version, from the patient to themselves (or from `sender`, a service);
    `origin`, the offer it was accepted from (ORIGIN_HEADER)."""
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = sender or address
    message["To"] = address
    message["Subject"] = "Profil médical"
    message["Date"] = email.utils.format_datetime(dt.datetime.now(dt.timezone.utc))
    message["Message-ID"] = email.utils.make_msgid(domain=hostname)
    message[ENTRY_HEADER] = entry_key
    if origin:
        message[ORIGIN_HEADER] = origin
    message.set_content("Entrée de votre profil médical.\n\nAn entry of your medical profile.\n")
    message.add_attachment(fhir.to_json(resource), maintype="application", subtype="fhir+json",
                           filename=f"{resource.get_resource_type()}.json")
    return message.as_bytes()


def entry_key(envelope: Envelope, message: mime.ParsedMessage) -> str | None:
    """The entry a FILING into Dossier/Profil carries, or None (any other message is no entry)."""
    if envelope.channel is not Channel.FILING or envelope.folder != fhir.FOLDER:
        return None
    value = str(message.get(ENTRY_HEADER, "")).strip()
    return value if 0 < len(value) <= 36 else None


def origin_fields(message: email.message.Message) -> dict[str, str]:
    """The sealed fields of an entry accepted from a professional's offer: only the webmail builds a FILING
    into Dossier/Profil (entry_key), so the header is the hub's own, never the patient's."""
    value = str(message.get(ORIGIN_HEADER, "")).strip()
    offer, _, by = value.partition(" ")
    if not offer or not by or len(value) > MAX_ORIGIN_CHARS:
        return {}
    return {"source": PROFESSIONAL, "offer": offer, "by": by}


def resource_json(message: email.message.Message) -> dict[str, Any] | None:
    for part in message.iter_attachments():
        if part.get_content_type() == FHIR_TYPE:
            return json.loads(part.get_payload(decode=True) or b"{}")
    return None


def write(hub: Hub, patient: account_repo.AccountRow, key: str, message: mime.ParsedMessage, blob_id: str,
          content_key: bytes, source: str = PATIENT):
    """The index row of one entry version, sealed under the item's content key."""
    resource = fhir.validate(resource_json(message) or {}, hub.config.get("profile.max_resource_bytes"))
    # prepare() wraps an entry's key for the hub's own account when there is one (hub_reader below).
    return resource_write(patient, key, resource, blob_id, content_key, source, origin_fields(message),
                          in_view=hub.system_account() is not None)


def hub_reader(hub: Hub) -> account_repo.AccountRow | None:
    """The account whose key an entry's content key is wrapped for beside the patient's: the hub's own, which
    opens the professionals' read-only view (imap/dossier_view.py); None on a store without one."""
    return hub.system_account()


def resource_write(patient: account_repo.AccountRow, key: str, resource: Any, blob_id: str, content_key: bytes,
                   source: str, origin: dict[str, str] | None = None, in_view: bool = False):
    """The index row of one entry version of an already validated resource (`origin`: its offer's fields;
    `in_view`: its key is wrapped for the hub, so professionals may be served it)."""
    found = fhir.summary(resource)
    fields = {"kind": found.kind, "code": found.code, "display": found.display, "date": found.date,
              "source": source, **(origin or {})}
    row = profile_store.NewEntry(account_id=patient.id, blob_id=blob_id, entry_key=key,
                                 sealed=index.seal(content_key, _aad_id(blob_id), fields), in_view=in_view,
                                 always_shown=found.kind in ALWAYS_SHOWN_KINDS)
    return functools.partial(profile_store.file_entry, row=row)


def open_fields(content_key: bytes, blob_id: str, sealed: bytes) -> dict:
    return index.open_(content_key, _aad_id(blob_id), sealed)
