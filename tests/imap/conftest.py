"""One served hub (imap, imaps, mx) per test module, with two professionals."""

from __future__ import annotations

import pytest

from mssante_hub.config import Config
from mssante_hub.hub import Hub
from tests.conftest import TEST_PASSWORD, add_professional, make_data_dir
from tests.support.served import served


USER_NAMES = ["alice", "bob"] + [f"user{n}" for n in range(1, 9)]
ORG_NAME = "accueil"  # an organisation mailbox, delegated with ACLs


class ImapHub:
    def __init__(self, served_hub, data_dir, users: list[str]) -> None:
        self.served = served_hub
        self.data_dir = data_dir
        self.users = users  # one fresh mailbox per test that needs an untouched INBOX
        self.alice, self.bob = users[0], users[1]
        self.org = f"{ORG_NAME}@{users[0].rpartition('@')[2]}"
        self.password = TEST_PASSWORD
        self._next = 2

    def fresh_user(self) -> str:
        self._next += 1
        return self.users[self._next - 1]

    def port(self, name: str) -> int:
        return self.served.port(name)

    @property
    def pid(self) -> int:
        return self.served.process.pid


def start(tmp_path_factory, settings: dict | None = None):
    data_dir = make_data_dir(tmp_path_factory.mktemp("imap"))
    config = Config.load(data_dir)
    config.set("mx.trusted_networks", ["127.0.0.0/8"])
    config.set("imap.idle_poll_seconds", 1.0)  # another process's delivery is seen within a second
    for key, value in (settings or {}).items():
        config.set(key, value)
    config.save()
    hub = Hub.open(data_dir)
    try:
        users = [add_professional(hub, name) for name in USER_NAMES]
        add_professional(hub, ORG_NAME, type="ORG")
    finally:
        hub.close()
    return data_dir, users


@pytest.fixture(scope="module")
def imap_hub(tmp_path_factory):
    data_dir, users = start(tmp_path_factory)
    with served(data_dir, ["imap", "imaps", "mx"]) as running:
        yield ImapHub(running, data_dir, users)
