"""libpq's multi-host URL (what pg_auto_failover prints) is taken as it is: docs/operations-ha.md."""

from __future__ import annotations

import socket

from sqlalchemy import text

from storage.database import libpq_url, make_engine, postgres_url
from tests.support.postgres import unique_db_name


def test_a_single_host_url_is_left_alone_but_for_the_driver():
    assert postgres_url("postgresql://hub:pw@db/hub") == "postgresql+psycopg://hub:pw@db/hub"
    assert postgres_url("postgresql+psycopg://hub@db:5433/hub") == "postgresql+psycopg://hub@db:5433/hub"


def test_the_hosts_of_a_multi_host_url_become_host_parameters_in_order():
    url = postgres_url("postgres://hub@db1:5432,db2:5433/hub?target_session_attrs=read-write")
    assert url == ("postgresql+psycopg://hub@/hub?host=db1%3A5432&host=db2%3A5433"
                   "&target_session_attrs=read-write")


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens once the probe is closed


def test_a_multi_host_url_whose_first_host_is_down_reaches_the_next(postgres):
    name = postgres.create_database(unique_db_name()).rsplit("/", 1)[1]
    engine = make_engine(f"postgresql://{postgres.user}@127.0.0.1:{closed_port()},127.0.0.1:{postgres.port}/{name}"
                         "?target_session_attrs=read-write")
    try:
        with engine.connect() as conn:
            assert conn.execute(text("select inet_server_port()")).scalar() == postgres.port
    finally:
        engine.dispose()


def test_libpq_reads_the_url_without_the_driver_and_its_multi_host_form_as_it_is():
    assert libpq_url("postgresql+psycopg://hub@db/hub") == "postgresql://hub@db/hub"
    multi = "postgresql://hub@db1:5432,db2:5432/hub?target_session_attrs=read-write"
    assert libpq_url(multi) == multi
