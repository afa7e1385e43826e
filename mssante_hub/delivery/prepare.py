"""The read-only half of a delivery: parse under limits, apply the rules, encrypt once, wrap the key
for each reader, and describe the writes (storage/deliveries.py) that the store step will make.

Kept off the event loop as a whole: libsodium releases the GIL, and taking it back on a busy
loop thread costs milliseconds per call. Reads only; returns plain data (picklable: the
prepare pool runs it in child processes).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field

from crypto.envelope import encrypt_message, wrap_key
from mssante_hub import audit
from mssante_hub.agenda import filing as agenda_filing
from mssante_hub.catalogue import consent, measures
from mssante_hub.dossier import filing
from mssante_hub.envelope import NOT_SENDING, Channel, Envelope, Filed, Identity
from mssante_hub.hub import Hub
from mssante_hub.profile import entries as profile_entries
from mssante_hub.profile import fhir_offers
from mssante_hub.mime import parse, summary_fields, with_envelope
from mssante_hub.rules import policy, refusals
from mssante_hub.rules.refusals import Refusal
from storage import accounts as account_repo
from storage import deliveries
from storage.models import AccountStatus, AccountType

SEEN = "\\Seen"


@dataclass
class Prepared:
    """A message ready to store: its unit of writes, and what the caller reports back."""

    unit: deliveries.Unit
    readers: dict[str, account_repo.AccountRow]  # local recipients
    remote: list[str]
    recipient_places: int  # the first this many placements are the recipients'; a sent copy follows
    account_types: dict[str, str] = field(default_factory=dict)  # address -> type, to word a late refusal
    extra_units: list[deliveries.Unit] = field(default_factory=list)  # documents filed, same transaction
    filing: dict[str, Filed] = field(default_factory=dict)  # patient recipient -> its documents' fate


def prepare(hub: Hub, envelope: Envelope, raw: bytes, local: list[str], remote: list[str],
            identity: Identity | None = None, actor: str = "") -> Prepared:
    # Storing into one's own folder (APPEND) is held to the limits, not to the rules of sending.
    message = parse(raw, hub.limits, storing=envelope.channel in NOT_SENDING, crlf_only=envelope.crlf_only)
    decision = policy.check(hub, envelope, identity, message, local, remote)
    if decision.accounts is not None:
        readers = {a: decision.accounts[a] for a in decision.local if a in decision.accounts}
    else:
        readers = hub.accounts_by_address(decision.local)
    for address in decision.local:
        account = readers.get(address)
        if account is None:
            raise Refusal(refusals.UNKNOWN_RECIPIENT, address)
        if account.status != AccountStatus.ACTIVE.value:
            raise Refusal(refusals.MAILBOX_UNAVAILABLE, address)
    # A catalogue service's message to a patient: only under the patient's consent (docs/catalogue.md).
    allowed = consent.check(hub, envelope, identity, message, readers)
    actor = actor or (identity.representative or identity.address if identity else envelope.mail_from or "<>")
    actor_type = (audit.ActorType.SYSTEM if envelope.channel == Channel.INTERNAL and identity is None
                  else audit.ActorType.REPRESENTATIVE if identity is not None and identity.representative
                  else audit.ActorType.of_account(identity.type if identity else None)).value
    via = f" via:{envelope.channel.value}"
    blob_id = secrets.token_hex(16)
    # A document message to a patient: its documents filed in the same transaction (docs/domain.md §6).
    filed = filing.plan(hub, envelope, message, readers, blob_id, (actor, actor_type, via), tuple(decision.remote),
                        raw=raw)
    # An iMIP appointment to a patient: filed in Agenda in the same transaction (docs/agenda.md).
    agenda = agenda_filing.plan(hub, envelope, message, readers, blob_id, (actor, actor_type, via), identity)
    held = filed.withheld if filed is not None else set()
    key_holders = {a.id: a for address, a in readers.items() if address not in held}
    own = filing.own_category(envelope)  # the patient filing a document of their own into Dossier/<category>
    entry = profile_entries.entry_key(envelope, message)  # or an entry of their profil médical (Dossier/Profil)
    # A folder of the patient's own filing (Dossier/<category>, Agenda, Dossier/Profil) is made on its first item.
    makes_folder = own is not None or agenda_filing.files_own_item(envelope) or entry is not None
    placements = [deliveries.Placement(address, account.id, envelope.folder, envelope.flags, create=makes_folder)
                  for address, account in readers.items() if address not in held]
    recipient_places = len(placements)
    if envelope.sent_copy and identity is not None:
        sender = hub.accounts_by_address([identity.address]).get(identity.address)
        if sender is not None:
            key_holders[sender.id] = sender
            placements.append(deliveries.Placement(identity.address, sender.id, envelope.sent_copy, SEEN,
                                                   optional=True))
    if entry is not None and (hub_reader := profile_entries.hub_reader(hub)) is not None:
        key_holders[hub_reader.id] = hub_reader  # a profile entry: the professionals' view reads it with the hub's key
    if decision.remote or held:
        # The relay reads queued mail with the hub's key; a quarantined message is sealed for it alone.
        system = hub.system_account()
        if system is None:
            raise Refusal(refusals.TEMPORARY_FAILURE, "no relay key")
        key_holders[system.id] = system
    fields = with_envelope(summary_fields(message), raw)
    # A professional's JSON attachment to a patient: said in the sealed summary, read on request (docs/profile.md).
    fields.update(fhir_offers.provenance(envelope, identity, message, readers,
                                         hub.config.get("hub.patient_domain"), allowed))
    summary = json.dumps(fields, ensure_ascii=False).encode()
    sealed = encrypt_message(blob_id, raw, summary)
    wrapped = [
        deliveries.Reader(a.id, wrap_key(sealed.content_key, sealed.blob_id, hub.keyring.public_key(a.public_key)))
        for a in key_holders.values()
    ]
    dsn = envelope.dsn
    queued, traces = [], []
    for rcpt in decision.remote:
        rcpt_dsn = envelope.rcpt_dsn.get(rcpt, {})
        queued.append(deliveries.Queued(rcpt, envelope.mail_from, rcpt_dsn.get("notify", dsn.get("notify", "")),
                                        dsn.get("ret", ""), dsn.get("envid", ""), rcpt_dsn.get("orcpt", "")))
        traces.append(deliveries.Trace(actor, actor_type, audit.SEND, None,
                                       f"blob:{sealed.blob_id} to:{rcpt.rpartition('@')[2]}{via}", "queued"))
    unit = deliveries.Unit(
        body=deliveries.Body(sealed.blob_id, sealed.body, sealed.summary, len(raw)),
        readers=wrapped, placements=placements, queued=queued, traces=traces,
        placement_trace=(actor, actor_type, audit.DELIVER, via),
        internal_date=envelope.internal_date, writes=list(decision.writes),
    )
    if own is not None:
        for account in readers.values():
            if account.type != AccountType.PATIENT.value:
                continue  # only a patient space has a dossier
            unit.writes.append(filing.own_document_write(hub, account, own, message, sealed.blob_id,
                                                         sealed.content_key, len(raw)))
    if entry is not None:
        for account in readers.values():
            if account.type == AccountType.PATIENT.value:
                unit.writes.append(profile_entries.write(hub, account, entry, message, sealed.blob_id,
                                                         sealed.content_key))
    extra: list[deliveries.Unit] = []
    if filed is not None:
        unit.traces.extend(filed.traces)
        unit.writes.extend(filed.writes)
        extra = filed.units
    if agenda is not None:
        unit.traces.extend(agenda.traces)
        unit.writes.extend(agenda.writes)
        extra = extra + agenda.units
    if allowed is not None:  # the service's measures filed into Dossier/Profil; the push traced
        items, pushed = measures.plan(hub, allowed, message, sealed.blob_id, (actor, actor_type, via))
        unit.traces.extend(pushed)
        unit.writes.append(consent.still_holds(allowed))  # and the consent checked again as it is stored
        extra = extra + items
    return Prepared(unit, {a: r for a, r in readers.items() if a not in held}, list(decision.remote),
                    recipient_places, {address: account.type for address, account in readers.items()},
                    extra, filed.outcomes if filed is not None else {})
