"""Fixtures: a hub with its mx and submission listeners on a background loop, and a test PKI."""

from __future__ import annotations

import pytest

from mssante_hub.hub import Hub
from mssante_hub.smtp import mx, submission
from tests.conftest import add_professional
from tests.smtp.support import LoopThread, configure_smtp, make_pki


class Running:
    def __init__(self, hub: Hub, loop: LoopThread, listeners: dict) -> None:
        self.hub = hub
        self.loop = loop
        self.listeners = listeners

    def port(self, name: str) -> int:
        return self.listeners[name].port


@pytest.fixture
def pki(tmp_path):
    return make_pki(tmp_path)


@pytest.fixture
def smtp_settings() -> dict:
    return {}


@pytest.fixture
def smtp_hub(data_dir, pki, smtp_settings):
    configure_smtp(data_dir, pki, **smtp_settings)
    hub = Hub.open(data_dir)
    add_professional(hub, "jean.dupont")
    add_professional(hub, "marie.curie")
    loop = LoopThread()
    listeners = {
        "mx": loop.run(mx.start(hub, "127.0.0.1", 0)),
        "submission": loop.run(submission.start(hub, "127.0.0.1", 0)),
    }
    yield Running(hub, loop, listeners)
    for listener in listeners.values():
        loop.run(listener.close())
    loop.stop()
    hub.close()
