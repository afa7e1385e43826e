"""deploy/haproxy.cfg made runnable on loopback for a test: the same sections, only addresses and ports replaced.

What is changed, and why: the global section's user/group/daemon/syslog lines and its maxconn (the test runs haproxy in the
foreground as itself, logging nowhere); each `bind :PORT` becomes a free loopback port; each backend's `server`
lines point at the test's hubs (their listener port, and `port` = their web port for the /healthz check); the
web frontend's TLS bind and its https redirect are dropped (no certificate here: the hubs' web is plain HTTP).
"""

from __future__ import annotations

import re
from pathlib import Path

DEPLOYED = Path(__file__).parents[2] / "deploy" / "haproxy.cfg"
# HAProxy frontend name -> the hub listener behind it.
FRONTENDS = {"mx": "mx", "submission": "submission", "imap": "imap", "imaps": "imaps", "web": "web"}
BACKENDS = {f"hubs_{name}": name for name in FRONTENDS}
DROPPED_GLOBAL = ("user ", "group ", "daemon", "log /dev/log")
TEST_MAXCONN = 2000  # the deployed 50000 needs an FD limit a test machine may not grant
CHECK_INTERVAL = "inter 300ms"  # the deployed 2s, shortened so a dead hub is out in about a second


def generate(front_ports: dict[str, int], hubs: list[dict[str, int]]) -> str:
    """The deployed configuration with `front_ports[frontend]` bound and `hubs[i][listener]` as backends."""
    out: list[str] = []
    section, name = "", ""
    for line in DEPLOYED.read_text().splitlines():
        stripped = line.strip()
        head = re.match(r"^(global|defaults|frontend|backend)\b\s*(\S*)", line)
        if head:
            section, name = head[1], head[2]
        if section == "global" and stripped.startswith(DROPPED_GLOBAL):
            continue
        if section == "global" and stripped.startswith("maxconn"):
            line = f"    maxconn {TEST_MAXCONN}"
        if section == "defaults" and stripped.startswith("default-server"):
            line = line.replace("inter 2s", CHECK_INTERVAL)
        if section == "frontend" and stripped.startswith("bind "):
            if name == "web" and " ssl " in stripped:
                continue
            line = re.sub(r"bind :\d+", f"bind 127.0.0.1:{front_ports[name]}", line)
        if section == "frontend" and name == "web" and "redirect scheme https" in stripped:
            continue
        if section == "backend" and stripped.startswith("server "):
            server = re.match(r"\s*server (hub(\d+)) \S+ (.*)$", line)
            index = int(server[2]) - 1
            if index >= len(hubs):
                continue
            listener = BACKENDS[name]
            line = (f"    server {server[1]} 127.0.0.1:{hubs[index][listener]} {server[3]} "
                    f"port {hubs[index]['web']}")
        out.append(line)
    return "\n".join(out) + "\n"
