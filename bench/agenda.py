"""The agenda, end to end: iMIP messages per second from SMTP to filed, and the listing of a patient with
5,000 agenda items.

    python3 bench/agenda.py [--messages 5000] [--sessions 4] [--listings 30]

A served hub (`mssante-hub serve`, SQLite, fsync on): a professional submits iMIP REQUESTs (STARTTLS, AUTH
PLAIN; multipart/alternative with `text/calendar; method=REQUEST`, ~1.5 KiB) to one patient space, each a new
UID on its own day. The hub says 250 only once the covering message, the filed item and its index row are
committed, so the time to the last 250 is the time to filed (target >= 100/s). Then the patient lists the
agenda over the webmail API (`GET /api/agenda?from=&to=`): a month, a year (~1,200 items) and the whole range with
`agenda.max_listed` at 5,000 (every item opened: target p95 < 100 ms), then pages of it (`limit`, `after`: the
first 100, and 1,000 from half-way), `--listings` times each; median and p95.
A benchmark, not a test: figures go in notes, not assertions. The machine is shared: expect noise.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mssante_hub.config import Config  # noqa: E402
from mssante_hub.hub import Hub  # noqa: E402
from tests.agenda.support import DOCTOR, Submitter, ics, imip_message  # noqa: E402
from tests.conftest import add_professional, make_data_dir  # noqa: E402
from tests.dossier.support import INS, PATIENT, provision_patient  # noqa: E402
from tests.smtp.support import configure_smtp, make_pki  # noqa: E402
from tests.support.served import served  # noqa: E402
from tests.web.support import WebClient  # noqa: E402

PATIENT_PASSWORD = "mot de passe de dominique"
FIRST_DAY = dt.datetime(2027, 1, 1, 9, 0)


def messages(count: int) -> list[bytes]:
    out = []
    for i in range(count):
        day = FIRST_DAY + dt.timedelta(days=i % 1500, minutes=(i // 1500) * 30)
        calendar = ics(f"bench-{i}@cabinet.test", start=day.strftime("%Y%m%dT%H%M%S"),
                       end=(day + dt.timedelta(minutes=20)).strftime("%Y%m%dT%H%M%S"),
                       summary=f"Consultation {i}", attendee=PATIENT)
        out.append(imip_message(DOCTOR, PATIENT, calendar))
    return out


def send_all(port: int, pki, raws: list[bytes], sessions: int) -> float:
    def run(share: list[bytes]) -> None:
        client = Submitter(port, pki)
        try:
            for raw in share:
                assert client.send(PATIENT, raw) == {}
        finally:
            client.close()

    threads = [threading.Thread(target=run, args=(raws[i::sessions],)) for i in range(sessions)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start


def listing_times(web: WebClient, path: str, runs: int) -> tuple[list[float], int]:
    times, count = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        answer = web.call("GET", path)
        times.append(time.perf_counter() - start)
        assert answer.status == 200, answer.body
        count = len(answer.body["items"])
    return sorted(times), count


def _p95(times: list[float]) -> float:
    return times[min(len(times) - 1, int(round(0.95 * len(times))) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=5000, help="iMIP REQUESTs (also the agenda's size)")
    parser.add_argument("--sessions", type=int, default=4)
    parser.add_argument("--listings", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        data_dir = make_data_dir(base)
        pki = make_pki(base)
        configure_smtp(data_dir, pki)
        config = Config.load(data_dir)
        config.set("agenda.max_listed", max(5000, args.messages))
        config.set("relay.enabled", False)
        config.save()
        with Hub.open(data_dir) as hub:
            add_professional(hub, "jean.dupont")
            provision_patient(hub)
        print(f"building {args.messages} iMIP messages ...", flush=True)
        raws = messages(args.messages)
        size = sum(len(r) for r in raws) / len(raws) / 1024
        with served(data_dir, ["submission", "web"]) as running:
            elapsed = send_all(running.port("submission"), pki, raws, args.sessions)
            web = WebClient(running.port("web")).login(INS, PATIENT_PASSWORD)
            whole, listed = listing_times(web, "/api/agenda?from=2026-12-01&to=2031-03-01", 1)
            print(f"iMIP: {args.messages} REQUESTs ({size:.1f} KiB) over {args.sessions} sessions in {elapsed:.1f} s "
                  f"= {args.messages / elapsed:.0f} messages/s to filed; listed afterwards: {listed}")
            for label, path in (("a month", "/api/agenda?from=2027-03-01&to=2027-03-31"),
                                ("a year", "/api/agenda?from=2027-01-01&to=2027-12-31"),
                                (f"everything ({listed} items)", "/api/agenda?from=2026-12-01&to=2031-03-01"),
                                ("everything, first page of 100", "/api/agenda?from=2026-12-01&to=2031-03-01&limit=100"),
                                ("everything, a page of 1,000 after 2,500 items", None)):
                if path is None:  # where a client paging through the whole range would be half-way
                    page = web.call("GET", "/api/agenda?from=2026-12-01&to=2031-03-01&limit=2500").body
                    if page["next"] is None:  # fewer than 2,500 items (--messages below it): no such page
                        print(f"listing {label}: skipped, {listed} items fit in the first 2,500")
                        continue
                    path = f"/api/agenda?from=2026-12-01&to=2031-03-01&limit=1000&after={page['next']}"
                times, count = listing_times(web, path, args.listings)
                print(f"listing {label}: {count} items, {args.listings} runs: median "
                      f"{statistics.median(times) * 1000:.0f} ms, p95 {_p95(times) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
