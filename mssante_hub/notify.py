"""Content-free notifications to patients' personal addresses (DOMAIN.md §5.7).

A delivery to a patient only marks the kind of news as pending, in the delivery's
own transaction. :func:`send_due` then mails each patient with pending news at most
once per `notify.interval_minutes` (later news waits and goes in one digest): a
fixed text, in French then English, that names the kinds of news and nothing of
the original message — not its sender, subject, body or file names.
"""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage

from sqlalchemy import Connection, select, update
from sqlalchemy.dialects import postgresql, sqlite

from mssante_hub import audit
from mssante_hub.hub import Hub
from storage.models import Account, AccountStatus
from storage.patients import NotificationState, PatientProfile

MESSAGE = "message"
DOCUMENT = "document"
APPOINTMENT = "appointment"
SERVICE = "service"
SCREENING = "screening"
KINDS = (MESSAGE, DOCUMENT, APPOINTMENT, SERVICE, SCREENING)
_KIND_TEXT = {
    MESSAGE: ("un nouveau message", "a new message"),
    DOCUMENT: ("un nouveau document", "a new document"),
    APPOINTMENT: ("un rendez-vous", "an appointment"),
    SERVICE: ("des nouvelles d'un service connecté", "news from a connected service"),
    SCREENING: ("une invitation de prévention", "a prevention invitation"),
}
SEND_BATCH = 500
XDM_ATTACHMENT = "ihe_xdm.zip"


class NotifyError(ValueError):
    pass


def kind_of(message: EmailMessage) -> str:
    """Which kind of news a message to a patient is: a document, an appointment, or a message."""
    if message.get("X-MSS-CODECDA") is not None:
        return DOCUMENT
    for part in message.walk():
        if (part.get_filename() or "").lower() == XDM_ATTACHMENT:
            return DOCUMENT
        if part.get_content_type() == "text/calendar":
            return APPOINTMENT
    return MESSAGE


def _words(value: str) -> set[str]:
    return {w for w in value.split() if w}


def _ensure_row(conn: Connection, account_id: int) -> None:
    insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(NotificationState)
    conn.execute(insert.values(account_id=account_id, disabled="", pending="").on_conflict_do_nothing())


def mark_pending(conn: Connection, account_id: int, kind: str) -> None:
    """Note news of `kind` for a patient (inside the delivery's transaction), unless switched off."""
    _ensure_row(conn, account_id)
    row = conn.execute(select(NotificationState.disabled, NotificationState.pending)
                       .where(NotificationState.account_id == account_id)).one()
    if kind in _words(row.disabled) or kind in _words(row.pending):
        return
    conn.execute(update(NotificationState).where(NotificationState.account_id == account_id)
                 .values(pending=" ".join(sorted(_words(row.pending) | {kind}))))


def disabled_kinds(conn: Connection, account_id: int) -> set[str]:
    """The kinds of news this patient switched off."""
    value = conn.execute(select(NotificationState.disabled)
                         .where(NotificationState.account_id == account_id)).scalar()
    return _words(value or "")


def set_preferences(hub: Hub, account_id: int, disabled: set[str]) -> None:
    """Switch kinds of notification off (the others on)."""
    unknown = disabled - set(KINDS)
    if unknown:
        raise NotifyError(f"unknown notification kinds: {', '.join(sorted(unknown))}; known: {', '.join(KINDS)}")

    def work(conn: Connection) -> None:
        _ensure_row(conn, account_id)
        conn.execute(update(NotificationState).where(NotificationState.account_id == account_id)
                     .values(disabled=" ".join(sorted(disabled))))

    hub.committer.run(work)


def notification_text(kinds: list[str], portal: str) -> tuple[str, str]:
    """(subject, body) of a notification: fixed words only, never anything of the news itself."""
    fr = ", ".join(_KIND_TEXT[k][0] for k in kinds)
    en = ", ".join(_KIND_TEXT[k][1] for k in kinds)
    body = (
        "Bonjour,\n\n"
        f"Du nouveau vous attend dans votre espace santé : {fr}.\n"
        f"Connectez-vous sur {portal} pour le consulter.\n"
        "Ce courriel ne contient aucune information de santé.\n\n"
        "---\n\n"
        "Hello,\n\n"
        f"There is something new in your health space: {en}.\n"
        f"Log in at {portal} to see it.\n"
        "This e-mail holds no health information.\n"
    )
    return "Du nouveau dans votre espace santé / News in your health space", body


def _due(conn: Connection, cutoff: dt.datetime) -> list:
    return conn.execute(
        select(NotificationState.account_id, NotificationState.pending, Account.ins, PatientProfile.traits)
        .join(Account, Account.id == NotificationState.account_id)
        .join(PatientProfile, PatientProfile.account_id == NotificationState.account_id)
        .where(NotificationState.pending != "", Account.status == AccountStatus.ACTIVE.value,
               (NotificationState.last_sent_at.is_(None)) | (NotificationState.last_sent_at <= cutoff))
        .order_by(NotificationState.account_id).limit(SEND_BATCH)
    ).all()


async def send_due(hub: Hub, now: dt.datetime | None = None) -> int:
    """Mail every patient whose news is due; returns how many were notified."""
    from mssante_hub import delivery
    from mssante_hub.patients import derived_keys, notices

    now = now or dt.datetime.now(dt.timezone.utc)
    cutoff = now - dt.timedelta(minutes=hub.config.get("notify.interval_minutes"))
    rows = await hub.read(lambda conn: _due(conn, cutoff))
    ctx = notices.Context.of(hub)
    sent = 0
    for row in rows:
        kinds = [k for k in KINDS if k in _words(row.pending)]
        personal = derived_keys.open_traits(hub, row.ins, row.traits).get("email")
        if personal and kinds:
            subject, body = notification_text(kinds, ctx.portal)
            raw, _ = notices.system_mail(ctx, personal, subject, body, now)
            await delivery.accept(hub, delivery.Envelope(mail_from=ctx.sender, rcpt_to=(personal,)), raw)
            sent += 1
        await hub.write(lambda conn, row=row, kinds=kinds: _sent(conn, row.account_id, kinds, now))
    return sent


def _sent(conn: Connection, account_id: int, kinds: list[str], now: dt.datetime) -> None:
    # News that arrived while this one was being sent stays pending for the next digest.
    pending = conn.execute(select(NotificationState.pending)
                           .where(NotificationState.account_id == account_id)).scalar_one_or_none()
    if pending is None:
        return
    conn.execute(update(NotificationState).where(NotificationState.account_id == account_id)
                 .values(pending=" ".join(sorted(_words(pending) - set(kinds))), last_sent_at=now))
    audit.record(conn, actor="notify", actor_type="SYSTEM", action=audit.NOTIFY, subject_account_id=account_id,
                 target=f"kinds:{'+'.join(kinds)}")
