"""IMAP bearer-token logins (AUTHENTICATE XOAUTH2, OAUTHBEARER) take the guard's slots and failure counts, as
password logins do (issue 11), and a token naming no login still meets its subject's lock-out. Real imaplib
clients against a served hub; the SMTP side is tests/smtp/test_sasl_token_slots.py and test_sasl_token_lockout.py.
"""

from __future__ import annotations

import imaplib
import json
import threading

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from mssante_hub.imap import responses
from tests.imap.conftest import ImapHub, start
from tests.imap.support import client_tls
from tests.imap.test_bearer_tokens import AUDIENCE, ISSUER, PROVIDER_KEY, RESPONSES, token
from tests.support.served import served

GUESSES = 3
LOCK_AFTER = 2  # imap.max_failed_logins here: the pair is refused after two failures
BUSY = "busy"
THROTTLED = "throttled"
FAILED = "failed"


def _served(tmp_path_factory, settings: dict):
    jwks = tmp_path_factory.mktemp("provider") / "jwks.json"
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(PROVIDER_KEY.public_key()))
    jwks.write_text(json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}))
    data_dir, users = start(tmp_path_factory, {
        "auth.oauth_jwks_file": str(jwks), "auth.oauth_issuer": ISSUER, "auth.oauth_audience": AUDIENCE, **settings})
    with served(data_dir, ["imaps"]) as running:
        yield ImapHub(running, data_dir, users)


@pytest.fixture(scope="module")
def slots_hub(tmp_path_factory):
    # One check of a login at a time and one waiter; a failed login then earns a 2 s wait, spent in the slot.
    yield from _served(tmp_path_factory, {"auth.failed_login_delay_s": 2.0, "auth.max_checks_in_flight_per_login": 1,
                                          "auth.max_waiting_checks": 1})


@pytest.fixture(scope="module")
def lock_hub(tmp_path_factory):
    yield from _served(tmp_path_factory, {"auth.failed_login_delay_s": 0.0, "imap.max_failed_logins": LOCK_AFTER})


def connect(hub: ImapHub) -> imaplib.IMAP4_SSL:
    return imaplib.IMAP4_SSL("127.0.0.1", hub.port("imaps"), ssl_context=client_tls(), timeout=60)


def outcome(client: imaplib.IMAP4_SSL, mechanism: str, response: bytes) -> str:
    """What one AUTHENTICATE got: "ok", FAILED, THROTTLED or BUSY (the tagged NO's text)."""
    try:
        client.authenticate(mechanism, lambda _: response)
        return "ok"
    except imaplib.IMAP4.error as exc:
        text = str(exc).encode()
        if responses.NO_LOGINS_BUSY in text:
            return BUSY
        if responses.NO_THROTTLED in text:
            return THROTTLED
        assert b"AUTHENTICATIONFAILED" in text, text
        return FAILED
    finally:
        client.logout()


def forged() -> rsa.RSAPrivateKey:
    """A key the provider never published: its tokens are forgeries."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.mark.parametrize("mechanism", list(RESPONSES))
def test_parallel_bad_bearer_tokens_of_one_login_meet_the_slots(slots_hub, mechanism):
    """Past the one check (waiting its earned delay) and the one waiter, the third parallel guess is refused
    as busy, as a third parallel wrong password is; without a slot all three were checked and failed."""
    user = slots_hub.fresh_user()
    bad = RESPONSES[mechanism](user, token(user, key=forged()))
    assert outcome(connect(slots_hub), mechanism, bad) == FAILED  # earns the wait
    clients = [connect(slots_hub) for _ in range(GUESSES)]
    start_together = threading.Barrier(GUESSES)
    outcomes: list[str] = []

    def guess(client: imaplib.IMAP4_SSL) -> None:
        start_together.wait()
        outcomes.append(outcome(client, mechanism, bad))

    threads = [threading.Thread(target=guess, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(outcomes) == [BUSY, FAILED, FAILED], outcomes


def test_a_good_token_after_a_bad_one_still_logs_in(slots_hub):
    """A failure counted on the token path does not lock the holder's good token out."""
    user = slots_hub.fresh_user()
    assert outcome(connect(slots_hub), "XOAUTH2", RESPONSES["XOAUTH2"](user, token(user, key=forged()))) == FAILED
    assert outcome(connect(slots_hub), "XOAUTH2", RESPONSES["XOAUTH2"](user, token(user))) == "ok"


def _oauthbearer_without_login(bearer: str) -> bytes:
    return f"n,,\x01auth=Bearer {bearer}\x01\x01".encode()


def test_a_token_naming_no_login_meets_its_subjects_lock_out(lock_hub):
    user, other = lock_hub.fresh_user(), lock_hub.fresh_user()
    for _ in range(LOCK_AFTER):
        client = connect(lock_hub)
        with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
            client.login(user, "faux " + lock_hub.password)
        client.logout()
    assert outcome(connect(lock_hub), "OAUTHBEARER", _oauthbearer_without_login(token(user))) == THROTTLED
    assert outcome(connect(lock_hub), "OAUTHBEARER", _oauthbearer_without_login(token(other))) == "ok"


def test_bearer_failures_count_toward_the_pairs_lock_out(lock_hub):
    """Bad tokens are failures of the login they name: past the pair's limit even its right password is refused."""
    user = lock_hub.fresh_user()
    for _ in range(LOCK_AFTER):
        assert outcome(connect(lock_hub), "XOAUTH2", RESPONSES["XOAUTH2"](user, token(user, key=forged()))) \
            == FAILED
    assert outcome(connect(lock_hub), "PLAIN", f"\x00{user}\x00{lock_hub.password}".encode()) == THROTTLED
