"""The patient's dossier: an index row per filed document, and messages held in quarantine.

A filed document is an ordinary stored message (blob, wrapped key, a row in the patient's
`Dossier/<category>` folder); its index row here says what it is. What is in clear, and why
no health content leaks from it (docs/dossier.md, "What the index holds"):

- category: the folder name says it already (folder names are not encrypted);
- effective and filing dates, version number, state (current or replaced);
- confidentiality codes (N, MASQUE_PS, INVISIBLE_PATIENT, INVISIBLE_REPRESENTANTS_LEGAUX): who may see the
  row is decided in SQL, and the codes say nothing of what the document is about;
- keyed digests (HMAC under a key the hub derives) of the setId, of the author's idNatPS and of the
  author's structure: equality look-ups for versions (docs/domain.md §4.4, 900/901) without the
  identifiers themselves, which would say which professionals treat the patient.

Everything else (title, type code, author id and name, custodian, setId, ...) is in `sealed`, under the
document's own content key, which is wrapped for the patient like any message's.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

from sqlalchemy import (Boolean, Connection, DateTime, ForeignKey, Index, Integer, LargeBinary, String, and_, delete,
                        bindparam, func, insert, literal, or_, select, update)
from sqlalchemy.orm import Mapped, mapped_column

from storage import blobstore
from storage.models import Base, Blob, Message, OutboundItem, WrappedKey, utcnow

CURRENT = "current"
REPLACED = "replaced"


class DossierDocument(Base):
    """One version of one document filed in a patient's dossier."""

    __tablename__ = "dossier_documents"
    __table_args__ = (
        Index("ix_dossier_account_category", "account_id", "category", "state", "effective_at"),
        Index("ix_dossier_account_set", "account_id", "set_key"),
        Index("ix_dossier_source", "source_blob_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    blob_id: Mapped[str] = mapped_column(ForeignKey("blobs.id", ondelete="CASCADE"), unique=True)
    source_blob_id: Mapped[str] = mapped_column(String(32))  # the covering message (it may be deleted later)
    category: Mapped[str] = mapped_column(String(8))
    effective_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    filed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    set_key: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1)
    structure_key: Mapped[str] = mapped_column(String(64), default="")
    author_key: Mapped[str] = mapped_column(String(64), default="")
    confidentiality: Mapped[str] = mapped_column(String(120), default="N")  # space-separated codes
    state: Mapped[str] = mapped_column(String(10), default=CURRENT)
    hidden_from_professionals: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    sealed: Mapped[bytes] = mapped_column(LargeBinary)  # JSON under the document's content key
    # The covering message's PGP/MIME signature (RFC 3156): "" none, "good" by a key the sender registered, "bad".
    signature: Mapped[str] = mapped_column(String(8), default="", server_default="")


# The listing's order (page below: newest first on the sort date, then id), for a category and for the whole
# dossier: a page reads its rows in order instead of sorting the category (migration 0017).
_SORT_DATE = func.coalesce(DossierDocument.effective_at, DossierDocument.filed_at)
Index("ix_dossier_listing", DossierDocument.account_id, DossierDocument.category, DossierDocument.state, _SORT_DATE,
      DossierDocument.id)
Index("ix_dossier_listing_all", DossierDocument.account_id, DossierDocument.state, _SORT_DATE, DossierDocument.id)


class DossierQuarantine(Base):
    """A document message held out of a patient's folders: it is about someone else (902/904)."""

    __tablename__ = "dossier_quarantine"
    __table_args__ = (Index("ix_dossier_quarantine_held", "held_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    blob_id: Mapped[str] = mapped_column(ForeignKey("blobs.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(4))
    held_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DossierImport(Base):
    """A package of a migration import, done: its SHA-256 and outcome (no name, no content)."""

    __tablename__ = "dossier_imports"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(40))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def record_import(conn: Connection, key: str, outcome: str) -> None:
    conn.execute(insert(DossierImport).values(key=key, outcome=outcome, at=utcnow()))


def imported(conn: Connection, keys: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for start in range(0, len(keys), 500):
        found.update(conn.execute(select(DossierImport.key, DossierImport.outcome)
                                  .where(DossierImport.key.in_(keys[start:start + 500]))).all())
    return found


BLOCK = "block"
GRANT = "grant"


class DossierAccessRule(Base):
    """The patient's word about one professional: blocked from the dossier, or granted it."""

    __tablename__ = "dossier_access_rules"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    address: Mapped[str] = mapped_column(String(320), primary_key=True)  # the professional, lower case
    rule: Mapped[str] = mapped_column(String(8))  # BLOCK or GRANT
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DossierEmergency(Base):
    """An emergency access ("bris de glace") opened by a professional: flagged, to be reviewed later."""

    __tablename__ = "dossier_emergency"
    __table_args__ = (Index("ix_dossier_emergency_pair", "account_id", "address", "opened_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    address: Mapped[str] = mapped_column(String(320))
    opened_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)


def access_rules(conn: Connection, account_id: int) -> dict[str, str]:
    rows = conn.execute(select(DossierAccessRule.address, DossierAccessRule.rule)
                        .where(DossierAccessRule.account_id == account_id))
    return {r.address: r.rule for r in rows}


def set_access_rule(conn: Connection, account_id: int, address: str, rule: str | None) -> None:
    """Block or grant one professional (None: back to the default, care decides)."""
    conn.execute(delete(DossierAccessRule).where(DossierAccessRule.account_id == account_id,
                                                 DossierAccessRule.address == address))
    if rule is not None:
        conn.execute(insert(DossierAccessRule).values(account_id=account_id, address=address, rule=rule,
                                                      at=utcnow()))


def open_emergency(conn: Connection, account_id: int, address: str, now: dt.datetime) -> None:
    conn.execute(insert(DossierEmergency).values(account_id=account_id, address=address, opened_at=now))


def emergency_since(conn: Connection, account_id: int, address: str, since: dt.datetime) -> bool:
    return conn.execute(select(func.count()).select_from(DossierEmergency).where(
        DossierEmergency.account_id == account_id, DossierEmergency.address == address,
        DossierEmergency.opened_at >= since)).scalar_one() > 0


def emergencies_to_review(conn: Connection) -> list[tuple[int, dt.datetime, str, int]]:
    """(id, opened at, professional, patient account id) of every emergency access not yet reviewed."""
    return [tuple(r) for r in conn.execute(
        select(DossierEmergency.id, DossierEmergency.opened_at, DossierEmergency.address, DossierEmergency.account_id)
        .where(DossierEmergency.reviewed_at.is_(None)).order_by(DossierEmergency.id))]


def mark_reviewed(conn: Connection, emergency_id: int) -> bool:
    return conn.execute(update(DossierEmergency).where(DossierEmergency.id == emergency_id,
                                                       DossierEmergency.reviewed_at.is_(None))
                        .values(reviewed_at=utcnow())).rowcount == 1


@dataclass(frozen=True)
class HeldVersion:
    """The current version of a document set, as the version rules need it."""

    set_key: str
    version: int
    structure_key: str
    confidentiality: str
    blob_id: str


@dataclass(frozen=True)
class NewDocument:
    """An index row to write (picklable: the prepare pool builds it in a child process)."""

    account_id: int
    blob_id: str
    source_blob_id: str
    category: str
    effective_at: dt.datetime | None
    set_key: str
    version: int
    structure_key: str
    author_key: str
    confidentiality: str
    sealed: bytes
    signature: str = ""  # "" not signed, "good", "bad", "unknown" (mssante_hub/dossier/signatures.py)


def held_versions(conn: Connection, account_id: int, set_keys: list[str]) -> dict[str, HeldVersion]:
    """The current version of each set of this patient's dossier, by set key."""
    if not set_keys:
        return {}
    rows = conn.execute(
        select(DossierDocument.set_key, DossierDocument.version, DossierDocument.structure_key,
               DossierDocument.confidentiality, DossierDocument.blob_id)
        .where(DossierDocument.account_id == account_id, DossierDocument.set_key.in_(sorted(set(set_keys))),
               DossierDocument.state == CURRENT)
    )
    return {r.set_key: HeldVersion(*r) for r in rows}


def file_document(conn: Connection, row: NewDocument) -> None:
    """Write the index row in the delivery's transaction; the version it replaces is marked replaced.

    prepare() already refused a version not higher than the one held (900). Should another message
    of the same set have been committed in between, the higher version stays current and this one
    goes to the history: the listing never shows two current versions of a set.
    """
    higher = conn.execute(
        select(func.count()).select_from(DossierDocument).where(
            DossierDocument.account_id == row.account_id, DossierDocument.set_key == row.set_key,
            DossierDocument.state == CURRENT, DossierDocument.version >= row.version)
    ).scalar_one()
    if not higher:
        conn.execute(update(DossierDocument).where(
            DossierDocument.account_id == row.account_id, DossierDocument.set_key == row.set_key,
            DossierDocument.state == CURRENT).values(state=REPLACED))
    conn.execute(insert(DossierDocument).values(
        account_id=row.account_id, blob_id=row.blob_id, source_blob_id=row.source_blob_id, category=row.category,
        effective_at=row.effective_at, filed_at=utcnow(), set_key=row.set_key, version=row.version,
        structure_key=row.structure_key, author_key=row.author_key, confidentiality=row.confidentiality,
        state=REPLACED if higher else CURRENT, sealed=row.sealed, signature=row.signature))
    # The professionals' view lists current versions only (the patient's folders keep the history).
    replaced = conn.execute(select(DossierDocument.blob_id).where(
        DossierDocument.account_id == row.account_id, DossierDocument.set_key == row.set_key,
        DossierDocument.state == REPLACED)).scalars().all()
    unplace_professional(conn, row.account_id, list(replaced))


def hold(conn: Connection, account_id: int, blob_id: str, code: str) -> None:
    """Quarantine: the message's body stays sealed (its key wrapped for the hub only), in no folder."""
    conn.execute(insert(DossierQuarantine).values(account_id=account_id, blob_id=blob_id, code=code,
                                                  held_at=utcnow()))


def quarantine_count(conn: Connection) -> int:
    """What the operator sees of the quarantine: a count, nothing else."""
    return int(conn.execute(select(func.count()).select_from(DossierQuarantine)).scalar_one())


def purge_quarantine(conn: Connection, before: dt.datetime) -> int:
    """Delete messages held since before `before`: their rows, and their bodies unless placed elsewhere."""
    held = conn.execute(select(DossierQuarantine.id, DossierQuarantine.blob_id)
                        .where(DossierQuarantine.held_at < before)).all()
    if not held:
        return 0
    conn.execute(delete(DossierQuarantine).where(DossierQuarantine.id.in_([h.id for h in held])))
    blob_ids = sorted({h.blob_id for h in held})
    still_used = set(conn.execute(select(Message.blob_id).where(Message.blob_id.in_(blob_ids))).scalars())
    still_used |= set(conn.execute(select(OutboundItem.blob_id).where(OutboundItem.blob_id.in_(blob_ids))).scalars())
    still_used |= set(conn.execute(select(DossierQuarantine.blob_id)
                                   .where(DossierQuarantine.blob_id.in_(blob_ids))).scalars())
    gone = [b for b in blob_ids if b not in still_used]
    if gone:
        conn.execute(delete(WrappedKey).where(WrappedKey.blob_id.in_(gone)))
        conn.execute(delete(Blob).where(Blob.id.in_(gone)))
        blobstore.of(conn).forget(gone)
    return len(held)


# Shapes of the listing's statement (with or without category and cursor, per set of excluded codes) kept built.
PAGE_STATEMENT_SHAPES = 32


@dataclass(frozen=True)
class IndexRow:
    id: int
    blob_id: str
    source_blob_id: str
    category: str
    effective_at: dt.datetime | None
    filed_at: dt.datetime
    version: int
    confidentiality: str
    state: str
    hidden_from_professionals: bool
    sealed: bytes
    wrapped: bytes | None  # the reader's key to the document (and to `sealed`)
    set_key: str
    signature: str = ""


_INDEX_COLUMNS = (DossierDocument.id, DossierDocument.blob_id, DossierDocument.source_blob_id,
                  DossierDocument.category, DossierDocument.effective_at, DossierDocument.filed_at,
                  DossierDocument.version, DossierDocument.confidentiality, DossierDocument.state,
                  DossierDocument.hidden_from_professionals, DossierDocument.sealed, WrappedKey.wrapped,
                  DossierDocument.set_key, DossierDocument.signature)


def _index_query(account_id: int, reader_id: int):
    return (select(*_INDEX_COLUMNS)
            .outerjoin(WrappedKey, and_(WrappedKey.blob_id == DossierDocument.blob_id,
                                        WrappedKey.account_id == reader_id))
            .where(DossierDocument.account_id == account_id))


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    return value.replace(tzinfo=dt.timezone.utc) if value is not None and value.tzinfo is None else value


def _rows(conn: Connection, query, parameters: dict | None = None) -> list[IndexRow]:
    # Unpacked by position (the order of _INDEX_COLUMNS), in one fetchall: a listing page builds 51 rows per
    # request, and the named access of each field cost more than SQLite's reading of them.
    return [IndexRow(id_, blob_id, source, category, _aware(effective), _aware(filed), version, codes, state,
                     bool(hidden), sealed, wrapped, set_key, signature)
            for (id_, blob_id, source, category, effective, filed, version, codes, state, hidden, sealed, wrapped,
                 set_key, signature) in conn.execute(query, parameters).all()]


def documents(conn: Connection, account_id: int, reader_id: int, category: str | None = None,
              current_only: bool = True) -> list[IndexRow]:
    """Index rows of one dossier, newest first (effective date, then filing)."""
    query = _index_query(account_id, reader_id)
    if category is not None:
        query = query.where(DossierDocument.category == category)
    if current_only:
        query = query.where(DossierDocument.state == CURRENT)
    order = func.coalesce(DossierDocument.effective_at, DossierDocument.filed_at)
    return _rows(conn, query.order_by(order.desc(), DossierDocument.id.desc()))


@dataclass(frozen=True)
class After:
    """Where a page of the listing starts: after the row of this sort key (its date, then its id)."""

    at: dt.datetime
    id: int


def sort_date(row: IndexRow) -> dt.datetime:
    """The listing's sort date of a row: its effective date, else its filing date (as `documents` orders)."""
    return row.effective_at or row.filed_at


def _current_for(account_id: int, reader_id: int, excluded_codes: tuple[str, ...]):
    """Current rows `reader_id` holds a key to, without those carrying any of `excluded_codes`."""
    query = _index_query(account_id, reader_id).where(DossierDocument.state == CURRENT,
                                                      WrappedKey.wrapped.is_not(None))
    # Codes are stored as space-separated words (masking.clean_codes): pad both sides to match whole words;
    # autoescape, as "_" in a code would be LIKE's any-character.
    padded = literal(" ") + DossierDocument.confidentiality + literal(" ")
    for code in excluded_codes:
        query = query.where(~padded.contains(f" {code} ", autoescape=True))
    return query


def recently_filed(conn: Connection, account_id: int, reader_id: int, excluded_codes: tuple[str, ...],
                   since: dt.datetime, limit: int) -> list[IndexRow]:
    """Up to `limit` current rows filed since `since`, the latest filed first (Accueil's new documents)."""
    query = _current_for(account_id, reader_id, excluded_codes).where(DossierDocument.filed_at >= since)
    return _rows(conn, query.order_by(DossierDocument.filed_at.desc(), DossierDocument.id.desc()).limit(limit))


def page(conn: Connection, account_id: int, reader_id: int, category: str | None, excluded_codes: tuple[str, ...],
         limit: int, after: After | None = None) -> list[IndexRow]:
    """Up to `limit` current rows of one dossier that `reader_id` holds a key to, newest first as `documents`,
    after `after`; rows carrying any of `excluded_codes` are left out here, in SQL, so that a page is full
    whenever more rows follow. Keyset on (sort date, id): no OFFSET, and the patient's other rows are never
    read out of the database (ix_dossier_account_category narrows to the account, category and state)."""
    parameters = {"account_id": account_id, "reader_id": reader_id, "limit": limit}
    if category is not None:
        parameters["category"] = category
    if after is not None:
        parameters["after_at"], parameters["after_id"] = after.at, after.id
    return _rows(conn, _page_statement(category is not None, after is not None, tuple(excluded_codes)), parameters)


@functools.lru_cache(maxsize=PAGE_STATEMENT_SHAPES)
def _page_statement(by_category: bool, paged: bool, excluded_codes: tuple[str, ...]):
    """The statement of `page` for one shape, built once with bound parameters: building a select with its
    joins and LIKEs took several times what SQLite spends running it. The codes are the callers' constants
    (masking's), never a request's words, so they may stay literal in the cached statement."""
    order = func.coalesce(DossierDocument.effective_at, DossierDocument.filed_at)
    query = _current_for(bindparam("account_id", type_=Integer), bindparam("reader_id", type_=Integer),
                         excluded_codes)
    if by_category:
        query = query.where(DossierDocument.category == bindparam("category", type_=String))
    if paged:
        at, at_id = bindparam("after_at", type_=DossierDocument.filed_at.type), bindparam("after_id", type_=Integer)
        query = query.where(or_(order < at, and_(order == at, DossierDocument.id < at_id)))
    return query.order_by(order.desc(), DossierDocument.id.desc()).limit(bindparam("limit", type_=Integer))


def document(conn: Connection, account_id: int, reader_id: int, document_id: int) -> IndexRow | None:
    found = _rows(conn, _index_query(account_id, reader_id).where(DossierDocument.id == document_id))
    return found[0] if found else None


def versions(conn: Connection, account_id: int, reader_id: int, set_key: str) -> list[IndexRow]:
    """Every version of one set, highest first (the history)."""
    return _rows(conn, _index_query(account_id, reader_id).where(DossierDocument.set_key == set_key)
                 .order_by(DossierDocument.version.desc(), DossierDocument.id.desc()))


def filed_from(conn: Connection, account_id: int, source_blob_id: str) -> list[int]:
    """The documents a covering message filed (its links)."""
    return list(conn.execute(select(DossierDocument.id).where(
        DossierDocument.account_id == account_id, DossierDocument.source_blob_id == source_blob_id)
        .order_by(DossierDocument.id)).scalars())


def set_hidden(conn: Connection, account_id: int, document_id: int, hidden: bool) -> bool:
    """The patient's choice to hide a document (all its versions) from professionals; False if no such.

    The professionals' view follows in the same transaction: the document leaves it, or its current
    version comes back (unless coded MASQUE_PS, which professionals never see).
    """
    row = conn.execute(select(DossierDocument.set_key).where(
        DossierDocument.account_id == account_id, DossierDocument.id == document_id)).first()
    if row is None:
        return False
    conn.execute(update(DossierDocument).where(DossierDocument.account_id == account_id,
                                               DossierDocument.set_key == row.set_key)
                 .values(hidden_from_professionals=hidden))
    versions_of = conn.execute(select(DossierDocument.blob_id, DossierDocument.state, DossierDocument.category,
                                      DossierDocument.confidentiality, DossierDocument.author_key)
                               .where(DossierDocument.account_id == account_id,
                                      DossierDocument.set_key == row.set_key)).all()
    unplace_professional(conn, account_id, [v.blob_id for v in versions_of])
    if not hidden:
        # Only a body the hub's key opens goes in a view (the views are read with it): a document the patient
        # filed themselves is sealed for them alone, and was never in one.
        hub_opens = set(conn.execute(select(WrappedKey.blob_id).where(
            WrappedKey.blob_id.in_(sorted({v.blob_id for v in versions_of})),
            WrappedKey.account_id != account_id)).scalars())
        for v in versions_of:
            if v.state == CURRENT and v.blob_id in hub_opens:
                place_professional(conn, account_id, v.category, v.blob_id,
                                   masked=MASQUE_PS in v.confidentiality.split(), author_key=v.author_key)
    return True


# --- The professionals' view: folders PROFESSIONAL_PREFIX + "Dossier/<category>" of the patient ---------

PROFESSIONAL_PREFIX = ".professionnels/Dossier/"  # mssante_hub/dossier/categories.py names the same folders
GP_PREFIX = ".professionnels/medecin-traitant/Dossier/"  # the declared GP's view: MASQUE_PS documents too
AUTHOR_PREFIX = ".professionnels/auteur/"  # + <author key>/Dossier/<category>: an author's own MASQUE_PS documents
MASQUE_PS = "MASQUE_PS"  # mssante_hub/dossier/masking.py: never in the professionals' view
INVISIBLE_REPRESENTANTS_LEGAUX = "INVISIBLE_REPRESENTANTS_LEGAUX"  # mssante_hub/dossier/masking.py


def unplace_professional(conn: Connection, account_id: int, blob_ids: list[str]) -> None:
    """Take bodies out of the professionals' view (an IMAP expunge for their sessions); the bodies stay."""
    if not blob_ids:
        return
    from storage.folders import new_modseq
    from storage.models import Folder
    from storage.sync import record_expunged

    rows = conn.execute(select(Message.id, Message.uid, Message.folder_id)
                        .join(Folder, Folder.id == Message.folder_id)
                        .where(Folder.account_id == account_id,
                               or_(Folder.name.startswith(PROFESSIONAL_PREFIX), Folder.name.startswith(GP_PREFIX),
                                   Folder.name.startswith(AUTHOR_PREFIX)),
                               Message.blob_id.in_(sorted(set(blob_ids))))).all()
    by_folder: dict[int, list] = {}
    for r in rows:
        by_folder.setdefault(r.folder_id, []).append(r)
    for folder_id, placed in by_folder.items():
        conn.execute(delete(Message).where(Message.id.in_([r.id for r in placed])))
        record_expunged(conn, folder_id, [r.uid for r in placed], new_modseq(conn, folder_id))


def _view_names(category: str, masked: bool, author_key: str) -> list[str]:
    """The view folders a current document not hidden by the patient belongs in."""
    names = [GP_PREFIX + category] if masked else [PROFESSIONAL_PREFIX + category, GP_PREFIX + category]
    if masked and author_key:
        names.append(f"{AUTHOR_PREFIX}{author_key}/Dossier/{category}")
    return names


def _place(conn: Connection, account_id: int, blob_id: str, names: list[str]) -> None:
    from storage.folders import allocate_uids, create_folder, folder_id

    size = conn.execute(select(Blob.size).where(Blob.id == blob_id)).scalar_one()
    for name in names:
        target = folder_id(conn, account_id, name) or create_folder(conn, account_id, name)
        uid, modseq = allocate_uids(conn, target, 1)
        conn.execute(insert(Message).values(folder_id=target, uid=uid, modseq=modseq, flags="",
                                            internal_date=utcnow(), size=size, blob_id=blob_id))


def place_professional(conn: Connection, account_id: int, category: str, blob_id: str,
                       masked: bool = False, author_key: str = "") -> None:
    """Put a body back in the professionals' view (unless `masked`: MASQUE_PS), in the declared GP's, and (when
    `masked`) in its author's."""
    _place(conn, account_id, blob_id, _view_names(category, masked, author_key))


def backfill_views(conn: Connection, account_id: int, system_id: int) -> int:
    """Place every current document the patient has not hidden in each view that lacks it (the professionals',
    the GP's, its author's when MASQUE_PS), as filing places it today: documents filed before a view existed
    are not in it. Only documents the hub's own key opens (`system_id`: the views are read with it; a document
    the patient filed themselves is sealed for them alone). Returns the placements made; none when nothing
    is missing."""
    from storage.models import Folder

    documents = conn.execute(
        select(DossierDocument.blob_id, DossierDocument.category, DossierDocument.confidentiality,
               DossierDocument.author_key)
        .join(WrappedKey, and_(WrappedKey.blob_id == DossierDocument.blob_id, WrappedKey.account_id == system_id))
        .where(DossierDocument.account_id == account_id, DossierDocument.state == CURRENT,
               DossierDocument.hidden_from_professionals.is_(False))
        .order_by(DossierDocument.id)).all()
    if not documents:
        return 0
    placed = set(conn.execute(
        select(Folder.name, Message.blob_id).join(Folder, Folder.id == Message.folder_id)
        .where(Folder.account_id == account_id, Folder.name.startswith(".professionnels/"))).all())
    made = 0
    for d in documents:
        missing = [name for name in _view_names(d.category, MASQUE_PS in d.confidentiality.split(), d.author_key)
                   if (name, d.blob_id) not in placed]
        if missing:
            _place(conn, account_id, d.blob_id, missing)
            made += len(missing)
    return made


def counts_by_category(conn: Connection, account_id: int, excluded_codes: tuple[str, ...] = ()) -> dict[str, int]:
    """Current documents per category, leaving out those carrying any of `excluded_codes`."""
    query = (select(DossierDocument.category, DossierDocument.confidentiality, func.count())
             .where(DossierDocument.account_id == account_id, DossierDocument.state == CURRENT)
             .group_by(DossierDocument.category, DossierDocument.confidentiality))
    counts: dict[str, int] = {}
    for category, codes, count in conn.execute(query):
        if excluded_codes and set(codes.split()) & set(excluded_codes):
            continue
        counts[category] = counts.get(category, 0) + count
    return counts


def placed_message(conn: Connection, account_id: int, blob_id: str) -> int | None:
    """The id of the message row placing this body in the account's folders (the covering message's link)."""
    from storage.models import Folder

    return conn.execute(select(Message.id).join(Folder, Folder.id == Message.folder_id).where(
        Folder.account_id == account_id, Message.blob_id == blob_id).order_by(Message.id).limit(1)).scalar()


@dataclass(frozen=True)
class StoredItem:
    """A filed document's stored body, for Reader.body."""

    blob_id: str
    wrapped: bytes | None
    body: bytes


def item(conn: Connection, row: IndexRow) -> StoredItem:
    body = conn.execute(select(Blob.body).where(Blob.id == row.blob_id)).scalar_one()
    return StoredItem(row.blob_id, row.wrapped, body)


def withheld_from_representatives(conn: Connection, account_id: int) -> frozenset[str]:
    """Bodies of this space a legal representative must not reach: each document coded
    INVISIBLE_REPRESENTANTS_LEGAUX (every version) and the covering message that carried it."""
    rows = conn.execute(select(DossierDocument.blob_id, DossierDocument.source_blob_id).where(
        DossierDocument.account_id == account_id,
        DossierDocument.confidentiality.like(f"%{INVISIBLE_REPRESENTANTS_LEGAUX}%")))
    return frozenset(blob for row in rows for blob in row)


def placed_flags(conn: Connection, folder_id: int, blob_ids: frozenset[str]) -> list[str]:
    """The flags of each message of one folder whose body is one of `blob_ids` (to leave them out of counts)."""
    if not blob_ids:
        return []
    return list(conn.execute(select(Message.flags).where(Message.folder_id == folder_id,
                                                         Message.blob_id.in_(sorted(blob_ids)))).scalars())
