"""`serve --workers N`: the supervising process.

It opens the hub once (migrations, master key check), binds every listener (port 0 resolved),
prints the same `listening NAME HOST:PORT` lines as one process does, then starts N workers:
`mssante-hub serve --workers 1` processes that inherit the listening sockets (each accepts on
the same socket: the kernel hands each connection to one of them) and one end of a Unix
datagram socket pair, the event relay (events.py): what one worker publishes, the supervisor
forwards to the others. A worker that dies is started again (its sockets never closed: nothing
queued on them is lost); SIGTERM or SIGINT is passed to every worker, which finish what they
accepted, and the supervisor exits once they have. It serves nothing itself and holds no keys.
"""

from __future__ import annotations

import logging
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from mssante_hub.cluster import events
from mssante_hub.cluster.singleton import run_dir

LISTEN_FDS_ENV = "MSSANTE_HUB_LISTEN_FDS"  # "mx=5,imaps=6": the inherited listening sockets
WORKER_SLOT_ENV = "MSSANTE_HUB_WORKER"
METRICS_DIR = "metrics"
BACKLOG = 1024
STOP_TIMEOUT_S = 18.0  # under the 20 s systemd (and the tests) give a stop
SELECT_TIMEOUT_S = 0.25
FAST_EXIT_S = 5.0  # a worker that dies sooner than this after its start counts as failing to start
MAX_FAST_EXITS = 5  # in a row, for one slot: the supervisor gives up (bad settings, port taken, ...)
MAX_BACKOFF_S = 5.0
log = logging.getLogger("mssante_hub.cluster.supervisor")


@dataclass
class Slot:
    number: int
    parent_end: socket.socket
    child_end: socket.socket
    process: subprocess.Popen | None = None
    started: float = 0.0
    fast_exits: int = 0
    due: float = 0.0  # when to start it again after a crash (backoff)
    pids: list[int] = field(default_factory=list)


def bind(plan: dict[str, tuple[str, int]]) -> dict[str, socket.socket]:
    sockets = {}
    for name, (host, port) in plan.items():
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.create_server((host, port), family=family, backlog=BACKLOG)
        # Non-blocking for every worker (the flag is the socket's, shared): all are woken by a connection,
        # one accepts it, and the others' accept must return EAGAIN rather than block their loop.
        sock.setblocking(False)
        sockets[name] = sock
    return sockets


def worker_command(data_dir: Path, log_level: str | None, log_format: str | None) -> list[str]:
    command = [sys.executable, "-m", "mssante_hub.admin.cli", "serve", "--data-dir", str(data_dir), "--workers", "1"]
    if log_level:
        command += ["--log-level", log_level]
    if log_format:
        command += ["--log-format", log_format]
    return command


def fresh_metrics_dir(data_dir: Path) -> Path:
    """prometheus-client's multiprocess folder: emptied at each start (the figures of a former run go)."""
    path = run_dir(data_dir) / METRICS_DIR
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(mode=0o700)
    return path


class Supervisor:
    def __init__(self, data_dir: Path, sockets: dict[str, socket.socket], count: int, log_level: str | None,
                 log_format: str | None) -> None:
        self.data_dir = data_dir
        self.sockets = sockets
        self.command = worker_command(data_dir, log_level, log_format)
        self.metrics_dir = fresh_metrics_dir(data_dir)
        self.slots = []
        for number in range(count):
            parent_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
            parent_end.setblocking(False)
            self.slots.append(Slot(number, parent_end, child_end))
        self.stopping = False
        self.failed = False
        self._replaced: dict | None = None  # the signal handlers catch_signals() replaced

    def spawn(self, slot: Slot) -> None:
        fds = {name: sock.fileno() for name, sock in self.sockets.items()}
        env = {**os.environ, LISTEN_FDS_ENV: ",".join(f"{n}={fd}" for n, fd in fds.items()),
               events.ENV_FD: str(slot.child_end.fileno()), WORKER_SLOT_ENV: str(slot.number),
               "PROMETHEUS_MULTIPROC_DIR": str(self.metrics_dir)}
        slot.process = subprocess.Popen(self.command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        pass_fds=[*fds.values(), slot.child_end.fileno()])
        slot.started = time.monotonic()
        slot.pids.append(slot.process.pid)
        log.info("worker %d started (pid %d)", slot.number, slot.process.pid)

    def reap(self, slot: Slot) -> None:
        """A worker exited: start it again (after a pause if it keeps dying at once)."""
        code = slot.process.returncode
        pid = slot.process.pid
        slot.process = None
        _mark_dead(pid, self.metrics_dir)
        if self.stopping:
            return
        lived = time.monotonic() - slot.started
        slot.fast_exits = slot.fast_exits + 1 if lived < FAST_EXIT_S else 0
        log.warning("worker %d (pid %d) exited (%s) after %.1f s; starting it again", slot.number, pid,
                    f"signal {-code}" if code < 0 else f"code {code}", lived)
        if slot.fast_exits >= MAX_FAST_EXITS:
            log.error("worker %d keeps failing at start; stopping the hub", slot.number)
            self.failed = True
            self.stop()
            return
        slot.due = time.monotonic() + min(MAX_BACKOFF_S, 0.2 * 2 ** slot.fast_exits) if slot.fast_exits else 0.0

    def forward(self, origin: Slot) -> None:
        """Datagrams of one worker to every other (dropped for a worker whose buffer is full)."""
        while True:
            try:
                data = origin.parent_end.recv(events.MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            for slot in self.slots:
                if slot is not origin and slot.process is not None:
                    try:
                        slot.parent_end.send(data)
                    except OSError:
                        pass

    def stop(self) -> None:
        if not self.stopping:
            log.info("stopping: %d workers", sum(1 for s in self.slots if s.process is not None))
        self.stopping = True
        for slot in self.slots:
            if slot.process is not None and slot.process.poll() is None:
                slot.process.send_signal(signal.SIGTERM)

    def catch_signals(self) -> dict:
        """SIGTERM and SIGINT stop the workers cleanly from now on; the handlers they replace (kept once)."""
        if self._replaced is None:
            self._replaced = {s: signal.signal(s, lambda *_: self.stop()) for s in (signal.SIGTERM, signal.SIGINT)}
        return self._replaced

    def run(self) -> int:
        wake_read, wake_write = socket.socketpair()
        wake_read.setblocking(False)
        wake_write.setblocking(False)
        previous = signal.set_wakeup_fd(wake_write.fileno())
        handlers = self.catch_signals()
        old_chld = signal.signal(signal.SIGCHLD, lambda *_: None)  # wakes the select below
        selector = selectors.DefaultSelector()
        selector.register(wake_read, selectors.EVENT_READ, None)
        for slot in self.slots:
            selector.register(slot.parent_end, selectors.EVENT_READ, slot)
        try:
            for slot in self.slots:
                if not self.stopping:  # a SIGTERM may have come between the listening lines and here
                    self.spawn(slot)
            self._loop(selector, wake_read)
        finally:
            for slot in self.slots:
                if slot.process is not None and slot.process.poll() is None:
                    slot.process.kill()
                    slot.process.wait()
            selector.close()
            signal.set_wakeup_fd(previous)
            for signum, handler in handlers.items():
                signal.signal(signum, handler)
            signal.signal(signal.SIGCHLD, old_chld)
            for sock in [*self.sockets.values(), wake_read, wake_write]:
                sock.close()
            for slot in self.slots:
                slot.parent_end.close()
                slot.child_end.close()
        log.info("stopped")
        return 1 if self.failed else 0

    def _loop(self, selector: selectors.BaseSelector, wake_read: socket.socket) -> None:
        deadline = None
        while True:
            for key, _ in selector.select(SELECT_TIMEOUT_S):
                if key.data is None:
                    try:
                        wake_read.recv(4096)
                    except BlockingIOError:
                        pass
                else:
                    self.forward(key.data)
            now = time.monotonic()
            for slot in self.slots:
                if slot.process is not None and slot.process.poll() is not None:
                    self.reap(slot)
                if slot.process is None and not self.stopping and slot.due <= now:
                    self.spawn(slot)
            if self.stopping:
                deadline = deadline or now + STOP_TIMEOUT_S
                if all(slot.process is None for slot in self.slots):
                    return
                if now > deadline:
                    log.error("workers still running %.0f s after the stop; killed", STOP_TIMEOUT_S)
                    return


def _mark_dead(pid: int, metrics_dir: Path) -> None:
    """Its live gauges (sessions open) stop counting in /metrics (prometheus-client multiprocess mode)."""
    from prometheus_client import multiprocess

    try:
        multiprocess.mark_process_dead(pid, str(metrics_dir))
    except OSError:
        pass


def run(data_dir: Path, overrides: dict[str, str], log_level: str | None, log_format: str | None,
        count: int) -> int:
    """Open the hub once (migrations), bind, announce, supervise `count` workers until told to stop."""
    from mssante_hub.admin import logs
    from mssante_hub.admin.service import plan_listeners
    from mssante_hub.hub import Hub

    hub = Hub.open(data_dir)
    try:
        logs.setup(log_level or hub.config.get("log.level"), fmt=log_format or hub.config.get("log.format"))
        plan = plan_listeners(hub, overrides)
    finally:
        hub.close()
    sockets = bind(plan)
    supervisor = Supervisor(data_dir, sockets, count, log_level, log_format)
    # Before the listening lines: whoever reads them may stop the hub at once (tests, systemd), and the default
    # SIGTERM action would kill the supervisor without stopping its workers.
    supervisor.catch_signals()
    for name, sock in sockets.items():
        host, port = sock.getsockname()[:2]
        print(f"listening {name} {host}:{port}", flush=True)
        log.info("listening %s %s:%d", name, host, port)
    log.info("serving with %d workers", count)
    return supervisor.run()


def inherited_sockets() -> dict[str, socket.socket] | None:
    """In a worker: the supervisor's listening sockets by listener name (None outside a worker)."""
    value = os.environ.get(LISTEN_FDS_ENV)
    if not value:
        return None
    found = {}
    for entry in value.split(","):
        name, _, fd = entry.partition("=")
        found[name] = socket.socket(fileno=int(fd))
    return found
