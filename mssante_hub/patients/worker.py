"""The notification worker of a serving hub: sends due notifications soon after each delivery.

:func:`send_due` mails each patient with pending news (see notifications.py), through delivery.accept.

Started beside the relay by `mssante-hub serve` (service.start_workers); it wakes on
a committed delivery to a patient space and otherwise looks every `POLL_SECONDS`, so
news held back by the interval goes out as a digest once the interval has passed.
Deliveries among professionals never wake it, and rounds are at least `MIN_GAP_SECONDS`
apart: under a stream of deliveries it costs one query a second, not one per message
(profiled at ~10 % of the SMTP ingest when it woke on every delivery).
"""

from __future__ import annotations

import asyncio
import logging

import datetime as dt

from sqlalchemy import Connection, select, update

from mssante_hub import audit, delivery
from mssante_hub.agenda import reminders
from mssante_hub.hub import Hub
from mssante_hub.observe import metrics
from mssante_hub.patients import derived_keys, notices, notifications
from mssante_hub.envelope import Channel
from storage.models import Account, AccountStatus, LegalRepresentative
from storage.patients import NotificationState, PatientProfile

POLL_SECONDS = 60.0
MIN_GAP_SECONDS = 1.0
log = logging.getLogger("mssante_hub.patients.notifications")


class NotifyWorker:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self._wake = asyncio.Event()
        self._stopping = False
        self._patient_suffix = "@" + hub.config.get("hub.patient_domain").lower()
        hub.delivery_listeners.append(self._listener)
        self._task = asyncio.ensure_future(self._run())

    def _listener(self, delivered) -> None:
        # Called on the loop thread once a delivery is committed; addresses are lower case.
        if any(address.endswith(self._patient_suffix) for address in delivered.uids):
            self._wake.set()

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()  # before the round: a delivery during it wakes the next one
            try:
                await send_due(self.hub)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - never content in this log: the exception type only
                log.error("notification round failed (%s); retrying later", type(exc).__name__)
            try:
                await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)
            except asyncio.TimeoutError:
                pass
            # Python 3.11's wait_for returns, swallowing a cancellation, when the event is set at the
            # same moment: the flag, not the cancellation alone, ends the loop.
            if self._stopping:
                return
            await asyncio.sleep(MIN_GAP_SECONDS)  # deliveries of the next second share one round

    async def stop(self) -> None:
        self._stopping = True
        if self._listener in self.hub.delivery_listeners:
            self.hub.delivery_listeners.remove(self._listener)
        self._wake.set()
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass


def start(hub: Hub) -> NotifyWorker:
    """Start on the running loop; `await worker.stop()` at shutdown."""
    return NotifyWorker(hub)


def _due(conn: Connection, cutoff: dt.datetime) -> list:
    return conn.execute(
        select(NotificationState.account_id, NotificationState.pending, Account.ins, PatientProfile.traits,
               PatientProfile.activated_at)
        .join(Account, Account.id == NotificationState.account_id)
        .join(PatientProfile, PatientProfile.account_id == NotificationState.account_id)
        # Held until activation: a space created past its objection window has no confirmed personal address;
        # unless legal representatives manage it (docs/domain.md §9): they are told at theirs.
        .where(NotificationState.pending != "", Account.status == AccountStatus.ACTIVE.value,
               PatientProfile.activated_at.is_not(None) | Account.id.in_(select(LegalRepresentative.dependant_id)),
               (NotificationState.last_sent_at.is_(None)) | (NotificationState.last_sent_at <= cutoff))
        .order_by(NotificationState.account_id).limit(notifications.SEND_BATCH)
    ).all()


async def send_due(hub: Hub, now: dt.datetime | None = None) -> int:
    """Mail every patient whose news is due; returns how many were notified."""
    now = now or dt.datetime.now(dt.timezone.utc)
    await reminders.mark_due(hub, now)  # appointments of tomorrow: news of kind "reminder", marked once
    cutoff = now - dt.timedelta(minutes=hub.config.get("notify.interval_minutes"))
    rows = await hub.read(lambda conn: _due(conn, cutoff))
    ctx = notices.Context.of(hub)
    sent = 0
    for row in rows:
        kinds = [k for k in notifications.KINDS if k in notifications.words(row.pending)]
        personal = derived_keys.open_traits(hub, row.ins, row.traits).get("email") if row.activated_at else None
        to = [(personal, False)] if personal else []
        to += [(address, True) for address in await hub.read(lambda conn, row=row: _representatives(hub, conn, row))]
        for address, representative in (to if kinds else []):
            subject, body = notifications.notification_text(kinds, ctx.portal, representative)
            raw, _ = notices.system_mail(ctx, address, subject, body, now)
            try:
                await delivery.accept(hub, delivery.Envelope(mail_from=ctx.sender, rcpt_to=(address,),
                                                             channel=Channel.INTERNAL), raw)
            except Exception:
                metrics.notification("failed")
                raise
            metrics.notification("sent")
        sent += 1 if to and kinds else 0
        await hub.write(lambda conn, row=row, kinds=kinds: _sent(conn, row.account_id, kinds, now))
    return sent


def _representatives(hub: Hub, conn: Connection, row) -> list[str]:
    """The personal addresses of the legal representatives who manage this space (activated spaces only)."""
    reps = conn.execute(
        select(Account.ins, PatientProfile.traits)
        .join(LegalRepresentative, LegalRepresentative.representative_id == Account.id)
        .join(PatientProfile, PatientProfile.account_id == Account.id)
        .where(LegalRepresentative.dependant_id == row.account_id, PatientProfile.activated_at.is_not(None))).all()
    found = [derived_keys.open_traits(hub, r.ins, r.traits).get("email") for r in reps if r.ins]
    return sorted({a for a in found if a})


def _sent(conn: Connection, account_id: int, kinds: list[str], now: dt.datetime) -> None:
    # News that arrived while this one was being sent stays pending for the next digest.
    pending = conn.execute(select(NotificationState.pending)
                           .where(NotificationState.account_id == account_id)).scalar_one_or_none()
    if pending is None:
        return
    conn.execute(update(NotificationState).where(NotificationState.account_id == account_id)
                 .values(pending=" ".join(sorted(notifications.words(pending) - set(kinds))), last_sent_at=now))
    audit.record(conn, actor="notify", actor_type=audit.ActorType.SYSTEM, action=audit.NOTIFY, subject_account_id=account_id,
                 target=f"kinds:{'+'.join(kinds)}")
