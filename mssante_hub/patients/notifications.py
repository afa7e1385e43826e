"""Content-free notifications to patients' personal addresses (docs/domain.md §5.7).

A delivery to a patient only marks the kind of news as pending, in the delivery's
own transaction. The notification worker (patients/worker.py) then mails each patient with pending news at most
once per `notify.interval_minutes` (later news waits and goes in one digest): a
fixed text, in French then English, that names the kinds of news and nothing of
the original message — not its sender, subject, body or file names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from email.message import EmailMessage

from sqlalchemy import Connection, select, update
from sqlalchemy.dialects import postgresql, sqlite

from storage.patients import NotificationState

if TYPE_CHECKING:
    from mssante_hub.hub import Hub

MESSAGE = "message"
DOCUMENT = "document"
APPOINTMENT = "appointment"
SERVICE = "service"
SCREENING = "screening"
ACCESS = "access"  # a professional opened the dossier (docs/domain.md §6.5)
REMINDER = "reminder"  # an appointment is near (agenda/reminders.py): the day before, once
KINDS = (MESSAGE, DOCUMENT, APPOINTMENT, SERVICE, SCREENING, ACCESS, REMINDER)
_KIND_TEXT = {
    MESSAGE: ("un nouveau message", "a new message"),
    DOCUMENT: ("un nouveau document", "a new document"),
    APPOINTMENT: ("un rendez-vous", "an appointment"),
    SERVICE: ("des nouvelles d'un service connecté", "news from a connected service"),
    SCREENING: ("une invitation de prévention", "a prevention invitation"),
    ACCESS: ("un accès d'un professionnel à votre dossier", "a professional's access to your health record"),
    REMINDER: ("un rappel : un rendez-vous approche", "a reminder: an appointment is coming up"),
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


def words(value: str) -> set[str]:
    return {w for w in value.split() if w}


def _ensure_row(conn: Connection, account_id: int) -> None:
    insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(NotificationState)
    conn.execute(insert.values(account_id=account_id, disabled="", pending="").on_conflict_do_nothing())


def mark_pending(conn: Connection, account_id: int, kind: str) -> None:
    """Note news of `kind` for a patient (inside the delivery's transaction), unless switched off."""
    _ensure_row(conn, account_id)
    row = conn.execute(select(NotificationState.disabled, NotificationState.pending)
                       .where(NotificationState.account_id == account_id)).one()
    if kind in words(row.disabled) or kind in words(row.pending):
        return
    conn.execute(update(NotificationState).where(NotificationState.account_id == account_id)
                 .values(pending=" ".join(sorted(words(row.pending) | {kind}))))


def disabled_kinds(conn: Connection, account_id: int) -> set[str]:
    """The kinds of news this patient switched off."""
    value = conn.execute(select(NotificationState.disabled)
                         .where(NotificationState.account_id == account_id)).scalar()
    return words(value or "")


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


def notification_text(kinds: list[str], portal: str, representative: bool = False) -> tuple[str, str]:
    """(subject, body) of a notification: fixed words only, never anything of the news itself.

    `representative`: to a legal representative, about a space they manage (which one is not said)."""
    fr = ", ".join(_KIND_TEXT[k][0] for k in kinds)
    en = ", ".join(_KIND_TEXT[k][1] for k in kinds)
    if representative:
        return "Du nouveau dans un espace santé que vous gérez / News in a health space you manage", (
            "Bonjour,\n\n"
            f"Du nouveau attend dans un espace santé dont vous êtes le représentant légal : {fr}.\n"
            f"Connectez-vous sur {portal} et choisissez le profil concerné.\n"
            "Ce courriel ne contient aucune information de santé.\n\n"
            "---\n\n"
            "Hello,\n\n"
            f"There is something new in a health space you manage as legal representative: {en}.\n"
            f"Log in at {portal} and pick that profile.\n"
            "This e-mail holds no health information.\n")
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
