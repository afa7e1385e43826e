"""What the hub-wide failed-login counts cost: honest IMAP logins, alone and beside wrong-password guessers.

    python3 bench/login_counts.py [--workers 2] [--honest 4] [--guessers 8] [--seconds 15]

A served hub (`mssante-hub serve --workers N`, SQLite, default limits) on loopback. Honest clients each run
TLS + LOGIN (right password) + LOGOUT over imaps, one after another; guessers send wrong passwords for logins that
each change every few tries, from source addresses 127.0.0.2-127.0.0.254, so that no count refuses them and every
guess is a checked failure (an Argon2id, then a row per counted key). Two phases: honest alone, then honest beside
the guessers. Reported: honest logins/s, p50/p95; failures answered/s; the rows in login_failures at the end.
A benchmark: no assertions; the machine is shared, so say the load (`uptime`) with any figure.
"""

from __future__ import annotations

import argparse
import socket
import ssl
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PASSWORD = "bench password 1"
HONEST_USERS = 4
TRIES_PER_LOGIN = 3  # below every count's limit: guesses are never refused, always checked


def tls() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def login_once(port: int, source: str, user: str, password: str) -> bytes:
    """TLS, the greeting, LOGIN; the tagged answer's status word."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=60, source_address=(source, 0))
    with raw, tls().wrap_socket(raw) as sock:
        reader = sock.makefile("rb")
        reader.readline()
        sock.sendall(b'l LOGIN "%s" "%s"\r\n' % (user.encode(), password.encode()))
        while not (line := reader.readline()).startswith(b"l "):
            if not line:
                return b"closed"
        sock.sendall(b"z LOGOUT\r\n")
        return line.split()[1]


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * 0.95) - 1)] if ordered else float("nan")


def phase(port: int, honest: int, guessers: int, seconds: float) -> dict:
    stop = threading.Event()
    timings: list[float] = []
    answers: dict[bytes, int] = {}
    lock = threading.Lock()

    def honest_loop(n: int) -> None:
        user = f"u{n % HONEST_USERS}@hub.test"
        while not stop.is_set():
            start = time.perf_counter()
            status = login_once(port, "127.0.0.1", user, PASSWORD)
            with lock:
                if status == b"OK":
                    timings.append(time.perf_counter() - start)
                answers[b"honest " + status] = answers.get(b"honest " + status, 0) + 1

    def guess_loop(n: int) -> None:
        tries = 0
        while not stop.is_set():
            source = f"127.0.0.{2 + (n * 31 + tries) % 253}"
            login = f"nobody{n}.{tries // TRIES_PER_LOGIN}@hub.test"
            status = login_once(port, source, login, "wrong")
            tries += 1
            with lock:
                answers[b"guess " + status] = answers.get(b"guess " + status, 0) + 1

    threads = [threading.Thread(target=honest_loop, args=(n,)) for n in range(honest)]
    threads += [threading.Thread(target=guess_loop, args=(n,)) for n in range(guessers)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join(60)
    elapsed = time.perf_counter() - began
    return {"timings": timings, "answers": answers, "elapsed": elapsed}


def report(name: str, result: dict) -> None:
    timings, answers, elapsed = result["timings"], result["answers"], result["elapsed"]
    guesses = sum(v for k, v in answers.items() if k.startswith(b"guess"))
    honest = (f"honest logins {len(timings) / elapsed:.1f}/s p50={statistics.median(timings) * 1000:.1f} ms "
              f"p95={p95(timings) * 1000:.1f} ms" if timings else "honest: none")
    print(f"{name}: {honest}; wrong passwords answered {guesses / elapsed:.1f}/s; "
          + ", ".join(f"{k.decode()} {v}" for k, v in sorted(answers.items())), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--honest", type=int, default=4)
    parser.add_argument("--guessers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=15)
    args = parser.parse_args()

    from sqlalchemy import inspect, text

    from mssante_hub.hub import Hub
    from tests.conftest import add_professional, make_data_dir
    from tests.support.served import served

    data_dir = make_data_dir(Path(tempfile.mkdtemp(prefix="login-counts-")))
    with Hub.open(data_dir) as hub:
        for n in range(HONEST_USERS):
            add_professional(hub, f"u{n}", password=PASSWORD)
    with served(data_dir, ["imaps"], workers=args.workers) as running:
        port = running.port("imaps")
        login_once(port, "127.0.0.1", "u0@hub.test", PASSWORD)  # the workers are up
        print(f"workers {args.workers}, honest clients {args.honest}, guessers {args.guessers}, "
              f"{args.seconds:.0f} s a phase", flush=True)
        report("honest alone", phase(port, args.honest, 0, args.seconds))
        report("beside guessers", phase(port, args.honest, args.guessers, args.seconds))
        running.stop()
    with Hub.open(data_dir) as hub, hub.engine.connect() as conn:
        if inspect(conn).has_table("login_failures"):
            print(f"rows in login_failures: {conn.execute(text('SELECT count(*) FROM login_failures')).scalar()}")
        else:
            print("no login_failures table (counts in memory)")


if __name__ == "__main__":
    main()
