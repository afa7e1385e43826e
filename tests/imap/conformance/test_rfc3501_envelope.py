"""RFC 3501 §7.4.2 ENVELOPE: RFC 5322 group syntax as group markers — (NIL NIL "name" NIL) before
the members, (NIL NIL NIL NIL) after them."""

from __future__ import annotations

MESSAGE = (b"From: Alice <alice@hub.test>\r\n"
           b"To: undisclosed-recipients: ;\r\n"
           b"Cc: team: a@b.test, \"C D\" <c@d.test>;, solo@e.test\r\n"
           b"Subject: groups\r\n\r\nbody\r\n")


def test_groups_in_envelope(session):
    session.append("INBOX", MESSAGE)
    session.ok("SELECT INBOX")
    line = session.ok("FETCH 1 ENVELOPE")[0]
    assert b'(("Alice" NIL "alice" "hub.test"))' in line
    assert b'((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL))' in line.replace(b") (", b")(")
    assert (b'((NIL NIL "team" NIL)(NIL NIL "a" "b.test")("C D" NIL "c" "d.test")(NIL NIL NIL NIL)'
            b'(NIL NIL "solo" "e.test"))') in line.replace(b") (", b")(")
