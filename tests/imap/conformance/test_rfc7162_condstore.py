"""RFC 7162 CONDSTORE: FETCH MODSEQ answers MODSEQ and enables CONDSTORE (§3.1); from then on
STORE's untagged FETCH carries MODSEQ (§3.1.3); HIGHESTMODSEQ on SELECT and when a command
enables CONDSTORE while a mailbox is selected (§3.1.2.1... "first CONDSTORE-enabling command")."""

from __future__ import annotations

import re

from tests.imap.conformance.client import untagged_of
from tests.imap.support import message


def test_fetch_modseq_and_store_after_it(session):
    session.append("INBOX", message("a"))
    session.ok("SELECT INBOX")
    lines = untagged_of(session.ok("FETCH 1 MODSEQ"), b"FETCH")
    assert re.match(rb"\* 1 FETCH \(MODSEQ \(\d+\)\)$", lines[0]), lines
    lines = untagged_of(session.ok("STORE 1 +FLAGS (\\Flagged)"), b"FETCH")
    assert re.search(rb"MODSEQ \(\d+\)", lines[0]), lines


def test_fetch_modseq_in_a_list_with_bodies(session):
    session.append("INBOX", message("a"))
    session.ok("SELECT INBOX")
    lines = untagged_of(session.ok("FETCH 1 (MODSEQ FLAGS RFC822.SIZE)"), b"FETCH")
    assert re.search(rb"MODSEQ \(\d+\)", lines[0]), lines


def test_highestmodseq_when_enabled_while_selected(session):
    session.append("INBOX", message("a"))
    session.ok("SELECT INBOX")
    lines, tagged = session.command("FETCH 1 (FLAGS MODSEQ)")
    assert any(b"[HIGHESTMODSEQ " in line for line in lines + [tagged]), (lines, tagged)


def test_store_reports_modseq_after_enable(session):
    session.append("INBOX", message("a"))
    session.ok("ENABLE CONDSTORE")
    lines = session.ok("SELECT INBOX")
    assert any(b"[HIGHESTMODSEQ " in line for line in lines)
    lines = session.ok("STORE 1 FLAGS.SILENT (\\Seen)")
    assert re.search(rb"\* 1 FETCH \(.*MODSEQ \(\d+\)", b"\n".join(lines)), lines
