"""Rights an account holds on another account's folder (RFC 4314 letters), for IMAP sharing and
for sending on an organisation's behalf.
"""

from __future__ import annotations

from sqlalchemy import Connection, ForeignKey, Integer, String, UniqueConstraint, delete, insert, select
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Account, AccountStatus, AccountType, Base, Folder

DELEGATED_SEND_RIGHT = "p"  # RFC 4314 "post": lets a member send in the organisation's name


class FolderGrant(Base):
    """Rights an account holds on another account's folder (letters of RFC 4314: l r s w i p t e k x a)."""

    __tablename__ = "imap_folder_grants"
    __table_args__ = (UniqueConstraint("folder_id", "grantee_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    folder_id: Mapped[int] = mapped_column(ForeignKey("folders.id", ondelete="CASCADE"))
    grantee_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    rights: Mapped[str] = mapped_column(String(32), default="lrs")


def grants_for(conn: Connection, grantee_id: int) -> list[tuple[int, str]]:
    """(folder id, rights) of every folder shared with this account."""
    return [(r.folder_id, r.rights) for r in conn.execute(
        select(FolderGrant.folder_id, FolderGrant.rights).where(FolderGrant.grantee_id == grantee_id))]


def grant(conn: Connection, folder_id: int, grantee_id: int, rights: str) -> None:
    conn.execute(delete(FolderGrant).where(FolderGrant.folder_id == folder_id, FolderGrant.grantee_id == grantee_id))
    if rights:
        conn.execute(insert(FolderGrant).values(folder_id=folder_id, grantee_id=grantee_id, rights=rights))


def grants_on(conn: Connection, folder_id: int) -> list[tuple[int, str]]:
    """(grantee account id, rights) of every grant on one folder."""
    return [(r.grantee_id, r.rights) for r in conn.execute(
        select(FolderGrant.grantee_id, FolderGrant.rights).where(FolderGrant.folder_id == folder_id))]


def may_post_as(conn: Connection, account_id: int, address: str) -> bool:
    """True if `address` is an active ORG mailbox that delegates sending to this account.

    Delegation is the IMAP ACL (RFC 4314) on the organisation's INBOX: the `p` (post) right.
    Checked for MAIL FROM and for the header From / Sender at submission.
    """
    row = conn.execute(
        select(FolderGrant.rights)
        .join(Folder, Folder.id == FolderGrant.folder_id)
        .join(Account, Account.id == Folder.account_id)
        .where(Account.address == address.lower(), Account.type == AccountType.ORG.value,
               Account.status == AccountStatus.ACTIVE.value, Folder.name == "INBOX",
               FolderGrant.grantee_id == account_id)
    ).first()
    return row is not None and DELEGATED_SEND_RIGHT in row.rights
