"""The per-session view of a selected folder: sequence numbers, UIDs, flags.

Sequence numbers are per session (RFC 3501 §2.3.1.2): they change only when this
session is told of an expunge. The view is taken at SELECT and brought up to date
from the store when another session or a delivery changed the folder: by the changes
after the MODSEQ it was last synchronised at (sync.changes_since), so that the
cost of keeping up is that of the changes, not of the folder's size.
"""

from __future__ import annotations

import bisect
import sys
from dataclasses import dataclass, field

from mssante_hub.imap import wire
from mssante_hub.imap.syntax import format_uid_set
from storage.folders import FolderRow
from storage.sync import Changes, MessageState

RECENT = "\\Recent"
SYSTEM_FLAGS = ("\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft")
MAX_ANNOUNCED_KEYWORDS = 1000  # keywords named in FLAGS; a folder's are bounded by what STORE allows
FLAG_TEXTS_KEPT = 4096
# A folder holds few distinct flag sets: "FETCH 1:* (FLAGS)" formats each once, not per message.
_flag_texts: dict[tuple[str, bool], bytes] = {}


@dataclass
class SelectedFolder:
    folder: FolderRow
    read_only: bool
    uids: list[int]
    flags: dict[int, str]
    modseqs: dict[int, int]
    recent: set[int] = field(default_factory=set)
    highestmodseq: int = 0
    condstore: bool = False  # the client used CONDSTORE: send MODSEQ with flag updates
    qresync: bool = False  # the client enabled QRESYNC: expunges are told as VANISHED
    owner: object = None  # AccountRow whose folder this is (another account's when shared)
    rights: str = "lrswipkxtea"  # RFC 4314 rights of this session on the folder
    synced: int = 0  # the folder's MODSEQ up to which every change is in this view
    unreported: set[int] = field(default_factory=set)  # expunged in the store, not yet told (owed)
    keywords: list[str] = field(default_factory=list)  # announced in FLAGS to this session, in order
    claims: object = None  # recent.RecentClaims when this session may hold new messages as \Recent

    @classmethod
    def load(cls, folder: FolderRow, states: list[MessageState], read_only: bool, recent_mark: int,
             synced: int = 0) -> "SelectedFolder":
        """The view of `states`, read after the folder's MODSEQ was `synced` (0: unknown)."""
        uids = [s.uid for s in states]
        # Flag strings interned: a thousand idle sessions on one folder share them.
        view = cls(
            folder, read_only, uids, {s.uid: sys.intern(s.flags) for s in states},
            {s.uid: s.modseq for s in states}, {u for u in uids if u > recent_mark},
            max([folder.highestmodseq] + [s.modseq for s in states]), synced=synced,
        )
        view._new_keywords(set(view.flags.values()))
        return view

    # --- keywords: RFC 3501 §7.2.6, a keyword is in FLAGS before a FETCH of the session names it ---

    def _new_keywords(self, flag_texts) -> bool:
        """Add the keywords of these flag strings to the announced ones; True if any was new."""
        known, added = set(self.keywords), False
        for text in flag_texts:
            for flag in text.split():
                if not flag.startswith("\\") and flag not in known and len(known) < MAX_ANNOUNCED_KEYWORDS:
                    known.add(flag)
                    self.keywords.append(flag)
                    added = True
        return added

    def flags_lines(self) -> list[bytes]:
        """The untagged FLAGS and OK [PERMANENTFLAGS] lines naming the folder's keywords."""
        flags = wire.flag_list(list(SYSTEM_FLAGS) + self.keywords)
        permanent = b"()" if self.read_only else wire.flag_list(list(SYSTEM_FLAGS) + self.keywords + ["\\*"])
        return [b"FLAGS " + flags, b"OK [PERMANENTFLAGS %s] Flags permitted" % permanent]

    def _announce(self, states) -> list[bytes]:
        """FLAGS lines to send before these states' FETCH lines, if they bring a new keyword."""
        return self.flags_lines() if self._new_keywords({st.flags for st in states}) else []

    @property
    def id(self) -> int:
        return self.folder.id

    @property
    def exists(self) -> int:
        return len(self.uids)

    def seq_of(self, uid: int) -> int | None:
        i = bisect.bisect_left(self.uids, uid)
        return i + 1 if i < len(self.uids) and self.uids[i] == uid else None

    def select(self, ranges: list[tuple[int, int]], by_uid: bool) -> list[int]:
        """UIDs, ascending, of the messages a sequence set (or UID set) names."""
        out: list[int] = []
        if by_uid:
            for low, high in ranges:
                start = bisect.bisect_left(self.uids, low)
                end = bisect.bisect_right(self.uids, high)
                out.extend(self.uids[start:end])
        else:
            for low, high in ranges:
                out.extend(self.uids[max(low, 1) - 1: high])
        return out

    def largest(self, by_uid: bool) -> int:
        if by_uid:
            return self.uids[-1] if self.uids else 0
        return len(self.uids)

    def seqs_of(self, uids: list[int]) -> list[int | None]:
        """seq_of for many UIDs; while they ascend, each search starts where the last one ended."""
        out: list[int | None] = []
        all_uids, n, i, previous = self.uids, len(self.uids), 0, 0
        for uid in uids:
            if uid < previous:
                i = 0
            previous = uid
            i = bisect.bisect_left(all_uids, uid, i)
            out.append(i + 1 if i < n and all_uids[i] == uid else None)
        return out

    def forget_recent(self) -> None:
        """IMAP4rev2 (RFC 9051): no message is \\Recent to this session, none is claimed for it."""
        self.recent = set()
        self.claims = None

    def flag_text(self, uid: int) -> bytes:
        key = (self.flags.get(uid, ""), uid in self.recent)
        text = _flag_texts.get(key)
        if text is None:
            flags = key[0].split()
            if key[1]:
                flags.append(RECENT)
            text = wire.flag_list(flags)
            if len(_flag_texts) < FLAG_TEXTS_KEPT:
                _flag_texts[key] = text
        return text

    def fetch_flags_line(self, uid: int, with_uid: bool) -> bytes:
        seq = self.seq_of(uid)
        items = [b"FLAGS " + self.flag_text(uid)]
        if with_uid or self.condstore:  # RFC 7162 §3.1: UID and MODSEQ in every FETCH once enabled
            items.insert(0, b"UID %d" % uid)
        if self.condstore:
            items.append(b"MODSEQ (%d)" % self.modseqs.get(uid, 0))
        return b"%d FETCH (%s)" % (seq, b" ".join(items))

    def apply_states(self, states: list[MessageState], with_uid: bool = False) -> list[bytes]:
        """Record the new state of messages this session changed; their untagged FETCH lines (after
        FLAGS, if they name a keyword this session has not been told of)."""
        lines = self._announce([st for st in states if st.uid in self.flags])
        for state in states:
            if state.uid not in self.flags:
                continue
            self.flags[state.uid] = state.flags
            self.modseqs[state.uid] = state.modseq
            self.highestmodseq = max(self.highestmodseq, state.modseq)
            lines.append(self.fetch_flags_line(state.uid, with_uid))
        return lines

    def expunge(self, uids: list[int]) -> list[bytes]:
        """Drop messages from the view; the `* n EXPUNGE` lines, highest first so numbers stay valid
        (or one `* VANISHED` line for a QRESYNC client)."""
        self.unreported.difference_update(uids)
        if self.qresync:
            gone = sorted(u for u in uids if self.seq_of(u) is not None)
            for uid in gone:
                del self.uids[self.seq_of(uid) - 1]
                self.flags.pop(uid, None)
                self.modseqs.pop(uid, None)
                self.recent.discard(uid)
            return [b"VANISHED " + format_uid_set(gone)] if gone else []
        lines = []
        for uid in sorted(uids, reverse=True):
            seq = self.seq_of(uid)
            if seq is None:
                continue
            del self.uids[seq - 1]
            self.flags.pop(uid, None)
            self.modseqs.pop(uid, None)
            self.recent.discard(uid)
            lines.append(b"%d EXPUNGE" % seq)
        return lines

    def catch_up(self, states: list[MessageState], allow_expunge: bool, synced: int = 0) -> tuple[list[bytes], bool]:
        """Compare with the whole folder as stored (read after its MODSEQ was `synced`); untagged
        lines to send, and whether expunges are still owed."""
        current = {s.uid: s for s in states}
        lines: list[bytes] = []
        gone = [uid for uid in self.uids if uid not in current]
        self.synced = synced
        self.unreported = set(gone)
        owed = bool(gone) and not allow_expunge
        if gone and allow_expunge:
            lines += self.expunge(gone)
        changed = [current[uid] for uid in self.uids
                   if uid in current and (current[uid].flags != self.flags[uid]
                                          or current[uid].modseq != self.modseqs[uid])]
        lines += self.apply_states(changed, with_uid=True)
        last = self.uids[-1] if self.uids else 0
        lines += self._append_new([s for s in states if s.uid > last])
        return lines, owed

    def _append_new(self, new: list) -> list[bytes]:
        """Messages past the view's last UID join it; the EXISTS line that says so, if any."""
        if not new:
            return []
        lines = self._announce(new)
        for s in new:
            self.uids.append(s.uid)
            self.flags[s.uid] = s.flags
            self.modseqs[s.uid] = s.modseq
            self.highestmodseq = max(self.highestmodseq, s.modseq)
        lines.append(b"%d EXISTS" % len(self.uids))
        if self.claims is not None:
            # RFC 3501 §2.3.2: recent to the first session told of it (this one, unless another
            # session of this process claimed it already: a SELECT or its own catching up).
            mark = self.claims.mark(self.id, self.folder.recent_uid)
            fresh = [s.uid for s in new if s.uid > mark]
            if fresh:
                self.claims.claim(self.id, fresh[-1])
                self.recent.update(fresh)
            lines.append(b"%d RECENT" % len(self.recent))
        return lines

    def apply_changes(self, changes: Changes, allow_expunge: bool) -> tuple[list[bytes], bool] | None:
        """Apply the store's changes since `synced`; as catch_up, or None if the view and the
        store disagree on the folder's size (a change outside MODSEQ's order): read it all then."""
        present = self.flags
        self.unreported.update(u for u in changes.vanished if u in present)
        known = [s for s in changes.changed if s.uid in present and s.uid not in self.unreported]
        last = self.uids[-1] if self.uids else 0
        new = [s for s in changes.changed if s.uid > last]
        if len(self.uids) + len(new) - len(self.unreported) != changes.count:
            return None
        lines: list[bytes] = []
        owed = bool(self.unreported) and not allow_expunge
        if self.unreported and allow_expunge:
            lines += self.expunge(sorted(self.unreported))
            self.unreported = set()
        changed = [s for s in known if s.flags != self.flags[s.uid] or s.modseq != self.modseqs[s.uid]]
        lines += self.apply_states(changed, with_uid=True)
        lines += self._append_new(new)
        self.synced = changes.upto
        return lines, owed
