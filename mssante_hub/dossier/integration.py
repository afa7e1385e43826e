"""Does a document message integrate into the recipient's patient space? (docs/domain.md §4.4, codes 900-906)

A message is a document message when it carries an `IHE_XDM.zip` attachment. Its XDM is
read (xdm.py), each CDA header (cda.py) is compared with what the hub holds about the
patient (patient.py), and the outcome is either OK with the documents found, or the first
error met as (code, French label), which the processed MDN reports as
`processed/Error: <code>^<label>`. The filing step (dossier/filing.py) runs it while the
message is prepared, and decides from it what is filed, delivered or quarantined.

900 (wrong document version) and 901 (author may not replace or delete) need the stored
history of the patient's documents: dossier/filing.py decides them when it files.
"""

from __future__ import annotations

import dataclasses
import logging
import unicodedata
from dataclasses import dataclass
from typing import Callable

from mssante_hub import mime

from mssante_hub.accounts import identity
from mssante_hub.dossier import cda, safexml, xdm
from mssante_hub.dossier.patient import KnownPatient

log = logging.getLogger("mssante_hub.dossier.integration")

XDM_FILE_NAME = "IHE_XDM.zip"
XML_MIME_TYPE = "text/xml"


@dataclass(frozen=True)
class IntegrationError:
    """A code of docs/domain.md §4 and its label, French, read by hospital staff (no '^', no content)."""

    code: str
    label: str


# 902-905: the patient's identity in the CDA.
UNKNOWN_PATIENT = IntegrationError("902", "Patient inconnu")
NO_INS = IntegrationError("903", "INS absent du document")
TRAITS_DISAGREE = IntegrationError("904", "INS et traits d'identité incohérents")
INCOMPLETE_INS = IntegrationError("905", "INS incomplet ou invalide")
# 906: anything else, said precisely enough for the sender's staff to find the fault.
XDM_UNREADABLE = IntegrationError("906", "Archive XDM illisible")
XDM_LIMITS = IntegrationError("906", "Archive XDM hors limites")
XDM_UNSAFE_NAME = IntegrationError("906", "Nom de fichier interdit dans l'archive XDM")
XDM_NO_METADATA = IntegrationError("906", "METADATA.XML absent ou sans document")
XDM_BAD_METADATA = IntegrationError("906", "METADATA.XML invalide")
XDM_MISMATCH = IntegrationError("906", "Empreinte ou taille de document incorrecte")
XML_REFUSED = IntegrationError("906", "Document XML refusé")
NOT_CDA = IntegrationError("906", "Document CDA illisible")
NO_CDA = IntegrationError("906", "Aucun document CDA dans l'archive")
MESSAGE_UNREADABLE = IntegrationError("906", "Message illisible")
INTERNAL = IntegrationError("906", "Erreur d'intégration")

_XDM_ERRORS: tuple[tuple[type[xdm.XdmError], IntegrationError], ...] = (
    (xdm.XdmUnreadable, XDM_UNREADABLE),
    (xdm.XdmLimitExceeded, XDM_LIMITS),
    (xdm.XdmUnsafeName, XDM_UNSAFE_NAME),
    (xdm.XdmMetadataMissing, XDM_NO_METADATA),
    (xdm.XdmMetadataInvalid, XDM_BAD_METADATA),
    (xdm.XdmDocumentMismatch, XDM_MISMATCH),
)


@dataclass(frozen=True)
class IntegratedDocument:
    """What the check found of one CDA document (identifiers only, no health content)."""

    uri: str
    unique_id: str
    type_code: str
    set_id: str
    version_number: str


@dataclass(frozen=True)
class Documents:
    """The CDA documents of a message's XDM packages, read once for every patient recipient."""

    headers: tuple[tuple[xdm.DocumentEntry, cda.CdaHeader], ...] = ()
    error: IntegrationError | None = None


@dataclass(frozen=True)
class IntegrationResult:
    documents: tuple[IntegratedDocument, ...] = ()
    error: IntegrationError | None = None
    carries_xdm: bool = True  # False: not a document message, nothing was checked

    @property
    def ok(self) -> bool:
        return self.error is None


NOT_A_DOCUMENT_MESSAGE = IntegrationResult(carries_xdm=False)


# --- Reading ------------------------------------------------------------------------------

def xdm_parts(message: mime.ParsedMessage) -> list[bytes]:
    """The decoded `IHE_XDM.zip` attachments of an already parsed message."""
    found = []
    for part in message.walk():
        if part.is_multipart():
            continue
        name = part.get_filename()
        if name and name.strip().casefold() == XDM_FILE_NAME.casefold():
            payload = part.get_payload(decode=True)
            found.append(payload if isinstance(payload, bytes) else b"")
    return found


def xdm_attachments(raw: bytes, limits: mime.Limits) -> list[bytes]:
    """The decoded `IHE_XDM.zip` attachments of a message (mime.parse's limits apply first)."""
    return xdm_parts(mime.parse(raw, limits))


def _xdm_error(exc: xdm.XdmError) -> IntegrationError:
    for kind, error in _XDM_ERRORS:
        if isinstance(exc, kind):
            return error
    return XDM_UNREADABLE


def read_documents(raw: bytes, limits: mime.Limits) -> Documents | None:
    """The CDA headers of the message's XDM packages; None if it carries no XDM."""
    try:
        packages = xdm_attachments(raw, limits)
    except mime.Refusal:
        return Documents(error=MESSAGE_UNREADABLE)
    return read_packages(packages)


def read_packages(packages: list[bytes], keep_content: bool = False) -> Documents | None:
    """The CDA documents of XDM packages (None: no package); with `keep_content`, each entry keeps its
    bytes (filing stores them), otherwise only identifiers are kept past the header read."""
    if not packages:
        return None
    headers = []
    for data in packages:
        try:
            package = xdm.read_package(data)
        except xdm.XdmError as exc:
            return Documents(error=_xdm_error(exc))
        for entry in package.documents:
            if not entry.is_xml:
                continue  # a PDF copy, say: its hash and size were checked, nothing to integrate
            try:
                header = cda.read_header(entry.content)
            except safexml.XmlRefused:
                return Documents(error=XML_REFUSED)
            except cda.CdaError:
                return Documents(error=NOT_CDA)
            headers.append((entry if keep_content else dataclasses.replace(entry, content=b""), header))
    if not headers:
        return Documents(error=NO_CDA)
    return Documents(tuple(headers))


# --- Matching with the patient ------------------------------------------------------------

def _normal(text: str) -> str:
    """A name compared as the INS referential writes it: upper case, no accents, single spaces."""
    decomposed = unicodedata.normalize("NFKD", text.replace("\u2019", "'"))
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).upper().split())


def _first_word(text: str) -> str:
    words = _normal(text).replace(",", " ").split()
    return words[0] if words else ""


def _traits_agree(header: cda.CdaHeader, patient: KnownPatient) -> bool:
    """Each trait the hub holds must be in the CDA and equal; traits the hub lacks are not compared."""
    if patient.birth_name and _normal(patient.birth_name) not in {_normal(n) for n in header.birth_names}:
        return False
    if patient.first_names:
        # The first birth first name: given qualifier BR, else the first of the birth first names.
        cda_first = {_first_word(n) for n in header.first_birth_given_names} or \
            {_first_word(n) for n in header.birth_given_names[:1]}
        if _first_word(patient.first_names) not in cda_first:
            return False
    if patient.birth_date and header.birth_time[:8] != patient.birth_date.replace("-", ""):
        return False
    if patient.sex and header.sex.strip().upper() != patient.sex.strip().upper():
        return False
    return True


def _identity_error(header: cda.CdaHeader, patient: KnownPatient | None) -> IntegrationError | None:
    ins_ids = header.ins_ids
    if not ins_ids:
        return NO_INS
    values = set()
    for ins_id in ins_ids:
        if ins_id.null or not ins_id.extension:
            return INCOMPLETE_INS
        try:
            values.add(identity.validate_ins(ins_id.extension))
        except identity.IdentityError:
            return INCOMPLETE_INS
    if patient is None or values != {patient.ins}:
        return UNKNOWN_PATIENT
    if not _traits_agree(header, patient):
        return TRAITS_DISAGREE
    return None


def match(documents: Documents, patient: KnownPatient | None) -> IntegrationResult:
    """The outcome for one patient recipient (None: the hub has no such patient)."""
    if documents.error is not None:
        return IntegrationResult(error=documents.error)
    found = []
    for entry, header in documents.headers:
        error = _identity_error(header, patient)
        if error is not None:
            return IntegrationResult(error=error)
        set_id = header.set_id
        found.append(IntegratedDocument(
            uri=entry.uri, unique_id=entry.unique_id, type_code=header.type_code,
            set_id="^".join(filter(None, (set_id.root, set_id.extension))) if set_id else "",
            version_number=header.version_number))
    return IntegrationResult(tuple(found))


def check_recipients(raw_message: bytes, recipients: list[str],
                     load_patient: Callable[[str], KnownPatient | None],
                     limits: mime.Limits) -> dict[str, IntegrationResult]:
    """The outcome per patient recipient; blocking, run it off the loop.

    The XDM is read once; `load_patient` (a database read) runs only if there is one. Never
    raises for what the message holds: an unexpected failure while reading it is a 906
    (logged by exception type only: a parser's message can quote the document).
    """
    try:
        documents = read_documents(raw_message, limits)
    except Exception as exc:  # noqa: BLE001 - hostile input must not escape as a crash
        log.warning("document message unreadable: %s", type(exc).__name__)
        return dict.fromkeys(recipients, IntegrationResult(error=INTERNAL))
    if documents is None:
        return dict.fromkeys(recipients, NOT_A_DOCUMENT_MESSAGE)
    return {address: match(documents, load_patient(address)) for address in recipients}


def check(raw_message: bytes, patient: KnownPatient | None, limits: mime.Limits) -> IntegrationResult:
    """The integration outcome of a message for one patient space (None: no such patient)."""
    return check_recipients(raw_message, [""], lambda _: patient, limits)[""]
