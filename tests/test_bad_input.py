"""Hostile messages: clear refusal, nothing partial stored, the hub keeps serving."""

import asyncio

import hypothesis
import pytest

from mssante_hub.rules import refusals
from mssante_hub.delivery import Envelope, accept
from mssante_hub.rules.refusals import Refusal
from storage import messages
from storage.models import AuditEvent
from tests.conftest import add_professional
from tests.support.mail import make_message

GIB = 1024**3

HEADER = b"From: labo@bio.example\r\nTo: dr@hub.test\r\nSubject: test\r\n"


def unterminated_multipart() -> bytes:
    return (HEADER + b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"XYZ\"\r\n\r\n"
            b"--XYZ\r\nContent-Type: text/plain\r\n\r\nbody without a closing boundary\r\n")


def multipart_without_boundary() -> bytes:
    return HEADER + b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed\r\n\r\nno boundary at all\r\n"


CASES = {
    "unterminated multipart": (unterminated_multipart(), None, refusals.MALFORMED_MIME),
    "multipart without boundary": (multipart_without_boundary(), None, refusals.MALFORMED_MIME),
    "10,000 headers": (HEADER + b"".join(b"X-H%d: v\r\n" % i for i in range(10_000)) + b"\r\nbody\r\n", None,
                       refusals.TOO_MANY_HEADERS),
    "2 GB declared size": (make_message("labo@bio.example", "dr@hub.test", "s", "b"), 2 * GIB,
                           refusals.MESSAGE_TOO_BIG),
    "non-UTF-8 header bytes": (b"From: labo@bio.example\r\nSubject: r\xe9sultat \xff\xfe\r\n\r\nbody\r\n", None,
                               refusals.HEADER_NOT_UTF8),
    "header line without colon": (HEADER + b"this is not a header\r\n\r\nbody\r\n", None, refusals.MALFORMED_HEADER),
    "no From": (b"Subject: x\r\n\r\nbody\r\n", None, refusals.MISSING_FROM),
    "endless line": (HEADER + b"\r\n" + b"a" * 5000 + b"\r\n", None, refusals.LINE_TOO_LONG),
    # Found by the MIME fuzzer: the email package fails on these with IndexError, not with a defect.
    "parameter name with a bare '*' in Content-Type": (HEADER + b"Content-Type: text/plain; a*\r\n\r\nbody\r\n",
                                                       None, refusals.MALFORMED_MIME),
    "parameter name with a bare '*' in an attachment's Content-Disposition": (
        HEADER + b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n"
        b"Content-Disposition: attachment; filename*\r\n\r\nx\r\n--b--\r\n", None, refusals.MALFORMED_MIME),
}


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_message_refused_cleanly_and_hub_keeps_serving(hub, case):
    reader = add_professional(hub, "dr")
    raw, declared, reason = CASES[case]

    async def scenario():
        with pytest.raises(Refusal) as refused:
            await accept(hub, Envelope("labo@bio.example", (reader,), channel="mx", declared_size=declared), raw)
        assert refused.value.reason == reason
        assert refused.value.reason.fr and refused.value.reason.en
        with hub.engine.connect() as conn:
            assert messages.count_blobs(conn) == 0
            assert messages.count_messages(conn) == 0
            assert conn.execute(AuditEvent.__table__.select().where(AuditEvent.action == "deliver")).first() is None
        good = make_message("labo@bio.example", reader, "ok", "ok")
        return await accept(hub, Envelope("labo@bio.example", (reader,), channel="mx"), good)

    delivered = asyncio.run(scenario())
    assert delivered.uids[reader] == 1


def test_unknown_local_recipient_refused_and_nothing_stored(hub):
    reader = add_professional(hub, "dr")
    raw = make_message("labo@bio.example", reader, "s", "b")
    with pytest.raises(Refusal) as refused:
        asyncio.run(accept(hub, Envelope("labo@bio.example", (reader, "nobody@hub.test"), channel="mx"), raw))
    assert refused.value.reason == refusals.UNKNOWN_RECIPIENT
    with hub.engine.connect() as conn:
        assert messages.count_blobs(conn) == 0


def test_too_many_recipients_refused_before_parsing(hub):
    reader = add_professional(hub, "dr")
    limit = hub.config.get("limits.max_recipients")
    recipients = (reader,) + tuple(f"x{n}@remote.example" for n in range(limit))
    with pytest.raises(Refusal) as refused:  # the bytes are not even a message: never parsed
        asyncio.run(accept(hub, Envelope("labo@bio.example", recipients, channel="mx"), b"not a message"))
    assert refused.value.reason == refusals.TOO_MANY_RECIPIENTS
    with hub.engine.connect() as conn:
        assert messages.count_blobs(conn) == 0


@pytest.mark.parametrize("line", [b"a\r\n", b"\r\n"])
def test_line_length_check_keeps_memory_bounded_on_short_lines(line):
    """Splitting a whole 25 MB message of short lines made millions of objects at once (~360 MiB);
    8 MB here (~115 MiB the old way) keeps the traced run short."""
    import tracemalloc

    from mssante_hub.mime import _has_long_line

    raw = line * (8 * 1024 * 1024 // len(line))
    tracemalloc.start()
    try:
        assert _has_long_line(raw, 1000) is False
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 24 * 1024 * 1024, f"{peak / 2**20:.0f} MiB"
    assert _has_long_line(raw + b"x" * 999, 1000) is True  # a last line without CRLF counts its CRLF


def _long_line_by_splitting(raw: bytes, max_line_bytes: int) -> bool:
    """The plain reading of the rule: a line, its CRLF included (a last line without one counts it), over the limit."""
    lines = raw.split(b"\n")
    return any(len(line) + 1 > max_line_bytes for line in lines[:-1]) or \
        (lines[-1] != b"" and len(lines[-1]) + 2 > max_line_bytes)


@hypothesis.settings(max_examples=3000, deadline=None)
@hypothesis.given(
    max_line_bytes=hypothesis.strategies.sampled_from([3, 5, 10, 78, 1000]),
    pieces=hypothesis.strategies.lists(hypothesis.strategies.tuples(
        hypothesis.strategies.integers(0, 2100), hypothesis.strategies.sampled_from([b"\r\n", b"\n", b""])),
        max_size=8),
)
def test_the_windowed_long_line_scan_says_what_splitting_says(max_line_bytes, pieces):
    from mssante_hub.mime import _has_long_line

    raw = b"".join(b"x" * length + end for length, end in pieces)
    assert _has_long_line(raw, max_line_bytes) == _long_line_by_splitting(raw, max_line_bytes)
