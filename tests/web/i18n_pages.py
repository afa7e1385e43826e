"""The webmail's French strings and their English, read from the pages themselves (for the i18n tests).

The dictionary (mssante_hub/web/static/app-i18n-en.js) is parsed here, and the translation rules of
app-i18n.js are mirrored (a whole string, a pattern with parts, facts joined by " · "), so a test can say
which French strings of index.html and app-*.js have no English.
"""

from __future__ import annotations

import html.parser
import itertools
import re
from pathlib import Path

STATIC = Path(__file__).resolve().parents[2] / "mssante_hub" / "web" / "static"
DICTIONARY = STATIC / "app-i18n-en.js"
_STRING = re.compile(r'"((?:[^"\\\n]|\\.)*)"')
_LITERAL = re.compile(r'"((?:[^"\\\n]|\\.)*)"|\'((?:[^\'\\\n]|\\.)*)\'|`((?:[^`\\]|\\.)*)`', re.DOTALL)
_ACCENT = re.compile(r"[àâäéèêëîïôöùûüçœÀÂÉÈÊÎÔÙÛÇ«»]")
# Literals of the scripts that are code, not text a patient reads.
NOT_TEXT = {"use strict", "Authorization", "noopener noreferrer", "Sent", "Trash", "Bearer ", "Content-Type",
            "X-Space"}
LABELLING = ("placeholder", "aria-label", "title", "alt")


def _unescape(text: str) -> str:
    return text.encode().decode("unicode_escape").encode("latin-1").decode("utf-8") if "\\" in text else text


def dictionary() -> tuple[dict[str, str], list[tuple[str, str]]]:
    """(EN, EN_PATTERNS) as app-i18n-en.js defines them."""
    source = "\n".join(line for line in DICTIONARY.read_text().splitlines() if not line.lstrip().startswith("//"))
    words, _, patterns = source.partition("export const EN_PATTERNS")
    body = words.partition("export const EN = {")[2]
    strings = [_unescape(s) for s in _STRING.findall(body)]
    assert len(strings) % 2 == 0, "the dictionary's entries go by pairs"
    pairs = list(zip(strings[::2], strings[1::2]))
    assert len({k for k, _ in pairs}) == len(pairs), "a French string appears twice in the dictionary"
    ordered = [_unescape(s) for s in _STRING.findall(patterns)]
    return dict(pairs), list(zip(ordered[::2], ordered[1::2]))


def _compiled(patterns: list[tuple[str, str]]) -> list[tuple[re.Pattern, str]]:
    out = []
    for french, english in patterns:
        pieces = re.split(r"\{\d\}", french)
        out.append((re.compile("^" + "(.+?)".join(re.escape(p) for p in pieces) + "$", re.DOTALL), english))
    return out


def english(text: str, words: dict[str, str], patterns: list[tuple[re.Pattern, str]]) -> str | None:
    """The English app-i18n.js would show for `text`, or None."""
    if text in words:
        return words[text]
    for pattern, template in patterns:
        found = pattern.match(text)
        if found:
            parts = found.groups()
            return re.sub(r"\{(\d)\}", lambda m, parts=parts: words.get(parts[int(m.group(1))], parts[int(m.group(1))]),
                          template)
    if " · " in text:
        pieces = text.split(" · ")
        done = [english(p, words, patterns) or p for p in pieces]
        if done != pieces:
            return " · ".join(done)
    return None


def _looks_like_text(s: str) -> bool:
    if s in NOT_TEXT or not re.search(r"[A-Za-zÀ-ÿ]", s):
        return False
    if _ACCENT.search(s):
        return True
    if re.fullmatch(r"[a-z0-9_.\-/#:?=&%+*\[\]()${} ]*", s) and " " not in s.strip():
        return False  # ids, classes, paths, selectors
    if "-" in s and re.fullmatch(r"[a-z0-9\-]+( [a-z0-9\-]+)*", s):
        return False  # a list of CSS classes
    if re.search(r"[a-zà-ÿ]{2,} [a-zA-Zà-ÿ]", s):
        return True
    return bool(re.fullmatch(r"[A-Z][a-zà-ÿ]+ ?", s))


def script_strings() -> set[tuple[str, str]]:
    """(file, string) for each literal of app-*.js that reads as French text; ${...} parts become {}."""
    found = set()
    for path in sorted(STATIC.glob("app*.js")):
        if path.name.startswith("app-i18n"):
            continue
        text = re.sub(r"(^|\s)//\s.*$", "", path.read_text(), flags=re.MULTILINE)
        for match in _LITERAL.finditer(text):
            literal = next(g for g in match.groups() if g is not None)
            if match.group(3) is not None:
                literal = re.sub(r"\$\{[^}]*\}", "{}", literal)
            if _looks_like_text(literal):
                found.add((path.name, literal))
    return found


class _Page(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.strings: set[str] = set()
        self._kept = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._kept += 1
        for name, value in attrs:
            if name in LABELLING and value and value.strip():
                self.strings.add(" ".join(value.split()))

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._kept -= 1

    def handle_data(self, data):
        text = " ".join(data.split())
        if text and not self._kept and re.search(r"[A-Za-zÀ-ÿ]", text):
            self.strings.add(text)


def page_strings() -> set[str]:
    page = _Page()
    page.feed((STATIC / "index.html").read_text())
    return page.strings - {"English", "Mon espace santé"}


def untranslated(literal: str, words: dict[str, str], patterns: list[tuple[re.Pattern, str]]) -> bool:
    """True when no way the page can fill `literal` ({} parts, leading or trailing space) gets an English."""
    candidates = ["1", "Camille", "", "s"]
    stripped = literal
    if literal.endswith(" "):
        stripped = stripped + "{}"
    if literal.startswith(" "):
        stripped = "{}" + stripped
    holes = stripped.count("{}")
    for filling in itertools.product(candidates, repeat=holes):
        text = stripped
        for part in filling:
            text = text.replace("{}", part, 1)
        text = text.strip()
        if text and english(text, words, patterns) is not None:
            return False
    return True


def compiled_dictionary() -> tuple[dict[str, str], list[tuple[re.Pattern, str]]]:
    words, patterns = dictionary()
    return words, _compiled(patterns)
