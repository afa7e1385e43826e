"""The Documents page in pages, in headless Chromium (issue 15, docs/web.md): a category of 57 documents shows
the first 50 and "Plus de documents"; the click appends the last 7 (none twice, in the API's order), moves the
focus to the first of them and hides the button; no CSP violation, axe-core finds nothing serious."""

from __future__ import annotations

from tests.dossier import builder, support
from tests.patients.helpers import send
from tests.web.browser import axe_violations, browser, by_id, csp_violations, go, sign_in, wait
from tests.web.test_documents_paging import cda

__all__ = ["browser"]  # the fixture, used by name
COUNT = 57
FIRST_PAGE = 50  # the API's default page (web/dossier_api.py DEFAULT_PAGE)


def _links(driver) -> list[str]:
    """The listed documents' links, read in one script (the list may be replaced between two reads)."""
    return driver.execute_script("return Array.from(document.querySelectorAll('#doc-list a.message'), "
                                 "(a) => a.getAttribute('href').slice(1))")


def test_more_documents_appends_the_next_page(web_hub, browser):
    hub = web_hub.hub
    support.add_app(hub)
    support.provision_patient(hub)
    made = [builder.Document(f"DOC{n:04d}.XML", cda(n, "11502-2"), type_code="11502-2") for n in range(COUNT)]
    send(hub, support.APP, [support.PATIENT], raw=support.document_message(builder.package(made), receipt=False))
    sign_in(browser, web_hub.port, support.INS, "mot de passe de dominique")

    go(browser, "#documents/BIOLOGIE", "doc-list-pane")
    wait(browser, lambda d: len(_links(d)) == FIRST_PAGE)
    more = by_id(browser, "doc-more")
    assert more.is_displayed() and more.text == "Plus de documents"
    assert axe_violations(browser) == []

    more.click()
    wait(browser, lambda d: len(_links(d)) == COUNT)
    wait(browser, lambda d: not by_id(d, "doc-more").is_displayed())
    token = browser.execute_script("return sessionStorage.getItem('mssante-hub-token')")
    everything = web_hub.client(token).call("GET", "/api/dossier/documents?category=BIOLOGIE&limit=200").body
    assert _links(browser) == [f"document/{d['id']}" for d in everything["documents"]]  # order kept, none twice
    focused = browser.execute_script("return document.activeElement.getAttribute('href')")
    assert focused == "#" + _links(browser)[FIRST_PAGE]
    assert csp_violations(browser) == []

    # Another category and back: the list starts again from its first page.
    go(browser, "#documents/CAR_VAC", "doc-list-pane")
    wait(browser, lambda d: _links(d) == [] and not by_id(d, "doc-more").is_displayed())
    go(browser, "#documents/BIOLOGIE", "doc-list-pane")
    wait(browser, lambda d: len(_links(d)) == FIRST_PAGE and by_id(d, "doc-more").is_displayed())
