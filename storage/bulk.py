"""Bulk inserts at driver speed for the few hot paths that write millions of rows.

SQLAlchemy's per-row parameter handling costs tens of microseconds a row; here the
statement is built once per table and batch, the columns' own defaults and type
processors (e.g. SQLite's datetime format) are applied as SQLAlchemy would, and the
rows go to the driver as multi-row INSERTs (one statement for many rows: SQLite runs
executemany one row at a time, each a round trip through the driver). Works with any
table, so columns added later by others are filled from their defaults.
"""

from __future__ import annotations

from sqlalchemy import Connection, LargeBinary, Table

from storage import driver

_SUPPORTED_PARAMSTYLES = ("qmark", "format", "pyformat")
# Bound values in one statement: SQLite builds before 3.32 allowed 999, and that is plenty.
MAX_PARAMS_PER_STATEMENT = 999


def _default(column) -> tuple[bool, object]:
    default = column.default
    if default is None:
        return (column.nullable or column.server_default is not None), None
    if default.is_scalar:
        return True, default.arg
    if default.is_callable:
        return True, default.arg(None)  # SQLAlchemy wraps plain callables to take a context
    return False, None


def _plan(table: Table, columns: tuple[str, ...], dialect) -> tuple[str, list, list, list]:
    """(SQL prefix, bind processors of `columns`, defaulted columns, their processors) for one table and column set."""
    if dialect.paramstyle not in _SUPPORTED_PARAMSTYLES:
        raise RuntimeError(f"bulk insert: unsupported driver paramstyle {dialect.paramstyle}")
    defaulted = []
    for column in table.columns:
        if column.name in columns or (column.primary_key and column.autoincrement in (True, "auto")
                                      and len(table.primary_key.columns) == 1):
            continue
        ok, _ = _default(column)
        if not ok:
            raise RuntimeError(f"bulk insert into {table.name}: no value or default for {column.name}")
        if column.server_default is not None and column.default is None:
            continue
        defaulted.append(column)
    names = list(columns) + [column.name for column in defaulted]
    # Bytes go to both drivers as they are; skipping the binary wrapper saves a call per value.
    processors = [None if isinstance(table.columns[name].type, LargeBinary)
                  else table.columns[name].type._cached_bind_processor(dialect) for name in names]
    quote = dialect.identifier_preparer.quote
    prefix = f"INSERT INTO {quote(table.name)} ({', '.join(quote(n) for n in names)}) VALUES "
    return prefix, processors[:len(columns)], defaulted, processors[len(columns):]


# Built once per table, column set and dialect: building them cost more than a small insert.
_PLANS: dict[tuple, tuple[str, list, list, list]] = {}
_STATEMENTS: dict[tuple[str, int, int], str] = {}


def _statement(prefix: str, width: int, count: int) -> str:
    sql = _STATEMENTS.get((prefix, width, count))
    if sql is None:
        row = "(" + driver.placeholders(width) + ")"
        sql = _STATEMENTS[(prefix, width, count)] = prefix + ", ".join([row] * count)
    return sql


def insert_rows(conn: Connection, table: Table, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """INSERT many rows given as tuples in `columns` order; other columns get their defaults."""
    if not rows:
        return
    dialect = conn.dialect
    key = (table, columns, dialect.name, dialect.paramstyle)
    plan = _PLANS.get(key)
    if plan is None:
        plan = _PLANS[key] = _plan(table, columns, dialect)
    prefix, processors, defaulted, default_processors = plan
    # Defaults are evaluated at each call (a timestamp default is the time of this insert).
    constants = tuple(p(v) if p else v for p, v in zip(default_processors,
                                                      (_default(column)[1] for column in defaulted)))
    active = [(i, p) for i, p in enumerate(processors) if p is not None]
    if active:
        prepared = []
        # Rows of a batch often share a value (one timestamp): process it once.
        last = {i: (object(), None) for i, _ in active}
        for row in rows:
            values = list(row)
            for i, process in active:
                raw = values[i]
                seen, done = last[i]
                if raw is not seen:
                    done = process(raw)
                    last[i] = (raw, done)
                values[i] = done
            prepared.append(tuple(values) + constants)
    else:
        prepared = [row + constants for row in rows]
    width = len(prepared[0])
    per_statement = max(1, MAX_PARAMS_PER_STATEMENT // width)
    for start in range(0, len(prepared), per_statement):
        chunk = prepared[start:start + per_statement]
        driver.rows(conn, _statement(prefix, width, len(chunk)), [value for row in chunk for value in row])
