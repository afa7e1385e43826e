"""The per-session folder view kept current from the store's changes, and the verified-login cache."""

from __future__ import annotations

import time

from mssante_hub.imap.auth import VerifiedLogins
from mssante_hub.imap.mailbox import SelectedFolder
from storage.folders import FolderRow
from storage.sync import Changes, MessageState

FOLDER = FolderRow(1, 1, "INBOX", 7, 10, 5, None, True, 9)


def view(*uids: int) -> SelectedFolder:
    return SelectedFolder.load(FOLDER, [MessageState(u, "", 1) for u in uids], False, 9, synced=5)


def test_changes_apply_flags_new_messages_and_expunges():
    v = view(1, 2, 3)
    lines, owed = v.apply_changes(Changes(8, 3, [MessageState(2, "\\Seen", 6), MessageState(4, "", 7)], [1]), True)
    assert lines == [b"1 EXPUNGE", b"1 FETCH (UID 2 FLAGS (\\Seen))", b"3 EXISTS"] and not owed
    assert v.uids == [2, 3, 4] and v.synced == 8


def test_expunges_wait_when_they_may_not_be_told():
    v = view(1, 2, 3)
    lines, owed = v.apply_changes(Changes(6, 2, [], [2]), allow_expunge=False)
    assert lines == [] and owed and v.uids == [1, 2, 3]
    lines, owed = v.apply_changes(Changes(6, 2, [], []), allow_expunge=True)  # nothing new, still owed
    assert lines == [b"2 EXPUNGE"] and not owed and v.uids == [1, 3]


def test_own_changes_read_back_say_nothing():
    v = view(1, 2)
    v.apply_states([MessageState(2, "\\Flagged", 6)])
    lines, _ = v.apply_changes(Changes(6, 2, [MessageState(2, "\\Flagged", 6)], []), True)
    assert lines == []


def test_a_size_mismatch_asks_for_a_full_read():
    v = view(1, 2, 3)
    assert v.apply_changes(Changes(6, 2, [], []), True) is None  # a message went without a MODSEQ


def test_sequence_numbers_of_many_uids_in_any_order():
    v = view(2, 4, 6, 8)
    assert v.seqs_of([2, 6, 8, 4, 2, 5, 9]) == [1, 3, 4, 2, 1, None, None]


def test_verified_logins_remember_only_what_they_were_told():
    cache = VerifiedLogins(60)
    assert not cache.known(1, "$argon2id$h1", "secret")
    cache.remember(1, "$argon2id$h1", "secret")
    assert cache.known(1, "$argon2id$h1", "secret")
    assert not cache.known(1, "$argon2id$h1", "Secret")  # another password
    assert not cache.known(2, "$argon2id$h1", "secret")  # another mailbox
    assert not cache.known(1, "$argon2id$h2", "secret")  # the password was changed


def test_verified_logins_expire_and_can_be_disabled():
    cache = VerifiedLogins(0.05)
    cache.remember(1, "h", "secret")
    time.sleep(0.1)
    assert not cache.known(1, "h", "secret")
    off = VerifiedLogins(0)
    off.remember(1, "h", "secret")
    assert not off.known(1, "h", "secret")
