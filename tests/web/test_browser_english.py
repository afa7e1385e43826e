"""The English switch in headless Chromium (issue 15, docs/web.md): from the sign-in page, every page reads in
English with no French string of the pages left visible, API errors come in English, the choice survives a
reload, and the switch brings French back. axe-core still finds nothing serious (the page's lang follows)."""

from __future__ import annotations

from tests.dossier import builder, support
from tests.patients.helpers import send
from tests.web.browser import (
    axe_violations,
    browser,
    by_id,
    csp_violations,
    go,
    open_page,
    sign_in,
    wait,
)
from tests.web.i18n_pages import (
    compiled_dictionary,
    english,
    page_strings,
    script_strings,
)
from tests.web.test_documents_paging import cda

__all__ = ["browser"]  # the fixture, used by name
LANG_KEY = "mssante-hub-lang"
PASSWORD = "mot de passe de dominique"
# Each page: its address, the view shown, its heading in English.
PAGES = [("#accueil", "home-view", "Home"), ("#messagerie", "mail-view", "Messages"),
         ("#messagerie/recus", "list-pane", "Messages"), ("#documents", "documents-view", "My health documents"),
         ("#documents/BIOLOGIE", "doc-list-pane", "My health documents"),
         ("#profil", "profile-view", "Medical profile"), ("#agenda", "agenda-view", "Calendar"),
         ("#services", "catalogue-view", "Services connected to my space"),
         ("#historique", "history-view", "History of access to my space"),
         ("#parametres", "settings-view", "Settings")]
SHOWN_TEXTS = """
const out = [];
const shown = (e) => e && e.getClientRects().length > 0 && !e.closest("[translate=no]");
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
for (let n = walker.nextNode(); n; n = walker.nextNode()) {
  const text = n.data.replace(/\\s+/g, " ").trim();
  if (text && (shown(n.parentElement) || (n.parentElement.tagName === "OPTION" && shown(n.parentElement.parentElement))))
    out.push(text);
}
for (const e of document.querySelectorAll("[placeholder], [aria-label], [title]")) {
  if (!shown(e)) continue;
  for (const name of ["placeholder", "aria-label", "title"]) if (e.getAttribute(name)) out.push(e.getAttribute(name).trim());
}
out.push(document.title);
return out;
"""


def _french_left(driver) -> list[str]:
    """The shown strings that are French strings of the pages: one the dictionary would translate (the
    translation did not happen), or one of the files' French with no English at all."""
    words, patterns = compiled_dictionary()
    french = page_strings() | {s.strip() for _, s in script_strings() if "{}" not in s}
    left = set()
    for text in driver.execute_script(SHOWN_TEXTS):
        translated = english(text, words, patterns)
        if translated not in (None, text) or (translated is None and text in french):
            left.add(text)
    return sorted(left)


def _heading(driver, view: str) -> str:
    return driver.execute_script("const h = document.querySelector('#' + arguments[0] + ' h1') || "
                                 "document.getElementById(arguments[0]).closest('section').querySelector('h1');"
                                 "return h.textContent.trim();", view)


def test_every_page_in_english_then_back_to_french(web_hub, browser):
    hub = web_hub.hub
    support.add_app(hub)
    support.provision_patient(hub)
    made = [builder.Document(f"DOC{n:04d}.XML", cda(n, "11502-2"), type_code="11502-2") for n in range(3)]
    send(hub, support.APP, [support.PATIENT], raw=support.document_message(builder.package(made), receipt=False))
    try:
        open_page(browser, web_hub.port)
        wait(browser, lambda d: by_id(d, "login-view").is_displayed())
        switch = by_id(browser, "lang-switch")
        assert switch.text == "English" and browser.execute_script("return document.documentElement.lang") == "fr"
        switch.click()
        wait(browser, lambda d: d.execute_script("return document.documentElement.lang") == "en"
             and by_id(d, "login-title").text == "Sign in")
        assert by_id(browser, "lang-switch").text == "Français"
        assert _french_left(browser) == []
        assert axe_violations(browser) == []

        # An error of the API, in the patient's language.
        by_id(browser, "login").send_keys(support.INS)
        by_id(browser, "password").send_keys("not the password")
        by_id(browser, "login-form").submit()
        expected = web_hub.client().call("POST", "/api/session", {"login": support.INS, "password": "wrong"})
        wait(browser, lambda d: by_id(d, "error").is_displayed())
        assert by_id(browser, "error").text == expected.body["error"]["en"]

        sign_in(browser, web_hub.port, support.INS, PASSWORD)
        for fragment, view, heading in PAGES:
            go(browser, fragment, view)
            wait(browser, lambda d, view=view, heading=heading: _heading(d, view) == heading)
            if fragment == "#documents/BIOLOGIE":
                wait(browser, lambda d: len(d.find_elements("css selector", "#doc-list a.message")) == 3)
            assert _french_left(browser) == [], fragment
            assert " – Mon espace santé" in browser.title and browser.title.split(" – ")[0] != "Accueil"
        assert axe_violations(browser) == []

        browser.refresh()
        wait(browser, lambda d: d.execute_script("return document.documentElement.lang") == "en"
             and by_id(d, "settings-view").is_displayed() and _heading(d, "settings-view") == "Settings")

        by_id(browser, "lang-switch").click()
        wait(browser, lambda d: d.execute_script("return document.documentElement.lang") == "fr"
             and by_id(d, "settings-view").is_displayed() and _heading(d, "settings-view") == "Paramètres")
        assert by_id(browser, "lang-switch").text == "English"
        go(browser, "#accueil", "home-view")
        wait(browser, lambda d: _heading(d, "home-view") == "Accueil")
        assert csp_violations(browser) == []
    finally:
        browser.execute_script("localStorage.removeItem(arguments[0])", LANG_KEY)
