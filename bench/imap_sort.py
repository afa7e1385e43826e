"""SORT and THREAD on a large folder: latency of each command over implicit TLS.

    python3 bench/imap_sort.py [--messages 10000] [--repeat 20] [--seed 42]

A fresh data folder; one professional's INBOX gets MESSAGES messages (threads of 1 to 8
replies with References and In-Reply-To, varied subjects, senders and dates), stored by
delivery.accept on the IMAP channel as APPEND would store them. Then `mssante-hub serve`
runs, Python's imaplib logs in, selects INBOX and sends each command REPEAT times: the first
is reported apart ("cold": this process has not derived the sort keys of these messages yet),
then p50/p95/max of the others (the folder unchanged: answers the hub may keep), then p50/max of
CHANGED more, each after one APPEND to the folder ("changed": the folder's rows listed again and the
answer computed anew). A benchmark: no assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DOMAIN = "hub.test"
PASSWORD = "bench password 1"
USER = f"sorter@{DOMAIN}"
COMMANDS = [
    ("SORT (SUBJECT)", ("SORT", "(SUBJECT)", "UTF-8", "ALL")),
    ("SORT (REVERSE DATE)", ("SORT", "(REVERSE DATE)", "UTF-8", "ALL")),
    ("SORT (DISPLAYFROM SIZE)", ("SORT", "(DISPLAYFROM SIZE)", "UTF-8", "ALL")),
    ("SORT (REVERSE ARRIVAL) UNSEEN", ("SORT", "(REVERSE ARRIVAL)", "UTF-8", "UNSEEN")),
    ("THREAD REFERENCES", ("THREAD", "REFERENCES", "UTF-8", "ALL")),
    ("THREAD ORDEREDSUBJECT", ("THREAD", "ORDEREDSUBJECT", "UTF-8", "ALL")),
]
TOPICS = ["Résultat de biologie", "Compte rendu opératoire", "Demande d'avis", "Lettre de liaison",
          "Ordonnance", "Rendez-vous", "Imagerie", "Staff du mardi"]


def messages(count: int, rng: random.Random):
    n = 0
    while n < count:
        topic = f"{rng.choice(TOPICS)} {rng.randint(1, count // 4 or 1)}"
        root = f"<t{n}@bench.invalid>"
        refs: list[str] = []
        for depth in range(min(rng.randint(1, 8), count - n)):
            msgid = root if depth == 0 else f"<t{n}.{depth}@bench.invalid>"
            day = 1 + rng.randrange(28)
            header = (f"From: \"Dr {rng.choice('ABCDEFGH')}\" <dr{rng.randrange(50)}@bio.example>\r\n"
                      f"To: {USER}\r\nSubject: {'Re: ' if depth else ''}{topic}\r\n"
                      f"Date: {day:02d} Nov 2026 {rng.randrange(24):02d}:{rng.randrange(60):02d}:00 +0100\r\n"
                      f"Message-ID: {msgid}\r\n")
            if refs:
                header += f"In-Reply-To: {refs[-1]}\r\nReferences: {' '.join(refs)}\r\n"
            body = "Texte ordinaire d'un message médical.\r\n" * rng.randint(3, 40)
            yield (header + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + body).encode()
            refs.append(msgid)
            n += 1


def make_hub(base: Path, count: int, seed: int) -> Path:
    from mssante_hub import delivery
    from mssante_hub.accounts.mailboxes import add_account
    from mssante_hub.admin.datadir import init_data_dir
    from mssante_hub.config import Config
    from mssante_hub.hub import Hub

    data_dir = base / "hub"
    init_data_dir(data_dir, DOMAIN, "patient." + DOMAIN, None)
    config = Config.load(data_dir)
    config.set("imap.quota_bytes", 10 * 1024 ** 3)
    config.save()
    hub = Hub.open(data_dir)
    try:
        add_account(hub, type="PER", address=USER, display_name="Sorter", password=PASSWORD)
        identity = delivery.Identity(address=USER)
        envelope = delivery.Envelope(mail_from=USER, rcpt_to=(USER,), channel=delivery.Channel.IMAP)

        async def store_all() -> None:
            pending = []
            for raw in messages(count, random.Random(seed)):
                pending.append(delivery.accept(hub, envelope, raw, identity))
                if len(pending) >= 64:
                    await asyncio.gather(*pending)
                    pending = []
            await asyncio.gather(*pending)

        asyncio.run(store_all())
    finally:
        hub.close()
    return data_dir


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--changed", type=int, default=5, help="runs of each command after an APPEND")
    args = parser.parse_args()
    from tests.imap.support import imaps
    from tests.support.served import served

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        data_dir = make_hub(Path(tmp), args.messages, args.seed)
        print(f"stored {args.messages} messages in {time.perf_counter() - started:.1f} s")
        with served(data_dir, ["imaps"]) as hub:
            client = imaps(hub.port("imaps"), USER, PASSWORD)
            typ, data = client.select("INBOX")
            print(f"INBOX: {data[0].decode()} messages")
            print(f"{'command':32} {'cold ms':>8} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} "
                  f"{'changed p50':>11} {'changed max':>11}")
            extra = messages(args.changed * len(COMMANDS), random.Random(args.seed + 1))
            for label, command in COMMANDS:
                times = []
                for _ in range(args.repeat):
                    start = time.perf_counter()
                    typ, _ = client._simple_command(*command)
                    times.append((time.perf_counter() - start) * 1000)
                    client.untagged_responses.clear()
                    assert typ == "OK", (label, typ)
                changed = []
                for _ in range(args.changed):
                    client.append("INBOX", None, None, next(extra))
                    client.noop()
                    start = time.perf_counter()
                    typ, _ = client._simple_command(*command)
                    changed.append((time.perf_counter() - start) * 1000)
                    client.untagged_responses.clear()
                    assert typ == "OK", (label, typ)
                warm = sorted(times[1:])
                p95 = warm[max(0, round(0.95 * len(warm)) - 1)]
                after = (f" {statistics.median(changed):11.0f} {max(changed):11.0f}" if changed else "")
                print(f"{label:32} {times[0]:8.0f} {statistics.median(warm):8.0f} {p95:8.0f} {warm[-1]:8.0f}{after}")
            client.logout()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
