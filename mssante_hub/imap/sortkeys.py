"""What SORT and THREAD compare, from SQL columns and the encrypted summaries only (never bodies).

RFC 5256 §2.1 base subject, §3 sort keys (first address's mailbox, sent date) and RFC 5957's
display names are derived once per stored body and kept in bounded per-process caches (by
blob id, by message row with its UID, internal date and size, and a folder's rows as a Listing
checked by a token at each use): a folder is sorted again and again (every listing of a webmail
client), and opening a summary costs a key unwrap (X25519) and ~0.1 ms of parsing each time. The caches hold plaintext-derived keys in memory only, never
on disk or in logs. A message row lives in one folder, whose rows are always read with the
folder owner's key (acl.reader_of): an entry is made from the row itself, read with a key
that row has, and is only ever handed back for that same row.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re
from dataclasses import dataclass

from sqlalchemy import and_, select

from mssante_hub.reader import Reader
from storage import driver
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


# The usual one-address forms, read without the email package (~10x cheaper per field):
# addr-spec alone, or an optional (quoted) display name and <addr-spec>. Anything else
# (comments, groups, several addresses) goes to email.utils.getaddresses.
_PLAIN_ADDRESS = re.compile(r'^\s*(?:"((?:[^"\\]|\\.)*)"|([^<>",;:()\\\[\]]*?))\s*<([^<>\s(),;:"]+)>\s*$'
                            r'|^\s*([^<>\s(),;:"]+@[^<>\s(),;:"]+)\s*$')


def _first_address(value: str) -> tuple[str, str]:
    """(display name, addr-spec) of the first address of a field, or ("", "")."""
    if not value:
        return "", ""
    plain = _PLAIN_ADDRESS.match(value)
    if plain:
        if plain[4]:
            return "", plain[4]
        name = plain[1] if plain[1] is not None else plain[2] or ""
        return re.sub(r"\\(.)", r"\1", name), plain[3]
    for name, address in email.utils.getaddresses([value]):
        if address or name:
            return name, address
    return "", ""


def _mailbox(address: str) -> str:
    """RFC 5256 §3: the addr-mailbox (local part) of an address, ascii-casemap."""
    return ascii_casemap(address.rpartition("@")[0] if "@" in address else address)


def _display(name: str, address: str) -> str:
    """RFC 5957 §3: the display name, else the addr-spec (i;unicode-casemap)."""
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
    sender, to = _first_address(get("from") or ""), _first_address(get("to") or "")
    return Keys(subject, reply, _mailbox(sender[1]), _mailbox(to[1]), _mailbox(_first_address(get("cc") or "")[1]),
                _display(*sender), _display(*to), _sent(get("date") or ""), own[0] if own else "", tuple(ids))


class Row:
    """One message to sort: a plain slotted object (ten thousand are made per SORT)."""

    __slots__ = ("uid", "arrival", "size", "keys", "sent")

    def __init__(self, uid: int, arrival: float, size: int, keys: Keys) -> None:
        self.uid = uid
        self.arrival = arrival  # internal date, POSIX time
        self.size = size
        self.keys = keys
        # RFC 5256 §2.2 sent date: the Date header, else the internal date.
        self.sent = keys.sent if keys.sent is not None else arrival


class _Bounded(dict):
    """A dict that forgets its oldest half when full (dicts keep insertion order)."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def keep(self, key, value):
        if len(self) >= self.size:
            for old in list(self)[: self.size // 2]:
                self.pop(old, None)
        self[key] = value
        return value


# Keys per stored body (COPY shares it), and sort rows per message row ((id, UID, blob id) -> Row):
# a row's UID, internal date, size and body never change. UID and blob id (128 random bits) are in
# the key because a database may reuse a deleted row's id (SQLite does, for the highest one: a
# MOVE may give the new row the id of the old one, with the same blob).
_by_blob = _Bounded(CACHE_ENTRIES)
_by_message = _Bounded(CACHE_ENTRIES)
DETAIL_BATCH = 500  # message ids per query for rows not in the cache
_LISTING_SQL = "SELECT id, uid, blob_id FROM messages WHERE folder_id = ? ORDER BY uid"
# What says whether a folder's set of messages changed: UIDs only grow (uidnext, in the transaction
# that adds a message) and a removal lowers the count, so equal (uidnext, count) means the same rows.
_TOKEN_SQL = ("SELECT f.uidvalidity, f.uidnext, (SELECT COUNT(*) FROM messages m WHERE m.folder_id = f.id) "
              "FROM folders f WHERE f.id = ?")
FOLDERS_KEPT = 32  # folder listings kept (references to cached rows and their UIDs: ~160 KiB per 10,000)


class Listing:
    """A folder's sort rows in UID order, as of `token`; answers computed over exactly these rows
    (imap/sort.py: SORT and THREAD of the whole folder) are kept with it in `results`, so they go
    when the folder's messages change."""

    __slots__ = ("token", "rows", "uids", "results")

    def __init__(self, token: tuple, rows: list[Row]) -> None:
        self.token = token
        self.rows = rows
        self.uids = [r.uid for r in rows]
        self.results: dict = {}


# (folder id, reader id) -> Listing. A repeated SORT of an unchanged folder (every listing of a
# webmail client) costs one small query instead of reading 10,000 rows (~30 ms measured).
_by_folder = _Bounded(FOLDERS_KEPT)


def _timestamp(value: dt.datetime) -> float:
    return (value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)).timestamp()


def listing(conn, folder_id: int, reader_id: int, reader: Reader) -> Listing:
    """The sort rows of all a folder's messages, in UID order; messages this reader holds no key for
    are left out, as SEARCH leaves them out."""
    # The token is read before the rows: rows newer than their token only make the next call list again.
    found = driver.rows(conn, _TOKEN_SQL, (folder_id,))
    token = tuple(found[0]) if found else None
    held = _by_folder.get((folder_id, reader_id))
    if held is not None and token is not None and held.token == token:
        return held
    # On the driver's cursor: SQLAlchemy's row processing doubled the listing's cost for 10,000 rows.
    listed = driver.rows(conn, _LISTING_SQL, (folder_id,))
    missing = [message_id for message_id, uid, blob_id in listed if (message_id, uid, blob_id) not in _by_message]
    for start in range(0, len(missing), DETAIL_BATCH):
        details = (select(Message.id, Message.uid, Message.internal_date, Message.size, Message.blob_id,
                          Blob.summary, WrappedKey.wrapped)
                   .join(Blob, Blob.id == Message.blob_id)
                   .join(WrappedKey, and_(WrappedKey.blob_id == Blob.id, WrappedKey.account_id == reader_id))
                   .where(Message.id.in_(missing[start:start + DETAIL_BATCH])))
        for row in conn.execute(details):
            keys = _by_blob.get(row.blob_id)
            if keys is None:
                keys = _by_blob.keep(row.blob_id, derive(reader.summary(row)))
            _by_message.keep((row.id, row.uid, row.blob_id),
                             Row(row.uid, _timestamp(row.internal_date), row.size or 0, keys))
    # A row without a key for this reader was never cached (the join above), and is left out.
    get = _by_message.get
    out = Listing(token, [r for r in map(get, listed) if r is not None])
    if token is not None:
        _by_folder.keep((folder_id, reader_id), out)
    return out


def rows(conn, folder_id: int, reader_id: int, reader: Reader, uids: list[int] | None) -> list[Row]:
    """The sort rows of a folder's messages (of `uids` if given), in UID order."""
    everything = listing(conn, folder_id, reader_id, reader).rows
    if uids is None:
        return list(everything)
    wanted = set(uids)
    return [r for r in everything if r.uid in wanted]
