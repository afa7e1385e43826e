"""Filing a document message into the patient's dossier, planned while the message is prepared.

For each patient recipient of a message carrying `IHE_XDM.zip` (docs/domain.md §4.2, §6):

- the integration check (integration.py: 902-906) and the MSSanté headers (`X-MSS-CODECDA`,
  `X-MSS-INS`, docs/domain.md §4.1) against the documents;
- the version rules against the dossier held (docs/domain.md §6.3, MDN 900 and 901);
- then each CDA becomes an item of its own: a message built by the hub whose attachments are the CDA
  (and the PDF of a level-1 document), placed in `Dossier/<category>`, with an index row
  (storage/dossier.py); each is one more storage Unit of the same delivery, so ONE commit holds the
  covering message, every item and every index row, or nothing.

A document about another patient (902, 904) is never shown to this one: the covering message is not
placed in the patient's folders; it is held in quarantine, its key wrapped for the hub alone, and
purged after `dossier.quarantine_days`. Any other error files nothing and delivers the message as
before. The receipt says which (smtp/receipts.py, from Delivered.filing).

Reads only (the dossier held, the patient's traits); returns plain, picklable data.
"""

from __future__ import annotations

import base64
import datetime as dt
import email.encoders
import email.header
import email.policy
import email.utils
import io
import functools
import json
import re
import secrets
from dataclasses import dataclass, field
from email.generator import BytesGenerator
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

from crypto.envelope import encrypt_message, wrap_key
from mssante_hub import audit, mime
from mssante_hub.dossier import categories, cda, index, integration, masking, patient as known_patient, safexml
from mssante_hub.dossier import signatures
from storage import general_practitioners
from mssante_hub.dossier.integration import IntegrationError
from mssante_hub.envelope import Channel, Envelope, Filed
from mssante_hub.hub import Hub
from mssante_hub.rules import refusals
from mssante_hub.rules.refusals import Refusal
from storage import accounts as account_repo
from storage import deliveries
from storage import dossier as dossier_store
from storage.models import AccountType

# Where documents come from: mail from outside or submitted, and the hub's own import. Not IMAP APPEND or
# the Sent copy (storing, not sending), not the patient's webmail.
FILING_CHANNELS = frozenset({Channel.MX, Channel.SUBMISSION, Channel.INTERNAL})
# Quick test on the raw bytes: only a message that may carry an XDM is routed to the parse threads
# (accept.py); a false positive costs a parse thread hop, nothing else.
_MAY_CARRY = b"ihe_xdm"  # searched in the lower-cased bytes (agenda/filing.py says why not a regex)
QUARANTINE_CODES = frozenset({integration.UNKNOWN_PATIENT.code, integration.TRAITS_DISAGREE.code})
HEADER_CODECDA = "X-MSS-CODECDA"
HEADER_INS = "X-MSS-INS"
INS_QUALIFIED, INS_NOT_QUALIFIED = "O", "N"

# The codes this module adds (docs/domain.md §4.4).
VERSION_NOT_HIGHER = IntegrationError("900", "Version du document incorrecte")
REPLACEMENT_NOT_ALLOWED = IntegrationError("901", "Auteur non autorisé à remplacer le document")
INVISIBLE_PATIENT_LIFTED = IntegrationError("906", "Masquage au patient déjà levé pour ce document")
CODECDA_DISAGREES = IntegrationError("906", "En-tête X-MSS-CODECDA incohérent avec les documents")
INS_HEADER_DISAGREES = IntegrationError("906", "En-tête X-MSS-INS incohérent avec les documents")
LEVEL1_UNREADABLE = IntegrationError("906", "PDF du document non structuré illisible")

_WIRE = email.policy.compat32.clone(linesep="\r\n")
MAX_TITLE_CHARS = 300
MAX_NAME_CHARS = 200
_UNSAFE_HEADER_CHARS = re.compile(r"[\x00-\x1f\x7f]")
_SAFE_FILE_NAME = re.compile(r"[^A-Za-z0-9._-]")
_CDA_TIME = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(?:(\d{2})(?:\.\d+)?)?)?([+-]\d{4})?$")


def may_carry_documents(raw: bytes) -> bool:
    return _MAY_CARRY in raw.lower()


@dataclass
class Plan:
    """What filing adds to one delivery."""

    units: list[deliveries.Unit] = field(default_factory=list)  # one per filed document
    outcomes: dict[str, Filed] = field(default_factory=dict)  # patient address -> what became of it
    quarantined: dict[str, str] = field(default_factory=dict)  # patient address -> code: no placement
    # Patients the covering message is not placed for nor readable by: quarantined, or carrying a document not
    # yet visible to the patient (INVISIBLE_PATIENT: the XDM in the message would show it).
    withheld: set[str] = field(default_factory=set)
    writes: list = field(default_factory=list)  # quarantine rows, in the covering message's unit
    traces: list[deliveries.Trace] = field(default_factory=list)


# --- Reading -----------------------------------------------------------------------------------

def cda_time(value: str) -> dt.datetime | None:
    """A CDA TS (YYYYMMDD[HHMM[SS]][+ZZZZ]) as an aware datetime (UTC when no zone), or None."""
    found = _CDA_TIME.match(value.strip())
    if not found:
        return None
    year, month, day, hour, minute, second, zone = found.groups()
    offset = dt.timezone.utc
    if zone:
        minutes = int(zone[1:3]) * 60 + int(zone[3:5])
        offset = dt.timezone(dt.timedelta(minutes=minutes if zone[0] == "+" else -minutes))
    try:
        return dt.datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0),
                           tzinfo=offset)
    except ValueError:
        return None


def _instance(ids: tuple[cda.InstanceId, ...]) -> str:
    for i in ids:
        if not i.null and (i.root or i.extension):
            return "^".join(filter(None, (i.root, i.extension)))
    return ""


def _clean(text: str, limit: int) -> str:
    return " ".join(_UNSAFE_HEADER_CHARS.sub(" ", text).split())[:limit]


def _file_name(uri: str, suffix: str = "") -> str:
    stem = _SAFE_FILE_NAME.sub("_", uri.rsplit("/", 1)[-1])[:100] or "document.xml"
    return stem.rsplit(".", 1)[0] + suffix if suffix else stem


@dataclass(frozen=True)
class _Document:
    entry: object  # xdm.DocumentEntry (with its content)
    header: cda.CdaHeader
    set_id: str
    version: int
    structure: str
    codes: str


def _documents(read: integration.Documents) -> list[_Document]:
    found = []
    for entry, header in read.headers:
        set_id = _instance((header.set_id,)) if header.set_id else ""
        version = int(header.version_number) if header.version_number.isdigit() and \
            len(header.version_number) < 9 else 1
        codes = [c.code for c in entry.confidentiality_codes]
        found.append(_Document(entry, header, set_id or f"uid:{entry.unique_id or entry.hash}", version,
                               _instance(header.structure_ids) or _instance(header.custodian_ids),
                               masking.clean_codes(codes)))
    return found


def _header_error(message: mime.ParsedMessage, documents: list[_Document]) -> IntegrationError | None:
    """X-MSS-CODECDA and X-MSS-INS, when present, must say what the documents are (docs/domain.md §4.1)."""
    codecda = message.get(HEADER_CODECDA)
    if codecda is not None:
        declared = {c.strip() for c in str(codecda).split(",") if c.strip()}
        if declared != {d.header.type_code for d in documents}:
            return CODECDA_DISAGREES
    ins = message.get(HEADER_INS)
    if ins is not None:
        qualified = all(d.header.ins_ids for d in documents)
        if str(ins).strip().upper() != (INS_QUALIFIED if qualified else INS_NOT_QUALIFIED):
            return INS_HEADER_DISAGREES
    return None


def _version_error(documents: list[_Document], held: dict[str, dossier_store.HeldVersion],
                   keys: dict[str, tuple[str, str]]) -> IntegrationError | None:
    """900: a version not higher than the one held; 901: a replacement from another structure."""
    state = {k: (h.version, h.structure_key, h.confidentiality) for k, h in held.items()}
    for doc in sorted(documents, key=lambda d: d.version):
        set_key, structure_key = keys[doc.set_id + "\0" + doc.structure]
        if set_key in state:
            version, structure, codes = state[set_key]
            if doc.version <= version:
                return VERSION_NOT_HIGHER
            if structure and structure != structure_key:
                return REPLACEMENT_NOT_ALLOWED
            if masking.INVISIBLE_PATIENT in doc.codes.split() and masking.INVISIBLE_PATIENT not in codes.split():
                return INVISIBLE_PATIENT_LIFTED
        state[set_key] = (doc.version, structure_key, doc.codes)
    return None


# --- Building the items ------------------------------------------------------------------------

def _header(value: str) -> str:
    """A header value as RFC 2047 words when it is not ASCII (names and titles often are not)."""
    return value if value.isascii() else email.header.Header(value, "utf-8").encode()


def _base64_part(subtype: bytes, payloads: list, data: bytes) -> MIMEApplication:
    """An application/<subtype> part whose payload is a placeholder for `data` in base64 (see _item_message)."""
    part = MIMEApplication(b"", subtype.decode(), email.encoders.encode_base64)
    placeholder = f"mssante-hub-payload-{secrets.token_hex(16)}"  # never in the rest: a fresh random name
    part.set_payload(placeholder)
    payloads.append((placeholder.encode(), data))
    return part


def _base64_lines(data: bytes) -> bytes:
    """`data` in base64 as the generator writes what email.encoders.encode_base64 made of it (base64.encodebytes:
    76-character lines, each ended), the line ends as CRLF."""
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


def _item_message(doc: _Document, category: categories.Category, pdf: bytes | None, sender: str,
                  recipient: str, source_message_id: str, blob_id: str, hostname: str,
                  effective: dt.datetime | None) -> tuple[bytes, dict]:
    """The item: built with the email package's compat32 classes (the default policy's header objects
    cost ~30 ms a message, most of filing a small document)."""
    title = _clean(doc.header.title, MAX_TITLE_CHARS) or category.label
    author = _clean(", ".join(doc.header.author_names), MAX_NAME_CHARS)
    sender_field = email.utils.formataddr((author, sender), charset="utf-8") if author else sender
    date = email.utils.format_datetime(effective or dt.datetime.now(dt.timezone.utc))
    message_id = f"<{blob_id}@{hostname}>"
    message = MIMEMultipart()
    message["From"] = sender_field
    message["To"] = recipient
    message["Subject"] = _header(title)
    message["Date"] = date
    message["Message-ID"] = message_id
    if source_message_id:
        message["References"] = source_message_id
    message[HEADER_CODECDA] = _clean(doc.header.type_code, 64)
    message.attach(MIMEText(f"Document classé dans votre dossier, catégorie « {category.label} ».\n\n"
                            f"Document filed in your health record, category {category.code}.\n", "plain", "utf-8"))
    # The attachments' base64 goes in after the generator has run: it writes a payload line by line in
    # Python (~60 ms for a 1.7 MB document, most of filing it), where one replace in C gives the same bytes.
    payloads = []
    part = _base64_part(b"xml", payloads, doc.entry.content)
    part.replace_header("Content-Type", "text/xml")
    part.add_header("Content-Disposition", "attachment", filename=_file_name(doc.entry.uri))
    message.attach(part)
    if pdf is not None:
        part = _base64_part(b"pdf", payloads, pdf)
        part.add_header("Content-Disposition", "attachment", filename=_file_name(doc.entry.uri, ".pdf"))
        message.attach(part)
    out = io.BytesIO()
    BytesGenerator(out, policy=_WIRE).flatten(message)
    raw = out.getvalue()
    for placeholder, data in payloads:
        raw = raw.replace(placeholder, _base64_lines(data), 1)
    summary = dict.fromkeys((name.lower() for name in mime.SUMMARY_HEADERS), "")
    summary.update({"subject": title, "from": f"{author} <{sender}>" if author else sender, "to": recipient,
                    "date": date, "message-id": message_id, "references": source_message_id})
    return raw, mime.with_envelope(summary, raw)


def _items(hub: Hub, patient: account_repo.AccountRow, address: str, documents: list[_Document],
           keys: dict[str, tuple[str, str]], sender: str, source_message_id: str, source_blob_id: str,
           who: tuple[str, str, str], envelope: Envelope, signature: str = "") -> list[deliveries.Unit]:
    hostname = hub.config.get("hub.hostname")
    public = hub.keyring.public_key(patient.public_key)
    units = []
    for doc in documents:
        try:
            pdf = cda.level1_pdf(doc.entry.content)
        except (cda.CdaError, safexml.XmlRefused):
            raise _Refused(LEVEL1_UNREADABLE) from None
        category = categories.of_type(doc.header.type_code)
        effective = cda_time(doc.header.effective_time)
        blob_id = secrets.token_hex(16)
        raw, summary = _item_message(doc, category, pdf, sender, address, source_message_id, blob_id, hostname,
                                     effective)
        sealed = encrypt_message(blob_id, raw, json.dumps(summary, ensure_ascii=False).encode())
        set_key, structure_key = keys[doc.set_id + "\0" + doc.structure]
        header = doc.header
        fields = {
            "title": summary["subject"], "type_code": header.type_code, "category": category.code,
            "effective_time": header.effective_time, "author_ids": [_instance((i,)) for i in header.author_ids],
            "author_names": list(header.author_names), "structure": doc.structure,
            "custodian": header.custodian_name, "custodian_id": _instance(header.custodian_ids),
            "set_id": doc.set_id, "version": doc.version, "confidentiality": doc.codes,
            "unique_id": doc.entry.unique_id, "file_name": _file_name(doc.entry.uri), "has_pdf": pdf is not None,
            "source_message_id": source_message_id,
        }
        row = dossier_store.NewDocument(
            account_id=patient.id, blob_id=blob_id, source_blob_id=source_blob_id, category=category.code,
            # In UTC: SQLite keeps no zone, so an offset stored as is would shift the date.
            effective_at=effective.astimezone(dt.timezone.utc) if effective else None, set_key=set_key,
            version=doc.version, structure_key=structure_key,
            author_key=index.digest(hub, patient.id, index.AUTHOR, _instance(header.author_ids)),
            confidentiality=doc.codes, sealed=index.seal(sealed.content_key, blob_id, fields), signature=signature)
        # The hub's own key opens every item for the professionals' view (imap/dossier_view.py).
        system = hub.system_account()
        readers = [deliveries.Reader(system.id, wrap_key(sealed.content_key, blob_id,
                                                         hub.keyring.public_key(system.public_key)))]
        placements = []
        if masking.INVISIBLE_PATIENT not in doc.codes.split():
            # INVISIBLE_PATIENT: not yet for the patient's eyes (docs/domain.md §6.2): no place in the
            # patient's folders and no key for the patient.
            readers.append(deliveries.Reader(patient.id, wrap_key(sealed.content_key, blob_id, public)))
            placements.append(deliveries.Placement(address, patient.id, category.folder, create=True))
        if not masking.hidden_from_professionals(doc.codes):
            placements.append(deliveries.Placement(address, patient.id, category.professional_folder, create=True))
        # The declared GP's view holds MASQUE_PS documents too (docs/domain.md §6.2), and so does the author's own.
        placements.append(deliveries.Placement(address, patient.id, category.gp_folder, create=True))
        if masking.hidden_from_professionals(doc.codes) and row.author_key:
            placements.append(deliveries.Placement(address, patient.id, category.author_folder(row.author_key),
                                                   create=True))
        units.append(deliveries.Unit(
            body=deliveries.Body(blob_id, sealed.body, sealed.summary, len(raw)),
            readers=readers, placements=placements,
            traces=[deliveries.Trace(who[0], who[1], audit.DOCUMENT_INTEGRATE, patient.id,
                                     f"blob:{blob_id} source:{source_blob_id}{who[2]}", "ok")],
            internal_date=envelope.internal_date,
            writes=[functools.partial(dossier_store.file_document, row=row)],
        ))
    return units


class _Refused(Exception):
    def __init__(self, error: IntegrationError) -> None:
        super().__init__(error.code)
        self.error = error


# --- The plan ----------------------------------------------------------------------------------

def plan(hub: Hub, envelope: Envelope, message: mime.ParsedMessage, readers: dict[str, account_repo.AccountRow],
         source_blob_id: str, who: tuple[str, str, str], remote: tuple[str, ...] = (),
         raw: bytes = b"") -> Plan | None:
    """What filing adds to this delivery; None when no patient recipient gets a document message.

    Refusal (the whole message) when it would also carry a MASQUE_PS document to a professional.
    `who` is the traces' (actor, actor type, " via:<channel>"). `raw`, the message as received, is checked for
    a PGP/MIME signature by the sending mailbox's registered keys (dossier/signatures.py).
    """
    actor = who[0]
    if envelope.channel not in FILING_CHANNELS:
        return None
    patients = {a: r for a, r in readers.items() if r.type == AccountType.PATIENT.value}
    if not patients:
        return None
    packages = integration.xdm_parts(message)
    if not packages:
        return None
    try:
        read = integration.read_packages(packages, keep_content=True)
    except Exception as exc:  # noqa: BLE001 - hostile input must not escape as a crash; type only (see below)
        integration.log.warning("document message unreadable: %s", type(exc).__name__)
        read = integration.Documents(error=integration.INTERNAL)
    others = [a for a, r in readers.items() if r.type != AccountType.PATIENT.value] + list(remote)
    if others and any(masking.hidden_from_professionals(d.codes) for d in _documents(read)) \
            and not _to_their_gp(hub, list(patients.values()), others):
        raise Refusal(refusals.DOCUMENT_MASKED_TO_PROFESSIONALS, others[0])
    source_message_id = _clean(str(message.get("Message-ID", "")), 300)
    sender = envelope.mail_from or actor
    signature = signatures.check(hub, actor, raw) if raw else signatures.NONE
    result = Plan()
    for address, account in patients.items():
        error, units = _plan_one(hub, envelope, message, read, address, account, sender, source_message_id,
                                 source_blob_id, who, signature)
        if error is not None and error.code in QUARANTINE_CODES:
            result.quarantined[address] = error.code
            result.writes.append(functools.partial(dossier_store.hold, account_id=account.id, blob_id=source_blob_id,
                                                   code=error.code))
        if error is not None and error.code in QUARANTINE_CODES or any(
                masking.INVISIBLE_PATIENT in d.codes.split() for d in (_documents(read) if units else [])):
            result.withheld.add(address)
        result.units.extend(units)
        result.outcomes[address] = Filed((error.code, error.label) if error else None, len(units),
                                         address in result.quarantined, signature)
        outcome = "ok" if error is None else (f"quarantined:{error.code}" if address in result.quarantined
                                              else f"error:{error.code}")
        if envelope.import_key:  # a migration import: its package is done in this very transaction
            result.writes.append(functools.partial(dossier_store.record_import, key=envelope.import_key,
                                                   outcome=f"error:{error.code}" if error else "ok"))
        result.traces.append(deliveries.Trace(actor, who[1], audit.DOCUMENT_INTEGRATE, account.id,
                                              f"blob:{source_blob_id} documents:{len(units)}{who[2]}", outcome))
    return result


def _to_their_gp(hub: Hub, patients: list[account_repo.AccountRow], others: list[str]) -> bool:
    """Whether every other recipient is the general practitioner every patient recipient declared: the one
    professional a MASQUE_PS document may be mailed to beside the patient (docs/domain.md §6.2)."""
    declared = hub.read_sync(lambda conn: general_practitioners.of_patients(conn, [p.id for p in patients]))
    gps = {declared.get(p.id) for p in patients}
    return len(gps) == 1 and None not in gps and {a.lower() for a in others} <= gps


def _plan_one(hub: Hub, envelope: Envelope, message: mime.ParsedMessage, read: integration.Documents, address: str,
              account: account_repo.AccountRow, sender: str, source_message_id: str, source_blob_id: str,
              who: tuple[str, str, str], signature: str = "") -> tuple[IntegrationError | None, list[deliveries.Unit]]:
    checked = integration.match(read, known_patient.load(hub, address))
    if checked.error is not None:
        return checked.error, []
    documents = _documents(read)
    error = _header_error(message, documents)
    if error is not None:
        return error, []
    keys = {d.set_id + "\0" + d.structure: (index.digest(hub, account.id, index.SET, d.set_id),
                                            index.digest(hub, account.id, index.STRUCTURE, d.structure))
            for d in documents}
    held = hub.read_sync(lambda conn: dossier_store.held_versions(conn, account.id, [k for k, _ in keys.values()]))
    error = _version_error(documents, held, keys)
    if error is not None:
        return error, []
    try:
        return None, _items(hub, account, address, documents, keys, sender, source_message_id, source_blob_id,
                            who, envelope, signature)
    except _Refused as refused:
        return refused.error, []


# --- The patient's own documents ---------------------------------------------------------------

def own_category(envelope: Envelope) -> categories.Category | None:
    """The category a patient files their own document into (the webmail's upload: a FILING into Dossier/C)."""
    if envelope.channel is not Channel.FILING:
        return None
    return categories.of_folder(envelope.folder)


def own_document_write(hub: Hub, patient: account_repo.AccountRow, category: categories.Category,
                       message: mime.ParsedMessage, blob_id: str, content_key: bytes, size: int):
    """The index row of a document the patient filed themselves (the message itself is the item)."""
    title = _clean(str(message.get("Subject", "")), MAX_TITLE_CHARS) or category.label
    now = dt.datetime.now(dt.timezone.utc)
    fields = {"title": title, "type_code": "", "category": category.code, "effective_time": now.strftime(
        "%Y%m%d%H%M%S+0000"), "author_ids": [], "author_names": [patient.display_name or patient.address],
        "structure": "", "custodian": "", "custodian_id": "", "set_id": f"uid:{blob_id}", "version": 1,
        "confidentiality": masking.NORMAL, "unique_id": "", "file_name": "", "has_pdf": False,
        "source_message_id": "", "own": True, "size": size}
    row = dossier_store.NewDocument(
        account_id=patient.id, blob_id=blob_id, source_blob_id=blob_id, category=category.code, effective_at=now,
        set_key=index.digest(hub, patient.id, index.SET, f"uid:{blob_id}"), version=1, structure_key="",
        author_key=index.digest(hub, patient.id, index.AUTHOR, patient.address), confidentiality=masking.NORMAL,
        sealed=index.seal(content_key, blob_id, fields))
    return functools.partial(dossier_store.file_document, row=row)
