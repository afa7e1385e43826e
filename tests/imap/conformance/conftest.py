"""One served hub for the conformance modules, with a fresh mailbox per test."""

from __future__ import annotations

import itertools

import pytest

from mssante_hub.config import Config
from mssante_hub.hub import Hub
from tests.conftest import TEST_PASSWORD, add_professional, make_data_dir
from tests.support.served import served

USERS = 100  # one untouched mailbox per test that needs one (about 65 used)


class ConformanceHub:
    def __init__(self, served_hub, users: list[str]) -> None:
        self.served = served_hub
        self.password = TEST_PASSWORD
        self._users = iter(users)

    def fresh_user(self) -> str:
        return next(self._users)

    def port(self, name: str = "imaps") -> int:
        return self.served.port(name)


@pytest.fixture(scope="package")
def hub(tmp_path_factory):
    data_dir = make_data_dir(tmp_path_factory.mktemp("conformance"))
    config = Config.load(data_dir)
    config.set("mx.trusted_networks", ["127.0.0.0/8"])
    config.set("imap.idle_poll_seconds", 1.0)
    config.save()
    opened = Hub.open(data_dir)
    try:
        users = [add_professional(opened, f"conf{n}") for n in range(USERS)]
    finally:
        opened.close()
    with served(data_dir, ["imaps", "mx"]) as running:
        yield ConformanceHub(running, users)


_tags = itertools.count(1)


@pytest.fixture
def session(hub):
    """A logged-in raw session of a fresh user; `session.user` names it."""
    from tests.imap.conformance.client import Client

    user = hub.fresh_user()
    client = Client(hub.port())
    client.ok(f'LOGIN "{user}" "{hub.password}"')
    client.user = user
    client.hub = hub
    yield client
    client.close()
