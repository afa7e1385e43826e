"""The webmail's TOTP second factor over HTTP on a served hub (docs/web.md), codes computed with pyotp as an
authenticator application would: set up with the password, confirmed by a first code, then sign-in needs a code
(missing: asked; wrong or replayed: refused and counted; the next step's: accepted); a recovery code works once;
the secret is never on disk in clear; the factor is the holder's own (403 with X-Space); removed with a code."""

from __future__ import annotations

import base64
import time

import pyotp

from storage import accounts as account_repo
from tests.patients.test_notify import active_patient
from tests.web.browser import PATIENT_PASSWORD


def _not_a_code(otp: pyotp.TOTP) -> str:
    """Six digits that are none of the codes accepted now (the drift allows one step either side)."""
    near = {otp.at(time.time() + d) for d in (-60, -30, 0, 30, 60)}
    return next(c for c in ("000000", "111111", "222222", "333333", "444444", "555555") if c not in near)


def _disk_bytes(data_dir) -> bytes:
    return b"".join(p.read_bytes() for p in data_dir.rglob("*") if p.is_file() and p.suffix != ".toml")


def test_the_second_factor(web_hub):
    patient, _ = active_patient(web_hub.hub, "totp@courriel.example")
    login = patient.partition("@")[0]
    web = web_hub.client().login(login, PATIENT_PASSWORD)
    assert web.call("GET", "/api/totp").body == {"enabled": False, "recovery_codes_left": 0}
    assert web.call("POST", "/api/totp", {"password": "pas le bon"}).status == 403
    made = web.call("POST", "/api/totp", {"password": PATIENT_PASSWORD})
    assert made.status == 201, made.body
    secret = made.body["secret"]
    parsed = pyotp.parse_uri(made.body["uri"])
    assert parsed.secret == secret and parsed.issuer == "Mon espace santé" and parsed.digits == 6
    rows = made.body["qr"]
    assert len(rows) >= 21 and all(len(r) == len(rows) and set(r) <= {"0", "1"} for r in rows)
    otp = pyotp.TOTP(secret)
    # Pending: sign-in is unchanged until a first code confirms it.
    assert web_hub.client().call("POST", "/api/session", {"login": login, "password": PATIENT_PASSWORD}).status == 201
    wrong = _not_a_code(otp)
    assert web.call("POST", "/api/totp/confirm", {"code": wrong}).status == 422
    first = otp.now()
    confirmed = web.call("POST", "/api/totp/confirm", {"code": first})
    assert confirmed.status == 200, confirmed.body
    codes = confirmed.body["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    assert web.call("GET", "/api/totp").body == {"enabled": True, "recovery_codes_left": 10}
    assert web.call("POST", "/api/totp", {"password": PATIENT_PASSWORD}).status == 422  # on already

    # Neither the secret nor a recovery code is on disk in clear (base32 as given, nor its raw bytes).
    disk = _disk_bytes(web_hub.data_dir)
    assert secret.encode() not in disk and base64.b32decode(secret) not in disk
    assert not any(code.encode() in disk or code.replace("-", "").encode() in disk for code in codes)

    anonymous = web_hub.client()
    sign_in = {"login": login, "password": PATIENT_PASSWORD}
    asked = anonymous.call("POST", "/api/session", sign_in)
    assert (asked.status, asked.error["code"]) == (401, "otp_required")
    refused = anonymous.call("POST", "/api/session", {**sign_in, "otp": wrong})
    assert (refused.status, refused.error["code"]) == (401, "otp_failed")
    # The code the confirmation used is spent (no replay); the next step's code is within the drift allowed.
    replayed = anonymous.call("POST", "/api/session", {**sign_in, "otp": first})
    assert replayed.status == 401
    following = otp.at(time.time() + 30)
    assert anonymous.call("POST", "/api/session", {**sign_in, "otp": following}).status == 201
    assert anonymous.call("POST", "/api/session", {**sign_in, "otp": following}).status == 401

    recovery = codes[0].upper().replace("-", " ")  # as typed: case and separators do not matter
    assert anonymous.call("POST", "/api/session", {**sign_in, "otp": recovery}).status == 201
    assert anonymous.call("POST", "/api/session", {**sign_in, "otp": codes[0]}).status == 401  # spent
    assert web.call("GET", "/api/totp").body["recovery_codes_left"] == 9

    own_id = str(web_hub.hub.read_sync(lambda conn: account_repo.by_address(conn, patient)).id)
    assert web.call("GET", "/api/totp", headers={"X-Space": own_id}).error["code"] == "holder_only"
    history = web.call("GET", "/api/history?action=account.totp").body["history"]
    assert {h["outcome"] for h in history} == {"set_up", "enabled"}

    assert web.call("DELETE", "/api/totp", {"password": PATIENT_PASSWORD, "code": wrong}).status == 422
    assert web.call("DELETE", "/api/totp", {"password": PATIENT_PASSWORD, "code": codes[1]}).status == 204
    assert anonymous.call("POST", "/api/session", sign_in).status == 201
    assert web.call("GET", "/api/totp").body == {"enabled": False, "recovery_codes_left": 0}


def test_wrong_codes_count_as_failed_sign_ins(web_hub):
    patient, _ = active_patient(web_hub.hub, "totp.essais@courriel.example")
    login = patient.partition("@")[0]
    web = web_hub.client().login(login, PATIENT_PASSWORD)
    otp = pyotp.TOTP(web.call("POST", "/api/totp", {"password": PATIENT_PASSWORD}).body["secret"])
    assert web.call("POST", "/api/totp/confirm", {"code": otp.now()}).status == 200
    limit = web_hub.hub.config.get("web.max_failed_logins")
    sign_in = {"login": login, "password": PATIENT_PASSWORD}
    # A wrong password is refused before any code is asked (the factor is not told to a guesser).
    guessed = web_hub.client().call("POST", "/api/session", {"login": login, "password": "pas le bon"})
    assert guessed.status == 401 and guessed.error["code"] != "otp_required"
    statuses = [web_hub.client().call("POST", "/api/session", {**sign_in, "otp": _not_a_code(otp)}).status
                for _ in range(limit + 1)]
    assert statuses[-1] == 429 and set(statuses[:limit]) <= {401, 429}
