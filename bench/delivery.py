"""Throughput of delivery.accept(): messages/s and peak RSS, per size, concurrency and backend.

    python3 bench/delivery.py [--messages 2000] [--backends sqlite,postgresql]

Each configuration runs in its own process (fresh data folder, fresh peak RSS). Every
message is parsed, encrypted, wrapped, stored and fsync'ed before it counts; nothing
is acknowledged early. A benchmark, not a test: figures go in notes, not assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SIZES = {"4KiB": 4 * 1024, "200KiB": 200 * 1024}
CONCURRENCY = (1, 10)


def make_raw(size: int, n: int, reader: str) -> bytes:
    head = (f"From: labo@bio.example\r\nTo: {reader}\r\nSubject: Résultat {n}\r\n"
            f"Message-ID: <{n}@bench.invalid>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
    line = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod.\r\n"
    body = line * (max(0, size - len(head)) // len(line) + 1)
    return head.encode() + body[: max(0, size - len(head))]


def run_one(storage_url: str | None, size: int, senders: int, messages: int, parse_processes: int = 0) -> dict:
    from mssante_hub.accounts.mailboxes import add_account
    from mssante_hub.admin.datadir import init_data_dir
    from mssante_hub.delivery import Envelope, accept
    from mssante_hub.hub import Hub

    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        data_dir = Path(tmp) / "hub"
        config = init_data_dir(data_dir, "hub.test", "patient.hub.test", storage_url)
        config.set("limits.parse_processes", parse_processes)
        config.save()
        hub = Hub.open(data_dir)
        reader = "dr.bench@hub.test"
        add_account(hub, type="PER", address=reader, display_name="Dr Bench")
        raws = [make_raw(size, n, reader) for n in range(messages)]

        async def sender(part: list[bytes]) -> None:
            for raw in part:
                await accept(hub, Envelope("labo@bio.example", (reader,), channel="mx"), raw)

        async def main() -> float:
            if hub.prepare_pool is not None:  # start the children before the clock runs
                await asyncio.gather(*[accept(hub, Envelope("labo@bio.example", (reader,), channel="mx"),
                                              make_raw(size, -1, reader)) for _ in range(parse_processes * 2)])
            start = time.perf_counter()
            await asyncio.gather(*[sender(raws[i::senders]) for i in range(senders)])
            return time.perf_counter() - start

        elapsed = asyncio.run(main())
        batches, units = hub.committer.batches, hub.committer.units
        hub.close()
    return {
        "msg_per_s": round(messages / elapsed, 1),
        "elapsed_s": round(elapsed, 2),
        "avg_batch": round(units / max(batches, 1), 1),
        # Children's peak (the prepare processes) is reported apart: RUSAGE_CHILDREN gives the largest one.
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "children_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--parse-processes", type=int, default=0, help="limits.parse_processes for the runs")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        spec = json.loads(args.child)
        print(json.dumps(run_one(spec["url"], spec["size"], spec["senders"], spec["messages"], spec["processes"])))
        return

    postgres = None
    rows = []
    try:
        for backend in args.backends.split(","):
            url = None
            if backend == "postgresql":
                from tests.support.postgres import PostgresServer, unique_db_name

                postgres = postgres or PostgresServer().start()
            for label, size in SIZES.items():
                for senders in CONCURRENCY:
                    if backend == "postgresql":
                        url = postgres.create_database(unique_db_name())
                    spec = {"url": url, "size": size, "senders": senders, "messages": args.messages,
                            "processes": args.parse_processes}
                    out = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], cwd=REPO,
                                         capture_output=True, text=True, check=True).stdout
                    result = json.loads(out.strip().splitlines()[-1])
                    rows.append((backend, label, senders, result))
                    print(f"{backend:10} {label:7} senders={senders:<3} {result['msg_per_s']:8.1f} msg/s  "
                          f"avg batch {result['avg_batch']:5.1f}  peak RSS {result['peak_rss_mib']:6.1f} MiB",
                          flush=True)
    finally:
        if postgres:
            postgres.stop()
    print(f"# {args.messages} messages per run, {os.cpu_count()} cores, limits.parse_processes={args.parse_processes}")


if __name__ == "__main__":
    main()
