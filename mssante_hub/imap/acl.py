"""Delegated mailboxes: RFC 4314 rights and the shared namespace ("Shared/<owner>/<folder>").

An organisation mailbox (ORG) grants rights on its folders to professionals with
SETACL; they then see those folders under Shared/. The hub holds every account's key
under the master key, so it opens a shared message with the owner's key once the
rights allow it; each opening of a shared folder is traced in the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from sqlalchemy import Connection

from mssante_hub import audit
from mssante_hub.reader import Reader
from mssante_hub.imap import dossier_view, responses, wire
from mssante_hub.imap.server import AUTH, SELECTED, Bad, No, Session, command
from mssante_hub.imap.syntax import SyntaxProblem, astring, decode_mailbox, encode_mailbox
from storage import accounts as account_repo
from storage import folders, grants
from storage.accounts import AccountRow

ALL_RIGHTS = "lrswipkxtea"
SHARED_ROOT = "Shared"
SHARED_ACCESS = "imap.shared_access"


@dataclass(frozen=True)
class Mailbox:
    """A folder as this session may use it: whose it is and with which rights."""

    name: str  # as the client names it
    folder: folders.FolderRow
    owner: AccountRow
    rights: str

    def allows(self, right: str) -> bool:
        return right in self.rights


def mailbox_name(token) -> str:
    raw = astring(token)  # not an astring: BAD (SyntaxProblem)
    try:
        return decode_mailbox(raw.rstrip(b"/"))
    except SyntaxProblem:
        raise No(responses.NO_MAILBOX_NAME) from None


def split_shared(name: str) -> tuple[str, str] | None:
    """(owner address, folder) of a Shared/<owner>/<folder> name, else None."""
    parts = name.split("/", 2)
    if len(parts) == 3 and parts[0] == SHARED_ROOT and "@" in parts[1]:
        return parts[1].lower(), parts[2]
    return None


async def resolve(s: Session, name: str) -> Mailbox | None:
    """The folder a name designates for this session, or None (absent or not visible)."""
    return (await resolve_and_read(s, name, "l", None))[0]


async def resolve_and_read(s: Session, name: str, right: str,
                           then: Callable[[Connection, folders.FolderRow], Any] | None) -> tuple[Mailbox | None, Any]:
    """resolve(), and `then(conn, folder)` in the same trip to the read pool if the session holds
    `right` on the folder (SELECT: the folder and its messages in one trip)."""
    me = s.account
    if dossier_view.is_dossier_name(name):  # Patients/<INS>/Dossier/<category>: imap/dossier_view.py
        return await dossier_view.resolve_and_read(s, name, right, then)
    shared = split_shared(name)
    if shared is None:
        def read_own(conn):
            row = folders.folder_by_name(conn, me.id, name)
            return row, (then(conn, row) if row is not None and then is not None else None)

        row, extra = await s.hub.read(read_own)
        return (Mailbox(name, row, me, ALL_RIGHTS), extra) if row else (None, None)
    owner_address, folder_name = shared

    def read(conn):
        owner = account_repo.by_address(conn, owner_address)
        row = folders.folder_by_name(conn, owner.id, folder_name) if owner else None
        rights = dict(grants.grants_for(conn, me.id)).get(row.id, "") if row else ""
        wanted = then is not None and "l" in rights and right in rights
        return owner, row, rights, (then(conn, row) if wanted else None)

    owner, row, rights, extra = await s.hub.read(read)
    if row is None or "l" not in rights:
        return None, None
    return Mailbox(name, row, owner, rights), extra


async def shared_listing(s: Session) -> list[tuple[str, folders.FolderRow, str]]:
    """(client name, folder, rights) of every folder shared with this session's account."""
    me = s.account.id

    def read(conn):
        out = []
        for folder_id, rights in grants.grants_for(conn, me):
            row = folders.folder_by_id(conn, folder_id)
            owner = account_repo.by_id(conn, row.account_id) if row else None
            if row and owner and "l" in rights:
                out.append((f"{SHARED_ROOT}/{owner.address}/{row.name}", row, rights))
        return out

    return await s.hub.read(read) + await dossier_view.listing(s)


def reader_of(s: Session, owner: AccountRow) -> Reader:
    """The reader that opens the owner's messages (kept for the session)."""
    view = s.selected
    if view is not None and view.owner is owner and dossier_view.is_view_folder(view.folder):
        return dossier_view.reader_for(s, owner, view.folder.account_id, view.folder.name)
    if owner.id == s.account.id:
        return s.reader
    cache = s.__dict__.setdefault("_owner_readers", {})
    if owner.id not in cache:
        cache[owner.id] = Reader.of(s.hub, owner)
    return cache[owner.id]


async def trace_shared_access(s: Session, box: Mailbox) -> None:
    if isinstance(box, dossier_view.DossierBox):
        await dossier_view.trace_open(s, box)
        return
    if box.owner.id != s.account.id:
        await s.hub.write(lambda conn: audit.record(
            conn, actor=s.account.address, action=SHARED_ACCESS, subject_account_id=box.owner.id,
            target=f"folder:{box.folder.id} rights:{box.rights}"))


def _rights(token) -> str:
    text = astring(token).decode("ascii", "replace")
    if any(ch not in ALL_RIGHTS + "cd+-" for ch in text):
        raise Bad(responses.BAD_SYNTAX)
    # RFC 4314 §2.1.1: the obsolete "c" and "d" stand for "k" and "xte".
    return text.replace("c", "k").replace("d", "xte")


async def _own_folder(s: Session, token) -> folders.FolderRow:
    name = mailbox_name(token)
    if split_shared(name) is not None:
        raise No(responses.NO_NO_PERMISSION)  # only the owner administers its rights ("a" not delegated)
    box = await resolve(s, name)
    if box is None:
        raise No(responses.NO_NONEXISTENT)
    if "a" not in box.rights:
        # A dossier view (imap/dossier_view.py) resolves outside Shared/ with `lr` only: before this check
        # a professional in care could read its ACL and SETACL grants on the patient's dossier folder.
        raise No(responses.NO_NO_PERMISSION)
    return box.folder


async def _grantee(s: Session, token) -> AccountRow | None:
    address = astring(token).decode("utf-8", "replace").lower()
    return await s.hub.read(lambda conn: account_repo.by_address(conn, address))


@command("SETACL", AUTH, SELECTED)
async def setacl(s: Session, tag: bytes, args: list, uid: bool) -> bytes:
    if len(args) != 3:
        raise Bad(responses.BAD_SYNTAX)
    folder = await _own_folder(s, args[0])
    change = _rights(args[2])
    grantee = await _grantee(s, args[1])
    if grantee is None or grantee.id == s.account.id:
        raise No(b"No such identifier")

    def work(conn) -> None:
        current = dict(grants.grants_for(conn, grantee.id)).get(folder.id, "")
        if change.startswith("+"):
            new = "".join(r for r in ALL_RIGHTS if r in current or r in change)
        elif change.startswith("-"):
            new = "".join(r for r in current if r not in change)
        else:
            new = "".join(r for r in ALL_RIGHTS if r in change)
        grants.grant(conn, folder.id, grantee.id, new)

    await s.hub.write(work)
    return responses.OK_DONE


@command("DELETEACL", AUTH, SELECTED)
async def deleteacl(s: Session, tag: bytes, args: list, uid: bool) -> bytes:
    if len(args) != 2:
        raise Bad(responses.BAD_SYNTAX)
    folder = await _own_folder(s, args[0])
    grantee = await _grantee(s, args[1])
    if grantee is not None:
        await s.hub.write(lambda conn: grants.grant(conn, folder.id, grantee.id, ""))
    return responses.OK_DONE


@command("GETACL", AUTH, SELECTED)
async def getacl(s: Session, tag: bytes, args: list, uid: bool) -> bytes:
    if len(args) != 1:
        raise Bad(responses.BAD_SYNTAX)
    folder = await _own_folder(s, args[0])

    def read(conn):
        rows = grants.grants_on(conn, folder.id)
        return [(account_repo.by_id(conn, grantee).address, rights) for grantee, rights in rows]

    entries = [(s.account.address, ALL_RIGHTS)] + await s.hub.read(read)
    body = b" ".join(wire.string(a) + b" " + r.encode() for a, r in entries)
    s.untagged(b"ACL " + wire.string(encode_mailbox(mailbox_name(args[0]))) + b" " + body)
    return responses.OK_DONE


@command("MYRIGHTS", AUTH, SELECTED)
async def myrights(s: Session, tag: bytes, args: list, uid: bool) -> bytes:
    if len(args) != 1:
        raise Bad(responses.BAD_SYNTAX)
    name = mailbox_name(args[0])
    box = await resolve(s, name)
    if box is None:
        raise No(responses.NO_NONEXISTENT)
    s.untagged(b"MYRIGHTS " + wire.string(encode_mailbox(name)) + b" " + box.rights.encode())
    return responses.OK_DONE


@command("LISTRIGHTS", AUTH, SELECTED)
async def listrights(s: Session, tag: bytes, args: list, uid: bool) -> bytes:
    if len(args) != 2:
        raise Bad(responses.BAD_SYNTAX)
    await _own_folder(s, args[0])
    s.untagged(b"LISTRIGHTS " + wire.string(encode_mailbox(mailbox_name(args[0]))) + b" "
               + wire.string(astring(args[1])) + b' "" ' + b" ".join(ch.encode() for ch in ALL_RIGHTS))
    return responses.OK_DONE
