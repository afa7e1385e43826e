"""RFC 3501 §5.1 / §9 mailbox names: a name of atom characters is valid syntax — a mailbox that
does not exist gets NO, not BAD — and LIST with such a pattern answers (never drops the session)."""

from __future__ import annotations

from tests.imap.conformance.client import untagged_of

NAME = "!#$&'+,-.0123456789:;<=>?@^_`|[}"


def test_select_unusual_nonexistent_name_is_no(session):
    _, tagged = session.command(f"SELECT {NAME}")
    assert tagged.startswith(b"NO"), tagged
    _, tagged = session.command(f"STATUS {NAME} (MESSAGES)")
    assert tagged.startswith(b"NO"), tagged


def test_list_with_unusual_pattern_answers(session):
    _, tagged = session.command(f'LIST "" {NAME}%*')
    assert tagged.startswith((b"OK", b"NO")), tagged
    session.ok("NOOP")  # the session goes on


def test_create_and_select_unusual_valid_name(session):
    name = "!#$&-'+,-.0123456789:;<=>?@^_`|[}"  # & escaped as &- in modified UTF-7
    session.ok(f"CREATE {name}")
    lines = session.ok(f"SELECT {name}")
    assert b"* 0 EXISTS" in lines
    listed = untagged_of(session.ok(f'LIST "" {name}'), b"LIST")
    assert len(listed) == 1, listed


def test_list_pattern_of_atom_characters_with_hierarchy_and_wildcards_needs_no_quotes(session):
    """RFC 3501 §9: list-mailbox = 1*list-char / string, and list-char includes "/" , "*" and "%"."""
    session.ok("CREATE Patients/Sous")
    for pattern in ("Patients/*", "Patients/%", '"Patients/*"'):
        listed = untagged_of(session.ok(f'LIST "" {pattern}'), b"LIST")
        assert [line.rsplit(b" ", 1)[-1] for line in listed] == [b'"Patients/Sous"'], (pattern, listed)
