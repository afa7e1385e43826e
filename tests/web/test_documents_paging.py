"""The dossier's document list in pages (issue 15, docs/web.md): GET /api/dossier/documents?limit=N&after=CURSOR.

120 documents the patient may see (90 in BIOLOGIE, 30 in CAR_VAC, many sharing an effective date), filed by an
application's messages through delivery.accept, and 6 INVISIBLE_PATIENT ones among them: pages of 50, 50, 20,
newest first as the unpaged listing was (date, then id), none twice, none missing, none invisible; the category
filter pages too; another patient's own documents (the newest of the hub) never appear; a bad cursor or limit is
a 400 in French.
"""

from __future__ import annotations

import base64
import datetime as dt

import pytest

from mssante_hub.dossier import masking
from mssante_hub.hub import Hub
from mssante_hub.patients import representatives
from tests.conftest import make_data_dir
from tests.dossier import builder, support
from tests.patients.helpers import send
from tests.patients.test_notify import active_patient
from tests.support.postgres import unique_db_name
from tests.support.served import served
from tests.web.conftest import WebHub, configure
from tests.web.browser import PATIENT_PASSWORD

VISIBLE = {"BIOLOGIE": ("11502-2", 90), "CAR_VAC": ("87273-9", 30)}
INVISIBLE = 6
EVERY = (90 + INVISIBLE) // INVISIBLE  # every 16th BIOLOGIE document is INVISIBLE_PATIENT
DATES = 8  # distinct effective dates: every date is shared by many documents (the id orders them)
KEPT_EVERY = 5  # every 5th CAR_VAC document is INVISIBLE_REPRESENTANTS_LEGAUX: the patient sees it, not a guardian
KEPT = VISIBLE["CAR_VAC"][1] // KEPT_EVERY
PER_MESSAGE = 40
PDF = b"%PDF-1.4 autre patient\n%%EOF\n"


def cda(number: int, type_code: str) -> bytes:
    """A distinct document (its own id and setId, title) of one of DATES effective dates."""
    effective = f"202403{1 + number % DATES:02d}101700+0200"
    return (builder.generated_cda(type_code)
            .replace(b'extension="generated-1"', f'extension="paging-{number}"'.encode())
            .replace(b'extension="generated-set-1"', f'extension="paging-set-{number}"'.encode())
            .replace(b"<title>Document de test</title>", f"<title>Document {number}</title>".encode())
            .replace(b'<effectiveTime value="20240402101700+0200"/>', f'<effectiveTime value="{effective}"/>'.encode()))


def documents() -> list[builder.Document]:
    """The visible ones of VISIBLE, and INVISIBLE more in BIOLOGIE interleaved with them (every EVERY-th)."""
    made, number = [], 0
    for code, (type_code, count) in VISIBLE.items():
        extra = INVISIBLE if code == "BIOLOGIE" else 0
        for n in range(1, count + extra + 1):
            number += 1
            codes = ("N", "INVISIBLE_PATIENT") if extra and n % EVERY == 0 else ("N",)
            if code == "CAR_VAC" and n % KEPT_EVERY == 0:
                codes = ("N", "INVISIBLE_REPRESENTANTS_LEGAUX")
            made.append(builder.Document(f"DOC{number:04d}.XML", cda(number, type_code), type_code=type_code,
                                         confidentiality=codes))
    return made


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def web_hub(request, tmp_path_factory):
    """A served hub on each backend: the keyset compares a coalesced date and pads the codes in SQL."""
    storage_url = request.getfixturevalue("postgres").create_database(unique_db_name()) \
        if request.param == "postgresql" else None
    data_dir = make_data_dir(tmp_path_factory.mktemp("paging"), storage_url)
    configure(data_dir, {})
    hub = Hub.open(data_dir)
    try:
        with served(data_dir, ["web"]) as running:
            yield WebHub(running, hub, data_dir)
    finally:
        hub.close()


@pytest.fixture(scope="module")
def scene(web_hub):
    hub = web_hub.hub
    support.add_app(hub)
    support.provision_patient(hub)
    made = documents()
    for start in range(0, len(made), PER_MESSAGE):
        package = builder.package(made[start:start + PER_MESSAGE])
        send(hub, support.APP, [support.PATIENT], raw=support.document_message(package, receipt=False))
    client = web_hub.client().login(support.INS, "mot de passe de dominique")
    other, _ = active_patient(hub, "autre.pages@courriel.example")
    stranger = web_hub.client().login(other.partition("@")[0], PATIENT_PASSWORD)
    for n in range(3):  # filed now: newer than all of the patient's, first in any listing they leaked into
        assert stranger.call("POST", "/api/dossier/documents", {
            "category": "BIOLOGIE", "title": f"Autre {n}", "filename": "autre.pdf", "content_type": "application/pdf",
            "content_base64": base64.b64encode(PDF).decode()}).status == 201
    guardian, _ = active_patient(hub, "tuteur.pages@courriel.example")
    representatives.add(hub, guardian.partition("@")[0], support.INS, kind="protected_adult")
    representative = web_hub.client().login(guardian.partition("@")[0], PATIENT_PASSWORD)
    space = {"X-Space": str(support.account(hub, support.PATIENT).id)}
    return client, stranger, (representative, space)


def _all_pages(client, query: str, headers: dict | None = None) -> list[list[dict]]:
    pages, after = [], None
    while True:
        answer = client.call("GET", f"/api/dossier/documents?{query}" + (f"&after={after}" if after else ""),
                             headers=headers)
        assert answer.status == 200, answer.body
        pages.append(answer.body["documents"])
        after = answer.body["next"]
        if after is None:
            return pages
        assert len(pages) < 20, "the pages never end"


def _titles_shown(*hidden: str) -> set[str]:
    return {f"Document {int(d.name[3:7])}" for d in documents() if not set(d.confidentiality) & set(hidden)}


def _sort_key(item: dict) -> tuple[dt.datetime, int]:
    return dt.datetime.fromisoformat(item["effective_at"] or item["filed_at"]), item["id"]


def _in_order(items: list[dict]) -> bool:
    keys = [_sort_key(d) for d in items]
    return keys == sorted(keys, reverse=True)


def test_the_whole_dossier_in_pages_of_50(scene):
    client, _, _ = scene
    pages = _all_pages(client, "limit=50")
    assert [len(p) for p in pages] == [50, 50, 20]
    listed = [d for p in pages for d in p]
    ids = [d["id"] for d in listed]
    assert len(set(ids)) == len(ids) == 120  # no duplicate
    # None missing, none invisible, none of the other patient's.
    assert {d["title"] for d in listed} == _titles_shown(masking.INVISIBLE_PATIENT)
    assert _in_order(listed)
    assert len({d["effective_at"] for d in listed}) == DATES  # the ties the id breaks were there
    # Without limit: the default page of 50, the same first page.
    first = client.call("GET", "/api/dossier/documents").body
    assert [d["id"] for d in first["documents"]] == [d["id"] for d in pages[0]]
    assert first["next"] is not None


def test_a_category_in_pages(scene):
    client, _, _ = scene
    for code, (_, count) in VISIBLE.items():
        visible = count
        pages = _all_pages(client, f"category={code}&limit=7")
        assert [len(p) for p in pages] == [7] * (visible // 7) + ([visible % 7] if visible % 7 else [])
        listed = [d for p in pages for d in p]
        assert {d["category"] for d in listed} == {code}
        assert len({d["id"] for d in listed}) == len(listed) == visible
        assert _in_order(listed)
    big = client.call("GET", "/api/dossier/documents?category=BIOLOGIE&limit=200").body
    assert len(big["documents"]) == 90 and big["next"] is None


def test_another_patients_documents_are_never_listed(scene):
    client, stranger, _ = scene
    mine = {d["id"] for p in _all_pages(client, "limit=200") for d in p}
    theirs = {d["id"] for p in _all_pages(stranger, "limit=1") for d in p}
    assert len(theirs) == 3 and not mine & theirs
    # The patient's own cursor in the stranger's hands moves through the stranger's list only.
    cursor = client.call("GET", "/api/dossier/documents?limit=1").body["next"]
    assert not {d["id"] for d in stranger.call("GET", f"/api/dossier/documents?after={cursor}").body[
        "documents"]} & mine


def test_a_representative_pages_without_what_is_kept_from_them(scene):
    """What is coded INVISIBLE_REPRESENTANTS_LEGAUX is left out in SQL: the pages stay full (50, 50, 14)."""
    _, _, (representative, space) = scene
    pages = _all_pages(representative, "limit=50", space)
    assert [len(p) for p in pages] == [50, 50, 120 - KEPT - 100]
    listed = [d for p in pages for d in p]
    assert {d["title"] for d in listed} == _titles_shown(masking.INVISIBLE_PATIENT,
                                                         masking.INVISIBLE_REPRESENTANTS_LEGAUX)
    assert _in_order(listed)
    vaccines = _all_pages(representative, "category=CAR_VAC&limit=8", space)
    assert [len(p) for p in vaccines] == [8, 8, 8] and len({d["id"] for p in vaccines for d in p}) == 24
    # Without X-Space the representative is on their own, empty, dossier.
    assert representative.call("GET", "/api/dossier/documents").body == {"category": None, "documents": [],
                                                                         "next": None}


@pytest.mark.parametrize("query", ["limit=0", "limit=201", "limit=-1", "limit=abc", "limit=", "limit=1e3",
                                   "after=abc", "after=20240301T081700.000000Z~", "after=~12",
                                   "after=20241301T081700.000000Z~1", "after=" + "9" * 80,
                                   "after=20240301T081700.000000Z~1234567890123456789"])
def test_a_bad_page_is_refused_in_french(scene, query):
    client, _, _ = scene
    answer = client.call("GET", f"/api/dossier/documents?{query}")
    assert answer.status == 400, (query, answer.body)
    assert answer.error["fr"].startswith("Page invalide")
