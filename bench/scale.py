"""SMTP ingest with 1, 2, 3 hub processes (separate `serve`, as on separate machines) on one PostgreSQL.

One command: `flock /tmp/bench.lock python3 bench/scale.py` (Postfix's smtp-source drives the load, as in
bench/smtp_ingest.py, whose pieces this reuses). Prints msg/s per process count and the factor per added process.
The IMAP mix (bench/imap_load.py) across processes is not in it yet.
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--sessions", type=int, default=12)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--processes", default="1,2,3")
    args = parser.parse_args()
    postgres = PostgresServer().start()
    base = Path(tempfile.mkdtemp(prefix="hub-scale-"))
    try:
        first = make_folder(base, postgres.create_database("scale"))
        counts = [int(p) for p in args.processes.split(",")]
        folders = [first] + [shutil.copytree(first, base / f"hub{i}") for i in range(1, max(counts))]
        rates: dict[int, float] = {}
        with Hub.open(first) as counter:
            for count in counts:
                hubs = [ServedHub(folder) for folder in folders[:count]]
                try:
                    rates[count] = statistics.median(one_run(hubs, counter, args.messages, args.sessions, args.size)
                                                     for _ in range(args.runs))
                finally:
                    for hub in hubs:
                        hub.stop()
                factor = rates[count] / rates[counts[0]]
                print(f"processes={count} ingest={rates[count]:.0f} msg/s factor={factor:.2f} "
                      f"cpu_busy={statistics.median(BUSY[-args.runs:]):.0%}", flush=True)
    finally:
        postgres.stop()
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
