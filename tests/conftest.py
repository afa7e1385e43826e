"""Shared fixtures: data folders, opened hubs on SQLite and PostgreSQL, served hubs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mssante_hub.accounts.mailboxes import add_account
from mssante_hub.admin.datadir import init_data_dir
from mssante_hub.hub import Hub
from tests.support.missing import missing, note_report, summary_lines
from tests.support.postgres import PostgresServer, unique_db_name

SHARED = Path(__file__).resolve().parents[2] / "shared"
FIXTURES = Path(os.environ.get("MSSANTE_FIXTURES", SHARED / "fixtures"))
TEST_PASSWORD = "correct horse battery staple"
DOMAIN = "hub.test"
PATIENT_DOMAIN = "patient.hub.test"


FIXTURES_HOW = ("MSSANTE_FIXTURES=/path/to/fixtures bash tests/run.sh (the folder with cda/ and whitelist/: "
                "the ANS CI-SIS CDA examples and the published liste blanche, as ../shared/fixtures holds them)")


@pytest.fixture(scope="module")
def fixtures_dir(request) -> Path:
    """The shared real-world test data (CI-SIS CDA examples, the national whitelist); said loudly when absent.

    Module-scoped so that module-scoped scenes (a served hub with documents filed) can use it too; when the data
    is missing, the module's tests are the ones named in the closing summary.
    """
    if not FIXTURES.is_dir():
        missing(request.node.nodeid, f"the shared fixtures are not at {FIXTURES}", FIXTURES_HOW)
    return FIXTURES


def pytest_runtest_logreport(report) -> None:
    note_report(report)


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter) -> None:
    """One line per kind of thing missing, at the very end of the run, where it cannot be missed."""
    lines = summary_lines()
    if lines:
        terminalreporter.section("tests not run on this machine", sep="=", red=True, bold=True)
        for line in lines:
            terminalreporter.write_line(line, red=True, bold=True)


@pytest.fixture(scope="session")
def postgres():
    """One private PostgreSQL server for the whole session."""
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request) -> str:
    return request.param


@pytest.fixture
def storage_url(backend, request) -> str | None:
    if backend == "sqlite":
        return None
    server = request.getfixturevalue("postgres")
    return server.create_database(unique_db_name())


def make_data_dir(base: Path, storage_url: str | None = None) -> Path:
    data_dir = base / "hub"
    os.umask(0o077)
    init_data_dir(data_dir, DOMAIN, PATIENT_DOMAIN, storage_url)
    return data_dir


@pytest.fixture
def data_dir(tmp_path) -> Path:
    """A fresh SQLite data folder."""
    return make_data_dir(tmp_path)


@pytest.fixture
def any_data_dir(tmp_path, storage_url) -> Path:
    """A fresh data folder on each backend (SQLite, then PostgreSQL)."""
    return make_data_dir(tmp_path, storage_url)


@pytest.fixture
def hub(data_dir):
    opened = Hub.open(data_dir)
    yield opened
    opened.close()


@pytest.fixture
def any_hub(any_data_dir):
    opened = Hub.open(any_data_dir)
    yield opened
    opened.close()


def add_professional(hub: Hub, local: str, type: str = "PER", password: str = TEST_PASSWORD) -> str:
    address = f"{local}@{hub.config.get('hub.domain')}"
    add_account(hub, type=type, address=address, display_name=local.replace(".", " ").title(), password=password)
    return address
