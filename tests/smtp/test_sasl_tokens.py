"""XOAUTH2 and OAUTHBEARER with JWTs from a test OpenID provider; EXTERNAL with an APP client certificate."""

from __future__ import annotations

import base64
import datetime as dt
import json
import smtplib

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from mssante_hub.accounts.mailboxes import add_account
from mssante_hub.reader import read_folder
from storage.models import AuditEvent
from tests.smtp.messages import message

ISSUER = "https://auth.esante.test/auth/realms/esante-wallet"
AUDIENCE = "mssante-hub"
JEAN = "jean.dupont@hub.test"
MARIE = "marie.curie@hub.test"
APP = "dpi@hub.test"


@pytest.fixture(scope="module")
def provider_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def smtp_settings(tmp_path, provider_key, pki):
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(provider_key.public_key()))
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}))
    return {"auth.oauth_jwks_file": str(jwks), "auth.oauth_issuer": ISSUER, "auth.oauth_audience": AUDIENCE,
            "submission.client_ca_files": [str(pki.ca_file)]}


def token(key, email: str = JEAN, *, issuer: str = ISSUER, audience: str = AUDIENCE, expires_in: int = 300,
          kid: str = "k1") -> str:
    now = dt.datetime.now(dt.timezone.utc)
    claims = {"iss": issuer, "aud": audience, "sub": "f:550dc1c8-d97b-4b1e-ac8c-8eb4471cf9dd", "email": email,
              "iat": now, "exp": now + dt.timedelta(seconds=expires_in)}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


def xoauth2(user: str, bearer: str) -> str:
    return base64.b64encode(f"user={user}\x01auth=Bearer {bearer}\x01\x01".encode()).decode()


def oauthbearer(user: str, bearer: str) -> str:
    return base64.b64encode(f"n,a={user},\x01auth=Bearer {bearer}\x01\x01".encode()).decode()


def tls_session(smtp_hub, pki, leaf=None) -> smtplib.SMTP:
    client = smtplib.SMTP("127.0.0.1", smtp_hub.port("submission"), timeout=30)
    client.starttls(context=pki.client_context(leaf))
    client.ehlo("poste")
    return client


@pytest.mark.parametrize("mechanism, encode", [("XOAUTH2", xoauth2), ("OAUTHBEARER", oauthbearer)])
def test_a_valid_bearer_token_logs_in_and_sends(smtp_hub, pki, provider_key, mechanism, encode):
    bearer = token(provider_key)
    with tls_session(smtp_hub, pki) as client:
        assert mechanism in client.esmtp_features["auth"].split()
        code, _ = client.docmd("AUTH", f"{mechanism} {encode(JEAN, bearer)}")
        assert code == 235
        assert client.sendmail(JEAN, [MARIE], message(JEAN, MARIE)) == {}
    assert len(read_folder(smtp_hub.hub, MARIE)) == 1
    traces = smtp_hub.hub.read_sync(lambda c: c.execute(AuditEvent.__table__.select()).all())
    assert all(bearer not in (t.actor + t.target) for t in traces)  # tokens are never stored


@pytest.mark.parametrize("case", ["expired", "issuer", "audience", "user", "forged", "kid"])
def test_bad_bearer_tokens_are_refused(smtp_hub, pki, provider_key, case):
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    bearer = {
        "expired": lambda: token(provider_key, expires_in=-3600),
        "issuer": lambda: token(provider_key, issuer="https://evil.test"),
        "audience": lambda: token(provider_key, audience="someone-else"),
        "user": lambda: token(provider_key, email=MARIE),  # a valid token for another mailbox
        "forged": lambda: token(other_key),
        "kid": lambda: token(provider_key, kid="unknown"),
    }[case]()
    with tls_session(smtp_hub, pki) as client:
        code, _ = client.docmd("AUTH", f"XOAUTH2 {xoauth2(JEAN, bearer)}")
    assert code == 535


def test_external_binds_an_app_certificate_to_its_mailbox(smtp_hub, pki):
    add_account(smtp_hub.hub, type="APP", address=APP, display_name="DPI")
    app_cert = pki.ca.issue_cert(APP, common_name="dpi.hub.test", organization_name="CH Test")
    with tls_session(smtp_hub, pki, app_cert) as client:
        assert "EXTERNAL" in client.esmtp_features["auth"].split()
        code, _ = client.docmd("AUTH", "EXTERNAL =")
        assert code == 235
        assert client.sendmail(APP, [JEAN], message(APP, JEAN, subject="CR automatique")) == {}
    assert [m.summary["subject"] for m in read_folder(smtp_hub.hub, JEAN)] == ["CR automatique"]


def test_external_refuses_a_certificate_of_a_non_app_mailbox_or_none(smtp_hub, pki):
    per_cert = pki.ca.issue_cert(JEAN, common_name="jean", organization_name="CH Test")
    with tls_session(smtp_hub, pki, per_cert) as client:
        assert client.docmd("AUTH", "EXTERNAL =")[0] == 535
    with tls_session(smtp_hub, pki) as client:
        assert client.docmd("AUTH", "EXTERNAL =")[0] == 535
