"""IMAP load: the hub against the baseline Dovecot, same mix, same seed, in one run.

    python3 bench/imap_load.py [--clients 10] [--seconds 20] [--rounds 4] [--seed 42] [--idle 1000]

Each user's INBOX is first emptied and seeded with the same SEED_MESSAGES messages on both
servers. N clients each log in over implicit TLS, select INBOX and run a weighted mix (fetch
flags, fetch a body, store, append, expunge, select, noop), logging out and in again
every SESSION_COMMANDS commands. Reported: commands/s, p50/p95 latency, the ratio
hub/Dovecot; then the hub's RSS with --idle logged-in idle connections.
The baseline (../shared/tools/baseline/postfix_dovecot.sh start) must be running for
the Dovecot side; it is skipped with a note otherwise. A benchmark: no assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import ssl
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DOVECOT_PORT = 1993
DOVECOT_PASSWORD = "testpass"
HUB_PASSWORD = "bench password 1"
USERS = [f"u{n}" for n in range(1, 11)]
DOMAIN = "hub.test"
SEED_MESSAGES = 50
SESSION_COMMANDS = 50
MIX = [("fetch_flags", 30), ("fetch_body", 25), ("store", 20), ("append", 10), ("expunge", 5), ("select", 5),
       ("noop", 5)]


def _client_context() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # self-signed certificates of both servers
    return ctx


CLIENT_TLS = _client_context()


def sample_message(rng: random.Random, n: int) -> bytes:
    body = ("Compte rendu de consultation, ligne de texte ordinaire.\r\n" * rng.randint(5, 60)).encode()
    return (f"From: labo@bio.example\r\nTo: someone@{DOMAIN}\r\nSubject: Résultat {n}\r\n"
            f"Date: Mon, 02 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{n}.{rng.random()}@bench.invalid>\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n").encode() + body


class Client:
    """A minimal IMAP client: one command at a time, literals read by size."""

    def __init__(self) -> None:
        self.tag = 0

    async def connect(self, port: int) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port, ssl=CLIENT_TLS)
        await self.reader.readline()

    async def command(self, text: bytes, literal: bytes | None = None) -> tuple[bytes, list[bytes]]:
        self.tag += 1
        tag = b"c%d" % self.tag
        if literal is None:
            self.writer.write(tag + b" " + text + b"\r\n")
        else:
            self.writer.write(tag + b" " + text + b" {%d+}\r\n" % len(literal) + literal + b"\r\n")
        lines = []
        while True:
            line = await self.reader.readline()
            if not line:
                raise ConnectionError("closed")
            if line.endswith(b"}\r\n") and b"{" in line:
                size = int(line[line.rindex(b"{") + 1:-3])
                line += await self.reader.readexactly(size)
            lines.append(line)
            if line.startswith(tag + b" "):
                return line.split(b" ", 2)[1], lines

    def close(self) -> None:
        self.writer.close()


async def seed(port: int, user: str, password: str, count: int, rng: random.Random) -> None:
    """Empty the INBOX (Dovecot's outlives runs), then fill it: both servers start alike."""
    client = Client()
    await client.connect(port)
    await client.command(b'LOGIN "%s" "%s"' % (user.encode(), password.encode()))
    _, lines = await client.command(b"SELECT INBOX")
    if any(line.endswith(b" EXISTS\r\n") and line.split()[1] != b"0" for line in lines):
        await client.command(b"STORE 1:* +FLAGS.SILENT (\\Deleted)")
        await client.command(b"EXPUNGE")
    for n in range(count):
        await client.command(b"APPEND INBOX", sample_message(rng, n))
    await client.command(b"LOGOUT")
    client.close()


async def worker(port: int, user: str, password: str, deadline: float, rng: random.Random,
                 latencies: list[float], errors: list[str]) -> None:
    ops, weights = zip(*MIX)
    while time.monotonic() < deadline:
        client = Client()
        start = time.perf_counter()
        await client.connect(port)
        status, _ = await client.command(b'LOGIN "%s" "%s"' % (user.encode(), password.encode()))
        latencies.append(time.perf_counter() - start)
        status, lines = await timed(client, b"SELECT INBOX", latencies)
        exists = next((int(l.split()[1]) for l in lines if l.endswith(b" EXISTS\r\n")), 0)
        for _ in range(SESSION_COMMANDS):
            if time.monotonic() >= deadline:
                break
            op = rng.choices(ops, weights)[0]
            n = rng.randint(1, max(exists, 1))
            if op == "fetch_flags":
                status, _ = await timed(client, b"FETCH 1:* (UID FLAGS)", latencies)
            elif op == "fetch_body":
                status, _ = await timed(client, b"FETCH %d (BODY.PEEK[])" % n, latencies)
            elif op == "store":
                status, _ = await timed(client, b"STORE %d +FLAGS (\\Seen)" % n, latencies)
            elif op == "append":
                status, _ = await timed(client, b"APPEND INBOX", latencies, sample_message(rng, n))
            elif op == "expunge":
                await timed(client, b"STORE %d +FLAGS.SILENT (\\Deleted)" % n, latencies)
                status, _ = await timed(client, b"EXPUNGE", latencies)
            elif op == "select":
                status, lines = await timed(client, b"SELECT INBOX", latencies)
                exists = next((int(l.split()[1]) for l in lines if l.endswith(b" EXISTS\r\n")), exists)
            else:
                status, _ = await timed(client, b"NOOP", latencies)
            if status != b"OK":
                errors.append(op)
        await timed(client, b"LOGOUT", latencies)
        client.close()


BY_VERB: dict[bytes, list[float]] = {}
VERBOSE = False


async def timed(client: Client, text: bytes, latencies: list[float], literal: bytes | None = None):
    start = time.perf_counter()
    result = await client.command(text, literal)
    elapsed = time.perf_counter() - start
    latencies.append(elapsed)
    BY_VERB.setdefault(text.split(b" ")[0] + (b" BODY" if b"BODY" in text else b""), []).append(elapsed)
    return result


async def seed_all(port: int, users: list[str], password: str, seed_value: int) -> None:
    await asyncio.gather(*(seed(port, u, password, SEED_MESSAGES, random.Random(seed_value + i))
                           for i, u in enumerate(users)))


async def load(port: int, users: list[str], password: str, clients: int, seconds: float, seed_value: int) -> dict:
    rng = random.Random(seed_value)
    latencies: list[float] = []
    errors: list[str] = []
    deadline = time.monotonic() + seconds
    started = time.monotonic()
    await asyncio.gather(*(worker(port, users[i % len(users)], password, deadline,
                                  random.Random(rng.random()), latencies, errors) for i in range(clients)))
    elapsed = time.monotonic() - started
    latencies.sort()
    if VERBOSE:
        print(f"  port {port}: " + ", ".join(f"{verb.decode()} {1000 * statistics.median(values):.1f}"
                                              for verb, values in sorted(BY_VERB.items())) + " (p50 ms)")
    BY_VERB.clear()
    return {"commands": len(latencies), "seconds": elapsed, "latencies": latencies, "errors": len(errors)}


def summary(runs: list[dict]) -> dict:
    latencies = sorted(x for run in runs for x in run["latencies"])
    seconds = sum(run["seconds"] for run in runs)
    return {"commands": len(latencies), "per_s": len(latencies) / seconds,
            "p50_ms": 1000 * statistics.median(latencies),
            "p95_ms": 1000 * latencies[int(0.95 * (len(latencies) - 1))],
            "errors": sum(run["errors"] for run in runs)}


def process_cpu(pid: int) -> dict[int, float]:
    """CPU-seconds (user + system) of the serving process and of each living worker (Linux /proc)."""
    import os

    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    result = {}
    for each in [pid, *map(int, children)]:
        fields = Path(f"/proc/{each}/stat").read_text().rpartition(")")[2].split()
        result[each] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return result


def cpu_report(spent: dict[int, float], commands: int, supervisor: int) -> str:
    """CPU per 1,000 commands, and each worker's share: with --workers 2 both must carry connections."""
    total = sum(spent.values())
    shares = ", ".join(f"{'supervisor' if pid == supervisor else 'worker'} {pid} {100 * used / total:.0f}%"
                       for pid, used in spent.items()) if total else "no CPU measured"
    return f"hub CPU: {1000 * total / max(commands, 1):.2f} s per 1,000 commands ({shares})"


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def idle_connections(port: int, user: str, password: str, count: int) -> list[Client]:
    clients: list[Client] = []
    semaphore = asyncio.Semaphore(50)

    async def one() -> None:
        async with semaphore:
            client = Client()
            await client.connect(port)
            await client.command(b'LOGIN "%s" "%s"' % (user.encode(), password.encode()))
            await client.command(b"SELECT INBOX")
            clients.append(client)

    await asyncio.gather(*(one() for _ in range(count)))
    return clients


def make_hub(base: Path, settings: list[str] = ()) -> Path:
    from mssante_hub.accounts.mailboxes import add_account
    from mssante_hub.config import Config
    from mssante_hub.admin.datadir import init_data_dir
    from mssante_hub.hub import Hub

    data_dir = base / "hub"
    init_data_dir(data_dir, DOMAIN, "patient." + DOMAIN, None)
    config = Config.load(data_dir)
    config.set("auth.argon2_memory_kib", 19 * 1024)  # OWASP's Argon2id floor; logins are part of the mix
    config.set("auth.argon2_time_cost", 2)
    # Every bench client comes from 127.0.0.1: the per-address cap (50, docs/security.md) would refuse the
    # idle-connection step, which stands for many clients at many addresses.
    config.set("imap.max_connections_per_address", 5000)
    for item in settings:  # --set key=value, for experiments; reported figures use the defaults
        key, _, value = item.partition("=")
        config.set(key, type(config.get(key))(value))
    config.save()
    hub = Hub.open(data_dir)
    try:
        for user in USERS:
            add_account(hub, type="PER", address=f"{user}@{DOMAIN}", display_name=user, password=HUB_PASSWORD)
    finally:
        hub.close()
    return data_dir


def dovecot_running() -> bool:
    import socket

    try:
        socket.create_connection(("127.0.0.1", DOVECOT_PORT), timeout=2).close()
        return True
    except OSError:
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--rounds", type=int, default=4, help="alternating hub/Dovecot slices")
    parser.add_argument("--idle", type=int, default=1000)
    parser.add_argument("--hub-only", action="store_true", help="skip Dovecot")
    parser.add_argument("--workers", type=int, default=1, help="serve --workers N (0: one per core)")
    parser.add_argument("--verbose", action="store_true", help="latency per command verb")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="hub setting (experiments)")
    args = parser.parse_args()
    global VERBOSE
    VERBOSE = args.verbose
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the hub subprocess inherits it
    from tests.support.served import served

    users = [f"{u}@{DOMAIN}" for u in USERS]
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = make_hub(Path(tmp), args.set)
        with served(data_dir, ["imaps"], workers=args.workers) as hub:
            port = hub.port("imaps")
            dovecot = dovecot_running() and not args.hub_only
            asyncio.run(seed_all(port, users, HUB_PASSWORD, args.seed))
            if dovecot:
                asyncio.run(seed_all(DOVECOT_PORT, users, DOVECOT_PASSWORD, args.seed))
            # Alternate short slices so that both servers see the same (noisy, shared) machine.
            hub_runs, dovecot_runs = [], []
            cpu_spent: dict[int, float] = {}  # hub slices only, per process
            for round_ in range(args.rounds):
                slice_s = args.seconds / args.rounds
                cpu_before = process_cpu(hub.process.pid)
                hub_runs.append(asyncio.run(load(port, users, HUB_PASSWORD, args.clients, slice_s,
                                                 args.seed + round_)))
                for pid, used in process_cpu(hub.process.pid).items():
                    cpu_spent[pid] = cpu_spent.get(pid, 0.0) + used - cpu_before.get(pid, 0.0)
                if dovecot:
                    dovecot_runs.append(asyncio.run(load(DOVECOT_PORT, users, DOVECOT_PASSWORD, args.clients,
                                                         slice_s, args.seed + round_)))
            result_hub = summary(hub_runs)
            print(f"hub     : {result_hub['commands']} commands, {result_hub['per_s']:.0f}/s, "
                  f"p50 {result_hub['p50_ms']:.1f} ms, p95 {result_hub['p95_ms']:.1f} ms, "
                  f"errors {result_hub['errors']}", flush=True)
            print(cpu_report(cpu_spent, result_hub["commands"], hub.process.pid), flush=True)
            if dovecot:
                result_dovecot = summary(dovecot_runs)
                print(f"dovecot : {result_dovecot['commands']} commands, {result_dovecot['per_s']:.0f}/s, "
                      f"p50 {result_dovecot['p50_ms']:.1f} ms, p95 {result_dovecot['p95_ms']:.1f} ms, "
                      f"errors {result_dovecot['errors']}", flush=True)
                print(f"ratio hub/dovecot commands/s: {result_hub['per_s'] / result_dovecot['per_s']:.2f} "
                      f"(target >= 0.8)", flush=True)
            else:
                print("dovecot : not running (../shared/tools/baseline/postfix_dovecot.sh start); skipped")
            if args.idle:
                before = rss_mib(hub.process.pid)

                async def hold() -> float:
                    clients = await idle_connections(port, users[0], HUB_PASSWORD, args.idle)
                    await asyncio.sleep(2)
                    rss = rss_mib(hub.process.pid)
                    for client in clients:
                        client.close()
                    return rss

                during = asyncio.run(hold())
                print(f"hub RSS: {before:.0f} MiB before, {during:.0f} MiB with {args.idle} idle logged-in "
                      f"connections (target < 300 MB)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
