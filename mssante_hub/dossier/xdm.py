"""IHE XDM packages (the `IHE_XDM.zip` attachment of a document message), read as hostile input.

docs/domain.md §6: `IHE_XDM/<SUBSET>/METADATA.XML` (an ebRIM 3.0 SubmitObjectsRequest) lists the
documents, whose file names its `URI` slots give, with their SHA-1 hash and size. The zip is
never extracted to disk; only the metadata and the documents it lists are read, each with a
bounded read, after the central directory has been checked against the limits below.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass
from typing import Iterable
from xml.etree.ElementTree import Element

from mssante_hub.dossier import safexml

MIB = 1024 * 1024

# --- Limits (the only place they are defined) ------------------------------------------
# A message to a patient space is at most 25 MB (docs/domain.md §4): the zip cannot be larger.
MAX_ZIP_BYTES = 25 * MIB
MAX_ENTRIES = 1000
# zipfile builds one object per central-directory record before we can count them; bounding
# the directory's size bounds that work (a record is at least 46 bytes).
MAX_CENTRAL_DIRECTORY_BYTES = 512 * 1024
MAX_NAME_BYTES = 255
MAX_MEMBER_BYTES = 20 * MIB  # one document, as declared and as read
MAX_TOTAL_BYTES = 64 * MIB  # all members together, as declared in the central directory
# Real CDA compresses 1.4x to 11x (the CI-SIS examples); a zip bomb reaches 1000x. Small
# members are exempt: a few KB of blanks may legitimately shrink 100-fold.
MAX_COMPRESSION_RATIO = 100
RATIO_CHECK_MIN_BYTES = 64 * 1024
MAX_DOCUMENTS = 100
READ_CHUNK = 64 * 1024
METADATA_LIMITS = safexml.XmlLimits(max_bytes=4 * MIB, max_depth=32, max_elements=100_000)

ROOT_FOLDER = "IHE_XDM"
METADATA_NAME = "METADATA.XML"
_ALLOWED_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
_ENCRYPTED_FLAG = 0x1
_EOCD = b"PK\x05\x06"
_EOCD_SIZE = 22
_ZIP64_LOCATOR = b"PK\x06\x07"
_ZIP64_LOCATOR_SIZE = 20
_MAX_COMMENT = 0xFFFF
_SHA1_HEX = re.compile(r"^[0-9a-fA-F]{40}$")

# --- ebRIM 3.0 (docs/domain.md §6) -------------------------------------------------------------
RIM = "urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"
LCM = "urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0"
DOCUMENT_ENTRY_TYPE = "urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1"
SCHEME_TYPE_CODE = "urn:uuid:f0306f51-975f-434e-a61c-c59651d33983"
SCHEME_CONFIDENTIALITY = "urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f"
SCHEME_PATIENT_ID = "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427"
SCHEME_UNIQUE_ID = "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab"


class XdmError(ValueError):
    """The package cannot be used. Subclasses say why; messages never quote its content."""


class XdmUnreadable(XdmError):
    """Not a zip, a damaged zip, or a construct refused (encryption, zip64, unknown compression)."""


class XdmLimitExceeded(XdmError):
    """Too many entries, too large, or compressed beyond the ratio guard (a zip bomb)."""


class XdmUnsafeName(XdmError):
    """A member name that could escape a folder or is ambiguous (path traversal, duplicates)."""


class XdmMetadataMissing(XdmError):
    """No IHE_XDM/<SUBSET>/METADATA.XML, or it lists no document."""


class XdmMetadataInvalid(XdmError):
    """METADATA.XML is refused (see safexml) or a document entry lacks what it must carry."""


class XdmDocumentMismatch(XdmError):
    """A listed document is missing, or its bytes disagree with the hash or size of its entry."""


@dataclass(frozen=True)
class Code:
    """A classification: its code (nodeRepresentation) and coding scheme."""

    code: str
    scheme: str = ""


@dataclass(frozen=True)
class PatientInfo:
    """sourcePatientInfo: PID-5 (name), PID-7 (birth date), PID-8 (sex), as written."""

    name: str = ""
    birth_date: str = ""
    sex: str = ""


@dataclass(frozen=True)
class DocumentEntry:
    """One XDSDocumentEntry of the metadata; `content` holds its checked bytes if it is XML (a CDA)."""

    entry_id: str
    uri: str
    mime_type: str
    hash: str  # SHA-1, lower-case hex
    size: int
    source_patient_id: str
    source_patient_info: PatientInfo
    type_code: Code | None
    confidentiality_codes: tuple[Code, ...]
    unique_id: str
    patient_id: str
    content: bytes = b""

    @property
    def is_xml(self) -> bool:
        return self.mime_type.split(";")[0].strip().lower() == "text/xml"


@dataclass(frozen=True)
class XdmPackage:
    documents: tuple[DocumentEntry, ...]


# --- The zip container --------------------------------------------------------------------

def _check_end_record(data: bytes) -> None:
    """Refuse zip64 and oversize central directories before zipfile reads the directory."""
    # Found the way zipfile finds it (a record closing the data, else the last one in the
    # tail), so that we judge the very record zipfile will use.
    at = len(data) - _EOCD_SIZE
    if at < 0 or data[at:at + 4] != _EOCD or data[-2:] != b"\0\0":
        at = data.rfind(_EOCD, max(0, len(data) - _EOCD_SIZE - _MAX_COMMENT))
    if at < 0 or len(data) - at < _EOCD_SIZE:
        raise XdmUnreadable("no end of central directory record")
    _, _, _, entries_here, entries, directory_size, _, _ = struct.unpack("<4sHHHHIIH", data[at:at + _EOCD_SIZE])
    locator = at - _ZIP64_LOCATOR_SIZE
    if locator >= 0 and data[locator:locator + 4] == _ZIP64_LOCATOR:
        raise XdmUnreadable("zip64 archives are not accepted")
    if entries > MAX_ENTRIES or entries_here > MAX_ENTRIES:
        raise XdmLimitExceeded("too many entries")
    if directory_size > MAX_CENTRAL_DIRECTORY_BYTES:
        raise XdmLimitExceeded("central directory too large")


def _safe_name(name: str) -> str:
    """The member name as a folder-relative path; XdmUnsafeName if it could point elsewhere."""
    if not name or len(name.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
        raise XdmUnsafeName("empty or overlong member name")
    if "\\" in name or name.startswith("/") or ":" in name or any(ord(c) < 0x20 or c == "\x7f" for c in name):
        raise XdmUnsafeName("member name with a drive, backslash, absolute path or control character")
    parts = name.rstrip("/").split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise XdmUnsafeName("member name with an empty, '.' or '..' segment")
    return name


def _members(archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """Files of the archive by case-folded name, every entry checked against the limits."""
    infos = archive.infolist()
    if len(infos) > MAX_ENTRIES:
        raise XdmLimitExceeded("too many entries")
    members: dict[str, zipfile.ZipInfo] = {}
    declared_total = 0
    for info in infos:
        name = _safe_name(info.filename)
        if info.flag_bits & _ENCRYPTED_FLAG:
            raise XdmUnreadable("encrypted member")
        if info.compress_type not in _ALLOWED_METHODS:
            raise XdmUnreadable("compression method not accepted")
        if info.file_size > MAX_MEMBER_BYTES:
            raise XdmLimitExceeded("member larger than the limit")
        if info.file_size > RATIO_CHECK_MIN_BYTES and \
                info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1):
            raise XdmLimitExceeded("compression ratio beyond the guard")
        declared_total += info.file_size
        if declared_total > MAX_TOTAL_BYTES:
            raise XdmLimitExceeded("members larger than the limit in all")
        key = name.casefold()
        if key in members:
            # Two members that differ only by case (or repeat) would let a reader pick either.
            raise XdmUnsafeName("duplicate member name")
        if not info.is_dir():
            members[key] = info
    return members


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int,
                 digest: hashlib._Hash | None = None, keep: bool = True) -> tuple[bytes, int]:
    """A member's bytes (b"" unless `keep`) and length, read a chunk at a time, never past `limit`.

    `digest` is fed as the chunks come, so a document we need not keep (a PDF copy) is hashed
    without being held in memory whole.
    """
    cap = min(limit, info.file_size)
    chunks, got = [], 0
    with archive.open(info) as stream:
        while got <= cap:
            chunk = stream.read(min(READ_CHUNK, cap + 1 - got))
            if not chunk:
                break
            got += len(chunk)
            if digest is not None:
                digest.update(chunk)
            if keep:
                chunks.append(chunk)
    if got > cap:
        raise XdmLimitExceeded("member larger than declared or than the limit")
    return b"".join(chunks), got


# --- METADATA.XML -------------------------------------------------------------------------

def _rim(local: str) -> str:
    return f"{{{RIM}}}{local}"


def _slot_values(entry: Element, name: str) -> list[str]:
    for slot in entry.iterfind(_rim("Slot")):
        if slot.get("name") == name:
            return [(v.text or "").strip() for v in slot.iterfind(f"{_rim('ValueList')}/{_rim('Value')}")]
    return []


def _one_slot(entry: Element, name: str) -> str:
    values = _slot_values(entry, name)
    return values[0] if values else ""


def _patient_info(values: Iterable[str]) -> PatientInfo:
    fields: dict[str, str] = {}
    for value in values:
        key, sep, rest = value.partition("|")
        if sep and key.strip().upper() in ("PID-5", "PID-7", "PID-8"):
            fields.setdefault(key.strip().upper(), rest.strip())
    return PatientInfo(fields.get("PID-5", ""), fields.get("PID-7", ""), fields.get("PID-8", ""))


def _classifications(entry: Element, scheme: str) -> tuple[Code, ...]:
    return tuple(Code((c.get("nodeRepresentation") or "").strip(), _one_slot(c, "codingScheme"))
                 for c in entry.iterfind(_rim("Classification")) if c.get("classificationScheme") == scheme)


def _external_id(entry: Element, scheme: str) -> str:
    for ext in entry.iterfind(_rim("ExternalIdentifier")):
        if ext.get("identificationScheme") == scheme:
            return (ext.get("value") or "").strip()
    return ""


def _document_entry(entry: Element) -> DocumentEntry:
    uri, digest, size = _one_slot(entry, "URI"), _one_slot(entry, "hash"), _one_slot(entry, "size")
    if not uri or not _SHA1_HEX.match(digest) or not size.isdigit() or len(size) > 12:
        raise XdmMetadataInvalid("document entry without a usable URI, hash or size")
    types = _classifications(entry, SCHEME_TYPE_CODE)
    return DocumentEntry(
        entry_id=entry.get("id") or "", uri=uri, mime_type=entry.get("mimeType") or "", hash=digest.lower(),
        size=int(size), source_patient_id=_one_slot(entry, "sourcePatientId"),
        source_patient_info=_patient_info(_slot_values(entry, "sourcePatientInfo")),
        type_code=types[0] if types else None,
        confidentiality_codes=_classifications(entry, SCHEME_CONFIDENTIALITY),
        unique_id=_external_id(entry, SCHEME_UNIQUE_ID), patient_id=_external_id(entry, SCHEME_PATIENT_ID),
    )


def read_metadata(data: bytes) -> list[DocumentEntry]:
    """The document entries of a METADATA.XML (XdmMetadataInvalid if refused or malformed)."""
    try:
        root = safexml.parse(data, METADATA_LIMITS)
    except safexml.XmlRefused as exc:
        raise XdmMetadataInvalid(f"METADATA.XML refused: {exc}") from None
    if root.tag != f"{{{LCM}}}SubmitObjectsRequest":
        raise XdmMetadataInvalid("METADATA.XML is not an ebRIM 3.0 SubmitObjectsRequest")
    entries = [e for e in root.iter(_rim("ExtrinsicObject")) if e.get("objectType") == DOCUMENT_ENTRY_TYPE]
    if len(entries) > MAX_DOCUMENTS:
        raise XdmLimitExceeded("too many documents")
    return [_document_entry(e) for e in entries]


# --- The package --------------------------------------------------------------------------

def _metadata_members(members: dict[str, zipfile.ZipInfo]) -> list[tuple[str, zipfile.ZipInfo]]:
    """(subset folder as stored, member) of every IHE_XDM/<SUBSET>/METADATA.XML."""
    found = []
    for info in members.values():
        parts = info.filename.split("/")
        if len(parts) == 3 and parts[0].upper() == ROOT_FOLDER and parts[2].upper() == METADATA_NAME:
            found.append((f"{parts[0]}/{parts[1]}", info))
    return sorted(found, key=lambda item: item[0])


def _checked_document(archive: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], subset: str,
                      entry: DocumentEntry, budget: int) -> DocumentEntry:
    try:
        _safe_name(entry.uri)
    except XdmUnsafeName:
        raise XdmUnsafeName("document URI that could point outside its subset folder") from None
    info = members.get(f"{subset}/{entry.uri}".casefold())
    if info is None:
        raise XdmDocumentMismatch("a listed document is not in the archive")
    if info.file_size != entry.size:
        raise XdmDocumentMismatch("a document's size disagrees with its metadata")
    if entry.size > budget:  # a document listed twice is read twice: the budget counts reads
        raise XdmLimitExceeded("documents larger than the limit in all")
    digest = hashlib.sha1()
    content, size = _read_member(archive, info, min(MAX_MEMBER_BYTES, budget), digest, keep=entry.is_xml)
    if size != entry.size or digest.hexdigest() != entry.hash:
        raise XdmDocumentMismatch("a document's hash or size disagrees with its metadata")
    return dataclasses.replace(entry, content=content)


def read_package(data: bytes) -> XdmPackage:
    """The documents of an XDM zip, each checked against its hash and size, or an XdmError."""
    if len(data) > MAX_ZIP_BYTES:
        raise XdmLimitExceeded("archive larger than the limit")
    _check_end_record(data)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = _members(archive)
            subsets = _metadata_members(members)
            if not subsets:
                raise XdmMetadataMissing("no IHE_XDM/<SUBSET>/METADATA.XML")
            documents: list[DocumentEntry] = []
            budget = MAX_TOTAL_BYTES
            for subset, info in subsets:
                metadata, _ = _read_member(archive, info, METADATA_LIMITS.max_bytes)
                budget -= len(metadata)
                for entry in read_metadata(metadata):
                    document = _checked_document(archive, members, subset, entry, budget)
                    budget -= document.size
                    documents.append(document)
                    if len(documents) > MAX_DOCUMENTS:
                        raise XdmLimitExceeded("too many documents")
            if not documents:
                raise XdmMetadataMissing("METADATA.XML lists no document")
            return XdmPackage(tuple(documents))
    except XdmError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError, ValueError,
            NotImplementedError, RuntimeError, struct.error, UnicodeError) as exc:
        # What zipfile raises on damaged input; its messages may name members: the type only.
        raise XdmUnreadable(f"damaged archive ({type(exc).__name__})") from None
