"""Professionals' read-only view of patients' dossiers over IMAP (docs/imap.md, docs/dossier.md).

    Patients/<INS>/Dossier/<category>   listed for a professional who may read the dossier (in care,
                                        granted, or under emergency access), rights "lr" only
    Patients/<INS>/Auteur/<category>    the MASQUE_PS documents this professional wrote (their account's RPPS
                                        makes the idNatPS the CDA names): MASQUE_PS does not hide from the author
    Patients/<INS>/Agenda               the appointments professionals and services filed (current versions)
    Patients/<INS>/Dossier/Profil       the profil médical's entries the patient did not hide, and the advance
                                        directives always (storage/views.py, profile/entries.py)
    Urgence/<INS>/Dossier/<category>    SELECT or EXAMINE of such a name (or of Urgence/<INS>/Agenda,
                                        Urgence/<INS>/Dossier/Profil) by a PER mailbox is the emergency
                                        access ("bris de glace"): opened, flagged for review, traced and
                                        notified; for access.EMERGENCY_ACCESS_HOURS the dossier is then
                                        listed under Patients/<INS>/ as well

Each name stands for the patient's professionals' folder of that category (dossier/categories.py):
only what professionals may read is ever placed there (no MASQUE_PS, nothing the patient hid,
current versions only), so the ordinary IMAP machinery (views, FETCH, SEARCH) serves it as is.
Its items are read with the hub's own key (every dossier item is wrapped for it). Every opening
is traced (DOSSIER_ACCESS: who, which category, why) and the patient notified without content;
every document body read is traced too (DossierReader).
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from typing import Any, Callable

from sqlalchemy import Connection, select

from mssante_hub import audit
from mssante_hub.accounts import identity
from mssante_hub.dossier import access, categories, index
from mssante_hub.patients import notifications
from mssante_hub.reader import Reader
from storage import accounts as account_repo
from storage import dossier as dossier_store
from storage import folders
from storage import general_practitioners
from storage import views
from storage.accounts import AccountRow
from storage.models import Account, Folder
from storage.patients import PatientContact

PATIENTS_ROOT = "Patients"
EMERGENCY_ROOT = "Urgence"
DOSSIER = "Dossier"
AUTHORED = "Auteur"  # Patients/<INS>/Auteur/<category>: the author's own MASQUE_PS documents
AGENDA = "Agenda"  # Patients/<INS>/Agenda
PROFILE = "Profil"  # Patients/<INS>/Dossier/Profil
READ_ONLY_RIGHTS = "lr"
# What a name shows: the documents of a category, the agenda, or the profile. Each has its view folder, the
# trace of its opening (action, target word) and the trace word of each body read.
DOCUMENTS = "documents"
_VIEW_OF = {AGENDA: views.AGENDA_VIEW, PROFILE: views.PROFILE_VIEW}
_OPENING = {DOCUMENTS: audit.DOSSIER_ACCESS, AGENDA: audit.AGENDA_ACCESS, PROFILE: audit.PROFILE_READ}
_READ_TARGET = {DOCUMENTS: "dossier-document", AGENDA: "agenda-item", PROFILE: "profile-entry"}
_PART_OF_VIEW = {folder: part for part, folder in _VIEW_OF.items()}


@dataclass(frozen=True)
class DossierName:
    ins: str
    category: categories.Category | None  # None for the agenda and the profile
    emergency: bool
    authored: bool = False
    part: str = DOCUMENTS  # DOCUMENTS, AGENDA or PROFILE


def split(name: str) -> DossierName | None:
    """The parts of a Patients/<INS>/Dossier/<category>, Patients/<INS>/Agenda or Patients/<INS>/Dossier/Profil
    (or Urgence/...) name, else None."""
    parts = name.split("/")
    if len(parts) not in (3, 4) or parts[0] not in (PATIENTS_ROOT, EMERGENCY_ROOT) \
            or not identity.is_valid_ins(parts[1]):
        return None
    if parts[2:] in ([AGENDA], [DOSSIER, PROFILE]):
        return DossierName(parts[1], None, parts[0] == EMERGENCY_ROOT, part=parts[-1])
    if len(parts) != 4 or parts[2] not in (DOSSIER, AUTHORED):
        return None
    category = categories.BY_CODE.get(parts[3])
    if category is None or not identity.is_valid_ins(parts[1]):
        return None
    if parts[2] == AUTHORED and parts[0] == EMERGENCY_ROOT:
        return None  # an emergency opens the dossier, not an author's view
    return DossierName(parts[1], category, parts[0] == EMERGENCY_ROOT, parts[2] == AUTHORED)


def author_key(conn: Connection, hub, patient_id: int, professional_id: int) -> str:
    """The keyed digest of this professional's idNatPS (from an RPPS or an ADELI) in this patient's dossier
    ("" without either)."""
    number = conn.execute(select(Account.rpps).where(Account.id == professional_id)).scalar_one_or_none()
    idnatps = identity.idnatps_of_account(number)
    if not idnatps:
        return ""
    return index.digest(hub, patient_id, index.AUTHOR, f"{identity.OID_IDNATPS}^{idnatps}")


def is_dossier_name(name: str) -> bool:
    return name.split("/", 1)[0] in (PATIENTS_ROOT, EMERGENCY_ROOT)


class DossierReader(Reader):
    """The hub's reader for a professional's dossier session: each document body it opens is traced.

    Once per document and session (a client fetching BODYSTRUCTURE opens every body; listing again is not a
    new read; ENVELOPE comes from the summaries, no body read: imap/fetch.py), and in batches: the traces of
    the bodies opened meanwhile go to the group committer as one multi-row insert, queued without waiting,
    so FETCH answers as it would and the traces are durable within the next commit.
    """

    def __init__(self, hub, system: AccountRow, professional: str, professional_type: str, patient_id: int,
                 target: str = _READ_TARGET[DOCUMENTS]) -> None:
        super().__init__(hub.keyring, system, hub.blobs)
        self._hub, self._professional, self._patient_id, self._target = hub, professional, patient_id, target
        self._actor_type = audit.ActorType.of_account(professional_type).value
        self._lock = threading.Lock()
        self._traced: set[str] = set()
        self._pending: list[str] = []
        self._flush_queued = False

    def body(self, stored, key: bytes | None = None) -> bytes:
        opened = super().body(stored, key)
        with self._lock:
            if stored.blob_id in self._traced:
                return opened
            self._traced.add(stored.blob_id)
            self._pending.append(stored.blob_id)
            if self._flush_queued:
                return opened
            self._flush_queued = True
        self._hub.committer.submit(self._flush)
        return opened

    def _flush(self, conn) -> None:
        with self._lock:
            blobs, self._pending, self._flush_queued = self._pending, [], False
        audit.record_many(conn, [dict(actor=self._professional, actor_type=self._actor_type, action=audit.READ,
                                      subject_account_id=self._patient_id, target=f"{self._target}:{blob} via:imap",
                                      outcome="ok") for blob in blobs])


@dataclass(frozen=True)
class DossierBox:
    """What acl.Mailbox needs, plus the patient and why this professional may read."""

    name: str
    folder: folders.FolderRow
    owner: AccountRow  # the hub's own account: its key opens the items
    rights: str
    patient: AccountRow
    reason: str
    category: str  # the category's code; the agenda's and the profile's names (AGENDA, PROFILE) for those

    def allows(self, right: str) -> bool:
        return right in self.rights


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


async def resolve_and_read(s, name: str, right: str, then: Callable[[Connection, folders.FolderRow], Any] | None
                           ) -> tuple[DossierBox | None, Any]:
    """acl.resolve_and_read for a dossier name; (None, None) when absent or not allowed."""
    wanted = split(name)
    me = s.account
    if wanted is None or me.type not in access.READING_TYPES:
        return None, None
    if wanted.emergency and me.type not in access.EMERGENCY_TYPES:
        return None, None
    now, care_days = _now(), s.hub.config.get("dossier.care_window_days")
    system = s.hub.system_account()

    def read(conn):
        patient = account_repo.by_address(conn, identity.patient_address(
            wanted.ins, s.hub.config.get("hub.patient_domain")))
        if patient is None or patient.status != "active":
            return None, None, None, None
        why = access.reason(conn, patient.id, me.address, now, care_days)
        if why is None and not wanted.emergency:
            return patient, None, None, None
        if wanted.category is None:  # the agenda or the profile: one view for every professional
            row = folders.folder_by_name(conn, patient.id, _VIEW_OF[wanted.part])
        elif wanted.authored:  # the author's own MASQUE_PS documents (docs/domain.md §6.2)
            key = author_key(conn, s.hub, patient.id, me.id)
            row = folders.folder_by_name(conn, patient.id, wanted.category.author_folder(key)) if key else None
        else:
            # The patient's declared GP reads the view that holds MASQUE_PS documents too (docs/domain.md §6.2).
            is_gp = general_practitioners.of_patient(conn, patient.id) == me.address.lower()
            row = folders.folder_by_name(conn, patient.id, wanted.category.view_folder(is_gp))
        extra = then(conn, row) if row is not None and then is not None and right in READ_ONLY_RIGHTS else None
        return patient, why, row, extra

    patient, why, row, extra = await s.hub.read(read)
    if patient is None or (why is None and not wanted.emergency):
        return None, None
    if why is None:  # an emergency access, opened by this very act
        await _open_emergency(s, patient, now)
        why = access.EMERGENCY
    if row is None:
        return None, None  # no document of this category for professionals (the emergency, if any, stays open)
    code = wanted.category.code if wanted.category is not None else wanted.part
    return DossierBox(name, row, system, READ_ONLY_RIGHTS, patient, why, code), extra


async def _open_emergency(s, patient: AccountRow, now: dt.datetime) -> None:
    def work(conn) -> None:
        dossier_store.open_emergency(conn, patient.id, s.account.address, now)
        audit.record(conn, actor=s.account.address, actor_type=audit.ActorType.of_account(s.account.type),
                     action=audit.DOSSIER_EMERGENCY,
                     subject_account_id=patient.id, target=f"account:{patient.id}", outcome="opened")
        notifications.mark_pending(conn, patient.id, notifications.ACCESS)

    await s.hub.write(work)


async def trace_open(s, box: DossierBox) -> None:
    """An opening of a dossier category, of the agenda or of the profile: traced (who, which, why) as the
    patient's own reading of it is (dossier.access, agenda.access, profile.read) and notified without content."""
    part = box.category if box.category in _OPENING else DOCUMENTS
    what = f"category:{box.category}" if part == DOCUMENTS else part.lower()

    def work(conn) -> None:
        audit.record(conn, actor=s.account.address, actor_type=audit.ActorType.of_account(s.account.type),
                     action=_OPENING[part],
                     subject_account_id=box.patient.id, target=f"{what} reason:{box.reason} via:imap")
        notifications.mark_pending(conn, box.patient.id, notifications.ACCESS)

    await s.hub.write(work)


def is_view_folder(folder: folders.FolderRow) -> bool:
    return folder.name in _PART_OF_VIEW or (categories.of_professional_folder(folder.name)
                                            or categories.of_gp_folder(folder.name)
                                            or categories.of_author_folder(folder.name)) is not None


def reader_for(s, system: AccountRow, patient_id: int, folder_name: str = "") -> Reader:
    """The reader of a dossier view (kept for the session, one per patient and kind of item)."""
    target = _READ_TARGET[_PART_OF_VIEW.get(folder_name, DOCUMENTS)]
    cache = s.__dict__.setdefault("_dossier_readers", {})
    if (patient_id, target) not in cache:
        cache[patient_id, target] = DossierReader(s.hub, system, s.account.address, s.account.type, patient_id,
                                                  target)
    return cache[patient_id, target]


async def listing(s) -> list[tuple[str, folders.FolderRow, str]]:
    """(client name, folder, rights) of every dossier category (and agenda, profile) this professional may
    read now."""
    me = s.account
    if me.type not in access.READING_TYPES:
        return []
    now, care_days = _now(), s.hub.config.get("dossier.care_window_days")
    patient_domain = s.hub.config.get("hub.patient_domain")

    def read(conn):
        candidates = set(conn.execute(select(PatientContact.patient_id)
                                      .where(PatientContact.address == me.address)).scalars())
        candidates |= set(conn.execute(select(dossier_store.DossierAccessRule.account_id).where(
            dossier_store.DossierAccessRule.address == me.address,
            dossier_store.DossierAccessRule.rule == dossier_store.GRANT)).scalars())
        since = now - dt.timedelta(hours=access.EMERGENCY_ACCESS_HOURS)
        candidates |= set(conn.execute(select(dossier_store.DossierEmergency.account_id).where(
            dossier_store.DossierEmergency.address == me.address,
            dossier_store.DossierEmergency.opened_at >= since)).scalars())
        out = []
        for patient_id in sorted(candidates):
            if access.reason(conn, patient_id, me.address, now, care_days) is None:
                continue
            patient = account_repo.by_id(conn, patient_id)
            ins = identity.ins_of_address(patient.address, patient_domain) if patient is not None else None
            if not ins or patient.status != "active":
                continue
            is_gp = general_practitioners.of_patient(conn, patient_id) == me.address.lower()
            rows = conn.execute(select(Folder.id).where(
                Folder.account_id == patient_id,
                Folder.name.startswith(categories.PROFESSIONAL_PREFIX))).scalars().all()
            key = author_key(conn, s.hub, patient_id, me.id)
            for folder_id in rows:
                row = folders.folder_by_id(conn, folder_id)
                part = _PART_OF_VIEW.get(row.name)
                if part is not None:
                    out.append((f"{PATIENTS_ROOT}/{ins}/" + (AGENDA if part == AGENDA else f"{DOSSIER}/{PROFILE}"),
                                row, READ_ONLY_RIGHTS))
                    continue
                category = categories.of_view_folder(row.name, is_gp)
                if category is not None:
                    out.append((f"{PATIENTS_ROOT}/{ins}/{DOSSIER}/{category.code}", row, READ_ONLY_RIGHTS))
                category = categories.of_author_folder(row.name, key) if key else None
                if category is not None:
                    out.append((f"{PATIENTS_ROOT}/{ins}/{AUTHORED}/{category.code}", row, READ_ONLY_RIGHTS))
        return out

    return await s.hub.read(read)
