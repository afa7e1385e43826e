"""Items filed before the professionals' views of the agenda and the profile: their keys wrapped for the hub.

Before those views (docs/profile.md, docs/agenda.md), a profile entry's and an appointment's content key was
wrapped for the patient alone: the hub could not open them for a professional. `backfill` opens each current
version's key with the patient's own key (through the keyring, as every reader does), wraps it for the hub's
account, and places what belongs in the views as filing now does: the appointments professionals and services
filed; the profile entries the patient did not hide, and the advance directives always. A hidden entry's key is
wrapped too, so that showing it again brings it back. Replaced versions are left alone (no view shows them), and
so are the patient's own agenda items. A second run wraps and places nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from crypto.envelope import wrap_key
from mssante_hub.hub import Hub
from mssante_hub.profile import entries
from mssante_hub.reader import Reader
from storage import accounts as account_repo
from storage import agenda as agenda_store
from storage import profile as profile_store
from storage import views


@dataclass(frozen=True)
class _Stored:
    """What Reader.key needs of a stored body."""

    blob_id: str
    wrapped: bytes | None


@dataclass(frozen=True)
class Done:
    keys: int  # content keys wrapped for the hub
    placements: int  # bodies placed in the views


def backfill(hub: Hub, account_id: int, system: account_repo.AccountRow) -> Done:
    """One patient space: keys wrapped for `system` (the hub's account), the views completed; one transaction."""
    def read(conn):
        patient = account_repo.by_id(conn, account_id)
        rows = [r for r in profile_store.entries(conn, account_id, account_id) if r.wrapped is not None]
        appointments = views.keys_of(conn, account_id, agenda_store.current_appointments(conn, account_id))
        held = views.openable_by(conn, system.id, [r.blob_id for r in rows] + list(appointments))
        return patient, rows, appointments, held

    patient, rows, appointments, held = hub.read_sync(read)
    if patient is None:
        return Done(0, 0)
    reader, hub_key = Reader.of(hub, patient), hub.keyring.public_key(system.public_key)
    wrapped: dict[str, bytes] = {}
    always = set()
    for row in rows:
        key = reader.key(row)
        if row.blob_id not in held:
            wrapped[row.blob_id] = wrap_key(key, row.blob_id, hub_key)
        if entries.open_fields(key, row.blob_id, row.sealed)["kind"] in entries.ALWAYS_SHOWN_KINDS:
            always.add(row.blob_id)
    for blob_id, patient_wrapped in appointments.items():
        if blob_id not in held:
            wrapped[blob_id] = wrap_key(reader.key(_Stored(blob_id, patient_wrapped)), blob_id, hub_key)

    def write(conn) -> Done:
        keys = views.add_keys(conn, system.id, wrapped)
        # The hide choices as they are now (the patient may have changed one since the read).
        shown = [r.blob_id for r in profile_store.entries(conn, account_id, account_id)
                 if r.blob_id in always or (not r.hidden_from_professionals and r.blob_id in held | set(wrapped))]
        placed = views.place(conn, account_id, views.PROFILE_VIEW, shown)
        placed += views.place(conn, account_id, views.AGENDA_VIEW,
                              [b for b in agenda_store.current_appointments(conn, account_id)
                               if b in held or b in wrapped])
        return Done(keys, placed)

    return hub.committer.run(write)
