"""Ids in paths and X-Space are ASCII digits: '³' passed str.isdigit() and broke int(), a 503 schemathesis found."""

from __future__ import annotations

from mssante_hub.web.http import is_id
from tests.patients.test_notify import active_patient
from tests.web.browser import PATIENT_PASSWORD

ODD_DIGITS = ("³", "²", "¹", "٣")  # superscripts (int() refuses them) and an Arabic-Indic digit (int() takes it)
PATHS = ("/api/messages/{}", "/api/messages/{}/attachments/1", "/api/messages/1/attachments/{}",
         "/api/dossier/documents/{}", "/api/dossier/documents/{}/pdf", "/api/agenda/{}", "/api/profile/offers/{}")


def test_odd_digits_in_an_id_are_not_found_never_a_server_error(web_hub):
    patient, _ = active_patient(web_hub.hub, "ids@courriel.example")
    me = web_hub.client().login(patient.partition("@")[0], PATIENT_PASSWORD)
    for digit in ODD_DIGITS:
        encoded = "".join(f"%{b:02X}" for b in digit.encode())
        for path in PATHS:
            answer = me.call("GET", path.format(encoded))
            assert answer.status == 404, (path, digit, answer.status, answer.body)
        answer = me.call("GET", "/api/home", headers={"X-Space": digit.encode()})
        assert answer.status in (400, 404), (digit, answer.status, answer.body)


def test_is_id_takes_ascii_digits_only():
    assert is_id("12") and is_id("1" * 18) and not is_id("1" * 19) and not is_id("")
    assert not any(is_id(digit) for digit in ODD_DIGITS)


def test_a_totp_code_of_odd_digits_matches_nothing_and_raises_nothing():
    from mssante_hub.web.totp import matching_step

    secret = "JBSWY3DPEHPK3PXP"
    assert matching_step(secret, "³" * 6) is None  # hmac.compare_digest raises TypeError on non-ASCII str
    assert matching_step(secret, "٣" * 6) is None
