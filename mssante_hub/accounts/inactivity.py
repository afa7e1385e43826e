"""Professional mailboxes unused for a year: warned at 11 months, suspended at 12 (docs/domain.md §9).

Both limits are settings; every warning and suspension is traced. The warning is a
message from the hub's postmaster to the mailbox itself, through delivery.accept.

Last use is `accounts.last_login_at`, brought up to date here from the front doors'
successful-login traces (SMTP `auth.success`, IMAP `imap.login`, webmail `login`):
the daily run folds them in long before the audit retention (>= 6 months) drops them.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, delete, func, select, update

from mssante_hub import audit

from mssante_hub.accounts import identity
from mssante_hub.hub import Hub
from mssante_hub.envelope import Channel
from storage import sessions
from storage.models import Account, AccountStatus, AuditEvent
from storage.patients import InactivityWarning


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    return value.replace(tzinfo=dt.timezone.utc) if value is not None and value.tzinfo is None else value


# Successful logins as each front door traces them.
LOGIN_ACTIONS = ("auth.success", "imap.login", audit.LOGIN)


def fold_logins(conn: Connection) -> int:
    """Copy the newest successful login of each professional mailbox into last_login_at."""
    latest = dict(conn.execute(
        select(AuditEvent.actor, func.max(AuditEvent.at)).where(AuditEvent.action.in_(LOGIN_ACTIONS))
        .group_by(AuditEvent.actor)
    ).all())
    if not latest:
        return 0
    updated = 0
    rows = conn.execute(select(Account.id, Account.address, Account.last_login_at)
                        .where(Account.type.in_(sorted(identity.PROFESSIONAL_TYPES)))).all()
    for row in rows:
        seen = _aware(latest.get(row.address))
        if seen is not None and (row.last_login_at is None or seen > _aware(row.last_login_at)):
            conn.execute(update(Account).where(Account.id == row.id).values(last_login_at=seen))
            updated += 1
    return updated


def _candidates(conn: Connection):
    return conn.execute(
        select(Account.id, Account.address, Account.created_at, Account.last_login_at, InactivityWarning.warned_at)
        .outerjoin(InactivityWarning, InactivityWarning.account_id == Account.id)
        .where(Account.type.in_(sorted(identity.PROFESSIONAL_TYPES)), Account.status == AccountStatus.ACTIVE.value)
    ).all()


async def check_inactive_mailboxes(hub: Hub, now: dt.datetime | None = None) -> dict[str, int]:
    """Warn and suspend professional mailboxes by their last login; returns the counts."""
    from mssante_hub import delivery
    from mssante_hub.patients import notices

    now = now or dt.datetime.now(dt.timezone.utc)
    warn_after = dt.timedelta(days=hub.config.get("professionals.inactivity_warn_days"))
    suspend_after = dt.timedelta(days=hub.config.get("professionals.inactivity_suspend_days"))
    await hub.write(fold_logins)
    to_warn, to_suspend = [], []
    for row in await hub.read(_candidates):
        last = _aware(row.last_login_at) or _aware(row.created_at)
        warned = _aware(row.warned_at)
        if now - last >= suspend_after:
            to_suspend.append(row.id)
        elif now - last >= warn_after and (warned is None or warned < last):
            to_warn.append((row.id, row.address, last + suspend_after))
    ctx = notices.Context.of(hub)
    for account_id, address, suspend_on in to_warn:
        raw, _ = notices.inactivity_warning(ctx, address, suspend_on, now)
        await delivery.accept(hub, delivery.Envelope(mail_from=ctx.sender, rcpt_to=(address,), channel=Channel.INTERNAL), raw)

        def warned(conn: Connection, account_id: int = account_id) -> None:
            conn.execute(delete(InactivityWarning).where(InactivityWarning.account_id == account_id))
            conn.execute(InactivityWarning.__table__.insert().values(account_id=account_id, warned_at=now))
            audit.record(conn, actor="daily-job", action=audit.MAILBOX_INACTIVE_WARN, subject_account_id=account_id,
                         target=f"account:{account_id}")

        await hub.write(warned)

    def suspend(conn: Connection) -> None:
        for account_id in to_suspend:
            conn.execute(update(Account).where(Account.id == account_id).values(status=AccountStatus.SUSPENDED.value))
            sessions.end_all(conn, account_id)
            audit.record(conn, actor="daily-job", action=audit.MAILBOX_SUSPEND, subject_account_id=account_id,
                         target=f"account:{account_id}")

    if to_suspend:
        await hub.write(suspend)
    return {"warned": len(to_warn), "suspended": len(to_suspend)}
