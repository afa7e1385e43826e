"""Run `mssante-hub serve` as a real subprocess and learn where it listens."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

LISTENING = re.compile(r"^listening (\S+) (\S+):(\d+)$")
START_TIMEOUT_S = 30


def hub_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "mssante_hub.admin.cli", *args]


def run_cli(*args: str, input: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(hub_command(*args), input=input, capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


class StderrDrain:
    """Reads the hub's stderr (its activity log) as it comes: a full pipe would block the hub's writes."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.append(line)

    def text(self, wait_s: float = 0) -> str:
        if wait_s:
            self._thread.join(wait_s)
        return "".join(self.lines)


class ServedHub:
    def __init__(self, process: subprocess.Popen, addresses: dict[str, tuple[str, int]],
                 stderr: StderrDrain | None = None) -> None:
        self.process = process
        self.addresses = addresses
        self.stderr = stderr

    def log(self) -> str:
        """What the hub wrote on stderr so far (all of it once it has exited)."""
        if self.stderr is None:
            return ""
        return self.stderr.text(wait_s=10 if self.process.poll() is not None else 0)

    def port(self, name: str) -> int:
        return self.addresses[name][1]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=timeout)


def start_hub(data_dir: Path, listeners: list[str], extra_env: dict | None = None, workers: int = 1,
              extra_args: tuple[str, ...] = ()) -> ServedHub:
    """`serve` with these listeners on free loopback ports; one process unless `workers` says more."""
    args = ["serve", "--data-dir", str(data_dir), "--workers", str(workers), *extra_args]
    for name in listeners:
        args += ["--listen", f"{name}=127.0.0.1:0"]
    process = subprocess.Popen(hub_command(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, **(extra_env or {})})
    drain = StderrDrain(process.stderr)
    addresses: dict[str, tuple[str, int]] = {}
    deadline = time.monotonic() + START_TIMEOUT_S
    while len(addresses) < len(listeners):
        line = process.stdout.readline()
        if not line:
            process.wait(timeout=30)
            raise RuntimeError(f"hub exited before listening: {drain.text(wait_s=10).strip()}")
        found = LISTENING.match(line.strip())
        if found:
            addresses[found[1]] = (found[2], int(found[3]))
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("hub did not start listening in time")
    return ServedHub(process, addresses, drain)


@contextmanager
def served(data_dir: Path, listeners: list[str], extra_env: dict | None = None, workers: int = 1,
           extra_args: tuple[str, ...] = ()) -> Iterator[ServedHub]:
    hub = start_hub(data_dir, listeners, extra_env, workers, extra_args)
    try:
        yield hub
    finally:
        if hub.process.poll() is None:
            hub.process.send_signal(signal.SIGTERM)
            try:
                hub.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                hub.process.kill()
                hub.process.wait()
