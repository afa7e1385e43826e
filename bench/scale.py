"""SMTP ingest and the IMAP mix with 1, 2, 3 hub processes (separate `serve`, as on separate machines) on one
PostgreSQL.

One command: `flock /tmp/bench.lock python3 bench/scale.py [--mix smtp,imap]`. Ingest: Postfix's smtp-source
drives the load, as in bench/smtp_ingest.py, whose pieces this reuses. IMAP: bench/imap_load.py's mix (LOGIN,
SELECT, FETCH flags and bodies, STORE, APPEND, EXPUNGE over TLS), its clients spread evenly over the processes.
Prints msg/s or commands/s per process count, the factor per added process and how busy the cores were (the
load generators run on the same machine: on 2 cores they take their share).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))

import asyncio  # noqa: E402

from bench import imap_load  # noqa: E402
from bench.smtp_ingest import PASSWORD, RECIPIENT, ServedHub, hub_cli, smtp_source, stored_count  # noqa: E402
from mssante_hub.hub import Hub  # noqa: E402
from tests.support.postgres import PostgresServer  # noqa: E402


def make_folder(base: Path, url: str) -> Path:
    data_dir = base / "hub"
    hub_cli("init", "--data-dir", str(data_dir), "--domain", "hub.test", "--patient-domain", "patient.hub.test",
            "--storage-url", url)
    hub_cli("account", "add", "--data-dir", str(data_dir), "--type", "PER", "--address", RECIPIENT,
            "--name", "Load Test", "--password-stdin", input=PASSWORD + "\n")
    hub_cli("config", "set", "--data-dir", str(data_dir), "mx.trusted_networks", '["127.0.0.0/8"]')
    hub_cli("config", "set", "--data-dir", str(data_dir), "smtp.max_sessions_per_client", "1000")
    # The IMAP mix's users and settings, as bench/imap_load.py's make_hub sets them.
    for key, value in (("auth.argon2_memory_kib", str(19 * 1024)), ("auth.argon2_time_cost", "2"),
                       ("imap.max_connections_per_address", "5000")):
        hub_cli("config", "set", "--data-dir", str(data_dir), key, value)
    for user in imap_load.USERS:
        hub_cli("account", "add", "--data-dir", str(data_dir), "--type", "PER", "--address",
                f"{user}@{imap_load.DOMAIN}", "--name", user, "--password-stdin", input=imap_load.HUB_PASSWORD + "\n")
    return data_dir


def busy_idle() -> tuple[int, int]:
    """The machine's busy and idle jiffies so far (/proc/stat): how near the cores are to saturation."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, idle


BUSY: list[float] = []


def one_run(hubs: list[ServedHub], counter: Hub, n: int, sessions: int, size: int) -> float:
    before = stored_count(counter)
    share = n // len(hubs)
    busy0, idle0 = busy_idle()
    start = time.perf_counter()
    threads = [threading.Thread(target=smtp_source, args=(h.ports["mx"], share, max(1, sessions // len(hubs)), size))
               for h in hubs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    while stored_count(counter) < before + share * len(hubs):
        time.sleep(0.02)
    busy1, idle1 = busy_idle()
    BUSY.append((busy1 - busy0) / max(1, busy1 - busy0 + idle1 - idle0))
    return share * len(hubs) / (time.perf_counter() - start)


def imap_run(hubs: list[ServedHub], clients: int, seconds: float, seed: int) -> tuple[float, float]:
    """(commands/s over all processes, p95 in ms) of the IMAP mix, clients spread evenly over the processes."""
    users = [f"{u}@{imap_load.DOMAIN}" for u in imap_load.USERS]
    busy0, idle0 = busy_idle()

    async def run() -> list[dict]:
        share = max(1, clients // len(hubs))
        return await asyncio.gather(*(imap_load.load(h.ports["imaps"], users[i::len(hubs)] or users, imap_load.HUB_PASSWORD,
                                                     share, seconds, seed + i) for i, h in enumerate(hubs)))

    runs = asyncio.run(run())
    busy1, idle1 = busy_idle()
    BUSY.append((busy1 - busy0) / max(1, busy1 - busy0 + idle1 - idle0))
    latencies = sorted(x for r in runs for x in r["latencies"])
    errors = sum(r["errors"] for r in runs)
    if errors:
        print(f"  imap errors: {errors}", flush=True)
    rate = sum(r["commands"] for r in runs) / max(r["seconds"] for r in runs)
    return rate, 1000 * latencies[int(len(latencies) * 0.95)] if latencies else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--sessions", type=int, default=12)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--processes", default="1,2,3")
    parser.add_argument("--mix", default="smtp,imap", help="smtp, imap or both (comma-separated)")
    parser.add_argument("--clients", type=int, default=12, help="IMAP clients in all")
    parser.add_argument("--seconds", type=float, default=20, help="IMAP: length of one run")
    args = parser.parse_args()
    mixes = args.mix.split(",")
    postgres = PostgresServer().start()
    base = Path(tempfile.mkdtemp(prefix="hub-scale-"))
    try:
        first = make_folder(base, postgres.create_database("scale"))
        counts = [int(p) for p in args.processes.split(",")]
        folders = [first] + [shutil.copytree(first, base / f"hub{i}") for i in range(1, max(counts))]
        rates: dict[int, float] = {}
        with Hub.open(first) as counter:
            seeded = False
            imap_rates: dict[int, float] = {}
            for count in counts:
                hubs = [ServedHub(folder, listeners=("mx", "submission", "imaps")) for folder in folders[:count]]
                try:
                    if "smtp" in mixes:
                        rates[count] = statistics.median(one_run(hubs, counter, args.messages, args.sessions,
                                                                 args.size) for _ in range(args.runs))
                        factor = rates[count] / rates[counts[0]]
                        print(f"processes={count} ingest={rates[count]:.0f} msg/s factor={factor:.2f} "
                              f"cpu_busy={statistics.median(BUSY[-args.runs:]):.0%}", flush=True)
                    if "imap" in mixes:
                        if not seeded:  # the same 50 messages per user, once (the mix keeps the count near it)
                            asyncio.run(imap_load.seed_all(hubs[0].ports["imaps"],
                                                           [f"{u}@{imap_load.DOMAIN}" for u in imap_load.USERS],
                                                           imap_load.HUB_PASSWORD, 42))
                            seeded = True
                        measured = [imap_run(hubs, args.clients, args.seconds, 42 + r) for r in range(args.runs)]
                        imap_rates[count] = statistics.median(rate for rate, _ in measured)
                        factor = imap_rates[count] / imap_rates[counts[0]]
                        print(f"processes={count} imap={imap_rates[count]:.0f} commands/s factor={factor:.2f} "
                              f"p95={statistics.median(p for _, p in measured):.0f} ms "
                              f"cpu_busy={statistics.median(BUSY[-args.runs:]):.0%}", flush=True)
                finally:
                    for hub in hubs:
                        hub.stop()
    finally:
        postgres.stop()
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
