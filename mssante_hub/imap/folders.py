"""Folder commands: LIST/LSUB (SPECIAL-USE, CHILDREN), CREATE (CREATE-SPECIAL-USE),
DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, STATUS, GETQUOTA, GETQUOTAROOT."""

from __future__ import annotations

import re

from sqlalchemy.exc import IntegrityError

from mssante_hub.imap import acl, recent, responses, wire
from mssante_hub.imap.server import AUTH, SELECTED, Bad, No, Session, command
from mssante_hub.imap.syntax import (
    MAX_MAILBOX_NAME, Atom, SyntaxProblem, astring, decode_mailbox, encode_mailbox, is_atom, mailbox_text,
)
from storage import folders, messages, sync

DELIMITER = b"/"
SHARED_PREFIX = b"Shared"
SPECIAL_USES = {b"\\SENT", b"\\DRAFTS", b"\\TRASH", b"\\JUNK", b"\\ARCHIVE", b"\\ALL", b"\\FLAGGED"}
SELECTION_OPTIONS = frozenset({b"SUBSCRIBED", b"REMOTE", b"RECURSIVEMATCH", b"SPECIAL-USE"})
RETURN_OPTIONS = frozenset({b"SUBSCRIBED", b"CHILDREN", b"SPECIAL-USE"})
STATUS_ITEMS = (b"MESSAGES", b"RECENT", b"UIDNEXT", b"UIDVALIDITY", b"UNSEEN", b"SIZE", b"HIGHESTMODSEQ", b"DELETED")
REV1_ONLY_STATUS = frozenset({b"RECENT"})  # RFC 9051 has no \Recent: a rev2 session asking for it is BAD
QUOTA_ROOT = b""
MAX_PATTERNS = 20


def mailbox_arg(token) -> str:
    raw = astring(token)  # not an astring: BAD (SyntaxProblem)
    try:
        return decode_mailbox(raw.rstrip(DELIMITER))
    except SyntaxProblem:
        raise No(responses.NO_MAILBOX_NAME) from None


_NOTHING = "(?!)"  # a pattern no mailbox name matches


def _pattern(reference: bytes, pattern: bytes) -> re.Pattern[str]:
    try:
        text = mailbox_text(reference + pattern)
    except SyntaxProblem:
        return re.compile(_NOTHING)  # no mailbox has a name not in the session's encoding: nothing listed
    if len(text) > MAX_MAILBOX_NAME * 2:
        raise Bad(responses.BAD_MAILBOX_NAME)
    regex = "".join(".*" if ch == "*" else "[^/]*" if ch == "%" else re.escape(ch) for ch in text)
    return re.compile(f"^{regex}$")


async def _folders(s: Session) -> list[folders.FolderRow]:
    account_id = s.account.id
    return await s.hub.read(lambda conn: folders.folders_of(conn, account_id))


@command("LIST", AUTH, SELECTED)
async def list_(s: Session, tag: bytes, args: list, uid: bool) -> bytes:
    return await _list(s, args, subscribed_only=False, verb=b"LIST")


@command("LSUB", AUTH, SELECTED)
async def lsub(s: Session, tag: bytes, args: list, uid: bool) -> bytes:
    return await _list(s, args, subscribed_only=True, verb=b"LSUB")


def _options(tokens: list, known: frozenset[bytes]) -> list[bytes]:
    """LIST-EXTENDED options (RFC 5258 §3): atoms we know, else BAD (§3: unknown ones are errors)."""
    if any(not isinstance(t, Atom) or t.upper() not in known for t in tokens):
        raise Bad(responses.BAD_SYNTAX)
    return [t.upper() for t in tokens]


def _return_options(tokens: list) -> tuple[list[bytes], list[bytes] | None]:
    """LIST's RETURN options, and the items of RETURN (STATUS (...)) (RFC 5819 LIST-STATUS)."""
    items = None
    if any(is_atom(t, b"STATUS") for t in tokens):
        at = next(i for i, t in enumerate(tokens) if is_atom(t, b"STATUS"))
        if at + 1 >= len(tokens):
            raise Bad(responses.BAD_SYNTAX)
        items = _status_items(tokens[at + 1])
        tokens = tokens[:at] + tokens[at + 2:]
    return _options(tokens, RETURN_OPTIONS), items


def _status_items(token) -> list[bytes]:
    if not isinstance(token, list) or not token:
        raise Bad(responses.BAD_SYNTAX)
    items = [a.upper() for a in token if isinstance(a, Atom)]
    if len(items) != len(token) or any(i not in STATUS_ITEMS for i in items):
        raise Bad(responses.BAD_SYNTAX)
    return items


async def _list(s: Session, args: list, subscribed_only: bool, verb: bytes) -> bytes:
    selection: list = []
    if args and isinstance(args[0], list) and verb == b"LIST":
        selection = _options(args[0], SELECTION_OPTIONS)
        if selection and set(selection) <= {b"RECURSIVEMATCH", b"REMOTE"} and b"RECURSIVEMATCH" in selection:
            raise Bad(responses.BAD_SYNTAX)  # RFC 5258 §3.1: RECURSIVEMATCH needs another option
        args = args[1:]
    returns: list = []
    status_items = None
    if len(args) == 4 and is_atom(args[2], b"RETURN") and isinstance(args[3], list) and verb == b"LIST":
        returns, status_items = _return_options(args[3])
        if s.rev2 and REV1_ONLY_STATUS.intersection(status_items or ()):
            raise Bad(responses.BAD_SYNTAX)
        args = args[:2]
    if len(args) != 2:
        raise Bad(responses.BAD_SYNTAX)
    reference = astring(args[0])
    # LIST-EXTENDED (RFC 5258) allows a parenthesised list of patterns.
    patterns = [astring(p) for p in args[1]] if isinstance(args[1], list) else [astring(args[1])]
    if not patterns or len(patterns) > MAX_PATTERNS:
        raise Bad(responses.BAD_SYNTAX)
    if patterns == [b""]:
        s.untagged(b'%s (\\Noselect) "/" ""' % verb)
        return responses.OK_DONE
    matcher = re.compile("|".join(_pattern(reference, p).pattern for p in patterns))
    rows = await _folders(s)
    names = {r.name: r for r in rows}
    for shared_name, row, _rights in await acl.shared_listing(s):
        names[shared_name] = row
    implied = {n.rsplit("/", 1)[0] for n in names if "/" in n}
    parents = set()
    for name in implied:
        while name:
            parents.add(name)
            name = name.rsplit("/", 1)[0] if "/" in name else ""
    special_only = b"SPECIAL-USE" in selection
    lsub = subscribed_only
    subscribed_only = subscribed_only or b"SUBSCRIBED" in selection

    def matches(name: str) -> bool:
        return bool(matcher.match(name) or name == "INBOX" and re.match(matcher.pattern, name, re.IGNORECASE))

    subscribed = [n for n, r in names.items() if r.subscribed]
    if subscribed_only:
        account_id = s.account.id
        lingering = await s.hub.read(lambda conn: sync.lingering_subscriptions(conn, account_id))
        lingering = sorted(n for n in lingering if n not in names)
        subscribed += lingering
        for name in lingering:  # subscribed, but no such folder (any more): RFC 5258 §3.1, RFC 3501 §6.3.9
            if matches(name):
                attrs = b"\\Noselect" if lsub else b"\\NonExistent \\Subscribed"
                s.untagged(b'%s (%s) "/" %s' % (verb, attrs, wire.string(encode_mailbox(name))))
    for name in sorted(set(names) | parents, key=lambda n: (n != "INBOX", n)):
        if not matches(name):
            continue
        row = names.get(name)
        attrs = [b"\\HasChildren" if name in parents else b"\\HasNoChildren"]
        if lsub and (row is None or not row.subscribed):
            # RFC 3501 §6.3.9: LSUB with % lists an unsubscribed parent of a subscribed mailbox
            # the pattern stops above, as \Noselect.
            if any(n.startswith(name + "/") and not matches(n) for n in subscribed):
                s.untagged(b'%s (\\Noselect) "/" %s' % (verb, wire.string(encode_mailbox(name))))
            continue
        if row is None:
            if special_only or subscribed_only:
                continue
            attrs.insert(0, b"\\Noselect")
        else:
            if row.special_use:
                attrs.append(row.special_use.encode())
            elif special_only:
                continue
            if subscribed_only and not row.subscribed:
                continue
            if row.subscribed and (b"SUBSCRIBED" in selection or b"SUBSCRIBED" in returns):
                attrs.append(b"\\Subscribed")
        s.untagged(b'%s (%s) "/" %s' % (verb, b" ".join(attrs), wire.string(encode_mailbox(name))))
        if status_items and row is not None:
            # RFC 5819: the STATUS of each selectable mailbox listed, right after its LIST line;
            # one that cannot be opened (no r right) gets none.
            box = await acl.resolve(s, name)
            if box is not None and box.allows("r"):
                await _status_line(s, name, box, status_items)
    return responses.OK_DONE


@command("CREATE", AUTH, SELECTED)
async def create(s: Session, tag: bytes, args: list, uid: bool) -> bytes:
    if len(args) not in (1, 2):
        raise Bad(responses.BAD_SYNTAX)
    name = mailbox_arg(args[0])
    use = None
    if len(args) == 2:
        opts = args[1]
        if not (isinstance(opts, list) and len(opts) == 2 and is_atom(opts[0], b"USE") and isinstance(opts[1], list)
                and len(opts[1]) == 1 and isinstance(opts[1][0], bytes)):
            raise Bad(responses.BAD_SYNTAX)
        use = bytes(opts[1][0])
        if use.upper() not in SPECIAL_USES:
            raise No(b"[USEATTR] Unsupported special use")
        use = use[:1] + use[1:2].upper() + use[2:].lower()
    if name == "INBOX" or any(not part for part in name.split("/")):
        raise No(responses.NO_ALREADY_EXISTS if name == "INBOX" else responses.NO_MAILBOX_NAME)
    account_id = s.account.id

    def work(conn) -> bool:
        if folders.folder_by_name(conn, account_id, name) is not None:
            return False
        parts = name.split("/")
        for depth in range(1, len(parts)):
            parent = "/".join(parts[:depth])
            if folders.folder_by_name(conn, account_id, parent) is None:
                folders.create_folder(conn, account_id, parent)
        folders.create_folder(conn, account_id, name, use.decode() if use else None)
        return True

    try:
        created = await s.hub.write(work)
    except IntegrityError:
        created = False
    if not created:
        raise No(responses.NO_ALREADY_EXISTS)
    return responses.OK_DONE


async def _existing(s: Session, name: str) -> folders.FolderRow:
    account_id = s.account.id
    row = await s.hub.read(lambda conn: folders.folder_by_name(conn, account_id, name))
    if row is None:
        raise No(responses.NO_NONEXISTENT)
    return row


@command("DELETE", AUTH, SELECTED)
async def delete(s: Session, tag: bytes, args: list, uid: bool) -> bytes:
    if len(args) != 1:
        raise Bad(responses.BAD_SYNTAX)
    name = mailbox_arg(args[0])
    if name == "INBOX":
        raise No(responses.NO_CANNOT_DELETE)
    row = await _existing(s, name)
    rows = await _folders(s)
    if any(r.name.startswith(name + "/") for r in rows):
        raise No(responses.NO_HAS_CHILDREN)
    if s.selected is not None and s.selected.id == row.id:
        s.unselect()
    account_id = s.account.id

    def work(conn) -> None:
        messages.delete_folder(conn, row.id)
        if row.subscribed:  # RFC 3501 §6.3.4: DELETE leaves the subscription alone
            sync.keep_subscription(conn, account_id, name, True)

    await s.hub.write(work)
    s.changed(row.id)
    return responses.OK_DONE


@command("RENAME", AUTH, SELECTED)
async def rename(s: Session, tag: bytes, args: list, uid: bool) -> bytes:
    if len(args) != 2:
        raise Bad(responses.BAD_SYNTAX)
    old, new = mailbox_arg(args[0]), mailbox_arg(args[1])
    if "INBOX" in (old, new):
        raise No(responses.NO_CANNOT_DELETE)
    await _existing(s, old)
    account_id = s.account.id

    def work(conn) -> bool:
        if folders.folder_by_name(conn, account_id, new) is not None:
            return False
        folders.rename_folder(conn, account_id, old, new)
        return True

    if not await s.hub.write(work):
        raise No(responses.NO_ALREADY_EXISTS)
    return responses.OK_DONE


async def _subscribe(s: Session, args: list, value: bool) -> bytes:
    if len(args) != 1:
        raise Bad(responses.BAD_SYNTAX)
    name = mailbox_arg(args[0])
    account_id = s.account.id

    def work(conn) -> None:
        row = folders.folder_by_name(conn, account_id, name)
        if row is not None:
            folders.set_subscribed(conn, row.id, value)
        # A name without a folder may be subscribed to (RFC 3501 §6.3.6); unsubscribing forgets it.
        if row is None or not value:
            sync.keep_subscription(conn, account_id, name, value and row is None)

    await s.hub.write(work)
    return responses.OK_DONE


@command("SUBSCRIBE", AUTH, SELECTED)
async def subscribe(s: Session, tag: bytes, args: list, uid: bool) -> bytes:
    return await _subscribe(s, args, True)


@command("UNSUBSCRIBE", AUTH, SELECTED)
async def unsubscribe(s: Session, tag: bytes, args: list, uid: bool) -> bytes:
    return await _subscribe(s, args, False)


@command("STATUS", AUTH, SELECTED)
async def status(s: Session, tag: bytes, args: list, uid: bool) -> bytes:
    if len(args) != 2:
        raise Bad(responses.BAD_SYNTAX)
    items = _status_items(args[1])
    if s.rev2 and REV1_ONLY_STATUS.intersection(items):
        raise Bad(responses.BAD_SYNTAX)
    name = mailbox_arg(args[0])
    box = await acl.resolve(s, name)
    if box is None or not box.allows("r"):
        raise No(responses.NO_NONEXISTENT)
    await _status_line(s, name, box, items)
    return responses.OK_DONE


async def _status_line(s: Session, name: str, box: acl.Mailbox, items: list[bytes]) -> None:
    row = box.folder
    mark = recent.claims_for(s.hub).mark(row.id, row.recent_uid)
    counts = await s.hub.read(lambda conn: messages.folder_status(conn, row.id, mark))
    # RECENT (RFC 3501 §2.3.2): what no session has been told of yet, and what this very session
    # holds as recent if the folder is the one it has selected.
    held = len(s.selected.recent) if s.selected is not None and s.selected.id == row.id else 0
    values = {b"MESSAGES": counts["messages"], b"UNSEEN": counts["unseen"], b"SIZE": counts["size"],
              b"UIDNEXT": row.uidnext, b"UIDVALIDITY": row.uidvalidity, b"HIGHESTMODSEQ": row.highestmodseq,
              b"RECENT": counts["unclaimed"] + held, b"DELETED": counts["deleted"]}
    body = b" ".join(b"%s %d" % (i, values[i]) for i in items)
    s.untagged(b"STATUS %s (%s)" % (wire.string(encode_mailbox(name)), body))


async def quota_line(s: Session) -> bytes:
    account_id = s.account.id
    used = await s.hub.read(lambda conn: folders.account_usage(conn, account_id))
    limit = s.hub.config.get("imap.quota_bytes")
    return b'QUOTA "" (STORAGE %d %d)' % ((used + 1023) // 1024, limit // 1024)


@command("GETQUOTAROOT", AUTH, SELECTED)
async def getquotaroot(s: Session, tag: bytes, args: list, uid: bool) -> bytes:
    if len(args) != 1:
        raise Bad(responses.BAD_SYNTAX)
    name = mailbox_arg(args[0])
    await _existing(s, name)
    s.untagged(b'QUOTAROOT %s ""' % wire.string(encode_mailbox(name)))
    s.untagged(await quota_line(s))
    return responses.OK_DONE


@command("GETQUOTA", AUTH, SELECTED)
async def getquota(s: Session, tag: bytes, args: list, uid: bool) -> bytes:
    if len(args) != 1 or astring(args[0]) != QUOTA_ROOT:
        raise No(b"No such quota root")
    s.untagged(await quota_line(s))
    return responses.OK_DONE
