"""Commands on messages of the selected folder: SELECT/EXAMINE, STORE, COPY, MOVE,
EXPUNGE (UID EXPUNGE), CLOSE, UNSELECT (APPEND: append.py)."""

from __future__ import annotations

import time

from mssante_hub.imap import acl, qresync, recent, responses, wire
from mssante_hub.imap.folders import mailbox_arg
from mssante_hub.imap.mailbox import SelectedFolder
from mssante_hub.imap.server import AUTH, SELECTED, Bad, No, Session, command
from mssante_hub.imap.syntax import (
    Atom, encode_mailbox, format_uid_set, is_atom, number, parse_sequence_set,
)
from storage import folders, messages, sync

SAVED_RESULT = b"$"  # RFC 5182 SEARCHRES: the messages the last SEARCH RETURN (SAVE) found, alone in a set
SYSTEM_FLAGS = {f.lower(): f for f in ("\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft")}
MAX_FLAGS = 100
MAX_KEYWORD = 100
QUOTA_REFRESH_S = 30.0  # a quota is a bound on storage, not a ledger: re-sum now and then


def flag_names(tokens: list) -> list[str]:
    """Flags of STORE or APPEND, system flags in canonical case; \\Recent may not be set."""
    if len(tokens) > MAX_FLAGS:
        raise Bad(responses.BAD_SYNTAX)
    out = []
    for token in tokens:
        if not isinstance(token, Atom) or len(token) > MAX_KEYWORD or b"[" in token:
            raise Bad(responses.BAD_SYNTAX)
        text = token.decode("ascii", "replace")
        if text.startswith("\\"):
            canonical = SYSTEM_FLAGS.get(text.lower())
            if canonical is None:
                raise Bad(responses.BAD_SYNTAX)
            text = canonical
        if text not in out:
            out.append(text)
    return out


def _changes(current: str, mode: str, flags: list[str]) -> bool:
    have = {f.lower() for f in current.split()}
    wanted = {f.lower() for f in flags}
    if mode == "set":
        return have != wanted
    if mode == "add":
        return not wanted <= have
    return bool(wanted & have)


def enable_condstore(s: Session) -> None:
    """A CONDSTORE-enabling command (RFC 7162 §3.1: FETCH MODSEQ or CHANGEDSINCE, STORE
    UNCHANGEDSINCE, SEARCH MODSEQ, ENABLE): from now on flag updates carry MODSEQ, and when this
    happens while a mailbox is selected the client is told its HIGHESTMODSEQ."""
    s.enabled.add(b"CONDSTORE")
    view = s.selected
    if view is not None and not view.condstore:
        view.condstore = True
        s.untagged(b"OK [HIGHESTMODSEQ %d] Highest" % view.highestmodseq)


def selected_uids(s: Session, token, uid: bool) -> list[int]:
    if not isinstance(token, Atom):
        raise Bad(responses.BAD_SEQUENCE)
    view = s.selected
    if token == SAVED_RESULT:
        return view.select(s.saved_result, True)  # the same messages for UID and sequence commands
    return view.select(parse_sequence_set(bytes(token), view.largest(uid)), uid)


async def _select(s: Session, args: list, read_only: bool) -> bytes:
    if not args or len(args) > 2:
        raise Bad(responses.BAD_SYNTAX)
    condstore = len(args) == 2 and isinstance(args[1], list) and any(is_atom(a, b"CONDSTORE") for a in args[1])
    resync = qresync.select_parameter(args)
    if resync is not None and qresync.CAPABILITY not in s.enabled:
        raise Bad(responses.BAD_SYNTAX)  # RFC 7162 §3.2.5: ENABLE QRESYNC first
    name = mailbox_arg(args[0])
    if s.selected is not None and (s.rev2 or qresync.CAPABILITY in s.enabled):
        # RFC 9051 §6.3.2, RFC 7162 §3.2.11: the previous mailbox is closed, said before the new one's responses.
        s.untagged(responses.OK_CLOSED_PREVIOUS)
    s.unselect()
    # The folder row is read before its messages: its MODSEQ then bounds what the view holds.
    box, states = await acl.resolve_and_read(s, name, "r", lambda conn, row: sync.message_states(conn, row.id))
    if box is None or not box.allows("r"):
        raise No(responses.NO_NONEXISTENT)
    await acl.trace_shared_access(s, box)
    row = box.folder
    read_only = read_only or not any(box.allows(r) for r in "stwe")
    claims = recent.claims_for(s.hub)
    view = SelectedFolder.load(row, states, read_only, claims.mark(row.id, row.recent_uid), synced=row.highestmodseq)
    if s.rev2:
        view.forget_recent()  # RFC 9051: no \\Recent; the messages stay recent for a rev1 session
    if not read_only and view.recent:
        claims.claim(row.id, view.uids[-1])  # what this session announces as recent, no more
    if not read_only and not s.rev2:
        view.claims = claims  # messages arriving while selected may be recent to this session
    view.owner, view.rights = box.owner, box.rights
    view.condstore = condstore or b"CONDSTORE" in s.enabled
    view.qresync = qresync.CAPABILITY in s.enabled
    if condstore:
        s.enabled.add(b"CONDSTORE")
    flags_line, permanent_line = view.flags_lines()  # the folder's keywords too (RFC 3501 §7.2.6)
    s.untagged(flags_line)
    s.untagged(b"%d EXISTS" % view.exists)
    if not s.rev2:
        s.untagged(b"%d RECENT" % len(view.recent))
    else:
        # RFC 9051 §6.3.2: a LIST response naming the mailbox, its attributes accurate.
        use = row.special_use.encode() if getattr(row, "special_use", None) else b""
        s.untagged(b'LIST (%s) "/" %s' % (use, wire.string(encode_mailbox(name))))
    s.untagged(permanent_line)
    s.untagged(b"OK [UIDVALIDITY %d] UIDs valid" % row.uidvalidity)
    s.untagged(b"OK [UIDNEXT %d] Predicted next UID" % max(row.uidnext, (view.uids[-1] + 1) if view.uids else 1))
    s.untagged(b"OK [HIGHESTMODSEQ %d] Highest" % view.highestmodseq)
    unseen = next((i + 1 for i, u in enumerate(view.uids) if "\\Seen" not in view.flags[u].split()), None)
    if unseen and not s.rev2:  # RFC 9051 dropped the UNSEEN response code
        s.untagged(b"OK [UNSEEN %d] First unseen" % unseen)
    if resync is not None:
        await qresync.resync(s, view, *resync)
    s.select_view(view)
    return responses.OK_EXAMINE_RO if read_only else responses.OK_SELECT_RW


@command("SELECT", AUTH, SELECTED)
async def select(s: Session, tag: bytes, args: list, uid: bool) -> bytes:
    return await _select(s, args, read_only=False)


@command("EXAMINE", AUTH, SELECTED)
async def examine(s: Session, tag: bytes, args: list, uid: bool) -> bytes:
    return await _select(s, args, read_only=True)


@command("UNSELECT", SELECTED)
async def unselect(s: Session, tag: bytes, args: list, uid: bool) -> bytes:
    s.unselect()
    return responses.OK_DONE


@command("CLOSE", SELECTED)
async def close(s: Session, tag: bytes, args: list, uid: bool) -> bytes:
    view = s.selected
    if not view.read_only and "e" in view.rights:
        removed = await s.hub.write(lambda conn: messages.expunge(conn, view.id))
        if removed:
            s.changed(view.id)
    s.unselect()
    return responses.OK_DONE


def _writable(s: Session) -> None:
    if s.selected.read_only:
        raise No(responses.NO_READ_ONLY)


@command("EXPUNGE", SELECTED)
async def expunge(s: Session, tag: bytes, args: list, uid: bool) -> bytes:
    _writable(s)
    view = s.selected
    if "e" not in view.rights:
        raise No(responses.NO_NO_PERMISSION)
    wanted = None
    if uid:
        if len(args) != 1:
            raise Bad(responses.BAD_SYNTAX)
        wanted = selected_uids(s, args[0], True)
    elif args:
        raise Bad(responses.BAD_SYNTAX)
    await s.send_updates(allow_expunge=True)
    candidates = view.uids if wanted is None else wanted
    if not any("\\deleted" in view.flags.get(u, "").lower().split() for u in candidates):
        return responses.OK_DONE  # nothing marked \Deleted: no write
    removed = await s.hub.write(lambda conn: messages.expunge(conn, view.id, wanted))
    if s.selected is view:
        for line in view.expunge(removed):
            s.untagged(line)
    if removed:
        s.changed(view.id)
    return responses.OK_DONE


@command("STORE", SELECTED)
async def store(s: Session, tag: bytes, args: list, uid: bool) -> bytes:
    _writable(s)
    if len(args) < 3:
        raise Bad(responses.BAD_SYNTAX)
    view = s.selected
    uids = selected_uids(s, args[0], uid)
    rest = args[1:]
    unchanged_since = None
    if isinstance(rest[0], list):
        mods = rest[0]
        if len(mods) != 2 or not is_atom(mods[0], b"UNCHANGEDSINCE"):
            raise Bad(responses.BAD_SYNTAX)
        unchanged_since = number(mods[1])
        enable_condstore(s)
        rest = rest[1:]
    if len(rest) < 2 or not isinstance(rest[0], Atom):
        raise Bad(responses.BAD_SYNTAX)
    item = rest[0].upper()
    flags = flag_names(rest[1] if isinstance(rest[1], list) and len(rest) == 2 else rest[1:])
    for flag in flags:
        needed = {"\\Seen": "s", "\\Deleted": "t"}.get(flag, "w")
        if needed not in view.rights:
            raise No(responses.NO_NO_PERMISSION)
    base, _, silent = item.partition(b".")
    mode = {b"FLAGS": "set", b"+FLAGS": "add", b"-FLAGS": "remove"}.get(base)
    if mode is None or silent not in (b"", b"SILENT"):
        raise Bad(responses.BAD_SYNTAX)
    await s.send_updates(allow_expunge=False)  # the view must be current to judge what changes
    if unchanged_since is None and not any(_changes(view.flags.get(u, ""), mode, flags) for u in uids):
        # Nothing would change (+FLAGS \Seen on read mail, say): no write, same answer.
        states, failed = [sync.MessageState(u, view.flags[u], view.modseqs[u]) for u in uids
                          if u in view.flags], []
    else:
        states, failed = await s.hub.write(
            lambda conn: messages.store_flags(conn, view.id, uids, mode, flags, unchanged_since))
    if s.selected is not view:
        return responses.OK_DONE
    changed = [st for st in states if st.modseq != view.modseqs.get(st.uid) or st.flags != view.flags.get(st.uid)]
    lines = view.apply_states(states if not silent else changed, with_uid=uid)
    if silent:
        lines = [line for line in lines if view.condstore]  # CONDSTORE: MODSEQ still reported
    for line in lines:
        s.untagged(line)
    if changed:
        s.changed(view.id)
    if failed:
        raise No(responses.NO_MODIFIED % format_uid_set(failed))
    return responses.OK_DONE


async def _target(s: Session, token) -> acl.Mailbox:
    box = await acl.resolve(s, mailbox_arg(token))
    if box is None:
        raise No(responses.NO_TRYCREATE)
    if not box.allows("i"):
        raise No(responses.NO_NO_PERMISSION)
    return box


def _same_owner(s: Session, target: acl.Mailbox) -> None:
    # A copy shares the blob, whose key is wrapped for the source's owner only.
    if target.owner.id != s.selected.owner.id:
        raise No(responses.NO_NO_PERMISSION)


async def _copy_operands(s: Session, args: list, uid: bool) -> tuple[SelectedFolder, list[int], acl.Mailbox]:
    """COPY and MOVE alike: the selected view, the UIDs named, the target (of the same owner)."""
    if len(args) != 2:
        raise Bad(responses.BAD_SYNTAX)
    view = s.selected
    uids = selected_uids(s, args[0], uid)
    box = await _target(s, args[1])
    _same_owner(s, box)
    return view, uids, box


@command("COPY", SELECTED)
async def copy(s: Session, tag: bytes, args: list, uid: bool) -> bytes:
    view, uids, box = await _copy_operands(s, args, uid)
    target = box.folder
    await _check_quota(s, view, uids)
    source_uids, new_uids = await s.hub.write(lambda conn: messages.copy_messages(conn, view.id, target.id, uids))
    if not new_uids:
        return responses.OK_COPY
    s.changed(target.id, including_me=True)
    return b"[COPYUID %d %s %s] %s" % (target.uidvalidity, format_uid_set(source_uids), format_uid_set(new_uids),
                                       responses.OK_COPY)


@command("MOVE", SELECTED)
async def move(s: Session, tag: bytes, args: list, uid: bool) -> bytes:
    _writable(s)
    view, uids, box = await _copy_operands(s, args, uid)
    if not (view.owner.id == s.account.id or "e" in view.rights and "t" in view.rights):
        raise No(responses.NO_NO_PERMISSION)
    target = box.folder  # may be the selected folder itself: new UIDs, the old ones expunged (RFC 6851 §3.3)
    source_uids, new_uids = await s.hub.write(lambda conn: messages.move_messages(conn, view.id, target.id, uids))
    if new_uids:
        s.untagged(b"OK [COPYUID %d %s %s] Moved" % (target.uidvalidity, format_uid_set(source_uids),
                                                      format_uid_set(new_uids)))
        if s.selected is view:
            for line in view.expunge(source_uids):
                s.untagged(line)
        s.changed(view.id)
        s.changed(target.id, including_me=True)
    return responses.OK_MOVE


async def _check_quota(s: Session, view: SelectedFolder | None, uids: list[int], extra: int = 0,
                       owner_id: int | None = None) -> None:
    """Refuse what would pass the account's quota; usage is re-summed at most every QUOTA_REFRESH_S."""
    account_id = owner_id or (view.owner.id if view is not None else s.account.id)
    folder_id = view.id if view is not None else None
    cache = s.hub.__dict__.setdefault("imap_quota_usage", {})  # account id -> (bytes, when summed)
    used, when = cache.get(account_id, (0, -QUOTA_REFRESH_S))
    now = time.monotonic()
    if now - when >= QUOTA_REFRESH_S:
        used = await s.hub.read(lambda conn: folders.account_usage(conn, account_id))
        cache[account_id] = (used, now)
    if folder_id is not None and uids:
        extra += sum(r.size for r in await s.hub.read(
            lambda conn: messages.fetch_rows(conn, account_id, folder_id, uids, with_body=False)))
    if used + extra > s.hub.config.get("imap.quota_bytes"):
        raise No(responses.NO_OVERQUOTA)
    cache[account_id] = (used + extra, cache[account_id][1]) if account_id in cache else (used + extra, now)
