"""A served hub with its web listener (a real `mssante-hub serve` subprocess), one per module.

The test process opens the same data folder to set the scene (accounts, earlier
messages through delivery.accept); what is under test goes over HTTP.
"""

from __future__ import annotations

import pytest

from mssante_hub.config import Config
from mssante_hub.hub import Hub
from tests.conftest import make_data_dir
from tests.support.served import served
from tests.support.trust import list_domains
from tests.web.support import WebClient


REMOTE_DOMAIN = "autre-operateur.test"


class WebHub:
    def __init__(self, running, hub: Hub, data_dir) -> None:
        self.running = running
        self.hub = hub
        self.data_dir = data_dir

    @property
    def port(self) -> int:
        return self.running.port("web")

    def client(self, token: str | None = None) -> WebClient:
        return WebClient(self.port, token)


def configure(data_dir, settings: dict) -> None:
    config = Config.load(data_dir)
    config.set("relay.enabled", False)  # remote recipients stay queued: tests never reach another host
    config.set("web.max_request_bytes", 2 * 1024 * 1024)  # small caps, so that hostile tests stay quick
    config.set("web.max_buffered_bytes", 3 * 1024 * 1024)
    for key, value in settings.items():
        config.set(key, value)
    config.save()
    list_domains(data_dir, [REMOTE_DOMAIN])  # the other operator of the rules matrix is in the trust space


@pytest.fixture(scope="module")
def web_settings() -> dict:
    return {}


@pytest.fixture(scope="module")
def web_hub(tmp_path_factory, web_settings):
    data_dir = make_data_dir(tmp_path_factory.mktemp("web"))
    configure(data_dir, web_settings)
    hub = Hub.open(data_dir)
    try:
        with served(data_dir, ["web"]) as running:
            yield WebHub(running, hub, data_dir)
    finally:
        hub.close()
