"""The authorization matrix, the IMAP door of the patient's agenda and profile: roles x operations on
Patients/<INS>/Agenda and Patients/<INS>/Dossier/Profil.

The scene is the views' (tests/dossier/test_space_views.py): an appointment and its update sent by a doctor over
iMIP, four profile entries (an allergy hidden, the advance directives hidden yet always shown, a treatment edited),
the patient's own agenda item, a professional blocked. Roles: a professional in care (wrote to the patient), an
organisation in care, a professional never in contact, one in care whom the patient blocked, an applicative (APP)
mailbox, and the patient (no IMAP login: the webmail is their door). Both views are read-only for everyone
(`lr`): nothing is written into them but by the hub's own filing, which the counts show. Emergency access by a
PER mailbox, an explicit act that changes who may read, is in the views' tests; here only its refusal to the
others.
"""

from __future__ import annotations

import imaplib

import pytest

from tests.conftest import TEST_PASSWORD
from tests.dossier.support import APP, INS, PATIENT
from tests.dossier.test_space_views import (  # noqa: F401
    AGENDA,
    BLOCKED,
    DOCTOR,
    LAB,
    PROFILE,
    STRANGER,
    scene,
)
from tests.imap.support import imaps

PATIENT_PASSWORD = "mot de passe de dominique"
ROLES = {"in_care": DOCTOR, "org_in_care": LAB, "not_in_care": STRANGER, "blocked": BLOCKED, "app": APP,
         "patient": PATIENT}
ORDER = tuple(ROLES)
FOLDERS = {"agenda": AGENDA, "profile": PROFILE}
COUNTS = {"agenda": b"1", "profile": b"3"}  # the update only; the entries professionals may read
TABLE = {
    # operation             in_care org_in_care not_in_care blocked app    patient
    "login":               ("OK",   "OK",       "OK",       "OK",   "OK",  "NO"),
    "listed":              (True,   True,       False,      False,  False, None),
    "select":              ("OK",   "OK",       "NO",       "NO",   "NO",  None),
    "fetch":               ("OK",   "OK",       None,       None,   None,  None),  # None: nothing selected
    "store \\Seen":        ("NO",   "NO",       None,       None,   None,  None),
    "expunge":             ("NO",   "NO",       None,       None,   None,  None),
    "append":              ("NO",   "NO",       "NO",       "NO",   "NO",  None),
    "copy into":           ("NO",   "NO",       "NO",       "NO",   "NO",  None),
    "delete the folder":   ("NO",   "NO",       "NO",       "NO",   "NO",  None),
    "emergency select":    (None,   "NO",       None,       None,   "NO",  None),  # ORG and APP: never
}


def _status(call) -> str:
    try:
        return call()[0]
    except imaplib.IMAP4.error as refused:  # imaplib raises on NO for some commands
        return "BAD" if "BAD" in str(refused) else "NO"


def _answer(client, operation: str, box: str, part: str):
    if operation == "listed":
        status, lines = client.list('""', '"Patients/*"')
        return any(line.decode().rsplit(' "/" ', 1)[1].strip('"') == box for line in lines if line)
    if operation == "append":
        return _status(lambda: client.append(box, None, None, b"Subject: x\r\n\r\ny\r\n"))
    if operation == "copy into":
        assert client.append("INBOX", None, None, b"Subject: mine\r\n\r\nmine\r\n")[0] == "OK"
        assert client.select("INBOX")[0] == "OK"
        return _status(lambda: client.copy("1", box))
    if operation == "delete the folder":
        return _status(lambda: client.delete(box))
    if operation == "emergency select":
        return _status(lambda: client.select(box.replace("Patients/", "Urgence/", 1), readonly=True))
    if operation in ("select", "fetch"):
        opened = _status(lambda: client.select(box, readonly=True))
    else:
        # SELECT, not EXAMINE, as a client that means to write does (imaplib's select() gives up on READ-ONLY).
        opened = _status(lambda: client._simple_command("SELECT", box))
        client.state = "SELECTED" if opened == "OK" else client.state
        client.is_readonly = "READ-ONLY" in client.untagged_responses  # the server's word, sent on as is
    if operation == "select" or opened != "OK":
        return opened
    if operation == "fetch":
        status, data = client.fetch("1:*", "(BODY.PEEK[])")
        wanted = b"text/calendar" if part == "agenda" else b"application/fhir+json"
        assert status != "OK" or (len([d for d in data if isinstance(d, tuple)]) == int(COUNTS[part])
                                  and all(wanted in d[1] for d in data if isinstance(d, tuple)))
        return status
    if operation == "expunge":
        assert client.store("1", "+FLAGS", "\\Deleted")[0] == "NO"
        return _status(client.expunge)
    return _status(lambda: client.store("1", "+FLAGS", "\\Seen"))


CELLS = [(op, role, part) for op in TABLE for role in ORDER for part in FOLDERS
         if TABLE[op][ORDER.index(role)] is not None]


@pytest.mark.parametrize("operation, role, part", CELLS, ids=[f"{op}-{role}-{part}" for op, role, part in CELLS])
def test_imap_spaces_matrix(scene, operation, role, part):  # noqa: F811 - the imported fixture
    running, _, _, _ = scene
    client = imaps(running.port("imaps"))
    try:
        password = PATIENT_PASSWORD if role == "patient" else TEST_PASSWORD
        logged_in = _status(lambda: client.login(ROLES[role], password))
        if operation == "login":
            assert logged_in == TABLE[operation][ORDER.index(role)], logged_in
            return
        assert logged_in == "OK"
        answer = _answer(client, operation, FOLDERS[part], part)
        assert answer == TABLE[operation][ORDER.index(role)], answer
        if operation == "select" and answer == "OK":
            assert client.select(FOLDERS[part], readonly=True) == ("OK", [COUNTS[part]])
    finally:
        try:
            client.logout()
        except (imaplib.IMAP4.error, OSError):
            pass


def test_the_patients_ins_names_nothing_else():
    """Only these two names (and the categories) open a view: a near miss is no folder, for anyone."""
    from mssante_hub.imap import dossier_view

    assert dossier_view.split(AGENDA).part == "Agenda" and dossier_view.split(PROFILE).part == "Profil"
    for name in (f"Patients/{INS}/Agenda/x", f"Patients/{INS}/Profil", f"Patients/{INS}/Auteur/Profil",
                 "Patients/123/Agenda", f"Shared/{INS}/Agenda", "Patients/Agenda"):
        assert dossier_view.split(name) is None, name
