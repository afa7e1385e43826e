"""The database engine: SQLite (WAL, synchronous=FULL) by default, PostgreSQL by URL.

Also runs the Alembic migrations, so that `init`, `serve` and the tests all reach
the same schema the same way.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the single writer; FULL syncs the WAL on every commit,
    # so an acknowledged delivery survives a power cut, not just a crash.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # Sorts and temporary indexes stay in memory: no plaintext-bearing temp files.
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


WRITER_OPTION = "hub_writer"


def _sqlite_begin(conn) -> None:
    # A writer takes the write lock at BEGIN, so two writers never deadlock on a lock
    # upgrade; readers begin deferred and run beside it under WAL.
    writer = conn.get_execution_options().get(WRITER_OPTION, False)
    # On the driver's connection: every delivery waits for this, and going through
    # SQLAlchemy's execution cost several times the statement.
    conn.connection.dbapi_connection.execute("BEGIN IMMEDIATE" if writer else "BEGIN")


def make_engine(url: str, pool_size: int = 8) -> Engine:
    """An engine with the hub's settings for either backend."""
    if is_sqlite(url):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            pool_size=pool_size,
            max_overflow=pool_size,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling defers BEGIN; take control so that a
        # transaction that will write takes the write lock at once (no upgrade deadlocks).
        event.listen(engine, "connect", lambda conn, _rec: setattr(conn, "isolation_level", None))
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(postgres_url(url), pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def libpq_url(url: str) -> str:
    """The hub's database URL as libpq reads it (pg_dump, LISTEN/NOTIFY): no driver name; libpq's own multi-host
    form passes as it is."""
    scheme, _, rest = url.partition("://")
    return f"{scheme.split('+')[0]}://{rest}"


def postgres_url(url: str) -> str:
    """The SQLAlchemy form of a PostgreSQL URL, libpq's multi-host form included.

    An HA set (docs/operations-ha.md) is named as libpq names it, `postgresql://user@h1:p1,h2:p2/db?
    target_session_attrs=read-write`: every new connection goes to whichever host is the writable primary, so the
    hub follows a failover by itself. SQLAlchemy cannot parse that netloc; it takes the hosts as `host=` parameters.
    """
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url[len(prefix):]
    scheme, sep, rest = url.partition("://")
    netloc, slash, path = rest.partition("/")
    credentials, at, hosts = netloc.rpartition("@")
    if "," not in hosts:
        return url
    query = "&".join("host=" + quote(host, safe="") for host in hosts.split(","))
    path, question, params = path.partition("?")
    params = query + ("&" + params if params else "")
    return f"{scheme}{sep}{credentials}{at}/{path}?{params}"


def _alembic_config(engine: Engine) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration."""
    command.upgrade(_alembic_config(engine), "head")


def head_revision() -> str:
    return ScriptDirectory.from_config(_alembic_config(None)).get_current_head()  # type: ignore[arg-type]


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
