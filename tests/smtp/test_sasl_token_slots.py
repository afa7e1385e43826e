"""Bearer-token logins take the guard's slots and failure counts, as password logins do (issue 11)."""

from __future__ import annotations

import smtplib
import threading

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.smtp.test_sasl_tokens import JEAN, tls_session, token, xoauth2
from tests.smtp.test_sasl_tokens import provider_key  # noqa: F401 - the fixture, reused
from tests.smtp.test_sasl_tokens import smtp_settings as token_settings  # noqa: F401 - the fixture, reused

GUESSES = 3


@pytest.fixture
def smtp_settings(token_settings):  # noqa: F811 - this module's settings build on the token ones
    # One check of a login at a time and one waiter; a failed login then earns a 2 s wait, spent in the slot.
    return {**token_settings, "auth.failed_login_delay_s": 2.0, "auth.max_checks_in_flight_per_login": 1,
            "auth.max_waiting_checks": 1}


def test_parallel_bad_bearer_tokens_of_one_login_meet_the_slots(smtp_hub, pki, provider_key):
    """Past the one check (waiting its earned delay) and the one waiter, the third parallel guess is refused
    as busy (454 4.7.0), as a third parallel wrong password is; without a slot all three get 535."""
    forged = token(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    with tls_session(smtp_hub, pki) as client:
        assert client.docmd("AUTH", f"XOAUTH2 {xoauth2(JEAN, forged)}")[0] == 535  # earns the wait
    sessions = [tls_session(smtp_hub, pki) for _ in range(GUESSES)]
    start = threading.Barrier(GUESSES)
    codes: list[int] = []

    def guess(client: smtplib.SMTP) -> None:
        start.wait()
        codes.append(client.docmd("AUTH", f"XOAUTH2 {xoauth2(JEAN, forged)}")[0])

    threads = [threading.Thread(target=guess, args=(client,)) for client in sessions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for client in sessions:
        client.close()
    assert sorted(codes) == [454, 535, 535], codes


def test_a_good_token_after_bad_ones_still_logs_in(smtp_hub, pki, provider_key):
    """A failure counted on the token path does not lock the holder's good token out."""
    forged = token(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    with tls_session(smtp_hub, pki) as client:
        assert client.docmd("AUTH", f"XOAUTH2 {xoauth2(JEAN, forged)}")[0] == 535
    with tls_session(smtp_hub, pki) as client:
        assert client.docmd("AUTH", f"XOAUTH2 {xoauth2(JEAN, token(provider_key))}")[0] == 235
