"""RFC 5182 SEARCHRES (part of IMAP4rev2): SEARCH RETURN (SAVE) keeps its result, and `$` names those
messages in a later FETCH, STORE, COPY, SEARCH or their UID forms; SAVE alone sends no ESEARCH; with
MIN or MAX alone only those are kept; a failed SEARCH leaves nothing saved; SELECT starts with none."""

from __future__ import annotations

import re

from tests.imap.support import message


def _uids(lines: list[bytes]) -> list[int]:
    return sorted(int(re.search(rb"UID (\d+)", line)[1]) for line in lines if b" FETCH " in line)


def _filled(session) -> None:
    for n in range(5):
        session.append("INBOX", message(f"m{n}"), flags="(\\Seen)" if n % 2 else "")
    session.ok("SELECT INBOX")


def test_save_then_dollar_in_fetch_store_and_search(session):
    _filled(session)
    lines = session.ok("UID SEARCH RETURN (SAVE) UNSEEN")
    assert not [line for line in lines if b"ESEARCH" in line or b"SEARCH" in line.split()[:2]], lines
    assert _uids(session.ok("FETCH $ (UID)")) == [1, 3, 5]
    assert _uids(session.ok("UID FETCH $ (UID)")) == [1, 3, 5]
    session.ok("STORE $ +FLAGS (\\Flagged)")
    flagged = [line for line in session.ok("FETCH 1:* (UID FLAGS)") if b"\\Flagged" in line]
    assert _uids(flagged) == [1, 3, 5]
    lines = session.ok("SEARCH RETURN (ALL) $ UID 2:5")
    assert any(line.endswith(b"ALL 3,5") for line in lines), lines


def test_save_with_min_and_max_keeps_those_only(session):
    _filled(session)
    lines = session.ok("SEARCH RETURN (SAVE MIN MAX) ALL")
    assert any(b"MIN 1 MAX 5" in line for line in lines), lines
    assert _uids(session.ok("FETCH $ (UID)")) == [1, 5]


def test_failed_search_empties_and_select_resets(session):
    _filled(session)
    session.ok("SEARCH RETURN (SAVE) ALL")
    _, tagged = session.command("SEARCH RETURN (SAVE) NOSUCHKEY")
    assert tagged.startswith(b"BAD"), tagged
    assert _uids(session.ok("FETCH $ (UID)")) == []
    session.ok("SEARCH RETURN (SAVE) ALL")
    session.ok("SELECT INBOX")
    assert _uids(session.ok("FETCH $ (UID)")) == []


def test_copy_of_dollar(session):
    _filled(session)
    session.ok("CREATE Kept")
    session.ok("SEARCH RETURN (SAVE) SEEN")
    _, tagged = session.command("COPY $ Kept")
    assert re.match(rb"OK \[COPYUID \d+ 2,4 1:2\]", tagged), tagged
