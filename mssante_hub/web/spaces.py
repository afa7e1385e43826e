"""Which space a webmail request acts on: the signed-in account's own, or a dependant's (docs/web.md, "Spaces").

    GET /api/profiles        the signed-in account's own space and the spaces it represents (legal representative)
    X-Space: ID              on any other request: act on the dependant's space ID (an id from /api/profiles)

A legal representative (docs/domain.md §9) signs in with their own account and sends `X-Space` with the id of a
space they represent. The link is checked in the database on every request (`storage.representatives`): an id
that is not one of theirs, or not a number, answers 404, exactly as an unknown one, so one space cannot reach
another's (no IDOR). The request then runs as the dependant's space, with the representative named as the actor
of every trace (`Session.actor`). What a representative may not see (documents coded
INVISIBLE_REPRESENTANTS_LEGAUX, and the covering messages that carried them) is withheld (`withheld`).
The holder's own acts (closing or deleting the space, export, the notification address, signing out
everywhere) answer 403 with `X-Space` (HOLDER_ONLY).
"""

from __future__ import annotations

import dataclasses

from twisted.web import server

from mssante_hub.hub import Hub
from mssante_hub.web.http import NOT_FOUND, ApiError, is_id
from mssante_hub.web.sessions import Session
from storage import accounts as account_repo
from storage import dossier as dossier_store
from storage import representatives
from storage.models import AccountStatus, AccountType

SPACE_HEADER = b"x-space"
MAX_SPACE_ID_CHARS = 18
# (method, route name of web/api.py): the holder's own acts, never a representative's.
HOLDER_ONLY = frozenset({("POST", "space/close"), ("POST", "space/deletion"), ("POST", "space/export"),
                         ("PUT", "personal-email"), ("DELETE", "sessions"), ("GET", "totp"), ("POST", "totp"),
                         ("POST", "totp/confirm"), ("DELETE", "totp")})
HOLDER_ONLY_ERROR = ApiError(403, "holder_only", "Réservé au titulaire de l'espace",
                             "Only the holder of the space may do this")


def requested(request: server.Request) -> str | None:
    """The X-Space header's value, or None when absent."""
    raw = request.getHeader(SPACE_HEADER)
    return raw.strip() if raw is not None else None


async def resolve(hub: Hub, own: Session, request: server.Request) -> Session:
    """The session the request acts as: `own`, or the dependant's space named by X-Space (404 if not theirs)."""
    wanted = requested(request)
    if wanted is None or wanted == str(own.account_id):
        return own
    if not is_id(wanted, MAX_SPACE_ID_CHARS) or own.type != AccountType.PATIENT.value:
        raise NOT_FOUND
    dependant_id = int(wanted)

    def work(conn) -> str | None:
        if not representatives.is_representative(conn, own.account_id, dependant_id):
            return None
        account = account_repo.by_id(conn, dependant_id)
        # A closed or suspended space is nobody's to act on (its key is archived): as unknown.
        return account.address if account is not None and account.status == AccountStatus.ACTIVE.value else None

    address = await hub.read(work)
    if address is None:
        raise NOT_FOUND
    return dataclasses.replace(own, account_id=dependant_id, address=address, type=AccountType.PATIENT.value,
                               representative=own.address, representative_id=own.account_id)


def withheld(conn, session: Session) -> frozenset[str]:
    """Blob ids of the space the session may not reach: none for the holder; for a representative, what is
    coded INVISIBLE_REPRESENTANTS_LEGAUX (the documents and their covering messages)."""
    if not session.representative:
        return frozenset()
    return dossier_store.withheld_from_representatives(conn, session.account_id)


def profiles(conn, own: Session) -> list[dict]:
    """The own space first, then each dependant's: id (for X-Space), address, name, kind."""
    account = account_repo.by_id(conn, own.account_id)
    listed = [{"id": own.account_id, "address": own.address, "name": account.display_name if account else "",
               "own": True, "kind": None}]
    listed += [{"id": link.dependant_id, "address": link.dependant_address, "name": link.dependant_name,
                "own": False, "kind": link.kind} for link in representatives.dependants_of(conn, own.account_id)]
    return listed


def traits_name(hub: Hub, address: str) -> str:
    """A patient space's name from its sealed identity traits ("Dominique PAT-TROIS"), "" when none are held: a
    provisioned space has no display name, and a representative must see whose space they are in (the pages'
    banner). Blocking (a read and a decryption): call it from a worker thread."""
    from mssante_hub.dossier import patient  # the sealed traits; only needed here

    known = patient.load(hub, address)
    if known is None:
        return ""
    first = known.first_names.split()[0].title() if known.first_names.split() else ""
    return " ".join(part for part in (first, known.birth_name) if part)


def named(hub: Hub, listed: list[dict]) -> list[dict]:
    """`profiles` with each empty name taken from the space's identity traits (blocking, see traits_name)."""
    return [p if p["name"] else {**p, "name": traits_name(hub, p["address"])} for p in listed]


__all__ = ["HOLDER_ONLY", "HOLDER_ONLY_ERROR", "SPACE_HEADER", "named", "profiles", "requested", "resolve", "withheld"]
