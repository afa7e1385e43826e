"""A patient's personal e-mail address (where notifications go, docs/domain.md §5.7), changed only once the
new address is confirmed by a link sent to it.

The link carries a signed token, not a stored secret: the account, the new address,
a hash of the current address and an expiry, signed with HMAC-SHA256 under a key
derived from the hub's system key (derived_keys.email_link_key). No table is
needed; a link for an address that has since changed again no longer matches the
current hash and is refused, and a link past its expiry is refused. The address
lives in the sealed identity traits (patient_profiles.traits), re-sealed on change.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json

from sqlalchemy import Connection, select, update

from mssante_hub import audit, delivery
from mssante_hub.envelope import Channel
from mssante_hub.hub import Hub
from mssante_hub.patients import derived_keys, notices
from storage.models import Account
from storage.patients import PatientProfile

# How long a confirmation link stays good.
LINK_VALID = dt.timedelta(hours=24)
MAX_TOKEN_CHARS = 1024
LINK_FRAGMENT = "#confirmer-courriel/"
SUBJECT = "Confirmez votre adresse de notification / Confirm your notification address"
EMAIL_CHANGE = "patient.email_change"  # audit action


class LinkRefused(Exception):
    """The link is not one of ours, has expired, or the address changed since it was sent."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _fingerprint(address: str) -> str:
    return hashlib.sha256(address.lower().encode()).hexdigest()[:32]


def _profile(conn: Connection, account_id: int):
    return conn.execute(select(PatientProfile.traits, Account.ins)
                        .join(Account, Account.id == PatientProfile.account_id)
                        .where(PatientProfile.account_id == account_id)).first()


def current(hub: Hub, conn: Connection, account_id: int) -> str:
    row = _profile(conn, account_id)
    if row is None or not row.ins:
        return ""
    return str(derived_keys.open_traits(hub, row.ins, row.traits).get("email") or "")


def token_for(hub: Hub, account_id: int, new_address: str, current_address: str, now: dt.datetime) -> str:
    payload = json.dumps({"a": account_id, "e": new_address, "c": _fingerprint(current_address),
                          "x": int((now + LINK_VALID).timestamp())}, separators=(",", ":")).encode()
    signature = hmac.new(derived_keys.email_link_key(hub), payload, hashlib.sha256).digest()
    return _b64(payload) + "." + _b64(signature)


def _verified(hub: Hub, token: str, now: dt.datetime) -> dict:
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
        raise LinkRefused
    encoded, _, signed = token.partition(".")
    try:
        payload, signature = _unb64(encoded), _unb64(signed)
    except (binascii.Error, ValueError):
        raise LinkRefused from None
    expected = hmac.new(derived_keys.email_link_key(hub), payload, hashlib.sha256).digest()
    if not hmac.compare_digest(expected, signature):
        raise LinkRefused
    claims = json.loads(payload)
    if now.timestamp() > claims["x"]:
        raise LinkRefused
    return claims


async def confirm(hub: Hub, token: str, now: dt.datetime | None = None) -> str:
    """Apply a confirmation link: the new address, or LinkRefused."""
    now = now or dt.datetime.now(dt.timezone.utc)
    claims = _verified(hub, token, now)

    def work(conn: Connection) -> str:
        row = _profile(conn, claims["a"])
        if row is None or not row.ins:
            raise LinkRefused
        traits = derived_keys.open_traits(hub, row.ins, row.traits)
        if _fingerprint(str(traits.get("email") or "")) != claims["c"]:
            raise LinkRefused  # the address changed since this link was sent
        traits["email"] = claims["e"]
        conn.execute(update(PatientProfile).where(PatientProfile.account_id == claims["a"])
                     .values(traits=derived_keys.seal_traits(hub, row.ins, traits)))
        audit.record(conn, actor=f"ins-holder:{claims['a']}", actor_type=audit.ActorType.PATIENT,
                     action=EMAIL_CHANGE, subject_account_id=claims["a"], target=f"account:{claims['a']}")
        return claims["e"]

    return await hub.write(work)


def confirmation_text(link: str) -> str:
    return ("Bonjour,\n\nPour recevoir les notifications de votre espace santé à cette adresse, ouvrez ce lien "
            f"(valable 24 heures) :\n\n{link}\n\nSi vous n'avez rien demandé, ignorez ce message.\n\n"
            "Hello,\n\nTo receive your health space's notifications at this address, open this link "
            f"(valid 24 hours):\n\n{link}\n\nIf you did not ask for this, ignore this message.\n")


async def send_link(hub: Hub, account_id: int, new_address: str, now: dt.datetime | None = None) -> None:
    """Mail the confirmation link to the new address, through the one delivery path (no health content)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    old = await hub.read(lambda conn: current(hub, conn, account_id))
    ctx = notices.Context.of(hub)
    link = ctx.portal.rstrip("/") + "/" + LINK_FRAGMENT + token_for(hub, account_id, new_address, old, now)
    raw, _ = notices.system_mail(ctx, new_address, SUBJECT, confirmation_text(link), now)
    await delivery.accept(hub, delivery.Envelope(mail_from=ctx.sender, rcpt_to=(new_address,),
                                                 channel=Channel.INTERNAL), raw)
