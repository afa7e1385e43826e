"""The professionals' view of the profile (storage/views.py) kept by filing and the patient's choices, on SQLite and
PostgreSQL: current versions only, a hidden entry out (and still out after an edit), shown again back in, the
advance directives in whatever the choice, a deleted entry gone; each body opened with the hub's own key."""

from __future__ import annotations

import uuid

from mssante_hub.reader import Reader
from storage import profile as profile_store
from storage import views
from tests.dossier import support
from tests.profile.resources import of_each_kind
from tests.profile.test_backends import _file


def _view(hub, patient_id: int) -> set[str]:
    return hub.read_sync(lambda conn: views.placed(conn, patient_id, views.PROFILE_VIEW))


def _current(hub, patient_id: int, key: str) -> str:
    return hub.read_sync(lambda conn: profile_store.entries(conn, patient_id, patient_id, key))[0].blob_id


def test_the_profile_view_on_each_backend(any_hub):
    hub = any_hub
    support.provision_patient(hub)
    patient = support.account(hub)
    system = hub.system_account()
    resources = of_each_kind()
    weight, directives = str(uuid.uuid4()), str(uuid.uuid4())
    _file(hub, weight, resources["Observation"])
    _file(hub, directives, resources["DocumentReference"])
    first = _current(hub, patient.id, weight)
    assert _view(hub, patient.id) == {first, _current(hub, patient.id, directives)}
    heavier = dict(resources["Observation"], valueQuantity=dict(resources["Observation"]["valueQuantity"], value=80))
    _file(hub, weight, heavier)
    second = _current(hub, patient.id, weight)
    assert first not in _view(hub, patient.id) and second in _view(hub, patient.id)  # the current version only
    # The hub's key opens what the view holds.
    row = hub.read_sync(lambda conn: profile_store.entries(conn, patient.id, system.id, weight))[0]
    assert Reader.of(hub, system).key(row)

    def hide(key: str, hidden: bool, always: bool = False):
        return hub.committer.run(lambda conn: profile_store.set_hidden(conn, patient.id, key, hidden, system.id,
                                                                       always))

    assert hide(weight, True) and second not in _view(hub, patient.id)
    _file(hub, weight, resources["Observation"])  # an edit of a hidden entry stays out
    third = _current(hub, patient.id, weight)
    assert third not in _view(hub, patient.id)
    assert hide(weight, False) and third in _view(hub, patient.id) and second not in _view(hub, patient.id)
    assert hide(directives, True, always=True) and _current(hub, patient.id, directives) in _view(hub, patient.id)
    assert hub.committer.run(lambda conn: profile_store.remove_entry(conn, patient.id, weight)) == 3
    assert _view(hub, patient.id) == {_current(hub, patient.id, directives)}
    assert not hide(str(uuid.uuid4()), True)  # no such entry
