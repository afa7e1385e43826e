"""Writing IHE XDM packages (`IHE_XDM.zip`) around CDA R2 documents, and a demonstration CDA.

The layout is the one xdm.py reads (docs/domain.md §6): README.TXT, INDEX.HTM, and under
IHE_XDM/SUBSET01/ the METADATA.XML (an ebRIM 3.0 SubmitObjectsRequest with one
XDSDocumentEntry per document: URI, SHA-1, size, creation time, source patient id and
info, type and confidentiality codes, unique id) beside the documents DOC0001.XML, ...
Every entry is filled from the document's own header (cda.py): a package says of a
document only what the document says of itself. `mssante-hub xdm pack` is the command.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import uuid
import zipfile
from dataclasses import dataclass
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape, quoteattr

from mssante_hub.accounts import identity
from mssante_hub.dossier import cda, safexml, xdm

SUBSET = "SUBSET01"
LOINC = "2.16.840.1.113883.6.1"
CONFIDENTIALITY_SCHEME = "2.16.840.1.113883.5.25"
DEFAULT_CONFIDENTIALITY = "N"
XML_MIME_TYPE = "text/xml"
README_TEXT = ("Paquet IHE XDM de documents de santé (format MSSanté).\r\n"
               "IHE XDM package of health documents (MSSanté format).\r\n")
_TIMESTAMP_DIGITS = 14  # XDS creationTime: YYYYMMDDhhmmss, UTC


class XdmWriteError(ValueError):
    """A document cannot be packed (not a CDA R2, or without the INS the receiving hub needs)."""


@dataclass(frozen=True)
class PackedDocument:
    name: str
    content: bytes
    header: cda.CdaHeader
    unique_id: str
    confidentiality: str


def _document_id(root: Element) -> str:
    found = root.find(f"{{{cda.HL7}}}id")
    if found is None or not (found.get("root") or "").strip():
        return f"2.25.{uuid.uuid4().int}"  # a UUID-derived OID: unique, if not the author's
    extension = (found.get("extension") or "").strip()
    return f"{found.get('root').strip()}^{extension}" if extension else found.get("root").strip()


def _confidentiality(root: Element) -> str:
    found = root.find(f"{{{cda.HL7}}}confidentialityCode")
    return ((found.get("code") if found is not None else "") or DEFAULT_CONFIDENTIALITY).strip()


def read_document(name: str, content: bytes) -> PackedDocument:
    """The header facts a package lists about one CDA (XdmWriteError if it cannot be packed)."""
    try:
        root = safexml.parse(content, cda.CDA_LIMITS, stop_at=f"{{{cda.HL7}}}component")
        header = cda.header_of(root)
    except (safexml.XmlRefused, cda.CdaError) as exc:
        raise XdmWriteError(f"{name}: not a CDA R2 document ({type(exc).__name__})") from None
    usable = [i for i in header.ins_ids if not i.null and i.extension]
    if not usable:
        raise XdmWriteError(f"{name}: the CDA's recordTarget has no INS (the receiving hub would answer 903)")
    try:
        identity.ins_hl7(usable[0].extension, usable[0].root)
    except identity.IdentityError as exc:
        raise XdmWriteError(f"{name}: the CDA's INS is invalid, {exc} (the receiving hub would answer 905)") from None
    return PackedDocument(name, content, header, _document_id(root), _confidentiality(root))


def _slot(name: str, *values: str) -> str:
    inner = "".join(f"<rim:Value>{escape(v)}</rim:Value>" for v in values)
    return f'<rim:Slot name="{name}"><rim:ValueList>{inner}</rim:ValueList></rim:Slot>'


def _creation_time(header: cda.CdaHeader) -> str:
    digits = "".join(c for c in header.effective_time.split("+")[0].split("-")[0] if c.isdigit())
    return digits[:_TIMESTAMP_DIGITS] or dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d%H%M%S")


def _patient_info(header: cda.CdaHeader) -> list[str]:
    family = (header.birth_names or header.used_names or ("",))[0]
    given = (header.first_birth_given_names or header.birth_given_names or header.used_given_names or ("",))[0]
    info = [f"PID-5|{family}^{given}^^^^^L"]
    if header.birth_time:
        info.append(f"PID-7|{header.birth_time[:8]}")
    if header.sex:
        info.append(f"PID-8|{header.sex}")
    return info


def _entry(number: int, doc: PackedDocument) -> str:
    entry_id = f"Document{number:02d}"
    ins = next(i for i in doc.header.ins_ids if not i.null and i.extension)
    patient_id = identity.ins_hl7(ins.extension, ins.root)
    return (
        f'<rim:ExtrinsicObject id="{entry_id}" mimeType="{XML_MIME_TYPE}" objectType="{xdm.DOCUMENT_ENTRY_TYPE}">'
        + _slot("URI", doc.name)
        + _slot("hash", hashlib.sha1(doc.content).hexdigest())  # XDS names SHA-1; integrity, not security
        + _slot("size", str(len(doc.content)))
        + _slot("creationTime", _creation_time(doc.header))
        + _slot("sourcePatientId", patient_id)
        + _slot("sourcePatientInfo", *_patient_info(doc.header))
        + (f"<rim:Name><rim:LocalizedString value={quoteattr(doc.header.title)}/></rim:Name>"
           if doc.header.title else "")
        + f'<rim:Classification classificationScheme="{xdm.SCHEME_TYPE_CODE}" classifiedObject="{entry_id}" '
          f'nodeRepresentation={quoteattr(doc.header.type_code)} id="cl{number}t">'
        + _slot("codingScheme", LOINC) + "</rim:Classification>"
        + f'<rim:Classification classificationScheme="{xdm.SCHEME_CONFIDENTIALITY}" classifiedObject="{entry_id}" '
          f'nodeRepresentation={quoteattr(doc.confidentiality)} id="cl{number}c">'
        + _slot("codingScheme", CONFIDENTIALITY_SCHEME) + "</rim:Classification>"
        + f'<rim:ExternalIdentifier identificationScheme="{xdm.SCHEME_PATIENT_ID}" value={quoteattr(patient_id)} '
          f'registryObject="{entry_id}" id="ei{number}p"/>'
        + f'<rim:ExternalIdentifier identificationScheme="{xdm.SCHEME_UNIQUE_ID}" value={quoteattr(doc.unique_id)} '
          f'registryObject="{entry_id}" id="ei{number}u"/>'
        + "</rim:ExtrinsicObject>"
    )


def metadata(documents: list[PackedDocument]) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<lcm:SubmitObjectsRequest xmlns:lcm="{xdm.LCM}" xmlns:rim="{xdm.RIM}"><rim:RegistryObjectList>'
        + "".join(_entry(n, doc) for n, doc in enumerate(documents, 1))
        + '<rim:RegistryPackage id="SubmissionSet01"/></rim:RegistryObjectList></lcm:SubmitObjectsRequest>\n'
    ).encode("utf-8")


def _index(documents: list[PackedDocument]) -> str:
    items = "".join(f'<li><a href="IHE_XDM/{SUBSET}/{escape(d.name)}">{escape(d.header.title or d.name)}</a></li>'
                    for d in documents)
    return ('<!DOCTYPE html><html lang="fr"><meta charset="utf-8"><title>XDM</title>'
            f"<body><ul>{items}</ul></body></html>")


def pack(contents: list[bytes]) -> bytes:
    """An IHE_XDM.zip of these CDA documents, in order (DOC0001.XML, ...); XdmWriteError if one cannot be."""
    if not contents:
        raise XdmWriteError("no document to pack")
    if len(contents) > xdm.MAX_DOCUMENTS:
        raise XdmWriteError(f"at most {xdm.MAX_DOCUMENTS} documents in one package")
    documents = [read_document(f"DOC{n:04d}.XML", content) for n, content in enumerate(contents, 1)]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.TXT", README_TEXT)
        archive.writestr("INDEX.HTM", _index(documents))
        archive.writestr(f"{xdm.ROOT_FOLDER}/{SUBSET}/{xdm.METADATA_NAME}", metadata(documents))
        for doc in documents:
            archive.writestr(f"{xdm.ROOT_FOLDER}/{SUBSET}/{doc.name}", doc.content)
    packed = out.getvalue()
    xdm.read_package(packed)  # what we write, our own reader accepts: hashes, sizes, limits
    return packed


def demo_cda(ins: str, *, family: str = "DEMO", given: str = "PATIENTE", birth_date: str = "19790328",
             sex: str = "F", title: str = "Compte rendu de démonstration", author_rpps: str = "810003456789") -> bytes:
    """A small CDA R2 level-1 document for `ins` (a plain-text body): for trials, never for real care."""
    ins = identity.validate_ins(ins)
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d%H%M%S+0000")
    text = "Document de démonstration, sans valeur médicale.\n".encode("utf-8")

    return f"""<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3">
  <realmCode code="FR"/>
  <typeId root="2.16.840.1.113883.1.3" extension="POCD_HD000040"/>
  <templateId root="1.2.250.1.213.1.1.1.1"/>
  <id root="2.25.{uuid.uuid4().int}"/>
  <code code="11502-2" codeSystem="{LOINC}" displayName="CR d'examens biologiques"/>
  <title>{escape(title)}</title>
  <effectiveTime value="{now}"/>
  <confidentialityCode code="N" codeSystem="{CONFIDENTIALITY_SCHEME}"/>
  <languageCode code="fr-FR"/>
  <setId root="2.25.{uuid.uuid4().int}"/>
  <versionNumber value="1"/>
  <recordTarget><patientRole>
    <id root="{identity.OID_INS_NIR_TEST}" extension="{ins}"/>
    <patient>
      <name><family qualifier="BR">{escape(family)}</family><given>{escape(given)}</given></name>
      <administrativeGenderCode code="{escape(sex)}" codeSystem="2.16.840.1.113883.5.1"/>
      <birthTime value="{escape(birth_date)}"/>
    </patient>
  </patientRole></recordTarget>
  <author><time value="{now}"/><assignedAuthor>
    <id root="{identity.OID_IDNATPS}" extension="8{author_rpps[:11]}"/>
  </assignedAuthor></author>
  <custodian><assignedCustodian><representedCustodianOrganization>
    <id root="{identity.OID_STRUCTURE}" extension="0000000000"/>
  </representedCustodianOrganization></assignedCustodian></custodian>
  <component><nonXMLBody>
    <text mediaType="text/plain" representation="B64">{base64.b64encode(text).decode()}</text>
  </nonXMLBody></component>
</ClinicalDocument>
""".encode("utf-8")
