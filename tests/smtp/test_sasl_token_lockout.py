"""A locked-out login stays locked out for a bearer token that names no login (OAUTHBEARER without `a=`)."""

from __future__ import annotations

import base64

import pytest

from tests.smtp.test_sasl_tokens import JEAN, tls_session, token
from tests.smtp.test_sasl_tokens import provider_key  # noqa: F401 - the fixture, reused
from tests.smtp.test_sasl_tokens import smtp_settings as token_settings  # noqa: F401 - the fixture, reused

LOCK_AFTER = 2


@pytest.fixture
def smtp_settings(token_settings):  # noqa: F811 - this module's settings build on the token ones
    return {**token_settings, "smtp.max_failed_logins": LOCK_AFTER, "auth.failed_login_delay_s": 0.0}


def _plain(login: str, password: str) -> str:
    return base64.b64encode(f"\x00{login}\x00{password}".encode()).decode()


def _oauthbearer_without_login(bearer: str) -> str:
    return base64.b64encode(f"n,,\x01auth=Bearer {bearer}\x01\x01".encode()).decode()


def test_a_token_naming_no_login_meets_its_subjects_lock_out(smtp_hub, pki, provider_key):
    for _ in range(LOCK_AFTER):
        with tls_session(smtp_hub, pki) as client:
            assert client.docmd("AUTH", f"PLAIN {_plain(JEAN, 'wrong')}")[0] == 535
    with tls_session(smtp_hub, pki) as client:
        assert client.docmd("AUTH", f"OAUTHBEARER {_oauthbearer_without_login(token(provider_key))}")[0] == 421
    with tls_session(smtp_hub, pki) as client:
        good = token(provider_key, email="marie.curie@hub.test")
        assert client.docmd("AUTH", f"OAUTHBEARER {_oauthbearer_without_login(good)}")[0] == 235
