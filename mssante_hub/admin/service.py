"""`mssante-hub serve`: one process, one asyncio loop, Twisted on top of it.

The asyncio reactor must be installed before anything imports
``twisted.internet.reactor``; front-door modules are therefore imported here,
lazily, after the install (docs/architecture.md, "Concurrency").
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import logging
import os
import signal
from pathlib import Path

from mssante_hub.config import LISTENER_NAMES, Config, ConfigError
from mssante_hub.hub import Hub
from mssante_hub.admin import logs
from mssante_hub.admin.listeners import Listener, announce
from mssante_hub.observe import metrics

log = logging.getLogger("mssante_hub.admin.service")

METRICS_LISTENER = "metrics"
# Listener name -> module with `async def start(hub, host, port, reactor) -> Listener`.
FRONT_DOORS: dict[str, str] = {
    "web": "mssante_hub.web.server",
    "imap": "mssante_hub.imap.starttls",
    "imaps": "mssante_hub.imap.implicit_tls",
    "mx": "mssante_hub.smtp.mx",
    "submission": "mssante_hub.smtp.submission",
    METRICS_LISTENER: "mssante_hub.observe.exposition",  # only when metrics.listen is set
}


class ServeError(Exception):
    pass


def split_host_port(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    return host.strip("[]"), int(port)


def plan_listeners(hub: Hub, overrides: dict[str, str]) -> dict[str, tuple[str, int]]:
    """Which listeners to start, where: --listen wins over the settings."""
    names = list(overrides) if overrides else list(hub.config.get("listen.enabled"))
    plan = {}
    for name in names:
        if name == METRICS_LISTENER and hub.config.get("metrics.listen"):
            plan[name] = split_host_port(overrides.get(name) or hub.config.get("metrics.listen"))
            continue
        if name not in LISTENER_NAMES:
            raise ConfigError(f"unknown listener {name!r}; choose among {', '.join(LISTENER_NAMES)}")
        if name not in FRONT_DOORS:
            raise ServeError(f"listener {name!r} is not part of this version yet")
        plan[name] = split_host_port(overrides.get(name) or hub.config.get(f"listen.{name}"))
    if hub.config.get("metrics.listen") and METRICS_LISTENER not in plan:
        plan[METRICS_LISTENER] = split_host_port(hub.config.get("metrics.listen"))
    return plan


LEADER_LOCK = "background-workers"
LEADER_RETRY_S = 2.0


class BackgroundWorkers:
    """The outbound relay and the patients' notifications, run by ONE hub process at a time.

    Whoever holds the `background-workers` lock (cluster/singleton.py: a lock file on SQLite,
    an advisory lock on PostgreSQL) runs them; the others try again every LEADER_RETRY_S, so
    when the holder dies (kill -9 included) another takes over within seconds. Other workers'
    deliveries still wake them at once (cluster/events.py).
    """

    def __init__(self, hub: Hub) -> None:
        from mssante_hub.cluster.singleton import RunOnce

        self.hub = hub
        self.lock = RunOnce(hub, LEADER_LOCK)
        self.running: list = []
        self._task: asyncio.Task | None = None
        if not self._take():
            self._task = asyncio.ensure_future(self._wait_for_lock())

    def _take(self) -> bool:
        from mssante_hub import relaying
        from mssante_hub.patients import worker as notification_worker

        if not self.lock.try_acquire():
            return False
        log.info("running the relay and notification workers (this process holds %s)", LEADER_LOCK)
        self.running.append(notification_worker.start(self.hub))
        if self.hub.config.get("relay.enabled"):
            self.running.append(relaying.start(self.hub))
        return True

    async def _wait_for_lock(self) -> None:
        while True:
            await asyncio.sleep(LEADER_RETRY_S)
            try:
                if self._take():
                    return
            except Exception as exc:  # noqa: BLE001 - the database may be away a moment: try again
                log.error("could not try the %s lock (%s)", LEADER_LOCK, type(exc).__name__)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        for worker in self.running:
            await worker.stop()
        self.lock.release()


def start_workers(hub: Hub) -> list:
    """Background workers on the running loop (see BackgroundWorkers: one process in the cluster runs them)."""
    return [BackgroundWorkers(hub)]


def worker_count(config, requested: int | None) -> int:
    count = requested if requested is not None else config.get("serve.workers")
    if count < 0:
        raise ConfigError(f"--workers {count}: give 1 or more (0: one per core)")
    return count or os.cpu_count() or 1


def open_event_channel(hub: Hub, under_supervisor: bool):
    """How this process hears of the others' commits: LISTEN/NOTIFY on PostgreSQL (any process, any machine),
    the supervisor's datagrams on SQLite under workers, nothing for one process on SQLite (cluster/events.py)."""
    from mssante_hub.cluster.events import WorkerChannel
    from mssante_hub.cluster.pgevents import PgChannel

    channel = PgChannel.for_hub(hub)
    if channel is None and under_supervisor:
        channel = WorkerChannel.from_environment(hub)
    return channel


def serve(data_dir: Path, overrides: dict[str, str], log_level: str | None = None,
          log_format: str | None = None, workers: int | None = None) -> int:
    from mssante_hub.cluster import supervisor

    inherited = supervisor.inherited_sockets()  # set when this process is one of several workers
    if inherited is None:
        count = worker_count(Config.load(data_dir), workers)
        if count > 1:
            return supervisor.run(data_dir, overrides, log_level, log_format, count)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    from twisted.internet import asyncioreactor

    asyncioreactor.install(loop)
    from twisted.internet import reactor

    hub = Hub.open(data_dir, upgrade_schema=inherited is None)  # the supervisor migrated already
    logs.setup(log_level or hub.config.get("log.level"), fmt=log_format or hub.config.get("log.format"))
    metrics.WORKER_UP.set(1)
    listeners: list[Listener] = []
    workers: list = []  # background workers with `async stop()` (relay)
    failure: list[BaseException] = []

    channel = None

    async def start() -> None:
        nonlocal channel
        try:
            if inherited is None:
                plan = {name: (host, port, None) for name, (host, port) in plan_listeners(hub, overrides).items()}
            else:
                plan = {name: (*sock.getsockname()[:2], sock) for name, sock in inherited.items()}
            for name, (host, port, sock) in plan.items():
                module = importlib.import_module(FRONT_DOORS[name])
                listener = await module.start(hub, host, port, reactor, sock=sock)
                listeners.append(listener)
                announce(hub, name, listener)
                print(f"listening {name} {listener.host}:{listener.port}", flush=True)
                log.info("listening %s %s:%d", name, listener.host, listener.port)
            channel = open_event_channel(hub, inherited is not None)
            if channel is not None:
                channel.start(loop)
            workers.extend(start_workers(hub))
            # What start-up loaded (modules, SQLAlchemy's tables, Twisted) lives as long as the process: out of the
            # collector's reach, a full collection walks only what requests made, so a big answer (a 5,000-item
            # agenda) no longer pays for a walk of the whole heap (docs/agenda.md, Performance).
            gc.freeze()
            log.info("serving %s (%d listeners, %d background workers)", hub.config.get("hub.domain"),
                     len(listeners), len(workers))
        except BaseException as exc:  # noqa: BLE001 - reported by the command line
            log.error("could not start: %s", type(exc).__name__)
            failure.append(exc)
            reactor.stop()

    async def stop() -> None:
        for listener in listeners:
            await listener.close()
        for worker in workers:
            await worker.stop()
        if channel is not None:
            channel.stop(loop)

    def on_signal() -> None:
        log.info("stopping: closing listeners, finishing what was accepted")
        if reactor.running:
            reactor.stop()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal)
    reactor.callWhenRunning(lambda: asyncio.ensure_future(start()))
    try:
        reactor.run(installSignalHandlers=False)
        loop.run_until_complete(stop())
    finally:
        hub.close()
        loop.close()
    if failure:
        raise failure[0]
    log.info("stopped")
    return 0
