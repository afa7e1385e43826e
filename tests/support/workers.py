"""Which process of a `serve --workers N` hub holds a connection, read from the kernel (/proc), not from the hub."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

WAIT_S = 10  # a guard against hangs, not a timing assertion


def worker_pids(supervisor_pid: int) -> set[int]:
    """The supervisor's living children (its workers)."""
    children = Path(f"/proc/{supervisor_pid}/task/{supervisor_pid}/children")
    if children.exists():
        return {int(p) for p in children.read_text().split()}
    found = set()
    for entry in Path("/proc").iterdir():  # kernels without the children file: every process's parent
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == supervisor_pid:
                found.add(int(entry.name))
    return found


def wait_for_workers(supervisor_pid: int, count: int, other_than: set[int] = frozenset()) -> set[int]:
    deadline = time.monotonic() + 60
    while True:
        pids = worker_pids(supervisor_pid) - set(other_than)
        if len(pids) >= count:
            return pids
        assert time.monotonic() < deadline, f"{count} workers not running: {pids}"
        time.sleep(0.05)


def _hex_endpoint(host: str, port: int) -> str:
    packed = socket.inet_aton(host)
    return f"{int.from_bytes(packed, 'little'):08X}:{port:04X}"


def _server_side_inode(client: socket.socket) -> int:
    """The inode of the server's end of this loopback TCP connection (0 while not yet accepted)."""
    local = _hex_endpoint(*client.getpeername()[:2])
    remote = _hex_endpoint(*client.getsockname()[:2])
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == local and fields[2] == remote:
            return int(fields[9])
    return 0


def _holds(pid: int, inode: int) -> bool:
    target = f"socket:[{inode}]"
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                    return True
            except OSError:
                continue
    except OSError:
        return False
    return False


def holder(client: socket.socket, pids: set[int]) -> int:
    """Which of `pids` accepted this client's connection (call it after the greeting came)."""
    deadline = time.monotonic() + WAIT_S
    while True:
        inode = _server_side_inode(client)
        if inode:
            for pid in pids:
                if _holds(pid, inode):
                    return pid
        assert time.monotonic() < deadline, "no worker holds the connection"
        time.sleep(0.01)
