"""Whether a catalogue service may push to a patient now: the one rule, at RCPT and at DATA.

Only mail sent from the APP mailbox of a service in the catalogue is held to it (an APP mailbox that is in
no catalogue entry, a hospital's system for instance, sends as it always did). For such a message to a
patient (docs/catalogue.md):

- at RCPT (smtp/door.py, `rcpt_refusal`): refused if the service is not online (offline, suspended,
  dereferenced), if the patient never connected it or revoked it, or if the consent lapsed (a new version not
  approved again by its limit date: checked against the clock here, whatever the daily job has marked yet);
- at DATA (delivery/prepare.py, `check`): the same again (time passed since RCPT), then what the message
  carries (`scopes_of`: documents (an XDM), agenda (an iMIP calendar), measures (FHIR JSON attachments),
  messages (anything else)) must be among the scopes the patient granted.

Every refused push is traced on the patient's space (`trace_refused`), so their access history shows it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection

from mssante_hub import audit, mime
from mssante_hub.agenda import ical, imip
from mssante_hub.catalogue import services as catalogue
from mssante_hub.dossier import integration
from mssante_hub.envelope import Channel, Envelope, Identity
from mssante_hub.hub import Hub
from mssante_hub.patients import notifications
from mssante_hub.profile import entries
from mssante_hub.rules import refusals
from mssante_hub.rules.refusals import Reason, Refusal
from storage import accounts as account_repo
from storage import catalogue as store
from storage.models import AccountType

# Where a service's mail arrives: its APP mailbox submits; a trusted system of the hub may hand it over by mx.
# (An APP mailbox cannot sign in to the webmail: web/sessions.py's WEB_LOGIN_TYPES.)
GATED_CHANNELS = frozenset({Channel.SUBMISSION, Channel.MX})
REFUSALS = frozenset({refusals.SERVICE_NOT_ONLINE, refusals.SERVICE_NO_DATA_EXCHANGE, refusals.SERVICE_NOT_CONNECTED,
                      refusals.SERVICE_CONSENT_LAPSED, refusals.SERVICE_SCOPE_NOT_CONSENTED,
                      refusals.SERVICE_MEASURE_INVALID})
# The state of one patient's consent, as the webmail shows it.
NONE, ACTIVE, REAPPROVAL, LAPSED, UNAVAILABLE = "none", "active", "reapproval_needed", "lapsed", "unavailable"


def sender(envelope: Envelope, identity: Identity | None) -> str:
    """Who sends: the signed-in mailbox at submission, the envelope sender otherwise."""
    return (identity.address if identity is not None else envelope.mail_from or "").strip().lower()


def may_be_a_service(hub: Hub, channel: Channel, identity: Identity | None, address: str) -> bool:
    """Whether this sender could be a catalogue service at all, without a query: an APP mailbox signed in,
    or an address of this hub handed over unauthenticated. Every other message skips the look-up."""
    if channel not in GATED_CHANNELS or not address:
        return False
    if identity is not None:
        return identity.type == AccountType.APP.value
    return hub.is_local(address)


def state(service: store.Service, consent: store.Consent | None, now: dt.datetime) -> str:
    if consent is None:
        return NONE
    if service.status != catalogue.ONLINE:
        return UNAVAILABLE
    if consent.state == store.LAPSED or (consent.reapprove_by is not None and consent.reapprove_by <= now):
        return LAPSED
    if consent.approved_version != service.version:
        return REAPPROVAL  # still holds until reapprove_by
    return ACTIVE


def refusal(service: store.Service, consent: store.Consent | None, now: dt.datetime) -> Reason | None:
    """Why this service may not push to this patient now, or None."""
    if service.status != catalogue.ONLINE:
        return refusals.SERVICE_NOT_ONLINE
    if not service.data_exchange:
        return refusals.SERVICE_NO_DATA_EXCHANGE
    found = state(service, consent, now)
    if found == NONE:
        return refusals.SERVICE_NOT_CONNECTED
    if found == LAPSED:
        return refusals.SERVICE_CONSENT_LAPSED
    return None


def rcpt_refusal(conn: Connection, address: str, patient: account_repo.AccountRow | None,
                 now: dt.datetime) -> tuple[store.Service, Reason] | None:
    """At RCPT: (service, reason) if `address` is a catalogue service refused for this patient, else None."""
    if patient is None or patient.type != AccountType.PATIENT.value:
        return None
    service = store.service_of_mailbox(conn, address)
    if service is None:
        return None
    consent = store.consents_to(conn, service.id, [patient.id]).get(patient.id)
    reason = refusal(service, consent, now)
    return (service, reason) if reason is not None else None


def scopes_of(message: mime.ParsedMessage, calendar_bytes: int) -> set[str]:
    """What a message carries, as scopes: its structured contents, or `messages` when it has none."""
    found = set()
    if integration.xdm_parts(message):
        found.add(catalogue.DOCUMENTS)
    try:
        if imip.calendar_part(message, calendar_bytes) is not None:
            found.add(catalogue.AGENDA)
    except ical.CalendarRefused:  # an over-large calendar is still a calendar (the agenda refuses it later)
        found.add(catalogue.AGENDA)
    if any(part.get_content_type() == entries.FHIR_TYPE for part in message.walk() if not part.is_multipart()):
        found.add(catalogue.MEASURES)
    return found or {catalogue.MESSAGES}


@dataclass(frozen=True)
class Pass:
    """A service's message that may go: the service, and the patients (address -> account) it reaches."""

    service: store.Service
    patients: dict[str, account_repo.AccountRow]
    scopes: frozenset[str]


def check(hub: Hub, envelope: Envelope, identity: Identity | None, message: mime.ParsedMessage,
          readers: dict[str, account_repo.AccountRow]) -> Pass | None:
    """At DATA: None for any message not from a catalogue service to a patient; Refusal if the consent does not
    hold or misses a scope the message carries; else what the service may file (catalogue/measures.py)."""
    address = sender(envelope, identity)
    if not may_be_a_service(hub, envelope.channel, identity, address):
        return None
    patients = {a: r for a, r in readers.items() if r.type == AccountType.PATIENT.value}
    if not patients:
        return None
    now = dt.datetime.now(dt.timezone.utc)

    def look(conn):
        service = store.service_of_mailbox(conn, address)
        if service is None:
            return None, {}
        return service, store.consents_to(conn, service.id, [r.id for r in patients.values()])

    service, consents = hub.read_sync(look)
    if service is None:
        return None
    wanted = scopes_of(message, hub.config.get("agenda.max_calendar_bytes"))
    for patient_address, patient in patients.items():
        consent = consents.get(patient.id)
        reason = refusal(service, consent, now)
        if reason is not None:
            raise Refusal(reason, patient_address)
        missing = wanted - set(consent.scopes)
        if missing:
            raise Refusal(refusals.SERVICE_SCOPE_NOT_CONSENTED, ",".join(sorted(missing)))
    return Pass(service, patients, frozenset(wanted))


@dataclass(frozen=True)
class StillHolds:
    """A write of the push's own unit: the consent checked again inside the transaction that stores the push, so
    that a revocation (or a lapse) committed since `check` refuses it rather than letting it through (the store
    step rolls the push back and hands the Refusal to the door). Plain data: it crosses the prepare pool."""

    service_id: str
    patients: tuple[tuple[str, int], ...]  # (address, account id)
    scopes: frozenset[str]

    def __call__(self, conn: Connection) -> None:
        service = store.service(conn, self.service_id)
        if service is None:
            raise Refusal(refusals.SERVICE_NOT_ONLINE)
        consents = store.consents_to(conn, self.service_id, [account_id for _, account_id in self.patients])
        now = dt.datetime.now(dt.timezone.utc)
        for address, account_id in self.patients:
            found = consents.get(account_id)
            reason = refusal(service, found, now)
            if reason is not None:
                raise Refusal(reason, address)
            if self.scopes - set(found.scopes):
                raise Refusal(refusals.SERVICE_SCOPE_NOT_CONSENTED, ",".join(sorted(self.scopes - set(found.scopes))))


def still_holds(allowed: Pass) -> StillHolds:
    return StillHolds(allowed.service.id, tuple((a, r.id) for a, r in allowed.patients.items()), allowed.scopes)


async def trace_refused(hub: Hub, address: str, reason: Reason, patients: list[str]) -> None:
    """A refused push, on each patient's space (their access history), naming the service, never content."""
    if reason not in REFUSALS or not patients:
        return

    def work(conn) -> None:
        service_id = store.mailbox_owner(conn, address) or "-"
        for account in account_repo.by_addresses(conn, sorted({p.lower() for p in patients})).values():
            if account.type != AccountType.PATIENT.value:
                continue
            audit.record(conn, actor=address, actor_type=audit.ActorType.APP, action=audit.CATALOGUE_PUSH,
                         subject_account_id=account.id,
                         target=f"service:{service_id} status:{reason.status} code:{reason.code}",
                         outcome="refused")

    await hub.write(work)


async def lapse_due(hub: Hub, now: dt.datetime | None = None) -> int:
    """The daily job's part: consents past their re-approval date are marked lapsed, each traced on the
    patient's space. (The rule above already refuses them from that date on: this makes it visible.)"""
    now = now or dt.datetime.now(dt.timezone.utc)

    def work(conn) -> int:
        lapsed = store.lapse_due(conn, now)
        for account_id, service_id in lapsed:
            audit.record(conn, actor="daily-job", actor_type=audit.ActorType.SYSTEM, action=audit.CATALOGUE_LAPSE,
                         subject_account_id=account_id, target=f"service:{service_id}", outcome="lapsed")
            notifications.mark_pending(conn, account_id, notifications.SERVICE)
        return len(lapsed)

    return await hub.write(work)
