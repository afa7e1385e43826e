"""Bearer tokens for XOAUTH2 and OAUTHBEARER: JWTs from the configured OpenID provider.

Shared by the SMTP submission and IMAP front doors (which may not import each other).

The provider's public keys come from a JWKS file (the operator refreshes it, or points
the setting at a file a timer keeps fresh). Signature, issuer, audience and expiry are
checked by PyJWT; only asymmetric algorithms are accepted, so a token cannot choose
to be checked with a shared secret. The mailbox is the token's `email` claim (or
`sub` when it is an address). Tokens are never stored or logged.
"""

from __future__ import annotations

import json
from pathlib import Path

import jwt

from mssante_hub.config import Config

ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"]
MAX_TOKEN = 8 * 1024
LEEWAY_S = 30


class TokenError(Exception):
    """Why a token is refused (for the log; never includes the token)."""


class TokenVerifier:
    def __init__(self, jwks_file: Path, issuer: str, audience: str) -> None:
        self.jwks_file = jwks_file
        self.issuer = issuer
        self.audience = audience
        self._stamp: int | None = None
        self._keys: dict[str, object] = {}

    def _load(self) -> dict[str, object]:
        stamp = self.jwks_file.stat().st_mtime_ns
        if stamp != self._stamp:
            document = json.loads(self.jwks_file.read_text(encoding="utf-8"))
            keys = {}
            for entry in document.get("keys", []):
                key = jwt.PyJWK(entry)
                keys[entry.get("kid", "")] = key.key
            self._keys, self._stamp = keys, stamp
        return self._keys

    def verify(self, token: str) -> str:
        """The mailbox address the token speaks for, or TokenError."""
        if not token or len(token) > MAX_TOKEN:
            raise TokenError("missing or oversized token")
        try:
            keys = self._load()
            kid = jwt.get_unverified_header(token).get("kid", "")
            key = keys.get(kid) or (next(iter(keys.values())) if len(keys) == 1 and not kid else None)
            if key is None:
                raise TokenError("unknown signing key")
            claims = jwt.decode(token, key, algorithms=ALGORITHMS, audience=self.audience, issuer=self.issuer,
                                leeway=LEEWAY_S, options={"require": ["exp", "iss", "aud"]})
        except (OSError, ValueError, jwt.PyJWTError) as exc:
            raise TokenError(type(exc).__name__) from None
        address = str(claims.get("email") or claims.get("sub") or "").lower()
        if "@" not in address:
            raise TokenError("no mailbox in the token")
        return address


def verifier_from_config(config: Config) -> TokenVerifier | None:
    """The configured provider's verifier, or None when bearer tokens are not configured."""
    if not config.get("auth.oauth_jwks_file"):
        return None
    return TokenVerifier(config.path_setting("auth.oauth_jwks_file"), config.get("auth.oauth_issuer"),
                         config.get("auth.oauth_audience"))


def _bearer(value: str) -> str:
    return value[7:] if value[:7].lower() == "bearer " else ""


def _fields(text: str) -> dict[str, str]:
    return dict(f.partition("=")[::2] for f in text.split("\x01") if f)


def parse_xoauth2(text: str) -> tuple[str, str]:
    """(claimed user, token) of an XOAUTH2 response: `user=U^Aauth=Bearer T^A^A`."""
    fields = _fields(text)
    return fields.get("user", ""), _bearer(fields.get("auth", ""))


def parse_oauthbearer(text: str) -> tuple[str, str]:
    """(claimed authorisation identity, token) of an OAUTHBEARER response (RFC 7628 §3.1)."""
    gs2, _, rest = text.partition("\x01")
    claimed = ""
    for item in gs2.split(","):
        if item.startswith("a="):
            claimed = item[2:].replace("=2C", ",").replace("=3D", "=")
    return claimed, _bearer(_fields(rest).get("auth", ""))
