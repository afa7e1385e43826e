"""How long a delivery through one hub process takes to wake an IMAP IDLE session held by another (issue 16).

`serve --workers 2` on SQLite (the supervisor's datagram channel) and on PostgreSQL (LISTEN/NOTIFY), plus two
separate `serve` processes on one PostgreSQL: for each delivery, the time from sending the SMTP DATA's end to the
`* N EXISTS` the other process's IDLE session reads (and from the 250 to it). IDLE's periodic look is set far beyond (600 s), so the
figure is the event path's. Prints median, p95 and max in milliseconds. Run with `flock /tmp/bench.lock`.

    python3 bench/idle_wake.py --deliveries 50
"""

from __future__ import annotations

import argparse
import shutil
import smtplib
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.mail import make_message  # noqa: E402
from tests.support.postgres import PostgresServer, unique_db_name  # noqa: E402
from tests.support.served import served  # noqa: E402
from tests.support.workers import holder, wait_for_workers  # noqa: E402
from tests.test_workers import SENDER, idle_on, init_hub, smtp_on  # noqa: E402


def measure(idle, smtp, user: str, count: int) -> tuple[list[float], list[float]]:
    """(DATA sent to EXISTS read, 250 received to EXISTS read), in ms, per delivery."""
    whole, after_ack = [], []
    for n in range(count):
        message = make_message(SENDER, user, f"bench {n}", "x")
        started = time.perf_counter()
        smtp.sendmail(SENDER, [user], message)
        acked = time.perf_counter()
        while not idle.line().endswith(b"EXISTS"):  # a RECENT line of the former delivery
            pass
        woken = time.perf_counter()
        whole.append((woken - started) * 1000)
        after_ack.append((woken - acked) * 1000)
    return whole, after_ack


def workers_case(base: Path, url: str | None, count: int) -> list[float]:
    data_dir, users = init_hub(base, url)
    with served(data_dir, ["imaps", "mx"], workers=2) as hub:
        pids = wait_for_workers(hub.process.pid, 2)
        idle, b = idle_on(hub.port("imaps"), pids, pids, users[0])
        smtp, _ = smtp_on(hub.port("mx"), pids, pids - {b})
        return measure(idle, smtp, users[0], count)


def separate_case(base: Path, url: str, count: int) -> list[float]:
    first, users = init_hub(base, url)
    second = shutil.copytree(first, base / "second")
    with ExitStack() as stack:
        a = stack.enter_context(served(first, ["mx"]))
        b = stack.enter_context(served(second, ["imaps"]))
        idle, _ = idle_on(b.port("imaps"), {b.process.pid}, {b.process.pid}, users[0])
        smtp = smtplib.SMTP("127.0.0.1", a.port("mx"), timeout=60)
        holder(smtp.sock, {a.process.pid})
        return measure(idle, smtp, users[0], count)


def report(name: str, delays: tuple[list[float], list[float]]) -> None:
    for label, figures in zip(("DATA->EXISTS", "250->EXISTS"), delays):
        ordered = sorted(figures)
        p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
        print(f"{name:48s} {label}: median {statistics.median(ordered):6.1f} ms  p95 {p95:6.1f} ms  "
              f"max {ordered[-1]:6.1f} ms  ({len(ordered)} deliveries)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=50)
    args = parser.parse_args()
    postgres = PostgresServer().start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            for name, run in (
                ("--workers 2, SQLite (supervisor channel)", lambda p: workers_case(p, None, args.deliveries)),
                ("--workers 2, PostgreSQL (LISTEN/NOTIFY)",
                 lambda p: workers_case(p, postgres.create_database(unique_db_name()), args.deliveries)),
                ("two serve processes, PostgreSQL (LISTEN/NOTIFY)",
                 lambda p: separate_case(p, postgres.create_database(unique_db_name()), args.deliveries)),
            ):
                place = tmp / name.split()[0].strip("-") / str(len(list(tmp.iterdir())))
                place.mkdir(parents=True)
                report(name, run(place))
    finally:
        postgres.stop()


if __name__ == "__main__":
    main()
