"""Hostile load: many hostile sessions over the three doors, and honest clients timed beside them.

    python3 bench/hostile.py [--sessions 500] [--honest 5] [--seconds 30] [--seed 7]

A served hub (a real `mssante-hub serve` subprocess, default limits) on loopback. Hostile sessions, spread over
source addresses 127.0.0.2-127.0.0.254 so that the per-address caps do not simply turn them all away, are a mix of:
  slow      SMTP DATA and web request heads dripping a byte a second
  literal   IMAP APPEND literals announced big before and after login, sent slowly
  unread    IMAP FETCH 1:* (BODY.PEEK[]) pipelined on a folder of 200 x 64 KiB messages, never read
  logins    wrong IMAP and web passwords in a loop
Honest clients meanwhile run LOGIN + SELECT + FETCH of one message over imaps, one after another, and report
p50/p95. They run in a process of their own: in the hostile clients' event loop (busy with 500 sessions' TLS)
they measured that loop, not the hub. Reported: the hub's peak RSS (VmHWM) and RSS at the end, honest p50/p95, honest failures.
A benchmark: no assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import multiprocessing
import random
import ssl
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PASSWORD = "bench password 1"
KINDS = ("slow_smtp", "slow_web", "literal", "unread", "logins")
FOLDER_MESSAGES = 200
MESSAGE_BYTES = 64 * 1024
# What the hostile sessions got done, printed so that a quiet run is seen to have carried the storm.
HOSTILE_DONE: collections.Counter[str] = collections.Counter()
SLICE_S = 10  # honest p95 is also given per slice of the run: the first one holds the hostile sessions' start


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def tls_client() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


async def open_from(port: int, source: str, tls: bool = False):
    return await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0),
                                         ssl=tls_client() if tls else None)


async def until(reader, prefix: bytes) -> None:
    while not (await reader.readline()).startswith(prefix):
        pass


async def slow_smtp(ports, source, stop):
    reader, writer = await open_from(ports["mx"], source)
    await reader.readline()
    for line in (b"EHLO slow.test\r\n", b"MAIL FROM:<dpi@hopital.test>\r\n", b"RCPT TO:<u1@hub.test>\r\n",
                 b"DATA\r\n"):
        writer.write(line)
    while not stop.is_set():
        writer.write(b"x")
        await asyncio.sleep(1)
    writer.close()


async def slow_web(ports, source, stop):
    reader, writer = await open_from(ports["web"], source)
    writer.write(b"GET /healthz HTTP/1.1\r\n")
    n = 0
    while not stop.is_set() and not reader.at_eof():
        writer.write(b"X-Drip-%d: y\r\n" % n)
        n += 1
        await asyncio.sleep(1)
    writer.close()


async def literal(ports, source, stop):
    reader, writer = await open_from(ports["imaps"], source, tls=True)
    await reader.readline()
    writer.write(b"x APPEND INBOX {20971520+}\r\n" + b"a" * 65536)  # before login
    await asyncio.sleep(0.5)
    writer.close()
    reader, writer = await open_from(ports["imaps"], source, tls=True)
    await reader.readline()
    writer.write(b'l LOGIN "u2@hub.test" "%s"\r\n' % PASSWORD.encode())
    await until(reader, b"l ")
    writer.write(b"a APPEND INBOX {20000000}\r\n")
    line = await reader.readline()
    while line.startswith(b"+") and not stop.is_set():
        writer.write(b"y" * 4096)
        await asyncio.sleep(1)
    writer.close()


async def unread(ports, source, stop):
    reader, writer = await open_from(ports["imaps"], source, tls=True)
    await reader.readline()
    writer.write(b'l LOGIN "u1@hub.test" "%s"\r\ns SELECT INBOX\r\n' % PASSWORD.encode())
    writer.write(b"".join(b"f%d FETCH 1:* (BODY.PEEK[])\r\n" % n for n in range(4)))
    HOSTILE_DONE["unread sessions"] += 1
    await stop.wait()
    writer.close()


async def logins(ports, source, stop):
    while not stop.is_set():
        try:
            reader, writer = await open_from(ports["imaps"], source, tls=True)
            await reader.readline()
            writer.write(b'l LOGIN "u3@hub.test" "wrong"\r\n')
            await until(reader, b"l ")
            HOSTILE_DONE["wrong logins answered"] += 1
            writer.close()
        except (OSError, ssl.SSLError):
            await asyncio.sleep(1)


async def honest(port: int, timings: list[float], failures: list[str], stop, slices: dict | None = None) -> None:
    began = time.perf_counter()
    while not stop.is_set():
        start = time.perf_counter()
        try:
            reader, writer = await open_from(port, "127.0.0.1", tls=True)
            await reader.readline()
            writer.write(b'l LOGIN "u4@hub.test" "%s"\r\ns SELECT INBOX\r\nf FETCH 1 (BODY.PEEK[])\r\n'
                         % PASSWORD.encode())
            await asyncio.wait_for(until(reader, b"f "), 30)
            writer.write(b"z LOGOUT\r\n")
            writer.close()
            timings.append(time.perf_counter() - start)
            if slices is not None:
                slices.setdefault(int((start - began) // SLICE_S), []).append(timings[-1])
        except (OSError, ssl.SSLError, asyncio.TimeoutError) as exc:
            failures.append(type(exc).__name__)
        await asyncio.sleep(0.2)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * 0.95) - 1)] if ordered else float("nan")


async def _honest_clients(port: int, count: int, seconds: float) -> tuple[list[float], list[str], dict]:
    stop = asyncio.Event()
    timings: list[float] = []
    failures: list[str] = []
    slices: dict[int, list[float]] = {}
    tasks = [asyncio.ensure_future(honest(port, timings, failures, stop, slices)) for _ in range(count)]
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.wait(tasks, timeout=30)
    return timings, failures, slices


def honest_process(port: int, count: int, seconds: float, results) -> None:
    """The honest clients, in a process of their own (multiprocessing target)."""
    results.send(asyncio.run(_honest_clients(port, count, seconds)))


async def guarded(coro) -> None:
    try:
        await coro
    except (OSError, ssl.SSLError, asyncio.IncompleteReadError, ConnectionError):
        pass  # the hub closed on us: what a limit is for


async def run(args) -> None:
    from mssante_hub.hub import Hub
    from tests.conftest import add_professional, make_data_dir
    from tests.support.served import served
    from tests.support.trust import list_domains
    from mssante_hub import delivery

    base = Path(tempfile.mkdtemp(prefix="hostile-"))
    data_dir = make_data_dir(base)
    list_domains(data_dir, ["hopital.test"])
    hub = Hub.open(data_dir)
    try:
        for name in ("u1", "u2", "u3", "u4"):
            add_professional(hub, name, password=PASSWORD)
        body = (b"z" * 76 + b"\r\n") * (MESSAGE_BYTES // 78)
        for target, count in (("u1@hub.test", FOLDER_MESSAGES), ("u4@hub.test", 1)):
            for n in range(count):
                raw = b"From: bench@hub.test\r\nTo: %s\r\nSubject: m%d\r\n\r\n" % (target.encode(), n) + body
                await delivery.accept(hub, delivery.Envelope("bench@hub.test", (target,), delivery.Channel.INTERNAL),
                                      raw, None)
    finally:
        hub.close()
    with served(data_dir, ["mx", "imaps", "web"]) as running:
        ports = {name: running.port(name) for name in ("mx", "imaps", "web")}
        pid = running.process.pid
        print(f"hub pid {pid}, ports {ports}", flush=True)  # for a profiler or a probe beside the run
        rng = random.Random(args.seed)
        stop = asyncio.Event()
        rss_start = status_kib(pid, "VmRSS")
        makers = {"slow_smtp": slow_smtp, "slow_web": slow_web, "literal": literal, "unread": unread,
                  "logins": logins}
        kinds = args.kinds.split(",")
        tasks = [asyncio.ensure_future(guarded(makers[rng.choice(kinds)](ports, f"127.0.0.{2 + n % 253}", stop)))
                 for n in range(args.sessions)]
        spawn = multiprocessing.get_context("spawn")
        receiver, sender = spawn.Pipe(duplex=False)
        honest_clients = spawn.Process(target=honest_process, args=(ports["imaps"], args.honest, args.seconds, sender))
        honest_clients.start()
        await asyncio.sleep(args.seconds)
        stop.set()
        if tasks:
            await asyncio.wait(tasks, timeout=30)
        timings, failures, slices = await asyncio.get_running_loop().run_in_executor(None, receiver.recv)
        honest_clients.join()
        peak, end = status_kib(pid, "VmHWM"), status_kib(pid, "VmRSS")
    print(f"hostile sessions {args.sessions} ({args.kinds}), honest clients {args.honest}, {args.seconds} s")
    print("hostile work done: " + ", ".join(f"{k} {v}" for k, v in sorted(HOSTILE_DONE.items())))
    print(f"hub RSS: start {rss_start / 1024:.0f} MiB, peak {peak / 1024:.0f} MiB, end {end / 1024:.0f} MiB")
    if timings:
        print(f"honest LOGIN+SELECT+FETCH: n={len(timings)} p50={statistics.median(timings) * 1000:.0f} ms "
              f"p95={p95(timings) * 1000:.0f} ms; failures {len(failures)} {sorted(set(failures))}")
        print("  p95 by %d s slice: " % SLICE_S + ", ".join(f"{n * SLICE_S}-{(n + 1) * SLICE_S} s {p95(v) * 1000:.0f} ms"
                                                       f" (n={len(v)})" for n, v in sorted(slices.items())))
    else:
        print(f"honest clients: no completed round; failures {len(failures)} {sorted(set(failures))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=500)
    parser.add_argument("--honest", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--kinds", default=",".join(KINDS), help="hostile kinds to mix, comma-separated")
    args = parser.parse_args()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
