"""The header of a CDA R2 document (docs/domain.md §6.3): type, title, dates, version, patient, author.

Only the header is read: parsing stops where the body (`component`) starts, which is most
of a level-1 document (a base64 PDF) and of many level-3 ones. The XML is hostile input
(safexml: no DTD, no entities, bounded size and depth).
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass
from xml.etree.ElementTree import Element

from mssante_hub.accounts import identity
from mssante_hub.dossier import safexml

HL7 = "urn:hl7-org:v3"
MIB = 1024 * 1024
# Header limits: the CI-SIS examples nest up to ~20 levels in their bodies, less in headers.
CDA_LIMITS = safexml.XmlLimits(max_bytes=20 * MIB, max_depth=64, max_elements=200_000)
QUALIFIER_BIRTH = "BR"
QUALIFIER_USED = "CL"


class CdaError(ValueError):
    """Not a CDA R2 document (no content in the message)."""


@dataclass(frozen=True)
class InstanceId:
    """An II: root (an OID) and extension; `null` when it carries a nullFlavor."""

    root: str
    extension: str
    null: bool = False


@dataclass(frozen=True)
class CdaHeader:
    type_code: str
    title: str
    effective_time: str
    set_id: InstanceId | None
    version_number: str
    patient_ids: tuple[InstanceId, ...]  # every recordTarget/patientRole/id
    birth_names: tuple[str, ...]  # family, qualifier BR
    used_names: tuple[str, ...]  # family, qualifier CL
    birth_given_names: tuple[str, ...]  # given without qualifier: the birth first names, in order
    first_birth_given_names: tuple[str, ...]  # given, qualifier BR: the first birth first name
    used_given_names: tuple[str, ...]  # given, qualifier CL
    birth_time: str
    sex: str  # administrativeGenderCode/@code
    author_ids: tuple[InstanceId, ...]
    # For filing (dossier/filing.py): who wrote it, for which structure, who keeps it.
    author_names: tuple[str, ...] = ()  # assignedPerson/name, "given family" of each author
    structure_ids: tuple[InstanceId, ...] = ()  # author/assignedAuthor/representedOrganization/id
    custodian_ids: tuple[InstanceId, ...] = ()
    custodian_name: str = ""
    confidentiality: str = ""  # confidentialityCode/@code of the header (N, R, V)

    @property
    def ins_ids(self) -> tuple[InstanceId, ...]:
        """The patient ids under an INS OID (docs/domain.md §1); other ids are local (IPP)."""
        return tuple(i for i in self.patient_ids if identity.is_ins_oid(i.root))


def _v3(path: str) -> str:
    return "/".join(f"{{{HL7}}}{step}" for step in path.split("/"))


def _text(element: Element | None) -> str:
    return " ".join("".join(element.itertext()).split()) if element is not None else ""


def _attr(root: Element, path: str, name: str) -> str:
    found = root.find(_v3(path))
    return (found.get(name) or "").strip() if found is not None else ""


def _instance_id(element: Element) -> InstanceId:
    return InstanceId((element.get("root") or "").strip(), (element.get("extension") or "").strip(),
                      element.get("nullFlavor") is not None)


def _names(patient: Element | None, part: str, qualifier: str | None) -> tuple[str, ...]:
    if patient is None:
        return ()
    found = []
    for name in patient.iterfind(_v3("name")):
        for element in name.iterfind(_v3(part)):
            if (element.get("qualifier") or None) == qualifier:
                text = _text(element)
                if text:
                    found.append(text)
    return tuple(found)


def _person_name(name: Element) -> str:
    given = [_text(g) for g in name.iterfind(_v3("given"))]
    family = [_text(f) for f in name.iterfind(_v3("family"))]
    return " ".join(part for part in (*given, *family) if part) or _text(name)


def _author_names(root: Element) -> tuple[str, ...]:
    names = []
    for author in root.iterfind(_v3("author/assignedAuthor")):
        person = author.find(_v3("assignedPerson/name"))
        device = author.find(_v3("assignedAuthoringDevice/softwareName"))
        organisation = author.find(_v3("representedOrganization/name"))
        text = _person_name(person) if person is not None else _text(device) or _text(organisation)
        if text:
            names.append(text)
    return tuple(names)


def header_of(root: Element) -> CdaHeader:
    """The header fields of a parsed ClinicalDocument."""
    if root.tag != _v3("ClinicalDocument"):
        raise CdaError("the root element is not ClinicalDocument in namespace urn:hl7-org:v3")
    roles = root.findall(_v3("recordTarget/patientRole"))
    patient_ids = tuple(_instance_id(i) for role in roles for i in role.iterfind(_v3("id")))
    patient = roles[0].find(_v3("patient")) if roles else None
    set_id = root.find(_v3("setId"))
    return CdaHeader(
        type_code=_attr(root, "code", "code"),
        title=_text(root.find(_v3("title"))),
        effective_time=_attr(root, "effectiveTime", "value"),
        set_id=_instance_id(set_id) if set_id is not None else None,
        version_number=_attr(root, "versionNumber", "value"),
        patient_ids=patient_ids,
        birth_names=_names(patient, "family", QUALIFIER_BIRTH),
        used_names=_names(patient, "family", QUALIFIER_USED),
        birth_given_names=_names(patient, "given", None),
        first_birth_given_names=_names(patient, "given", QUALIFIER_BIRTH),
        used_given_names=_names(patient, "given", QUALIFIER_USED),
        birth_time=_attr(patient, "birthTime", "value") if patient is not None else "",
        sex=_attr(patient, "administrativeGenderCode", "code") if patient is not None else "",
        author_ids=tuple(_instance_id(i) for i in root.iterfind(_v3("author/assignedAuthor/id"))),
        author_names=_author_names(root),
        structure_ids=tuple(_instance_id(i) for i in
                            root.iterfind(_v3("author/assignedAuthor/representedOrganization/id"))),
        custodian_ids=tuple(_instance_id(i) for i in root.iterfind(
            _v3("custodian/assignedCustodian/representedCustodianOrganization/id"))),
        custodian_name=_text(root.find(_v3("custodian/assignedCustodian/representedCustodianOrganization/name"))),
        confidentiality=_attr(root, "confidentialityCode", "code"),
    )


def read_header(data: bytes) -> CdaHeader:
    """The header of a CDA document's bytes; safexml.XmlRefused or CdaError if refused."""
    return header_of(safexml.parse(data, CDA_LIMITS, stop_at=_v3("component")))


# A level-1 document's PDF (docs/domain.md §6.3): nonXMLBody/text, base64. Bounded by the CDA's own
# limit; the decoded PDF is at most 3/4 of it.
PDF_MEDIA_TYPE = "application/pdf"
_B64 = "B64"


def level1_pdf(data: bytes) -> bytes | None:
    """The PDF a level-1 CDA carries (nonXMLBody/text mediaType application/pdf, B64), or None.

    The whole document is parsed under CDA_LIMITS; undecodable base64 is CdaError.
    """
    if b"nonXMLBody" not in data:
        return None  # a level-3 document: not worth a full parse
    root = safexml.parse(data, CDA_LIMITS)
    text = root.find(_v3("component/nonXMLBody/text"))
    if text is None or (text.get("mediaType") or "").strip().lower() != PDF_MEDIA_TYPE:
        return None
    if (text.get("representation") or "").strip().upper() != _B64:
        raise CdaError("a level-1 PDF not in base64")
    try:
        return binascii.a2b_base64("".join((text.text or "").split()).encode("ascii"), strict_mode=True)
    except (binascii.Error, ValueError, UnicodeError):
        raise CdaError("a level-1 PDF whose base64 does not decode") from None
