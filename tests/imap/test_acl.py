"""Delegated organisation mailboxes: RFC 4314 rights and the Shared/ namespace."""

from __future__ import annotations


from tests.imap.support import Raw, imaps, login_raw, message


def test_org_mailbox_delegated_with_acl_rights(imap_hub):
    org = imaps(imap_hub.port("imaps"), imap_hub.org, imap_hub.password)
    org.create("Secretariat")
    org.append("Secretariat", None, None, message("Demande de rendez-vous", to=imap_hub.org))
    assert org._simple_command("SETACL", "Secretariat", imap_hub.alice, "lrsi")[0] == "OK"
    org._simple_command("GETACL", "Secretariat")
    acl_line = org.untagged_responses.pop("ACL")[0]
    assert imap_hub.alice.encode() in acl_line and b"lrsi" in acl_line

    shared = f"Shared/{imap_hub.org}/Secretariat"
    alice = imaps(imap_hub.port("imaps"), imap_hub.alice, imap_hub.password)
    assert shared.encode() in b"".join(alice.list()[1])
    assert alice._simple_command("MYRIGHTS", f'"{shared}"')[0] == "OK"
    assert alice.untagged_responses.pop("MYRIGHTS")[0].endswith(b" lrsi")
    status, data = alice.select(f'"{shared}"')
    assert status == "OK" and data == [b"1"]
    status, data = alice.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert b"Demande de rendez-vous" in data[0][1]  # opened with the organisation's key
    assert alice.store("1", "+FLAGS", "(\\Seen)")[0] == "OK"  # "s"
    status, data = alice.store("1", "+FLAGS", "(\\Deleted)")  # no "t"
    assert status == "NO" and b"NOPERM" in data[0]
    status, data = alice.expunge()  # no "e"
    assert status == "NO"
    assert alice.append(f'"{shared}"', None, None, message("Réponse", to=imap_hub.org))[0] == "OK"  # "i"
    alice.logout()

    outsider = Raw(imap_hub.port("imaps"))
    login_raw(outsider, imap_hub.bob, imap_hub.password)
    outsider.send(b'a SELECT "%s"\r\n' % shared.encode())
    assert outsider.until_tagged(b"a")[-1].startswith(b"a NO [NONEXISTENT]")
    outsider.send(b'b LIST "" "Shared/*"\r\n')
    assert outsider.until_tagged(b"b") == [b"b OK Completed"]
    outsider.close()

    org.select("Secretariat")
    assert org.search(None, "ALL")[1] == [b"1 2"]  # the delegate's APPEND landed for the organisation
    assert org._simple_command("DELETEACL", "Secretariat", imap_hub.alice)[0] == "OK"
    org.logout()
    alice = imaps(imap_hub.port("imaps"), imap_hub.alice, imap_hub.password)
    status, data = alice.select(f'"{shared}"')
    assert status == "NO"
    alice.logout()
