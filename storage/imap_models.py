"""IMAP-only tables: access rights on folders (RFC 4314 ACL) for delegated mailboxes."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
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
