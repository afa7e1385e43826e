"""The professionals' read-only views of a patient's agenda and profil médical: hidden folders of the patient's.

`.professionnels/Agenda` holds the current version of each appointment a professional or a service filed;
`.professionnels/Dossier/Profil` the current version of each profile entry professionals may read. IMAP serves
them as `Patients/<INS>/Agenda` and `Patients/<INS>/Dossier/Profil` (mssante_hub/imap/dossier_view.py). A body
is placed here only when the hub's own key opens it (the views are read with it); the patient's own folders keep
every version. Like the dossier's views (storage/dossier.py), a body taken out is an IMAP expunge for the
professionals' sessions. Decides nothing: what belongs in a view is the caller's rule (agenda/, profile/).
"""

from __future__ import annotations

from sqlalchemy import Connection, delete, insert, select

from storage.folders import allocate_uids, create_folder, folder_id, new_modseq
from storage.models import Blob, Folder, Message, WrappedKey, utcnow
from storage.sync import record_expunged

# The same prefix as mssante_hub/dossier/categories.py's PROFESSIONAL_PREFIX: hidden from the patient's folders.
AGENDA_VIEW = ".professionnels/Agenda"
PROFILE_VIEW = ".professionnels/Dossier/Profil"
VIEWS = (AGENDA_VIEW, PROFILE_VIEW)


def place(conn: Connection, account_id: int, view: str, blob_ids: list[str]) -> int:
    """Put bodies in one of the patient's views (made on the first), each once; returns how many were placed."""
    if not blob_ids:
        return 0
    target = folder_id(conn, account_id, view) or create_folder(conn, account_id, view)
    held = set(conn.execute(select(Message.blob_id).where(Message.folder_id == target,
                                                          Message.blob_id.in_(sorted(set(blob_ids))))).scalars())
    wanted = [b for b in dict.fromkeys(blob_ids) if b not in held]
    if not wanted:
        return 0
    sizes = dict(conn.execute(select(Blob.id, Blob.size).where(Blob.id.in_(wanted))).all())
    first, modseq = allocate_uids(conn, target, len(wanted))
    now = utcnow()
    conn.execute(insert(Message), [{"folder_id": target, "uid": first + i, "modseq": modseq, "flags": "",
                                    "internal_date": now, "size": sizes[b], "blob_id": b}
                                   for i, b in enumerate(wanted)])
    return len(wanted)


def unplace(conn: Connection, account_id: int, view: str, blob_ids: list[str]) -> None:
    """Take bodies out of one of the patient's views; the bodies and the patient's own placements stay."""
    if not blob_ids:
        return
    target = folder_id(conn, account_id, view)
    if target is None:
        return
    rows = conn.execute(select(Message.id, Message.uid).where(
        Message.folder_id == target, Message.blob_id.in_(sorted(set(blob_ids))))).all()
    if rows:
        conn.execute(delete(Message).where(Message.id.in_([r.id for r in rows])))
        record_expunged(conn, target, [r.uid for r in rows], new_modseq(conn, target))


def openable_by(conn: Connection, reader_id: int, blob_ids: list[str]) -> set[str]:
    """The bodies among `blob_ids` that `reader_id` (the hub's own account) holds a wrapped key for."""
    if not blob_ids:
        return set()
    return set(conn.execute(select(WrappedKey.blob_id).where(WrappedKey.account_id == reader_id,
                                                             WrappedKey.blob_id.in_(sorted(set(blob_ids))))).scalars())


def placed(conn: Connection, account_id: int, view: str) -> set[str]:
    """The bodies in one of the patient's views."""
    return set(conn.execute(select(Message.blob_id).join(Folder, Folder.id == Message.folder_id).where(
        Folder.account_id == account_id, Folder.name == view)).scalars())


def keys_of(conn: Connection, reader_id: int, blob_ids: list[str]) -> dict[str, bytes]:
    """blob id -> the content key wrapped for `reader_id`, of the bodies among `blob_ids` it holds one for."""
    if not blob_ids:
        return {}
    return dict(conn.execute(select(WrappedKey.blob_id, WrappedKey.wrapped).where(
        WrappedKey.account_id == reader_id, WrappedKey.blob_id.in_(sorted(set(blob_ids))))).all())


def add_keys(conn: Connection, reader_id: int, wrapped: dict[str, bytes]) -> int:
    """Content keys newly wrapped for `reader_id` (the back-fill of entries filed before the views), each once."""
    missing = {b: w for b, w in wrapped.items() if b not in openable_by(conn, reader_id, list(wrapped))}
    if missing:
        conn.execute(insert(WrappedKey), [{"blob_id": b, "account_id": reader_id, "wrapped": w}
                                          for b, w in missing.items()])
    return len(missing)
