"""Legal representatives (docs/domain.md §9): the operator links a parent or guardian to a dependant's space.

A representative is a patient space of their own: they sign in with their own account and act on the
dependant's space from the webmail (web/spaces.py). A minor's link ends by itself at 18 (the daily job,
`end_at_majority`), and the young adult gets a message inviting them to take the space over; a protected
adult's link (tutelle) ends only when the operator removes it. Every link, undo and end is traced on both spaces.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import Connection, select

from mssante_hub import audit, delivery
from mssante_hub.accounts import identity
from mssante_hub.envelope import Channel
from mssante_hub.hub import Hub
from mssante_hub.patients import notices
from storage import representatives as store
from storage.models import Account, AccountType

log = logging.getLogger("mssante_hub.patients.representatives")

MAJORITY_YEARS = 18  # docs/domain.md §9: at majority the young adult takes the space over
OPERATOR = "operator"
DAILY_JOB = "daily-job"


class RepresentativeError(Exception):
    """A link refused; the text is French then English, fit for the operator's terminal."""


@dataclass(frozen=True)
class Space:
    id: int
    address: str
    ins: str


def _space(conn: Connection, hub: Hub, ins: str) -> Space:
    ins = identity.validate_ins(ins)
    row = conn.execute(select(Account.id, Account.address).where(
        Account.ins == ins, Account.type == AccountType.PATIENT.value)).first()
    if row is None:
        raise RepresentativeError(f"aucun espace pour l'INS {ins} / no space for INS {ins}")
    return Space(row.id, row.address, ins)


def age_on(birth_date: str, today: dt.date) -> int | None:
    """Whole years from an ISO birth date to `today`, or None if the date is unknown or malformed."""
    try:
        born = dt.date.fromisoformat(birth_date)
    except ValueError:
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _age(hub: Hub, space: Space, today: dt.date) -> int | None:
    from mssante_hub.dossier import patient  # the sealed identity traits (blocking: a read and a decryption)

    known = patient.load(hub, space.address)
    return age_on(known.birth_date, today) if known is not None and known.birth_date else None


def add(hub: Hub, holder_ins: str, dependant_ins: str, kind: str = store.MINOR,
        now: dt.datetime | None = None) -> bool:
    """Link the holder's space as legal representative of the dependant's; False if already linked.

    A minor's link needs the dependant's birth date (provisioned traits) and an age under 18."""
    now = now or dt.datetime.now(dt.timezone.utc)
    if kind not in store.KINDS:
        raise RepresentativeError(f"type de lien inconnu / unknown kind: {kind}")
    holder, dependant = hub.read_sync(lambda conn: (_space(conn, hub, holder_ins), _space(conn, hub, dependant_ins)))
    if holder.id == dependant.id:
        raise RepresentativeError("un espace ne se représente pas lui-même / a space cannot represent itself")
    if kind == store.MINOR:
        age = _age(hub, dependant, now.date())
        if age is None:
            raise RepresentativeError("date de naissance inconnue : lien d'un mineur impossible (--protected-adult "
                                      "pour un majeur protégé) / birth date unknown: cannot link a minor")
        if age >= MAJORITY_YEARS:
            raise RepresentativeError("le titulaire est majeur (--protected-adult pour un majeur protégé) / "
                                      "the holder is of age (--protected-adult for a protected adult)")

    def work(conn: Connection) -> bool:
        added = store.link(conn, holder.id, dependant.id, kind, now)
        if added:
            _trace(conn, holder, dependant, audit.REPRESENTATIVE_ADD, OPERATOR, kind)
        return added

    return hub.committer.run(work)


def remove(hub: Hub, holder_ins: str, dependant_ins: str) -> bool:
    """Undo the link; False if there was none."""
    holder, dependant = hub.read_sync(lambda conn: (_space(conn, hub, holder_ins), _space(conn, hub, dependant_ins)))

    def work(conn: Connection) -> bool:
        removed = store.unlink(conn, holder.id, dependant.id)
        if removed:
            _trace(conn, holder, dependant, audit.REPRESENTATIVE_REMOVE, OPERATOR, "operator")
        return removed

    return hub.committer.run(work)


def _trace(conn: Connection, holder: Space, dependant: Space, action: str, actor: str, outcome: str) -> None:
    actor_type = audit.ActorType.OPERATOR if actor == OPERATOR else audit.ActorType.SYSTEM
    for subject in (dependant, holder):
        audit.record(conn, actor=actor, actor_type=actor_type, action=action, subject_account_id=subject.id,
                     target=f"representative:{holder.id} dependant:{dependant.id}", outcome=outcome)


def listing(hub: Hub) -> list[tuple[str, str, str, dt.datetime]]:
    """(representative's address, dependant's address, kind, since) of every link."""
    def work(conn: Connection):
        addresses = dict(conn.execute(select(Account.id, Account.address)).all())
        return [(addresses.get(link.representative_id, "?"), link.dependant_address, link.kind, link.since)
                for link in store.links(conn)]

    return hub.read_sync(work)


def coming_of_age_notice(ctx: notices.Context, to: str, now: dt.datetime) -> bytes:
    text = (
        "Bonjour,\n\n"
        "Vous avez 18 ans : votre espace santé est désormais le vôtre. Vos représentants légaux n'y ont plus accès.\n"
        f"Si vous ne l'avez pas encore activé, demandez un code d'activation et rendez-vous sur {ctx.portal}.\n\n"
        "---\n\n"
        "Hello,\n\n"
        "You are 18: your health space is now yours alone. Your legal representatives no longer have access to it.\n"
        f"If you have not activated it yet, ask for an activation code and go to {ctx.portal}.\n"
    )
    return notices.system_mail(ctx, to, "Votre espace santé est à vous / Your health space is yours", text, now)[0]


def _ended_minors(hub: Hub, now: dt.datetime) -> list[tuple[Space, list[store.Link]]]:
    links = hub.read_sync(lambda conn: store.links(conn, kind=store.MINOR))
    by_dependant: dict[int, list[store.Link]] = {}
    for link in links:
        by_dependant.setdefault(link.dependant_id, []).append(link)
    ended = []
    for dependant_id, held in by_dependant.items():
        space = Space(dependant_id, held[0].dependant_address, "")
        age = _age(hub, space, now.date())
        if age is not None and age >= MAJORITY_YEARS:
            ended.append((space, held))
    return ended


async def end_at_majority(hub: Hub, now: dt.datetime | None = None) -> int:
    """The daily job's part: a minor's links end at 18; the young adult is invited to take the space over."""
    now = now or dt.datetime.now(dt.timezone.utc)
    loop = asyncio.get_running_loop()
    ended = await loop.run_in_executor(None, _ended_minors, hub, now)
    count = 0
    for space, held in ended:
        def work(conn: Connection, space: Space = space, held: list = held) -> int:
            removed = 0
            for link in held:
                if store.unlink(conn, link.representative_id, link.dependant_id):
                    _trace(conn, Space(link.representative_id, "", ""), space, audit.REPRESENTATIVE_REMOVE,
                           DAILY_JOB, "majority")
                    removed += 1
            return removed

        count += await hub.write(work)
        ctx = notices.Context.of(hub)
        await delivery.accept(hub, delivery.Envelope(mail_from=ctx.sender, rcpt_to=(space.address,),
                                                     channel=Channel.INTERNAL),
                              coming_of_age_notice(ctx, space.address, now))
    if count:
        log.info("legal representation ended at majority: %d links", count)
    return count
