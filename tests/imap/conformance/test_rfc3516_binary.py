"""RFC 3516 BINARY: FETCH BINARY[part] sends a part's content with its content-transfer-encoding
undone (partial ranges count in the decoded data), BINARY.PEEK leaves \\Seen alone, BINARY.SIZE is
the decoded size; data holding a NUL goes out as a literal8 (~{n}); an encoding the server does not
know fails the FETCH with [UNKNOWN-CTE]; the section is a part number only; APPEND takes a literal8."""

from __future__ import annotations

import base64
import re

from tests.imap.conformance.client import untagged_of

BLOB = bytes(range(256)) * 3  # every octet, NUL included
NESTED = (b"Subject: inner\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
          b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes("Vérifié\r\n".encode()).replace(
              b"\n", b"\r\n"))
MESSAGE = (
    b"From: a@hub.test\r\nTo: b@hub.test\r\nSubject: binary parts\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
    b"--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
    b"caf=C3=A9 au lait, une ligne tr=C3=A8s =\r\nlongue\r\n"
    b"--b1\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    + base64.encodebytes(BLOB).replace(b"\n", b"\r\n") +
    b"--b1\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: BASE64\r\n\r\n"
    + base64.b64encode(b"line one\nline two\n") + b"\r\n"
    b"--b1\r\nContent-Type: application/x-thing\r\nContent-Transfer-Encoding: x-private-squeeze\r\n\r\n"
    b"QQQQ\r\n"
    b"--b1\r\nContent-Type: message/rfc822\r\n\r\n" + NESTED +
    b"--b1--\r\n"
)


def _data(response: bytes, label: bytes) -> tuple[bytes, bytes]:
    """The literal after `label` in a FETCH response: (its marker, "~" for a literal8 or "", its bytes)."""
    found = re.search(re.escape(label) + rb" (~?)\{(\d+)\}\r\n", response)
    assert found, (label, response[:300])
    return found[1], response[found.end():found.end() + int(found[2])]


def _selected(session) -> None:
    session.append("INBOX", MESSAGE)
    session.ok("SELECT INBOX")


def _one(session, items: str) -> bytes:
    lines = [line for line in session.ok(f"FETCH 1 {items}") if b" FETCH " in line]
    assert len(lines) == 1, lines
    return lines[0]


def test_binary_is_announced(session):
    assert b"BINARY" in untagged_of(session.ok("CAPABILITY"), b"CAPABILITY")[0].split()


def test_quoted_printable_is_decoded_and_peek_leaves_seen_alone(session):
    _selected(session)
    marker, data = _data(_one(session, "BINARY.PEEK[1]"), b"BINARY[1]")
    assert marker == b"" and data == "café au lait, une ligne très longue".encode()
    assert b"\\Seen" not in _one(session, "FLAGS")
    _one(session, "BINARY[1]")
    assert b"\\Seen" in _one(session, "FLAGS")  # BINARY without .PEEK reads the message


def test_base64_with_nul_is_a_literal8_and_size_matches(session):
    _selected(session)
    marker, data = _data(_one(session, "BINARY.PEEK[2]"), b"BINARY[2]")
    assert marker == b"~" and data == BLOB
    size = re.search(rb"BINARY\.SIZE\[2\] (\d+)", _one(session, "BINARY.SIZE[2]"))
    assert size and int(size[1]) == len(BLOB)


def test_partial_counts_in_decoded_octets(session):
    _selected(session)
    response = _one(session, "BINARY.PEEK[2]<250.10>")
    marker, data = _data(response, b"BINARY[2]<250>")
    assert data == BLOB[250:260] and marker == b"~"  # octets 250..259 hold 0xFA..0xFF, 0x00..0x03


def test_decoded_text_has_crlf_line_ends(session):
    _selected(session)
    _, data = _data(_one(session, "BINARY.PEEK[3]"), b"BINARY[3]")
    assert data == b"line one\r\nline two\r\n"
    size = re.search(rb"BINARY\.SIZE\[3\] (\d+)", _one(session, "BINARY.SIZE[3]"))
    assert int(size[1]) == len(data)


def test_unknown_encoding_is_unknown_cte(session):
    _selected(session)
    for item in ("BINARY.PEEK[4]", "BINARY.SIZE[4]"):
        _, tagged = session.command(f"FETCH 1 {item}")
        assert tagged.startswith(b"NO [UNKNOWN-CTE]"), (item, tagged)
    _, tagged = session.command("NOOP")
    assert tagged.startswith(b"OK")


def test_part_of_an_encapsulated_message(session):
    _selected(session)
    _, data = _data(_one(session, "BINARY.PEEK[5.1]"), b"BINARY[5.1]")
    assert data == "Vérifié\r\n".encode()
    _, whole = _data(_one(session, "BINARY.PEEK[]"), b"BINARY[]")
    assert whole == MESSAGE


def test_section_is_a_part_number_only(session):
    _selected(session)
    for item in ("BINARY.PEEK[1.HEADER]", "BINARY[TEXT]", "BINARY.SIZE[1]<0.5>", "BINARY.PEEK[1]<0.0>"):
        _, tagged = session.command(f"FETCH 1 {item}")
        assert tagged.startswith(b"BAD"), (item, tagged)


def test_append_takes_a_literal8(session):
    raw = (b"From: a@hub.test\r\nSubject: raw bytes\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n" + BLOB)
    _, tagged = session.command("APPEND INBOX (\\Seen) ~{}", raw)
    assert tagged.startswith(b"OK [APPENDUID"), tagged
    session.ok("SELECT INBOX")
    marker, whole = _data(_one(session, "BINARY.PEEK[]"), b"BINARY[]")
    assert marker == b"~" and whole == raw
    _, part = _data(_one(session, "BINARY.PEEK[1]"), b"BINARY[1]")
    assert part == BLOB


def test_a_literal8_is_not_a_string_elsewhere(session):
    _, tagged = session.command("SELECT ~{}", b"INBOX")
    assert tagged.startswith(b"BAD"), tagged


def test_imaplib_reads_a_decoded_part(hub):
    """Python's imaplib, a real client: its fetch() takes the literal8 of a BINARY answer as any literal."""
    from tests.imap.support import imaps

    user = hub.fresh_user()
    client = imaps(hub.port(), user, hub.password)
    try:
        client.append("INBOX", None, None, MESSAGE)
        client.select("INBOX")
        status, data = client.fetch("1", "(BINARY.PEEK[2] BINARY.SIZE[2])")
        assert status == "OK"
        assert data[0][1] == BLOB and b"BINARY.SIZE[2] %d" % len(BLOB) in data[1]
    finally:
        client.logout()
