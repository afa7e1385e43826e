"""The real `mssante-hub serve`: submission in, the relay worker started by serve delivers to the other operator."""

from __future__ import annotations

import smtplib
import time

from mssante_hub.hub import Hub
from tests.conftest import TEST_PASSWORD, add_professional
from tests.relays.peer import free_port, start_peer
from tests.smtp.messages import message
from tests.smtp.support import REMOTE_DOMAIN, configure_smtp, make_pki
from tests.support.served import served

JEAN = "jean.dupont@hub.test"
CONFRERE = f"confrere@{REMOTE_DOMAIN}"


def test_served_hub_relays_submitted_mail_to_the_other_operator(data_dir, tmp_path):
    pki = make_pki(tmp_path)
    port = free_port()
    configure_smtp(data_dir, pki, **{"relay.routes": [f"{REMOTE_DOMAIN}=127.0.0.1:{port}"]})
    hub = Hub.open(data_dir)
    add_professional(hub, "jean.dupont")
    hub.close()
    peer, handler = start_peer(pki, port)
    try:
        with served(data_dir, ["mx", "submission"]) as hub_process:
            with smtplib.SMTP("127.0.0.1", hub_process.port("submission"), timeout=30) as client:
                client.starttls(context=pki.client_context(None))
                client.login(JEAN, TEST_PASSWORD)
                assert client.sendmail(JEAN, [CONFRERE], message(JEAN, CONFRERE, subject="Relais")) == {}
            deadline = time.monotonic() + 60  # the worker is woken by the delivery, not timed here
            while not handler.received and time.monotonic() < deadline:
                time.sleep(0.05)
    finally:
        peer.stop()
    assert len(handler.received) == 1 and b"Subject: Relais" in handler.received[0].content
