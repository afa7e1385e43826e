"""The authorization matrix, the IMAP door of the dossier: roles x operations on Patients/<INS>/Dossier/<category>.

The scene is the dossier view's (tests/dossier/test_imap_view.py): a patient's dossier with a vaccination
note (CAR_VAC), a biology report, an imaging report coded INVISIBLE_PATIENT and one coded MASQUE_PS (never
shown to professionals). Roles: a professional in care (wrote to the patient), an organisation in care, a
professional never in contact, an applicative (APP) mailbox. The view is read-only for everyone (`lr`);
nobody out of care sees the patient's folders (the emergency namespace, an explicit act, is in the dossier
tests). The expected answer of each cell is the table below.
"""

from __future__ import annotations

import pytest

from tests.conftest import TEST_PASSWORD
from tests.dossier.conftest import module_fixtures_dir  # noqa: F401  (fixture of the scene)
from tests.dossier.support import APP, INS
from tests.dossier.test_imap_view import DOCTOR, LAB, STRANGER, scene  # noqa: F401  (the scene, a fixture)
from tests.imap.support import imaps

ROLES = {"in_care": DOCTOR, "org_in_care": LAB, "not_in_care": STRANGER, "app": APP}
ORDER = tuple(ROLES)
TABLE = {
    # operation                       in_care org_in_care not_in_care app
    "folders listed":                 (3,     3,          0,          0),  # MASQUE_PS's category is absent
    "select CAR_VAC":                 ("OK",  "OK",       "NO",       "NO"),
    "fetch a document":               ("OK",  "OK",       None,       None),  # None: nothing selected
    "store \\Seen":                   ("NO",  "NO",       None,       None),  # read-only view
    "append":                         ("NO",  "NO",       "NO",       "NO"),
    "select the MASQUE_PS category":  ("NO",  "NO",       "NO",       "NO"),
    "getacl":                         ("NO",  "NO",       "NO",       "NO"),  # administering needs `a`
    "setacl for another":             ("NO",  "NO",       "NO",       "NO"),  # before: OK, a grant written
}


def _box(category: str) -> str:
    return f"Patients/{INS}/Dossier/{category}"


def _answer(client, operation: str):
    if operation == "folders listed":
        status, lines = client.list('""', '"Patients/*"')
        return sum(1 for line in lines if line and b"Noselect" not in line)
    if operation == "append":
        return client.append(_box("CAR_VAC"), None, None, b"Subject: x\r\n\r\ny\r\n")[0]
    if operation == "select the MASQUE_PS category":
        return client.select(_box("CPT_REND"), readonly=True)[0]
    if operation == "getacl":
        return client.getacl(_box("CAR_VAC"))[0]
    if operation == "setacl for another":
        return client.setacl(_box("CAR_VAC"), STRANGER, "lr")[0]
    opened = client.select(_box("CAR_VAC"), readonly=True)[0]
    if operation == "select CAR_VAC" or opened != "OK":
        return opened
    if operation == "fetch a document":
        status, data = client.fetch("1", "(BODY.PEEK[])")
        assert status != "OK" or b"NOTE DE VACCINATION" in data[0][1]
        return status
    return client.store("1", "+FLAGS", "\\Seen")[0]


CELLS = [(op, role) for op in TABLE for role in ORDER if TABLE[op][ORDER.index(role)] is not None]


@pytest.mark.parametrize("operation, role", CELLS, ids=[f"{op}-{role}" for op, role in CELLS])
def test_imap_dossier_matrix(scene, operation, role):  # noqa: F811 - the imported fixture
    running, _, _ = scene
    client = imaps(running.port("imaps"), ROLES[role], TEST_PASSWORD)
    try:
        try:
            answer = _answer(client, operation)
        except client.error as refused:  # imaplib raises on NO for some commands
            answer = "NO" if "NO" in str(refused) or "BAD" not in str(refused) else "BAD"
        assert answer == TABLE[operation][ORDER.index(role)], answer
    finally:
        client.logout()
