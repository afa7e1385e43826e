"""Test material: IHE XDM packages built around the shared CDA fixtures, and messages carrying them.

Hostile and faulty packages are built here (the hub's own writer, dossier/xdm_writer.py, writes only good
ones); these builders follow docs/domain.md §6 (README.TXT, INDEX.HTM,
IHE_XDM/<SUBSET>/METADATA.XML as an ebRIM 3.0 SubmitObjectsRequest, the documents beside it).
"""

from __future__ import annotations

import functools
import hashlib
import io
import re
import struct
import uuid
import zipfile
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from mssante_hub.dossier import xdm

SUBSET = "SUBSET01"
FIXTURE_INS = "279035121518989"  # the test INS of nine of the ten CI-SIS examples
# type code and INS of each CI-SIS example (fixtures/cda/); CSE-CS8's INS has a wrong key.
FIXTURES = {
    "BIO-CR-BIO_2024.01_TSH_1.xml": ("11502-2", FIXTURE_INS),
    "CNAM-HR_2021.01.xml": ("REMB", FIXTURE_INS),
    "CSE-CS8_2025.01.xml": ("CERT_DECL", "221042545611404"),
    "DOC_NON_STRUCTURE_CDA-R2-N1.xml": ("11502-2", FIXTURE_INS),
    "IMG_CR_IMG_2024.01.xml": ("18748-4", FIXTURE_INS),
    "IPS-FR_2024.01.xml": ("60591-5", FIXTURE_INS),
    "LDL-SES_2022.01.xml": ("11490-0", FIXTURE_INS),
    "OPH-CR-RTN_2022.01.xml": ("75492-9", FIXTURE_INS),
    "VAC-NOTE_2023.01.xml": ("87273-9", FIXTURE_INS),
    "eP-MED-DM_2024.01_PosoStruct.xml": ("57833-6", FIXTURE_INS),
}
SMALL_FIXTURE = "VAC-NOTE_2023.01.xml"  # 24 KB: the one sent over SMTP
BILLION_LAUGHS = (b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
                  + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
                             for i in range(1, 10))
                  + b']>\n<ClinicalDocument xmlns="urn:hl7-org:v3"><title>&lol9;</title></ClinicalDocument>\n')
_RECORD_TARGET = re.compile(rb"<recordTarget>.*?</recordTarget>", re.S)
_INS_ID = re.compile(rb'<id\b[^>]*root="1\.2\.250\.1\.213\.1\.4\.\d+"[^>]*/>')


@dataclass(frozen=True)
class Document:
    name: str
    content: bytes
    mime_type: str = "text/xml"
    type_code: str = "11502-2"
    listed_hash: str | None = None  # None: the real SHA-1
    listed_size: int | None = None
    confidentiality: tuple[str, ...] = ("N",)  # codes; those of docs/domain.md §6.2 under their own scheme


def fixture(fixtures_dir: Path, name: str) -> bytes:
    return (fixtures_dir / "cda" / name).read_bytes()


@functools.lru_cache(maxsize=None)
def generated_cda(type_code: str = "87273-9") -> bytes:
    """A CDA R2 header as the CI-SIS examples write theirs, for the fixtures' patient (FIXTURE_INS, PAT-TROIS
    DOMINIQUE MARIE-LOUISE, F, 1979-03-28): the INS and a local id, birth and used names by qualifier, and a
    body of a few KB. Tests that need *a* document use it, so they run without ../shared/fixtures."""
    paragraphs = "".join(f"<paragraph>Paragraphe {n} du compte rendu de test.</paragraph>" for n in range(60))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3">
  <realmCode code="FR"/>
  <typeId root="2.16.840.1.113883.1.3" extension="POCD_HD000040"/>
  <id root="1.2.250.1.999.42" extension="generated-1"/>
  <code code="{type_code}" codeSystem="2.16.840.1.113883.6.1"/>
  <title>Document de test</title>
  <effectiveTime value="20240402101700+0200"/>
  <confidentialityCode code="N" codeSystem="2.16.840.1.113883.5.25"/>
  <languageCode code="fr-FR"/>
  <setId root="1.2.250.1.999.42" extension="generated-set-1"/>
  <versionNumber value="1"/>
  <recordTarget>
    <patientRole>
      <id extension="{FIXTURE_INS}" root="1.2.250.1.213.1.4.10"/>
      <id extension="1234567890121" root="1.2.3.4.567.8.9.10"/>
      <patient classCode="PSN">
        <name>
          <family qualifier="BR">PAT-TROIS</family>
          <given>DOMINIQUE MARIE-LOUISE</given>
          <given qualifier="BR">DOMINIQUE</given>
          <family qualifier="CL">PAT-TROIS</family>
          <given qualifier="CL">DOMINIQUE</given>
        </name>
        <administrativeGenderCode code="F" codeSystem="2.16.840.1.113883.5.1"/>
        <birthTime value="19790328"/>
      </patient>
    </patientRole>
  </recordTarget>
  <author><time value="20240402101700+0200"/><assignedAuthor>
    <id root="1.2.250.1.71.4.2.1" extension="801234567890"/>
  </assignedAuthor></author>
  <component><structuredBody><component><section><text>{paragraphs}</text></section></component></structuredBody>
  </component>
</ClinicalDocument>
""".encode("utf-8")


def with_patient_ins(cda: bytes, ins: str | None, root: str = "1.2.250.1.213.1.4.10") -> bytes:
    """The CDA with its patient's INS id replaced (None: removed)."""
    section = _RECORD_TARGET.search(cda)
    assert section is not None
    replacement = b"" if ins is None else f'<id extension="{ins}" root="{root}"/>'.encode()
    patched, count = _INS_ID.subn(replacement, section.group(0), count=1)
    assert count == 1
    return cda[:section.start()] + patched + cda[section.end():]


def _slot(name: str, *values: str) -> str:
    inner = "".join(f"<rim:Value>{escape(v)}</rim:Value>" for v in values)
    return f'<rim:Slot name="{name}"><rim:ValueList>{inner}</rim:ValueList></rim:Slot>'


def metadata(documents: list[Document], ins: str = FIXTURE_INS) -> bytes:
    patient_id = f"{ins}^^^&1.2.250.1.213.1.4.10&ISO^NH"
    entries = []
    for number, doc in enumerate(documents, 1):
        entry_id = f"Document{number:02d}"
        entries.append(
            f'<rim:ExtrinsicObject id="{entry_id}" mimeType={quoteattr(doc.mime_type)} '
            f'objectType="{xdm.DOCUMENT_ENTRY_TYPE}">'
            + _slot("URI", doc.name)
            + _slot("hash", doc.listed_hash or hashlib.sha1(doc.content).hexdigest())
            + _slot("size", str(doc.listed_size if doc.listed_size is not None else len(doc.content)))
            + _slot("creationTime", "20240402101700")
            + _slot("sourcePatientId", patient_id)
            + _slot("sourcePatientInfo", "PID-5|PAT-TROIS^DOMINIQUE^^^^^L", "PID-7|19790328", "PID-8|F")
            + f'<rim:Classification classificationScheme="{xdm.SCHEME_TYPE_CODE}" classifiedObject="{entry_id}" '
              f'nodeRepresentation={quoteattr(doc.type_code)} id="cl{number}t">'
            + _slot("codingScheme", "2.16.840.1.113883.6.1") + "</rim:Classification>"
            + "".join(
                f'<rim:Classification classificationScheme="{xdm.SCHEME_CONFIDENTIALITY}" '
                f'classifiedObject="{entry_id}" nodeRepresentation={quoteattr(code)} id="cl{number}c{i}">'
                + _slot("codingScheme", "2.16.840.1.113883.5.25" if code == "N" else "1.2.250.1.213.1.1.4.13")
                + "</rim:Classification>" for i, code in enumerate(doc.confidentiality))
            + f'<rim:ExternalIdentifier identificationScheme="{xdm.SCHEME_PATIENT_ID}" value={quoteattr(patient_id)} '
              f'registryObject="{entry_id}" id="ei{number}p"/>'
            + f'<rim:ExternalIdentifier identificationScheme="{xdm.SCHEME_UNIQUE_ID}" '
              f'value="1.2.250.1.999.{number}" registryObject="{entry_id}" id="ei{number}u"/>'
            + "</rim:ExtrinsicObject>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<lcm:SubmitObjectsRequest xmlns:lcm="{xdm.LCM}" xmlns:rim="{xdm.RIM}"><rim:RegistryObjectList>'
        + "".join(entries)
        + '<rim:RegistryPackage id="SubmissionSet01"/></rim:RegistryObjectList></lcm:SubmitObjectsRequest>\n'
    ).encode()


def package(documents: list[Document], *, metadata_bytes: bytes | None = None,
            extra: dict[str, bytes] | None = None) -> bytes:
    """An XDM zip: README.TXT, INDEX.HTM, the subset's METADATA.XML and its documents."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.TXT", "Paquet XDM de test / test XDM package\r\n")
        archive.writestr("INDEX.HTM", "<html><body>XDM</body></html>")
        archive.writestr(f"IHE_XDM/{SUBSET}/METADATA.XML", metadata_bytes or metadata(documents))
        for doc in documents:
            archive.writestr(f"IHE_XDM/{SUBSET}/{doc.name}", doc.content)
        for name, content in (extra or {}).items():
            archive.writestr(name, content)
    return out.getvalue()


def cda_package(cda: bytes, type_code: str = "11502-2", confidentiality: tuple[str, ...] = ("N",)) -> bytes:
    return package([Document("DOC0001.XML", cda, type_code=type_code, confidentiality=confidentiality)])


@functools.lru_cache(maxsize=None)
def zip_bomb(uncompressed_mib: int = 100, listing: bytes | None = None) -> bytes:
    """An XDM whose one document inflates from ~0.1 MB to `uncompressed_mib` MiB of zeros.

    Written a MiB at a time: building it costs the test little memory either.
    """
    size = uncompressed_mib * 1024 * 1024
    listing = listing or metadata([Document("DOC0001.XML", b"", listed_hash="0" * 40, listed_size=size)])
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"IHE_XDM/{SUBSET}/METADATA.XML", listing)
        info = zipfile.ZipInfo(f"IHE_XDM/{SUBSET}/DOC0001.XML")
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w", force_zip64=False) as member:
            chunk = bytes(1024 * 1024)
            for _ in range(uncompressed_mib):
                member.write(chunk)
    return out.getvalue()


def lying_bomb(uncompressed_mib: int, declared: int) -> bytes:
    """A zip bomb whose member declares `declared` bytes in both its headers, as does the metadata."""
    listing = metadata([Document("DOC0001.XML", bytes(declared))])
    data = bytearray(zip_bomb(uncompressed_mib, listing))
    name = f"IHE_XDM/{SUBSET}/DOC0001.XML".encode()
    local = data.index(name) - 30  # the full path appears first in the member's local header
    assert data[local:local + 4] == b"PK\x03\x04"
    struct.pack_into("<I", data, local + 22, declared)  # uncompressed size, local header
    central = data.rindex(name) - 46  # and last in its central directory record
    assert data[central:central + 4] == b"PK\x01\x02"
    struct.pack_into("<I", data, central + 24, declared)  # uncompressed size, central directory
    return bytes(data)


def document_message(sender: str, recipient: str, xdm_zip: bytes | None, *, extra_headers: dict | None = None,
                     subject: str = "XDM/1.0/DDM+Compte rendu PAT-TROIS DOMINIQUE 28/03/1979") -> bytes:
    """A document message as a hospital system sends it: a text part and the `IHE_XDM.zip` attachment."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = "Sun, 22 Nov 2026 10:00:00 +0000"
    message["Message-ID"] = f"<{uuid.uuid4().hex}@test>"
    for name, value in (extra_headers or {}).items():
        message[name] = value
    message.set_content("Bonjour,\nVeuillez trouver le compte rendu ci-joint.\n")
    if xdm_zip is not None:
        message.add_attachment(xdm_zip, maintype="application", subtype="zip", filename="IHE_XDM.zip")
    return message.as_bytes(policy=SMTP)
