"""The hub's side of the outbound relay: builds relays.RelayWorker with what it needs.

relays/ never imports the hub; it is handed a way to open queued messages (with the
hub's own key, to which remote recipients' content keys are wrapped) and a way to
store reports (DSN) through the one delivery path.
"""

from __future__ import annotations

import logging

from mssante_hub import delivery
from mssante_hub.hub import Hub
from mssante_hub.reader import Reader
from storage import messages
from mssante_hub.envelope import Channel
from relays.client import client_context
from relays.routing import DnsSettings, parse_servers
from relays.worker import RelaySettings, RelayWorker, parse_routes
from storage import outbound

log = logging.getLogger("mssante_hub.relaying")


def settings(hub: Hub) -> RelaySettings:
    config = hub.config
    return RelaySettings(
        hostname=config.get("hub.hostname"),
        postmaster=f"postmaster@{config.get('hub.domain')}",
        routes=parse_routes(config.get("relay.routes")),
        retry_schedule_s=tuple(float(s) for s in config.get("relay.retry_schedule_s")) or (300.0,),
        max_age_s=config.get("relay.max_age_s"),
        delay_warning_s=config.get("relay.delay_warning_s"),
        poll_interval_s=config.get("relay.poll_interval_s"),
        concurrency=config.get("relay.concurrency"),
        lease_s=config.get("relay.lease_s"),
        timeout_s=config.get("relay.connect_timeout_s"),
        dns=DnsSettings(
            servers=parse_servers(config.get("relay.dns_servers")), smtp_port=config.get("relay.smtp_port"),
            timeout_s=config.get("relay.dns_timeout_s"), own_hostname=config.get("hub.hostname"),
        ) if config.get("relay.dns_mx") else None,
    )


def message_opener(hub: Hub):
    def open_message(blob_id: str) -> bytes:
        system = hub.system_account()
        found = outbound.sealed_for(hub.engine, blob_id, system.id) if system else None
        if found is None:
            raise LookupError(f"blob {blob_id} holds no key for the relay")
        body, wrapped = found
        return Reader.of(hub, system).body(messages.StoredBody(blob_id, wrapped, body))

    return open_message


def reporter(hub: Hub):
    async def report(rcpt: str, raw: bytes) -> None:
        await delivery.accept(hub, delivery.Envelope(mail_from="", rcpt_to=(rcpt,), channel=Channel.RELAY), raw)

    return report


def build(hub: Hub, clock=None) -> RelayWorker:
    config = hub.config
    cas = [config.data_dir / p for p in (config.get("relay.ca_files") or config.get("mx.ca_files"))]
    tls = client_context(config.path_setting("tls.cert_file"), config.path_setting("tls.key_file"), cas)
    return RelayWorker(hub.engine, settings(hub), tls, message_opener(hub), reporter(hub), clock=clock)


def start(hub: Hub) -> RelayWorker:
    """Start the worker on the running loop; it is woken after each committed delivery."""
    from mssante_hub.observe import metrics

    worker = build(hub)
    worker.on_outcome = metrics.relay_outcome
    hub.delivery_listeners.append(lambda delivered: worker.wake() if delivered.queued else None)
    worker.start()
    return worker
