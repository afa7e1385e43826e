"""The webmail under load: inbox and document-list API and pages with many messages and documents.

    python3 bench/webmail.py [--messages 10000] [--documents 1000] [--sessions 50] [--rounds 10]
                             [--workers 0] [--think 0]

A served hub (`mssante-hub serve`, SQLite, fsync on) holds one patient space with `--messages` messages from
a local professional (delivery.accept, as submission) and `--documents` of the patient's own PDFs filed in
one dossier category (POST /api/dossier/documents, the one delivery path). Then `--sessions` threads sign in
(one session each) and, `--rounds` times each, ask for the inbox (GET /api/messages?folder=INBOX, 50 newest),
the category's document list (GET /api/dossier/documents?category=SYNTHESE: its first page, 50 documents), its
last page (`after` the cursor the walk through the pages gave before the timed rounds) and the page (GET /).
p50/p95 per request kind. Target p95 < 150 ms (issue 15). A benchmark, not a test: figures go in notes.

`--workers` is `serve --workers` (0, the default, is serve's own default: one process per core). `--think`
is a pause in seconds after each request, drawn uniformly between 0.5x and 1.5x of it: 0 (the default) fires
back to back, which measures the hub saturated by 50 clients with no one reading, not the wait of a patient
who reads the page between clicks. Report the zero-think figures with any other.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import http.client
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mssante_hub import delivery  # noqa: E402
from mssante_hub.hub import Hub  # noqa: E402
from tests.conftest import add_professional, make_data_dir  # noqa: E402
from tests.patients.helpers import identity_of, make_message  # noqa: E402
from tests.patients.test_notify import active_patient  # noqa: E402
from tests.support.served import served  # noqa: E402
from tests.web.conftest import configure  # noqa: E402

PASSWORD = "mot de passe de camille"
PDF = b"%PDF-1.4 bench\n%%EOF\n"
KINDS = {"inbox": "/api/messages?folder=INBOX&limit=50", "documents": "/api/dossier/documents?category=SYNTHESE",
         "page": "/"}


def _process_tree(pid: int) -> list[int]:
    """The serving process and its descendants (serve's workers), from /proc."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                todo += [int(child) for child in (task / "children").read_text().split()]
            except OSError:
                pass
    return found


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of these processes (fields 14 and 15 of /proc/PID/stat): unlike latencies, a
    figure the other load of a shared machine barely moves."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def _call(port: int, method: str, path: str, token: str | None = None, body: dict | None = None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    try:
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


async def _fill(hub: Hub, doctor: str, patient: str, count: int) -> None:
    who = identity_of(hub, doctor)
    for i in range(count):
        raw = make_message(doctor, [patient], subject=f"Suivi {i}", body="Texte du suivi.")
        await delivery.accept(hub, delivery.Envelope(mail_from=doctor, rcpt_to=(patient,), channel="submission"),
                              raw, who)


def _last_page(port: int, token: str, path: str) -> str:
    """The path of the listing's last page: the pages walked through once, following `next`."""
    last = path
    while True:
        status, body = _call(port, "GET", last, token)
        assert status == 200, body
        following = json.loads(body)["next"]
        if following is None:
            return last
        last = f"{path}&after={following}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--documents", type=int, default=1_000)
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--think", type=float, default=0.0)
    parser.add_argument("--db-threads", type=int, default=0, help="storage.db_threads (0: the default)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = make_data_dir(Path(tmp))
        configure(data_dir, {"web.max_failed_logins": 1000, **({"storage.db_threads": args.db_threads} if args.db_threads else {})})
        hub = Hub.open(data_dir)
        doctor = add_professional(hub, "dr.bench", password=None)
        patient, _ = active_patient(hub, "bench@courriel.example")
        login = patient.partition("@")[0]
        started = time.monotonic()
        asyncio.run(_fill(hub, doctor, patient, args.messages))
        print(f"{args.messages} messages delivered in {time.monotonic() - started:.0f} s", flush=True)
        with served(data_dir, ["web"], workers=args.workers) as running:
            port = running.port("web")
            status, body = _call(port, "POST", "/api/session", body={"login": login, "password": PASSWORD})
            token = json.loads(body)["token"]
            started = time.monotonic()
            upload = {"category": "SYNTHESE", "filename": "bilan.pdf", "content_type": "application/pdf",
                      "content_base64": base64.b64encode(PDF).decode()}
            for i in range(args.documents):
                status, body = _call(port, "POST", "/api/dossier/documents", token, {**upload, "title": f"Bilan {i}"})
                assert status == 201, body
            print(f"{args.documents} documents filed in {time.monotonic() - started:.0f} s", flush=True)
            kinds = dict(KINDS)
            kinds["documents_last"] = _last_page(port, token, KINDS["documents"])
            tokens = []
            for _ in range(args.sessions):
                status, body = _call(port, "POST", "/api/session", body={"login": login, "password": PASSWORD})
                assert status == 201, body
                tokens.append(json.loads(body)["token"])
            times: dict[str, list[float]] = {kind: [] for kind in kinds}
            errors: list[str] = []
            lock = threading.Lock()

            def session(own: str) -> None:
                for _ in range(args.rounds):
                    for kind, path in kinds.items():
                        begin = time.perf_counter()
                        status, _ = _call(port, "GET", path, own)
                        spent = (time.perf_counter() - begin) * 1000
                        with lock:
                            times[kind].append(spent)
                            if status != 200:
                                errors.append(f"{kind} {status}")
                        if args.think:
                            time.sleep(args.think * random.uniform(0.5, 1.5))

            threads = [threading.Thread(target=session, args=(t,)) for t in tokens]
            serving = _process_tree(running.process.pid)
            cpu_before = _cpu_seconds(serving)
            started = time.monotonic()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            wall = time.monotonic() - started
            cpu = _cpu_seconds(serving) - cpu_before
        hub.close()
    print(f"{args.sessions} sessions x {args.rounds} rounds in {wall:.1f} s (workers {args.workers or 'per core'}, "
          f"think {args.think} s); errors: {len(errors)} {errors[:3]}")
    requests = sum(len(values) for values in times.values())
    print(f"serving processes ({len(serving)}): {cpu:.1f} CPU s for {requests} requests = "
          f"{cpu * 1000 / requests:.2f} CPU ms per request")
    for kind, values in times.items():
        values.sort()
        p95 = values[max(0, int(len(values) * 0.95) - 1)]
        print(f"{kind:10} n={len(values)} p50={statistics.median(values):.0f} ms p95={p95:.0f} ms "
              f"max={values[-1]:.0f} ms")


if __name__ == "__main__":
    main()
