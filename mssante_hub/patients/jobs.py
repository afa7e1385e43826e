"""The daily job: what must happen by a date, whether or not anyone asks."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from sqlalchemy import select

from mssante_hub import audit

from mssante_hub.accounts import inactivity

from mssante_hub.catalogue import consent as catalogue_consent
from mssante_hub.dossier import jobs as dossier_jobs
from mssante_hub.patients import worker
from mssante_hub.hub import Hub
from mssante_hub.patients import lifecycle, representatives
from storage import sync

from storage.models import AuditEvent

log = logging.getLogger("mssante_hub.patients.jobs")
DAILY_ACTOR = "daily-job"


def day_mark(now: dt.datetime) -> str:
    return f"day:{now.astimezone(dt.timezone.utc):%Y-%m-%d}"


def ran_on(hub: Hub, now: dt.datetime) -> bool:
    """Whether the daily job already ran to its end on `now`'s UTC day (several machines' timers: once a day)."""
    query = select(AuditEvent.id).where(AuditEvent.action == audit.JOB_DAILY, AuditEvent.actor == DAILY_ACTOR,
                                        AuditEvent.target == day_mark(now)).limit(1)
    return hub.read_sync(lambda conn: conn.execute(query).first()) is not None


def record_run(hub: Hub, now: dt.datetime) -> None:
    hub.committer.run(lambda conn: audit.record(conn, actor=DAILY_ACTOR, actor_type=audit.ActorType.SYSTEM,
                                                action=audit.JOB_DAILY, target=day_mark(now)))


async def run_daily(hub: Hub, now: dt.datetime | None = None) -> dict[str, int]:
    """Spaces past their objection window, deletions due, archives past retention, audit retention, inactive mailboxes, pending notifications."""
    now = now or dt.datetime.now(dt.timezone.utc)
    loop = asyncio.get_running_loop()
    done = dict(await loop.run_in_executor(None, lifecycle.run_due_deletions, hub, now))
    done["spaces_created"] = await loop.run_in_executor(None, lifecycle.create_spaces_past_objection, hub, now)
    retention = hub.config.get("audit.retention_days")

    def purge(conn) -> int:
        count = audit.purge_expired(conn, retention, now)
        audit.record(conn, actor="daily-job", action=audit.AUDIT_PURGE, target=f"events:{count}")
        return count

    done["audit_purged"] = await hub.write(purge)
    keep = dt.timedelta(days=hub.config.get("imap.vanished_keep_days"))
    done["expunges_forgotten"] = await hub.write(lambda conn: sync.purge_expunged(conn, now - keep))
    done.update(await inactivity.check_inactive_mailboxes(hub, now))
    done.update(await dossier_jobs.run_daily(hub, now))
    done["representatives_ended"] = await representatives.end_at_majority(hub, now)
    done["consents_lapsed"] = await catalogue_consent.lapse_due(hub, now)
    done["notified"] = await worker.send_due(hub, now)
    # The directory blob store's orphans (a crash between write and commit, deleted messages): storage/blobstore.py.
    done["blobs_swept"] = await loop.run_in_executor(None, hub.blobs.sweep, hub.engine,
                                                     hub.config.get("storage.blob_sweep_grace_s"))
    log.info("daily job done: %s", " ".join(f"{name}={count}" for name, count in done.items()))
    return done
