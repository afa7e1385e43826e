"""Rights an account holds on another account's folder (RFC 4314 letters), for IMAP sharing and
for sending on an organisation's behalf.
"""

from __future__ import annotations

from sqlalchemy import Connection, ForeignKey, Integer, String, UniqueConstraint, delete, insert, select
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base


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
