"""The dossier listing reads its rows in the index's order (migration 0017): SQLite's plan for a page, of one
category or of the whole dossier, searches ix_dossier_listing(_all) and sorts nothing (no temporary B-tree), so
a page costs the same whatever the dossier's size (bench/webmail.py; docs/web.md)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from storage import dossier


def _plan(hub, category: str | None, after: bool) -> list[str]:
    order = dossier.func.coalesce(dossier.DossierDocument.effective_at, dossier.DossierDocument.filed_at)
    query = dossier._current_for(1, 1, ("INVISIBLE_PATIENT",))
    if category is not None:
        query = query.where(dossier.DossierDocument.category == category)
    if after:
        at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        query = query.where((order < at) | ((order == at) & (dossier.DossierDocument.id < 10)))
    query = query.order_by(order.desc(), dossier.DossierDocument.id.desc()).limit(51)
    with hub.engine.connect() as conn:
        compiled = query.compile(conn, compile_kwargs={"literal_binds": True})
        return [row[3] for row in conn.execute(text("EXPLAIN QUERY PLAN " + str(compiled)))]


@pytest.mark.parametrize("category, index", [("SYNTHESE", "ix_dossier_listing "), (None, "ix_dossier_listing_all ")])
@pytest.mark.parametrize("after", [False, True])
def test_a_page_is_read_in_the_index_order(hub, category, index, after):
    plan = _plan(hub, category, after)
    assert any(f"USING INDEX {index}" in step for step in plan), plan
    assert not any("TEMP B-TREE" in step for step in plan), plan
