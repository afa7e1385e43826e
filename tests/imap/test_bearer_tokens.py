"""AUTHENTICATE XOAUTH2 and OAUTHBEARER with JWTs from a test OpenID provider (imaplib, real server)."""

from __future__ import annotations

import datetime as dt
import imaplib
import json

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from mssante_hub.hub import Hub
from storage.models import AuditEvent
from tests.imap.conftest import ImapHub, start
from tests.imap.support import client_tls
from tests.support.served import served

ISSUER = "https://auth.esante.test/auth/realms/esante-wallet"
AUDIENCE = "mssante-hub"
PROVIDER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def bearer_hub(tmp_path_factory):
    jwks = tmp_path_factory.mktemp("provider") / "jwks.json"
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(PROVIDER_KEY.public_key()))
    jwks.write_text(json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}))
    data_dir, users = start(tmp_path_factory, {"auth.oauth_jwks_file": str(jwks), "auth.oauth_issuer": ISSUER,
                                               "auth.oauth_audience": AUDIENCE})
    with served(data_dir, ["imaps"]) as running:
        yield ImapHub(running, data_dir, users)


def token(email: str, key=PROVIDER_KEY, expires_in: int = 300, audience: str = AUDIENCE) -> str:
    now = dt.datetime.now(dt.timezone.utc)
    claims = {"iss": ISSUER, "aud": audience, "email": email, "iat": now, "exp": now + dt.timedelta(seconds=expires_in)}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})


RESPONSES = {
    "XOAUTH2": lambda user, bearer: f"user={user}\x01auth=Bearer {bearer}\x01\x01".encode(),
    "OAUTHBEARER": lambda user, bearer: f"n,a={user},\x01auth=Bearer {bearer}\x01\x01".encode(),
}


def connect(hub: ImapHub) -> imaplib.IMAP4_SSL:
    return imaplib.IMAP4_SSL("127.0.0.1", hub.port("imaps"), ssl_context=client_tls(), timeout=30)


@pytest.mark.parametrize("mechanism", list(RESPONSES))
def test_a_valid_token_logs_in_and_is_never_stored(bearer_hub, mechanism):
    user = bearer_hub.alice
    bearer = token(user)
    client = connect(bearer_hub)
    try:
        assert f"AUTH={mechanism}" in client.capabilities
        status, _ = client.authenticate(mechanism, lambda _: RESPONSES[mechanism](user, bearer))
        assert status == "OK"
        assert client.select("INBOX")[0] == "OK"
    finally:
        client.logout()
    with Hub.open(bearer_hub.data_dir, upgrade_schema=False) as hub:
        traces = hub.read_sync(lambda c: c.execute(AuditEvent.__table__.select()).all())
    assert any(t.action == "imap.login" and t.actor == user for t in traces)
    assert all(bearer not in (t.actor + t.target) for t in traces)


@pytest.mark.parametrize("case", ["expired", "audience", "forged", "other user"])
def test_bad_tokens_are_refused(bearer_hub, case):
    user = bearer_hub.alice
    bearer = {
        "expired": lambda: token(user, expires_in=-3600),
        "audience": lambda: token(user, audience="another-service"),
        "forged": lambda: token(user, key=rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        "other user": lambda: token(bearer_hub.bob),  # a valid token, for someone else than claimed
    }[case]()
    client = connect(bearer_hub)
    try:
        with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
            client.authenticate("XOAUTH2", lambda _: RESPONSES["XOAUTH2"](user, bearer))
    finally:
        client.shutdown()


def test_without_a_provider_the_mechanisms_are_neither_offered_nor_accepted(imap_hub):
    client = connect(imap_hub)
    try:
        assert "AUTH=XOAUTH2" not in client.capabilities and "AUTH=PLAIN" in client.capabilities
        with pytest.raises(imaplib.IMAP4.error):
            client.authenticate("XOAUTH2", lambda _: RESPONSES["XOAUTH2"](imap_hub.alice, token(imap_hub.alice)))
    finally:
        client.shutdown()
