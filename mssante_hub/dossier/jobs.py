"""The dossier's part of the daily job: quarantined document messages past `dossier.quarantine_days`."""

from __future__ import annotations

import datetime as dt

from mssante_hub import audit
from mssante_hub.hub import Hub
from storage import dossier as dossier_store




async def run_daily(hub: Hub, now: dt.datetime) -> dict[str, int]:
    before = now - dt.timedelta(days=hub.config.get("dossier.quarantine_days"))

    def purge(conn) -> int:
        count = dossier_store.purge_quarantine(conn, before)
        if count:
            audit.record(conn, actor="daily-job", action=audit.DOSSIER_QUARANTINE_PURGE, target=f"messages:{count}")
        return count

    return {"quarantine_purged": await hub.write(purge)}
