"""APPEND: one message, or several in one command (MULTIAPPEND, RFC 3502), stored by delivery.

Every message goes through delivery (parsed, checked, encrypted, stored, committed) before OK, on the
IMAP channel (storing, not sending: envelope.NOT_SENDING). Several messages are stored together by
`delivery.accept_all`, in one transaction: a refusal of any of them stores none. A message may come
as a literal8 (`~{n}`, RFC 3516 BINARY: NUL octets allowed) or, once UTF8=ACCEPT is enabled, in the
UTF8 data extension (`UTF8 (~{n})`, RFC 6855 §4). The literals were reserved against the upload
budgets as the framer read them (framing.py, budget.py) and are given back once the command has run.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from mssante_hub import delivery
from mssante_hub.envelope import Channel
from mssante_hub.imap import acl, responses
from mssante_hub.imap.folders import mailbox_arg
from mssante_hub.imap.messages import _check_quota, _target, flag_names
from mssante_hub.imap.server import AUTH, SELECTED, Bad, No, Session, command
from mssante_hub.imap.syntax import Literal, Literal8, String, format_uid_set, is_atom, parse_date_time

UTF8_ACCEPT = b"UTF8=ACCEPT"


@dataclass(frozen=True)
class Upload:
    """One message of an APPEND: its flags, its internal date (None: now) and its bytes."""

    flags: list[str]
    date: dt.datetime | None
    data: bytes


def uploads(args: list, utf8_enabled: bool = False) -> list[Upload]:
    """The messages of APPEND's arguments after the mailbox: `[flag-list] [date-time] data`, repeated.

    Data is a literal or a literal8; a quoted string is a date, never a message.
    """
    out: list[Upload] = []
    i, n = 0, len(args)
    while i < n:
        flags: list[str] = []
        date = None
        if isinstance(args[i], list):
            flags = flag_names(args[i])
            i += 1
        if i < n and isinstance(args[i], String) and not isinstance(args[i], Literal):
            # Kept in UTC: SQLite drops the offset of a stored date-time.
            date = parse_date_time(bytes(args[i])).astimezone(dt.timezone.utc)
            i += 1
        if i >= n:
            raise Bad(responses.BAD_SYNTAX)
        data = args[i]
        i += 1
        if is_atom(data, b"UTF8"):
            # RFC 6855 §4: UTF8 (literal8), a message whose header may hold UTF-8; only once enabled.
            if not utf8_enabled or i >= n or not (isinstance(args[i], list) and len(args[i]) == 1
                                                  and isinstance(args[i][0], Literal8)):
                raise Bad(responses.BAD_SYNTAX)
            data = args[i][0]
            i += 1
        elif not isinstance(data, (Literal, Literal8)):
            raise Bad(responses.BAD_SYNTAX)
        if not data:
            raise No(responses.NO_APPEND_CANCELLED)  # RFC 3502: an empty message cancels the whole APPEND
        out.append(Upload(flags, date, bytes(data)))
    if not out:
        raise Bad(responses.BAD_SYNTAX)
    return out


async def _destination(s: Session, token) -> acl.Mailbox:
    name = mailbox_arg(token)
    view = s.selected
    if name == "INBOX" and view is not None and view.folder.name == "INBOX" and view.owner is not None \
            and view.owner.id == s.account.id:
        # Into the session's own INBOX, selected: its row is the view's (an INBOX cannot be deleted,
        # renamed or re-created, so its id and UIDVALIDITY hold), no read needed to find it.
        return acl.Mailbox(name, view.folder, s.account, acl.ALL_RIGHTS)
    return await _target(s, token)


@command("APPEND", AUTH, SELECTED)
async def append(s: Session, tag: bytes, args: list, uid: bool) -> bytes:
    """APPEND name ([flags] [date-time] literal)+ (durable before OK; all or none)."""
    if len(args) < 2:
        raise Bad(responses.BAD_SYNTAX)
    messages = uploads(args[1:], UTF8_ACCEPT in s.enabled)
    box = await _destination(s, args[0])
    target = box.folder
    await _check_quota(s, None, [], sum(len(m.data) for m in messages), box.owner.id)
    owner = box.owner.address  # a shared folder's message is stored for (and readable by) its owner
    peer = getattr(s.transport.getPeer(), "host", "")
    given = [(delivery.Envelope(mail_from=s.account.address, rcpt_to=(owner,), channel=Channel.IMAP,
                                folder=target.name, flags=" ".join(m.flags), internal_date=m.date, peer=peer),
              m.data) for m in messages]
    identity = delivery.Identity(address=s.account.address, account_id=s.account.id, type=s.account.type)
    if len(given) == 1:
        delivered = [await delivery.accept(s.hub, *given[0], identity)]
    else:
        delivered = await delivery.accept_all(s.hub, given, identity)
    s.changed(target.id, including_me=True)
    # RFC 4315 §3 with RFC 3502: the UIDs in the order of the messages (one transaction: consecutive).
    uids = format_uid_set([d.uids.get(owner) for d in delivered])
    return b"[APPENDUID %d %s] %s" % (target.uidvalidity, uids, responses.OK_APPEND)
