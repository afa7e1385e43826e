"""The dossier listing reads its rows in the index's order (migration 0017): SQLite's plan for a page, of one
category or of the whole dossier, searches ix_dossier_listing(_all) and sorts nothing (no temporary B-tree), so
a page costs the same whatever the dossier's size (bench/webmail.py; docs/web.md)."""

from __future__ import annotations

import pytest

from storage import dossier


def _plan(hub, category: str | None, after: bool) -> list[str]:
    """SQLite's plan of the statement `dossier.page` runs (built once per shape, with bound parameters)."""
    statement = dossier._page_statement(category is not None, after, ("INVISIBLE_PATIENT",))
    values = {"account_id": 1, "reader_id": 1, "limit": 51, "category": category,
              "after_at": "2026-01-01 00:00:00.000000", "after_id": 10}  # as SQLite stores a DateTime: text
    with hub.engine.connect() as conn:
        compiled = statement.compile(conn)
        processed = compiled.construct_params(values)
        # SQLite's driver takes the positional parameters in the order the compiled statement names them.
        parameters = tuple(processed[name] for name in compiled.positiontup)
        rows = conn.connection.dbapi_connection.execute("EXPLAIN QUERY PLAN " + str(compiled), parameters)
        return [row[3] for row in rows]


@pytest.mark.parametrize("category, index", [("SYNTHESE", "ix_dossier_listing "), (None, "ix_dossier_listing_all ")])
@pytest.mark.parametrize("after", [False, True])
def test_a_page_is_read_in_the_index_order(hub, category, index, after):
    plan = _plan(hub, category, after)
    assert any(f"USING INDEX {index}" in step for step in plan), plan
    assert not any("TEMP B-TREE" in step for step in plan), plan
