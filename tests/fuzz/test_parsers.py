"""Fuzzing the parsers every door trusts: MIME/headers, the XDM and CDA readers, SMTP and IMAP commands."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mssante_hub import mime
from mssante_hub.dossier import cda, xdm
from mssante_hub.dossier.safexml import XmlRefused
from mssante_hub.imap.framing import Command, FrameLimits, Framer
from mssante_hub.imap.syntax import SyntaxProblem, decode_mailbox, parse_sequence_set, tokenize
from mssante_hub.rules.refusals import Refusal
from mssante_hub.smtp.params import ParamError, parse_mail, parse_rcpt
from mssante_hub.smtp.server import _clean_address, split_path
from tests.dossier.builder import Document, package
from tests.fuzz.conftest import FUZZ
from tests.fuzz.mutations import batch, batches, reported

LIMITS = mime.Limits(max_message_bytes=64 * 1024, max_header_fields=50, max_header_bytes=8 * 1024,
                     max_line_bytes=1000, max_mime_parts=50, max_mime_depth=5)
MIME_SEEDS = [
    b"From: a@b.test\r\nTo: c@d.test\r\nSubject: =?utf-8?b?w6k=?=\r\n\r\nbody\r\n",
    b"From: a@b.test\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"x\"\r\n\r\n"
    b"--x\r\nContent-Type: text/plain\r\n\r\nhi\r\n--x\r\nContent-Type: message/rfc822\r\n\r\n"
    b"From: e@f.test\r\n\r\ninner\r\n--x--\r\n",
    b"From: a@b.test\r\nContent-Type: multipart/alternative; boundary=b1\r\n\r\n--b1\r\n"
    b"Content-Type: multipart/mixed; boundary=b2\r\n\r\n--b2\r\n\r\ndeep\r\n--b2--\r\n--b1--\r\n",
]


@FUZZ
@given(batches())
def test_mime_parser_answers_or_refuses(seed):
    for raw in batch(seed, MIME_SEEDS, max_size=2048):
        with reported(raw):
            try:
                message = mime.parse(raw, LIMITS)
            except Refusal:
                continue
            mime.summary_fields(message)


CDA_SEED = (b'<?xml version="1.0" encoding="UTF-8"?><ClinicalDocument xmlns="urn:hl7-org:v3">'
            b'<id root="1.2.3" extension="x"/><code code="11502-2"/><title>CR</title>'
            b'<effectiveTime value="20260101"/><recordTarget><patientRole><id root="1.2.250.1.213.1.4.10" '
            b'extension="279035121518989"/><patient><name><given>A</given><family>B</family></name>'
            b'<birthTime value="19700101"/></patient></patientRole></recordTarget></ClinicalDocument>')


@FUZZ
@given(batches())
def test_cda_reader_answers_or_refuses(seed):
    for data in batch(seed, [CDA_SEED], max_size=1024):
        with reported(data):
            try:
                cda.read_header(data)
            except (cda.CdaError, XmlRefused):
                pass


XDM_SEEDS = [package([Document("DOC0001.XML", CDA_SEED)])]


@FUZZ
@given(batches())
def test_xdm_reader_answers_or_refuses(seed):
    for data in batch(seed, XDM_SEEDS, max_size=2048):
        with reported(data):
            try:
                xdm.read_package(data)
            except xdm.XdmError:
                pass


SMTP_SEEDS = [b"FROM:<a@b.test> SIZE=100 BODY=8BITMIME", b"TO:<c@d.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;c@d.test",
              b"FROM:<> RET=HDRS ENVID=QQ+2B1 SMTPUTF8", b"TO:<\xc3\xa9@d.test>"]


@FUZZ
@given(batches())
def test_smtp_command_parsers_answer_or_refuse(seed):
    for raw in batch(seed, SMTP_SEEDS, max_size=300):
        with reported(raw):
            text = raw.decode("utf-8", "surrogateescape")
            for keyword, parse in (("FROM:", parse_mail), ("TO:", parse_rcpt)):
                parts = split_path(text, keyword)
                if parts is None:
                    continue
                _clean_address(parts[0], True)
                _clean_address(parts[0], False)
                try:
                    parse(parts[1])
                except ParamError:
                    pass


FRAME_LIMITS = FrameLimits(max_line=200, max_string_literal=100, max_append_literal=400, max_command=600,
                           max_preauth_command=300)
IMAP_SEEDS = [b'a LOGIN "user" {4}\r\npass\r\n', b"b APPEND INBOX (\\Seen) {5+}\r\nhello\r\n",
              b"c UID FETCH 1:*,3 (FLAGS BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.100>)\r\n",
              b'd SEARCH OR (FROM "x y") NOT SEEN UID 1:5\r\ne SELECT "&AMk-t&AOk-"\r\n', b"f IDLE\r\nDONE\r\n"]


@FUZZ
@given(batches(), st.booleans(), st.integers(8, 256))
def test_imap_framing_and_syntax_answer_or_refuse(seed, authenticated, chunk):
    for raw in batch(seed, IMAP_SEEDS, max_size=400):
        with reported(raw):
            _frame_and_parse(raw, authenticated, chunk)


def _frame_and_parse(raw: bytes, authenticated: bool, chunk: int) -> None:
    framer = Framer(FRAME_LIMITS)
    framer.authenticated = authenticated
    for start in range(0, len(raw), chunk):
        for event in framer.feed(raw[start:start + chunk]):
            if not isinstance(event, Command):
                continue
            assert sum(map(len, event.segments)) <= FRAME_LIMITS.max_command + 2 * FRAME_LIMITS.max_line + \
                FRAME_LIMITS.max_append_literal
            try:
                tokens = tokenize(event.segments)
            except SyntaxProblem:
                continue
            for token in tokens[2:4]:
                if isinstance(token, bytes):
                    for parse in (lambda t: parse_sequence_set(t, 50), decode_mailbox):
                        try:
                            parse(bytes(token))
                        except SyntaxProblem:
                            pass
