"""Folders and messages through Python's imaplib: LIST, SELECT, FETCH, STORE, COPY, MOVE,
EXPUNGE, APPEND, with the UIDPLUS answers, and a UTF-8 subject everywhere."""

from __future__ import annotations

import imaplib
import re

import pytest

from tests.imap.support import Raw, imaps, login_raw, message

UTF8_SUBJECT = "Compte rendu opératoire — Hôpital Saint-Éloi"
MULTIPART = (
    "From: Dr Bob <bob@hub.test>\r\nTo: alice@hub.test\r\nSubject: Résultats\r\n"
    "Date: Tue, 03 Nov 2026 09:30:00 +0100\r\nMIME-Version: 1.0\r\n"
    'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
    "--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    "Voici les résultats.\r\n"
    "--b1\r\nContent-Type: application/pdf; name=\"cr.pdf\"\r\nContent-Disposition: attachment; filename=\"cr.pdf\"\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b1--\r\n"
).encode("utf-8")


@pytest.fixture
def alice(imap_hub):
    client = imaps(imap_hub.port("imaps"), imap_hub.alice, imap_hub.password)
    yield client
    try:
        client.logout()
    except (imaplib.IMAP4.abort, OSError):
        pass


def new_folder(client, name: str) -> str:
    assert client.create(name)[0] == "OK"
    return name


def test_list_shows_special_use_and_children(alice):
    new_folder(alice, "Projets/2026")
    status, lines = alice.list()
    assert status == "OK"
    listing = {re.search(rb'"([^"]*)"$', line)[1]: line for line in lines}
    assert b"\\Sent" in listing[b"Sent"] and b"\\Trash" in listing[b"Trash"] and b"\\Drafts" in listing[b"Drafts"]
    assert b"\\HasChildren" in listing[b"Projets"] and b"\\HasNoChildren" in listing[b"Projets/2026"]
    status, lines = alice._simple_command("LIST", "(SPECIAL-USE)", '""', "*")
    special = alice.untagged_responses.pop("LIST")
    assert len(special) == 5 and not any(b'"INBOX"' in s for s in special)
    alice._simple_command("LIST", '""', '("INBOX" "Projets/%")')  # LIST-EXTENDED: several patterns
    several = alice.untagged_responses.pop("LIST")
    assert [re.search(rb'"([^"]*)"$', line)[1] for line in several] == [b"INBOX", b"Projets/2026"]


def test_select_and_examine_report_uidvalidity_uidnext_permanentflags(alice):
    folder = new_folder(alice, "Select-test")
    alice.append(folder, None, None, message("one"))
    status, data = alice.select(folder)
    assert status == "OK" and data == [b"1"]
    assert alice.untagged_responses["UIDNEXT"] == [b"2"]
    assert alice.untagged_responses["UIDVALIDITY"][0].isdigit()
    assert b"\\Deleted" in alice.untagged_responses["PERMANENTFLAGS"][0]
    assert "READ-WRITE" in alice.untagged_responses
    status, data = alice.select(folder, readonly=True)
    assert "READ-ONLY" in alice.untagged_responses
    status, data = alice.store("1", "+FLAGS", "(\\Deleted)")
    assert status == "NO" and b"READ-ONLY" in data[0]


def test_append_without_flags_returns_appenduid_and_keeps_date(alice):
    folder = new_folder(alice, "Append-test")
    status, data = alice.append(folder, None, None, message("no flags"))
    assert status == "OK" and re.match(rb"\[APPENDUID \d+ 1\]", data[0])
    status, data = alice.append(folder, "(\\Seen $Important)", '"01-Feb-2024 08:15:00 +0100"',
                                message(UTF8_SUBJECT))
    assert re.match(rb"\[APPENDUID \d+ 2\]", data[0])
    alice.select(folder)
    status, data = alice.uid("FETCH", "2", "(FLAGS INTERNALDATE)")
    assert b"\\Seen" in data[0] and b"$Important" in data[0]
    assert b'INTERNALDATE " 1-Feb-2024 07:15:00 +0000"' in data[0]  # the same instant, in UTC


def test_fetch_envelope_bodystructure_partial_and_peek(alice):
    folder = new_folder(alice, "Fetch-test")
    alice.append(folder, None, None, message(UTF8_SUBJECT))
    alice.append(folder, None, None, MULTIPART)
    alice.select(folder)
    status, data = alice.fetch("1", "(ENVELOPE RFC822.SIZE INTERNALDATE UID FLAGS)")
    flat = b"".join(part if isinstance(part, bytes) else b"".join(part) for part in data)
    assert UTF8_SUBJECT.encode() in flat and b'"bob" "hub.test"' in flat and b"RFC822.SIZE" in flat
    status, data = alice.fetch("2", "(BODYSTRUCTURE)")
    assert b'("TEXT" "PLAIN" ("CHARSET" "utf-8")' in data[0] and b'"APPLICATION" "PDF"' in data[0]
    assert b'"MIXED"' in data[0]
    status, data = alice.fetch("2", "(BODY.PEEK[1] BODY.PEEK[HEADER.FIELDS (Subject)] BODY.PEEK[]<0.12>)")
    parts = {re.search(rb"(BODY\[[^\]]*\](?:<\d+>)?) \{", head)[1]: body for head, body in data[:3]}
    assert parts[b"BODY[1]"] == "Voici les résultats.".encode()  # the CRLF before a boundary is the boundary's
    assert parts[b"BODY[HEADER.FIELDS (Subject)]"] == "Subject: Résultats\r\n\r\n".encode()
    assert parts[b"BODY[]<0>"] == MULTIPART[:12]
    assert b"\\Seen" not in alice.fetch("2", "(FLAGS)")[1][0]  # PEEK leaves \Seen alone
    status, data = alice.fetch("2", "(BODY[TEXT])")
    assert b"\\Seen" in alice.fetch("2", "(FLAGS)")[1][0]  # BODY[] sets it


def test_store_copy_move_expunge_with_uidplus(alice):
    folder = new_folder(alice, "Store-test")
    target = new_folder(alice, "Store-target")
    for n in range(4):
        alice.append(folder, None, None, message(f"m{n}"))
    alice.select(folder)
    status, data = alice.store("1:2", "+FLAGS", "(\\Flagged)")
    assert all(b"\\Flagged" in line for line in data)
    alice.store("2", "-FLAGS.SILENT", "(\\Flagged)")
    assert b"\\Flagged" not in alice.fetch("2", "(FLAGS)")[1][0]
    status, data = alice.copy("1:2", target)
    target_validity = re.match(rb"\[COPYUID (\d+) 1:2 1:2\]", data[0])
    assert target_validity
    status, data = alice.uid("MOVE", "3", target)
    assert status == "OK"
    assert any(b"COPYUID" in line for line in alice.untagged_responses.get("OK", []))
    assert alice.untagged_responses.get("EXPUNGE") == [b"3"]
    alice.uid("STORE", "1,2", "+FLAGS", "(\\Deleted)")
    status, data = alice.uid("EXPUNGE", "1")  # UID EXPUNGE leaves UID 2 though it is \Deleted
    assert status == "OK"
    assert alice.uid("SEARCH", "ALL")[1] == [b"2 4"]
    alice.expunge()
    assert alice.uid("SEARCH", "ALL")[1] == [b"4"]
    alice.select(target)
    assert alice.uid("SEARCH", "ALL")[1] == [b"1 2 3"]
    assert alice.close()[0] == "OK"


def test_copy_to_a_missing_folder_says_trycreate(alice):
    alice.select("INBOX")
    status, data = alice.copy("1:*", "Nowhere")
    assert status == "NO" and b"TRYCREATE" in data[0]


def test_create_rename_delete_subscribe_status(alice):
    new_folder(alice, "Old/Child")
    assert alice.rename("Old", "New")[0] == "OK"
    assert b'"New/Child"' in b"".join(alice.list()[1])
    assert alice.unsubscribe("New/Child")[0] == "OK"
    assert b"New/Child" not in b"".join(alice.lsub()[1])
    alice.append("New/Child", "(\\Seen)", None, message("s"))
    alice.append("New/Child", None, None, message("u"))
    status, data = alice.status("New/Child", "(MESSAGES UNSEEN UIDNEXT UIDVALIDITY)")
    assert b"MESSAGES 2" in data[0] and b"UNSEEN 1" in data[0] and b"UIDNEXT 3" in data[0]
    status, data = alice.delete("New")
    assert status == "NO" and b"INUSE" in data[0]
    assert alice.delete("New/Child")[0] == "OK"
    assert alice.delete("New")[0] == "OK"
    status, data = alice._simple_command("CREATE", "Mes-envois", "(USE (\\Sent))")
    assert status == "OK"
    assert any(b"Mes-envois" in line and b"\\Sent" in line for line in alice.list()[1])


def test_utf8_folder_names_round_trip_in_modified_utf7(alice):
    encoded = "Dossiers patients/&AMk-t&AOk-"  # "Dossiers patients/Été" in modified UTF-7
    new_folder(alice, '"%s"' % encoded)
    assert encoded.encode() in b"".join(alice.list()[1])
    assert alice.select('"%s"' % encoded)[0] == "OK"


def test_two_sessions_see_each_other_flag_changes_and_expunges(imap_hub, alice):
    folder = new_folder(alice, "Shared-view")
    for n in range(3):
        alice.append(folder, None, None, message(f"x{n}"))
    other = Raw(imap_hub.port("imaps"))
    login_raw(other, imap_hub.alice, imap_hub.password)
    other.send(b"s SELECT Shared-view\r\n")
    assert b"* 3 EXISTS" in other.until_tagged(b"s")
    alice.select(folder)
    alice.store("2", "+FLAGS", "(\\Flagged)")
    other.send(b"n NOOP\r\n")
    lines = other.until_tagged(b"n")
    assert any(re.match(rb"\* 2 FETCH \(UID 2 FLAGS \(\\Flagged( \\Recent)?\)", line) for line in lines), lines
    alice.store("1", "+FLAGS", "(\\Deleted)")
    alice.expunge()
    other.send(b"f FETCH 1:* (UID)\r\n")  # no EXPUNGE may be sent during FETCH
    lines = other.until_tagged(b"f")
    assert not any(b"EXPUNGE" in line for line in lines)
    other.send(b"n2 NOOP\r\n")
    lines = other.until_tagged(b"n2")
    assert b"* 1 EXPUNGE" in lines
    other.send(b"f2 FETCH 1:* (UID)\r\n")
    lines = other.until_tagged(b"f2")
    assert lines[:2] == [b"* 1 FETCH (UID 2)", b"* 2 FETCH (UID 3)"]
    alice.append(folder, None, None, message("new one"))
    other.send(b"i IDLE\r\n")
    seen = [other.line()]
    while not seen[-1].startswith(b"+"):
        seen.append(other.line())
    alice.store("1", "+FLAGS", "(\\Answered)")
    while not any(b"\\Answered" in line for line in seen):
        seen.append(other.line())  # told while idling, before DONE
    other.send(b"DONE\r\n")
    seen += other.until_tagged(b"i")
    assert b"* 3 EXISTS" in seen and any(b"\\Answered" in line for line in seen), seen
    other.close()
