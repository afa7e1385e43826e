"""The pure parts: framing under caps, tokens, sequence sets, mailbox names, dates."""

from __future__ import annotations

import pytest

from mssante_hub.imap.framing import Command, ContinueLiteral, FrameLimits, Framer, Refused
from mssante_hub.imap.syntax import (
    MAX_NESTING, SyntaxProblem, decode_mailbox, format_uid_set, parse_date_time, parse_sequence_set, tokenize,
)

LIMITS = FrameLimits(max_line=100, max_string_literal=50, max_append_literal=1000, max_command=200,
                     max_preauth_command=60)


def logged_in(framer: Framer) -> Framer:
    framer.authenticated = True
    return framer


def test_framer_joins_lines_and_literals_and_asks_for_synchronizing_ones():
    framer = Framer(LIMITS)
    events = framer.feed(b"a LOGIN {5}\r\n")
    assert isinstance(events[0], ContinueLiteral)
    events = framer.feed(b"alice {3+}\r\npw!\r\nb NOOP\r\n")
    assert [e.segments for e in events if isinstance(e, Command)] == [[b"a LOGIN {5}", b"alice", b" {3+}", b"pw!", b""],
                                                                      [b"b NOOP"]]


def test_framer_refuses_oversized_literals_and_lines():
    framer = Framer(LIMITS)
    refused = framer.feed(b"a LOGIN {51}\r\n")[0]
    assert isinstance(refused, Refused) and not refused.close and refused.tag == b"a"
    assert isinstance(framer.feed(b"b NOOP\r\n")[0], Command)  # still in step
    assert isinstance(framer.feed(b"c APPEND INBOX {1000}\r\n")[0], Refused)  # not before login
    logged_in(framer)
    assert framer.feed(b"c APPEND INBOX {1000}\r\n")[0] == ContinueLiteral()
    framer = logged_in(Framer(LIMITS))
    assert framer.feed(b"d APPEND INBOX {1001+}\r\n")[0].close
    framer = Framer(LIMITS)
    assert framer.feed(b"x" * 200)[0].close


def test_tokens_and_nesting():
    assert tokenize([b'a SEARCH (OR FROM "x y" TO z) BODY[HEADER.FIELDS (A B)]<0.5>']) == [
        b"a", b"SEARCH", [b"OR", b"FROM", b"x y", b"TO", b"z"], b"BODY[HEADER.FIELDS (A B)]<0.5>"]
    tokenize([b"a X " + b"(" * MAX_NESTING + b")" * MAX_NESTING])
    with pytest.raises(SyntaxProblem):
        tokenize([b"a X " + b"(" * (MAX_NESTING + 1) + b")" * (MAX_NESTING + 1)])
    with pytest.raises(SyntaxProblem):
        tokenize([b'a X "unterminated'])


def test_sequence_sets():
    assert parse_sequence_set(b"5,1:3,2,*", 9) == [(1, 3), (5, 5), (9, 9)]
    assert parse_sequence_set(b"7:*", 4) == [(4, 7)]
    for bad in (b"0", b"1:", b"a", b"1,,2", b"99999999999"):
        with pytest.raises(SyntaxProblem):
            parse_sequence_set(bad, 10)
    with pytest.raises(SyntaxProblem, match="too many"):
        parse_sequence_set(b",".join([b"1"] * 10_001), 10)
    assert format_uid_set([1, 2, 3, 5, 8, 9]) == b"1:3,5,8:9"


def test_mailbox_names_round_trip_strictly():
    assert decode_mailbox(b"&AMk-t&AOk-") == "Été"
    assert decode_mailbox(b"inbox") == "INBOX"
    for bad in (b"&Jjo!", b"&AGE-", b"a&b", b"\xc3\xa9", b""):
        with pytest.raises(SyntaxProblem):
            decode_mailbox(bad)


def test_dates():
    assert parse_date_time(b"17-Jul-1996 02:44:25 -0700").utcoffset().total_seconds() == -7 * 3600
    with pytest.raises(SyntaxProblem):
        parse_date_time(b"31-Feb-2024 00:00:00 +0000")
