"""Bulk provisioning of patient spaces: time and peak RSS of the real command line.

    python3 bench/provision.py --count 1000000 --backend sqlite
    python3 bench/provision.py --count 100000 --backend postgresql

For each run: a fresh data folder (and, for PostgreSQL, a private server started
with tests/support/postgres.py), a CSV of random valid INS, then
`mssante-hub patient provision --csv FILE --quiet` in its own process, timed from
start to exit, its CPU time and peak RSS read from wait4() (CPU includes the worker
processes; peak RSS is the largest single process, main or worker). Every space gets its key pair, sealed
traits, a keyed-hash activation code and an encrypted notice queued to the relay.
A benchmark, not a test: figures go in notes, not assertions.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

HEADER = "ins,birth_name,first_names,birth_date,sex,email\n"


def write_csv(path: Path, count: int, seed: int) -> None:
    from mssante_hub.accounts.identity import random_ins

    rng = random.Random(seed)
    seen: set[str] = set()
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(HEADER)
        while len(seen) < count:
            ins = random_ins(rng)
            if ins in seen:
                continue
            seen.add(ins)
            handle.write(f"{ins},NOM{len(seen)},Prénom,19{rng.randrange(30, 99)}-0{rng.randrange(1, 10)}-1"
                         f"{rng.randrange(0, 10)},{'MF'[len(seen) % 2]},p{len(seen)}@perso.example\n")


def run(count: int, backend: str, base: Path, seed: int) -> dict:
    from mssante_hub.admin.datadir import init_data_dir
    from tests.support.postgres import PostgresServer

    server = None
    url = None
    if backend == "postgresql":
        server = PostgresServer().start()
        url = server.create_database("provision")
    try:
        data_dir = base / "hub"
        init_data_dir(data_dir, "hub.bench", "patient.hub.bench", url)
        csv_path = base / "patients.csv"
        started = time.perf_counter()
        write_csv(csv_path, count, seed)
        csv_seconds = time.perf_counter() - started
        command = [sys.executable, "-m", "mssante_hub.admin.cli", "patient", "provision", "--data-dir", str(data_dir),
                   "--csv", str(csv_path), "--quiet"]
        load_before = round(os.getloadavg()[0], 1)  # the machine is shared: say how busy it was
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        out = process.stdout.read().decode().strip()
        err = process.stderr.read().decode().strip()
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"provisioning failed: {err or out}")
        size = sum(f.stat().st_size for f in data_dir.glob("hub.sqlite3*")) if backend == "sqlite" else None
        return dict(backend=backend, count=count, seconds=round(seconds, 1),
                    spaces_per_s=round(count / seconds), peak_rss_mib=round(usage.ru_maxrss / 1024),
                    cpu_seconds=round(usage.ru_utime + usage.ru_stime, 1), load_before=load_before,
                    load_after=round(os.getloadavg()[0], 1),
                    csv_seconds=round(csv_seconds, 1), sqlite_bytes=size, output=out,
                    command=" ".join(["mssante-hub"] + command[3:]))
    finally:
        if server is not None:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=None, help="where to put the data folder (default: a temp)")
    args = parser.parse_args()
    os.umask(0o077)  # as the command line does: the data folder is its owner's alone
    base = Path(tempfile.mkdtemp(prefix="provision-", dir=args.workdir))
    try:
        print(json.dumps(run(args.count, args.backend, base, args.seed)), flush=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
