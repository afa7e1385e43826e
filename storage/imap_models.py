"""IMAP-only tables: access rights on folders (RFC 4314 ACL), expunged UIDs (QRESYNC)."""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
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


class ExpungedUid(Base):
    """A UID removed from a folder, and the MODSEQ of its removal: what QRESYNC reports as VANISHED."""

    __tablename__ = "imap_expunged"
    __table_args__ = (Index("ix_imap_expunged_folder_modseq", "folder_id", "modseq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    folder_id: Mapped[int] = mapped_column(ForeignKey("folders.id", ondelete="CASCADE"))
    uid: Mapped[int] = mapped_column(BigInteger)
    modseq: Mapped[int] = mapped_column(BigInteger)
