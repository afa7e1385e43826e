"""FETCH ENVELOPE from the encrypted summary (mime.envelope_fields, imap/fetch.py): byte for byte what the body
gives, for messages delivered by SMTP and stored by APPEND; the body is not opened; messages whose summary holds
no ENVELOPE fields (stored before they were kept, or not UTF-8, or too large) are answered from the body."""

from __future__ import annotations

import json
import re
import smtplib

import pytest
from sqlalchemy import select, update

from crypto import aead
from crypto.envelope import summary_aad
from mssante_hub import mime
from mssante_hub.hub import Hub
from mssante_hub.imap import mimetree, wire
from mssante_hub.reader import Reader
from storage import accounts as account_repo
from storage.models import Blob, Folder, Message, WrappedKey
from tests.imap.conformance.client import Client
from tests.imap.support import HOST, TIMEOUT_S

# Sent by SMTP (the rules of sending apply): groups, encoded words, raw UTF-8, folding, several addresses.
SENT = [
    b"From: Alice <alice@hub.test>\r\nTo: undisclosed-recipients: ;\r\n"
    b"Cc: team: a@b.test, \"C D\" <c@d.test>;, solo@e.test\r\nSubject: groups\r\n\r\nbody\r\n",
    b"From: =?utf-8?q?Ren=C3=A9e_M=C3=BCller?= <renee@hub.test>\r\nTo: =?ISO-8859-1?Q?Andr=E9?= <a@b.test>\r\n"
    b"Subject: =?utf-8?b?UsOpdW5pb24gZGUgc2VydmljZQ==?= =?utf-8?q?_suite?=\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\n"
    b"Message-ID: <encoded@hub.test>\r\n\r\nx\r\n",
    "From: Jérôme Lefèvre <jerome@hub.test>\r\nTo: \"Dr. Zoé, cardio\" <zoe@hub.test>\r\n"
    "Subject: Compte rendu — échographie\r\n\r\nx\r\n".encode(),
    b"From: Alice <alice@hub.test>\r\nSubject: a subject\r\n folded once\r\n\tand twice\r\n"
    b"To: one@hub.test,\r\n   two@hub.test,\r\n\t\"Three\" <three@hub.test>\r\nDate: Tue, 1 Jul 2003\r\n  10:52:37 +0200\r\n\r\nx\r\n",
    b"From: a@hub.test, b@hub.test\r\nSender: secretary@hub.test\r\nReply-To: desk@hub.test, (comment) c@hub.test\r\n"
    b"To: x@hub.test\r\nBcc: hidden@hub.test\r\nIn-Reply-To: <parent@hub.test>\r\nMessage-ID:   <spaced@hub.test>  \r\n\r\nx\r\n",
    b"From: only@hub.test\r\n\r\nno other field\r\n",
    b"From: Alice <alice@hub.test>\r\nSubject:\r\nReply-To:\r\nSender: \r\nTo:\r\n\r\nempty fields\r\n",
    b"From: \"Quoted \\\"name\\\"\" <q@hub.test>\r\nTo: <@route.test:routed@hub.test>, bare\r\n"
    b"Cc: \"a;b:c\" <semi@hub.test>\r\nSubject: (not a comment) \"quotes\" \\ backslash\r\n\r\nx\r\n",
    b"FROM: Upper <upper@hub.test>\r\nSUBJECT: upper case names\r\nsubject: second subject\r\nmessage-id: <lower@hub.test>\r\n"
    b"To: first@hub.test\r\nTo: second@hub.test\r\n\r\nx\r\n",
    b"From: Alice <alice@hub.test>\r\nTo: list: ;\r\nCc: unterminated: a@hub.test, b@hub.test\r\n"
    b"Subject: =?utf-8?q?unclosed encoded word\r\nDate: not a date\r\n\r\nx\r\n",
    b"From: Alice <alice@hub.test>\r\nContent-Type: multipart/mixed; boundary=b\r\nSubject: multipart\r\n\r\n"
    b"--b\r\nContent-Type: message/rfc822\r\n\r\nFrom: inner@hub.test\r\nSubject: inner\r\n\r\ninner body\r\n--b--\r\n",
]
# Stored by APPEND (the owner's own folder: header lines and bytes need not follow the rules of sending).
STORED = [
    b"Subject: a draft without From\r\nTo: someone@hub.test\r\n\r\ndraft\r\n",
    b"From: two@hub.test\r\nFrom: fields@hub.test\r\nSubject : space before the colon\r\n\r\nx\r\n",
    b"From: \xe9lodie <latin1@hub.test>\r\nSubject: caf\xe9 (not UTF-8)\r\n\r\nx\r\n",  # not kept: from the body
    b"From: Alice <alice@hub.test>\r\nTo: " + b",\r\n ".join(b"r%d@hub.test" % n for n in range(1500))
    + b"\r\nSubject: a To field over MAX_ENVELOPE_BYTES\r\n\r\nx\r\n",  # not kept: from the body
    b"From: header@hub.test\r\nSubject: a header and no body\r\n",
]
_ENVELOPE_THEN_HEADER = re.compile(rb"^\* \d+ FETCH \(UID \d+ ENVELOPE (.*) RFC822\.HEADER \{\d+\}\r\n", re.S)
_ENVELOPE_ONLY = re.compile(rb"^\* \d+ FETCH \(UID \d+ ENVELOPE (.*)\)$", re.S)


def _envelope(client: Client, uid: int, from_body: bool) -> bytes:
    items = "(ENVELOPE RFC822.HEADER)" if from_body else "(ENVELOPE)"
    lines = client.ok(f"UID FETCH {uid} {items}")
    fetched = [line for line in lines if b" FETCH (" in line]
    assert len(fetched) == 1, lines
    found = (_ENVELOPE_THEN_HEADER if from_body else _ENVELOPE_ONLY).match(fetched[0])
    assert found, fetched[0]
    return found[1]


def _stored(hub: Hub, address: str, uid: int):
    """(message's blob id, the owner's Reader, the row with the owner's wrapped key) of INBOX's `uid`."""
    with hub.engine.connect() as conn:
        account = account_repo.by_address(conn, address)
        row = conn.execute(
            select(Blob.id.label("blob_id"), Blob.summary, WrappedKey.wrapped)
            .join(Message, Message.blob_id == Blob.id).join(Folder, Folder.id == Message.folder_id)
            .join(WrappedKey, (WrappedKey.blob_id == Blob.id) & (WrappedKey.account_id == account.id))
            .where(Folder.account_id == account.id, Folder.name == "INBOX", Message.uid == uid)).one()
    return row.blob_id, Reader.of(hub, account), row


def _set_blob(hub: Hub, blob_id: str, **values) -> None:
    hub.committer.run(lambda conn: conn.execute(update(Blob).where(Blob.id == blob_id).values(**values)))


@pytest.fixture(scope="module")
def filled(imap_hub):
    """A fresh mailbox holding SENT (by SMTP) then STORED (by APPEND), and its logged-in raw session."""
    user = imap_hub.fresh_user()
    with smtplib.SMTP(HOST, imap_hub.port("mx"), timeout=TIMEOUT_S) as smtp:
        for raw in SENT:
            assert smtp.sendmail("sender@hub.test", [user], raw) == {}
    client = Client(imap_hub.port("imaps"))
    client.ok(f'LOGIN "{user}" "{imap_hub.password}"')
    for raw in STORED:
        client.append("INBOX", raw)
    client.ok("SELECT INBOX")
    yield user, client
    client.close()


def test_the_summary_envelope_is_the_body_envelope(imap_hub, filled):
    user, client = filled
    hub = Hub.open(imap_hub.data_dir)
    try:
        kept = 0
        for uid, raw in enumerate(SENT + STORED, start=1):
            blob_id, reader, row = _stored(hub, user, uid)
            fields = reader.summary(row).get(mime.ENVELOPE_KEY)
            # Kept whenever the fields are UTF-8 and small enough; then the same list as the body's.
            assert (fields is None) == (uid in (len(SENT) + 3, len(SENT) + 4)), uid
            if fields is not None:
                kept += 1
                assert mimetree.summary_envelope(fields) == mimetree.envelope(mimetree.parse(raw)), uid
            assert _envelope(client, uid, from_body=False) == _envelope(client, uid, from_body=True), uid
        assert kept == len(SENT) + len(STORED) - 2
        # The listing of the whole folder, as a client asks it.
        listing = client.ok("FETCH 1:* (UID FLAGS ENVELOPE)")
        assert len([line for line in listing if b" FETCH (" in line]) == len(SENT) + len(STORED)
    finally:
        hub.close()


def test_envelope_is_answered_without_opening_the_body(imap_hub, filled):
    user, client = filled
    hub = Hub.open(imap_hub.data_dir)
    try:
        expected = _envelope(client, 2, from_body=True)
        blob_id, _, _ = _stored(hub, user, 2)
        _set_blob(hub, blob_id, body=b"\0" * 64)  # the body no longer opens (an altered ciphertext)
        assert _envelope(client, 2, from_body=False) == expected
        _, tagged = client.command("UID FETCH 2 (BODY.PEEK[])")
        assert not tagged.startswith(b"OK")  # the body itself is unreadable: ENVELOPE came from the summary
    finally:
        hub.close()


def test_a_summary_without_envelope_fields_is_answered_from_the_body(imap_hub, filled):
    user, client = filled
    raw = SENT[4]
    with smtplib.SMTP(HOST, imap_hub.port("mx"), timeout=TIMEOUT_S) as smtp:
        assert smtp.sendmail("sender@hub.test", [user], raw) == {}
    uid = len(SENT) + len(STORED) + 1
    hub = Hub.open(imap_hub.data_dir)
    try:
        blob_id, reader, row = _stored(hub, user, uid)
        older = reader.summary(row)
        del older[mime.ENVELOPE_KEY]  # a summary as stored before the ENVELOPE fields were kept
        _set_blob(hub, blob_id, summary=aead.seal(reader.key(row), json.dumps(older).encode(), summary_aad(blob_id)))
        assert mime.ENVELOPE_KEY not in reader.summary(_stored(hub, user, uid)[2])
        client.ok("NOOP")
        assert _envelope(client, uid, from_body=False) == wire.value(mimetree.envelope(mimetree.parse(raw)))
        listing = client.ok("FETCH 1:* (UID ENVELOPE)")
        assert len([line for line in listing if b" FETCH (" in line]) == len(SENT) + len(STORED) + 1
    finally:
        hub.close()
