"""What SORT and THREAD compare, from SQL columns and the encrypted summaries only (never bodies).

RFC 5256 §2.1 base subject, §3 sort keys (first address's mailbox, sent date) and RFC 5957's
display names are derived once per stored body and kept in a bounded per-process cache keyed
by blob id: a folder is sorted again and again (every listing of a webmail client), and
opening a summary costs a key unwrap (X25519) each time. The cache holds derived keys of
messages some session of this process was allowed to read; an entry is used only for a row
the asking session's reader holds a key for (the row's wrapped key), never across readers
otherwise.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re
from dataclasses import dataclass

from sqlalchemy import and_, select

from mssante_hub.reader import Reader
from storage.messages import uid_condition
from storage.models import Blob, Message, WrappedKey

MAX_REFERENCES = 100  # the last ids of a References field kept for threading (hostile input; RFC 5322 §3.6.4 trims too)
CACHE_ENTRIES = 50_000  # derived keys of this many messages (~10 MiB); beyond, the oldest half goes
_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_TRAILER = re.compile(r"(?:\s|\(fwd\))+$", re.IGNORECASE)  # subj-trailer
# subj-leader: *subj-blob subj-refwd, or white space; subj-refwd = ("re" / "fw" ["d"]) *WSP [subj-blob] ":"
_LEADER = re.compile(r"^(?:(?:\[[^\[\]]*\]\s*)*(?:re|fwd?)\s*(?:\[[^\[\]]*\]\s*)?:|\s+)", re.IGNORECASE)
_BLOB = re.compile(r"^\[[^\[\]]*\]\s*")
_MESSAGE_ID = re.compile(r"<([^<>\s]+)>")


def ascii_casemap(text: str) -> str:
    """i;ascii-casemap (RFC 4790): ASCII letters compared without case, everything else as is."""
    return text.translate(_ASCII_UPPER)


def base_subject(subject: str) -> tuple[str, bool]:
    """RFC 5256 §2.1: the base subject, and whether the subject marked a reply or forward."""
    text = " ".join(subject.split())  # step 1: decoded already (the summary); white space folded
    reply = False
    while True:
        trailer = _TRAILER.search(text)  # step 2
        if trailer:
            reply = reply or "(fwd)" in trailer.group().lower()
            text = text[:trailer.start()]
        while True:  # steps 3 to 5
            leader = _LEADER.match(text)
            if leader and leader.end():
                reply = reply or not leader.group().isspace()
                text = text[leader.end():]
                continue
            blob = _BLOB.match(text)
            if blob and text[blob.end():]:
                text = text[blob.end():]
                continue
            break
        if text.lower().startswith("[fwd:") and text.endswith("]"):  # step 6
            text, reply = text[5:-1], True
            continue
        return ascii_casemap(text), reply


def _first_address(value: str) -> tuple[str, str]:
    """(display name, addr-spec) of the first address of a field, or ("", "")."""
    for name, address in email.utils.getaddresses([value]) if value else ():
        if address or name:
            return name, address
    return "", ""


def _mailbox(value: str) -> str:
    """RFC 5256 §3: the addr-mailbox (local part) of the first address, ascii-casemap."""
    address = _first_address(value)[1]
    return ascii_casemap(address.rpartition("@")[0] if "@" in address else address)


def _display(value: str) -> str:
    """RFC 5957 §3: the first address's display name, else its addr-spec (i;unicode-casemap)."""
    name, address = _first_address(value)
    return (name.strip() or address).casefold()


def _sent(date: str) -> float | None:
    try:
        parsed = email.utils.parsedate_to_datetime(date) if date else None
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.timestamp()


@dataclass(frozen=True, slots=True)
class Keys:
    """A message's derived keys (from its summary), the same for every folder that holds it."""

    subject: str  # base subject, ascii-casemap
    reply: bool  # the subject marked a reply or forward
    from_: str
    to: str
    cc: str
    display_from: str
    display_to: str
    sent: float | None  # Date header as a POSIX time, None when absent or unreadable
    message_id: str  # "" when absent
    references: tuple[str, ...]  # References, else the first In-Reply-To id


def derive(summary: dict) -> Keys:
    get = summary.get
    subject, reply = base_subject(get("subject") or "")
    ids = _MESSAGE_ID.findall(get("references") or "")
    if not ids:
        ids = _MESSAGE_ID.findall(get("in-reply-to") or "")[:1]
    ids = ids[-MAX_REFERENCES:]
    own = _MESSAGE_ID.findall(get("message-id") or "")
    return Keys(subject, reply, _mailbox(get("from") or ""), _mailbox(get("to") or ""), _mailbox(get("cc") or ""),
                _display(get("from") or ""), _display(get("to") or ""), _sent(get("date") or ""),
                own[0] if own else "", tuple(ids))


@dataclass(frozen=True, slots=True)
class Row:
    uid: int
    arrival: float  # internal date, POSIX time
    size: int
    keys: Keys

    @property
    def sent(self) -> float:
        """RFC 5256 §2.2 sent date: the Date header, else the internal date."""
        return self.keys.sent if self.keys.sent is not None else self.arrival


_cache: dict[str, Keys] = {}


def _cached(blob_id: str, make) -> Keys:
    found = _cache.get(blob_id)
    if found is None:
        if len(_cache) >= CACHE_ENTRIES:
            for old in list(_cache)[: CACHE_ENTRIES // 2]:  # dicts keep insertion order: the oldest
                _cache.pop(old, None)
        found = _cache[blob_id] = make()
    return found


def _timestamp(value: dt.datetime) -> float:
    return (value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)).timestamp()


def rows(conn, folder_id: int, reader_id: int, reader: Reader, uids: list[int] | None) -> list[Row]:
    """The sort rows of a folder's messages (of `uids` if given), in UID order; messages this
    reader holds no key for are left out, as SEARCH leaves them out."""
    query = (select(Message.uid, Message.internal_date, Message.size, Message.blob_id, Blob.summary,
                    WrappedKey.wrapped)
             .join(Blob, Blob.id == Message.blob_id)
             .join(WrappedKey, and_(WrappedKey.blob_id == Blob.id, WrappedKey.account_id == reader_id))
             .where(Message.folder_id == folder_id).order_by(Message.uid))
    wanted = None
    if uids is not None:
        ranges = _ranges(uids)
        condition = uid_condition(ranges)
        if condition is not None:
            query = query.where(condition)
        wanted = set(uids)
    out = []
    for row in conn.execute(query):
        if wanted is not None and row.uid not in wanted:
            continue
        keys = _cached(row.blob_id, lambda: derive(reader.summary(row)))
        out.append(Row(row.uid, _timestamp(row.internal_date), row.size or 0, keys))
    return out


def _ranges(uids: list[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for uid in sorted(uids):
        if out and uid == out[-1][1] + 1:
            out[-1] = (out[-1][0], uid)
        else:
            out.append((uid, uid))
    return out
