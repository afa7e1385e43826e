"""XDM packages read as hostile input: metadata, hash and size checks, limits, zip bombs, names."""

from __future__ import annotations

import hashlib
import io
import tracemalloc
import zipfile

import pytest

from mssante_hub.dossier import xdm
from tests.dossier import builder
from tests.dossier.builder import FIXTURE_INS, FIXTURES, Document, fixture

# A read of a refused bomb may cost a few decompression buffers, never the bomb's size.
BOUNDED_PEAK_BYTES = 4 * 1024 * 1024


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_each_ci_sis_example_round_trips_through_an_xdm(fixtures_dir, name):
    type_code, _ = FIXTURES[name]
    content = fixture(fixtures_dir, name)
    package = xdm.read_package(builder.cda_package(content, type_code))
    (entry,) = package.documents
    assert entry.content == content and entry.size == len(content)
    assert entry.hash == hashlib.sha1(content).hexdigest()
    assert entry.uri == "DOC0001.XML" and entry.is_xml
    assert entry.type_code == xdm.Code(type_code, "2.16.840.1.113883.6.1")
    assert [c.code for c in entry.confidentiality_codes] == ["N"]
    assert entry.patient_id.startswith(FIXTURE_INS + "^^^&") and entry.unique_id == "1.2.250.1.999.1"
    assert entry.source_patient_id == entry.patient_id
    assert entry.source_patient_info == xdm.PatientInfo("PAT-TROIS^DOMINIQUE^^^^^L", "19790328", "F")


def test_several_documents_and_a_pdf_copy():
    cda_bytes = builder.generated_cda()
    pdf = b"%PDF-1.4\n% not a real PDF\n"
    package = xdm.read_package(builder.package([Document("DOC0001.XML", cda_bytes, type_code="87273-9"),
                                                Document("DOC0002.PDF", pdf, mime_type="application/pdf")]))
    # Both are checked against their hash; only the CDA's bytes are kept (a PDF is not integrated).
    assert [(d.uri, d.is_xml, d.size, d.content) for d in package.documents] == [
        ("DOC0001.XML", True, len(cda_bytes), cda_bytes), ("DOC0002.PDF", False, len(pdf), b"")]
    bad_pdf = [Document("DOC0001.XML", cda_bytes), Document("DOC0002.PDF", pdf, "application/pdf", listed_hash="d" * 40)]
    with pytest.raises(xdm.XdmDocumentMismatch):
        xdm.read_package(builder.package(bad_pdf))


def test_a_hash_or_size_that_disagrees_is_refused():
    content = builder.generated_cda()
    with pytest.raises(xdm.XdmDocumentMismatch):
        xdm.read_package(builder.package([Document("DOC0001.XML", content, listed_hash="a" * 40)]))
    with pytest.raises(xdm.XdmDocumentMismatch):
        xdm.read_package(builder.package([Document("DOC0001.XML", content, listed_size=len(content) - 1)]))
    listing = builder.metadata([Document("DOC0002.XML", content)])  # names a document that is not there
    with pytest.raises(xdm.XdmDocumentMismatch):
        xdm.read_package(builder.package([Document("DOC0001.XML", content)], metadata_bytes=listing))


def test_a_damaged_or_foreign_archive_is_refused():
    good = builder.cda_package(builder.generated_cda())
    with pytest.raises(xdm.XdmUnreadable):
        xdm.read_package(b"this is not a zip at all")
    with pytest.raises(xdm.XdmUnreadable):
        xdm.read_package(good[: len(good) // 2])
    garbled = bytearray(good)
    start = good.index(b"DOC0001.XML") + 200  # inside the deflated document
    garbled[start:start + 64] = bytes(64)
    with pytest.raises(xdm.XdmUnreadable):
        xdm.read_package(bytes(garbled))


def test_metadata_missing_refused_or_empty():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("README.TXT", "rien")
    with pytest.raises(xdm.XdmMetadataMissing):
        xdm.read_package(out.getvalue())
    with pytest.raises(xdm.XdmMetadataMissing):
        xdm.read_package(builder.package([]))
    with pytest.raises(xdm.XdmMetadataInvalid):
        xdm.read_package(builder.package([], metadata_bytes=builder.BILLION_LAUGHS))
    with pytest.raises(xdm.XdmMetadataInvalid):
        xdm.read_package(builder.package([], metadata_bytes=b"<SubmitObjectsRequest/>"))


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd", "IHE_XDM/..\\x", "C:evil", "IHE_XDM//x",
                                  "IHE_XDM/./x", "a\x01b"])
def test_member_names_that_could_escape_are_refused(name):
    with pytest.raises(xdm.XdmUnsafeName):
        xdm.read_package(builder.package([], extra={name: b"x"}))


def test_a_uri_that_climbs_out_of_its_subset_is_refused():
    listing = builder.metadata([Document("../../README.TXT", b"x")])
    with pytest.raises(xdm.XdmUnsafeName):
        xdm.read_package(builder.package([], metadata_bytes=listing))


def test_names_differing_only_by_case_are_refused():
    with pytest.raises(xdm.XdmUnsafeName):
        xdm.read_package(builder.package([], extra={"readme.txt": b"x"}))


def test_too_many_entries_are_refused_before_the_directory_is_read():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for number in range(xdm.MAX_ENTRIES + 1):
            archive.writestr(f"f{number}", b"")
    with pytest.raises(xdm.XdmLimitExceeded):
        xdm.read_package(out.getvalue())


def _peak_while_refusing(data: bytes, error: type[Exception]) -> int:
    tracemalloc.start()
    try:
        with pytest.raises(error):
            xdm.read_package(data)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_zip_bomb_is_refused_by_its_ratio_with_bounded_memory():
    bomb = builder.zip_bomb(10)  # 10 MiB of zeros in ~10 KB: under the member limit, far beyond the ratio
    assert len(bomb) < 100_000
    assert _peak_while_refusing(bomb, xdm.XdmLimitExceeded) < BOUNDED_PEAK_BYTES


def test_a_large_bomb_is_refused_by_the_member_limit_with_bounded_memory():
    assert _peak_while_refusing(builder.zip_bomb(100), xdm.XdmLimitExceeded) < BOUNDED_PEAK_BYTES


def test_a_bomb_that_lies_about_its_size_is_read_no_further_than_declared():
    liar = builder.lying_bomb(10, declared=1000)
    with zipfile.ZipFile(io.BytesIO(liar)) as archive:
        assert archive.getinfo(f"IHE_XDM/{builder.SUBSET}/DOC0001.XML").file_size == 1000
    # The metadata agrees with the lie (1000 zeros): only the CRC at the declared end unmasks it.
    assert _peak_while_refusing(liar, xdm.XdmUnreadable) < BOUNDED_PEAK_BYTES
