"""The dossier, end to end: XDM packages per second from SMTP to filed, and the IMAP listing of a large dossier.

    python3 bench/dossier.py [--small 1000] [--large 40] [--sessions 4] [--listings 30]

A served hub (`mssante-hub serve`, SQLite, fsync on): an APP mailbox submits document messages (STARTTLS,
AUTH PLAIN) to one patient space, each an IHE_XDM.zip (mssante_hub/dossier/xdm_writer.py) around a CI-SIS
example with its own setId: the 24 KB vaccination note ("20 KB") and the 1.7 MB retinography report
("1.7 MB"). The hub says 250 only once the message, its filed item and index row are committed, so the
time to the last 250 is the time to filed; the count in the category is then checked over IMAP by a
professional in care (Patients/<INS>/Dossier/<category>) and one item fetched. The listing figure: over
the 20 KB dossier (`--small` documents), SELECT then `FETCH 1:* (UID FLAGS ENVELOPE)`, `--listings`
times; median, p95 and the first run (the hub keeps ENVELOPE answers for the next listing: imap/envelopes.py). The hub's peak RSS (VmHWM) is read from /proc at the end.
A benchmark, not a test: figures go in notes, not assertions.
"""

from __future__ import annotations

import argparse
import imaplib
import re
import smtplib
import ssl
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mssante_hub.accounts.mailboxes import add_account  # noqa: E402
from mssante_hub.dossier import xdm_writer  # noqa: E402
from mssante_hub.hub import Hub  # noqa: E402
from tests.conftest import make_data_dir  # noqa: E402
from tests.dossier.builder import document_message  # noqa: E402
from tests.smtp.messages import message  # noqa: E402
from tests.smtp.support import configure_smtp, make_pki  # noqa: E402
from tests.support.served import served  # noqa: E402

FIXTURES = REPO.parent / "shared" / "fixtures" / "cda"
INS = "279035121518989"
PATIENT = f"{INS}@patient.hub.test"
APP, DOCTOR = "dpi@hub.test", "jean.dupont@hub.test"
PASSWORD = "bench password long enough"
SMALL, LARGE = ("VAC-NOTE_2023.01.xml", "CAR_VAC"), ("OPH-CR-RTN_2022.01.xml", "DEPISTAG")
_SET_ID = re.compile(rb'<setId root="([^"]+)"\s*/>')


def _packages(name: str, count: int, tag: str) -> list[bytes]:
    cda = (FIXTURES / name).read_bytes()
    out = []
    for i in range(count):
        unique = _SET_ID.sub(lambda m: b'<setId root="' + m.group(1) + f'.{tag}.{i}'.encode() + b'"/>', cda, 1)
        out.append(document_message(APP, PATIENT, xdm_writer.pack([unique])))
    return out


def _submit(port: int, context: ssl.SSLContext, raws: list[bytes], sender: str = APP) -> None:
    client = smtplib.SMTP("127.0.0.1", port, timeout=300)
    client.starttls(context=context)
    client.login(sender, PASSWORD)
    for raw in raws:
        refused = client.sendmail(sender, [PATIENT], raw)
        assert refused == {}, refused
    client.quit()


def send_all(port: int, context: ssl.SSLContext, raws: list[bytes], sessions: int) -> float:
    shares = [raws[i::sessions] for i in range(sessions)]
    threads = [threading.Thread(target=_submit, args=(port, context, share)) for share in shares if share]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start


def _imap(port: int) -> imaplib.IMAP4_SSL:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    client = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=context)
    client.login(DOCTOR, PASSWORD)
    return client


def filed_count(port: int, category: str) -> int:
    client = _imap(port)
    try:
        status, data = client.select(f"Patients/{INS}/Dossier/{category}", readonly=True)
        assert status == "OK", data
        count = int(data[0])
        assert client.fetch(str(count), "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")[0] == "OK"
        return count
    finally:
        client.logout()


def listing_times(port: int, category: str, runs: int, items: str = "(UID FLAGS ENVELOPE)") -> list[float]:
    client = _imap(port)
    times = []
    try:
        for _ in range(runs):
            start = time.perf_counter()
            status, data = client.select(f"Patients/{INS}/Dossier/{category}", readonly=True)
            assert status == "OK"
            status, lines = client.fetch("1:*", items)
            assert status == "OK" and lines
            times.append(time.perf_counter() - start)
    finally:
        client.logout()
    return times


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=1000, help="20 KB packages (also the listed dossier's size)")
    parser.add_argument("--large", type=int, default=40, help="1.7 MB packages")
    parser.add_argument("--sessions", type=int, default=4)
    parser.add_argument("--listings", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        data_dir = make_data_dir(base)
        pki = make_pki(base)
        configure_smtp(data_dir, pki)
        with Hub.open(data_dir) as hub:
            add_account(hub, type="APP", address=APP, display_name="DPI", password=PASSWORD)
            add_account(hub, type="PER", address=DOCTOR, display_name="Jean Dupont", password=PASSWORD)
            add_account(hub, type="PATIENT", address=PATIENT, display_name="", ins=INS)
        context = pki.client_context(None)
        print(f"building {args.small} + {args.large} packages ...", flush=True)
        small, large = _packages(SMALL[0], args.small, "s"), _packages(LARGE[0], args.large, "l")
        with served(data_dir, ["submission", "imaps"]) as running:
            port = running.port("submission")
            _submit(port, context, [message(DOCTOR, PATIENT, subject="Consultation")], sender=DOCTOR)  # in care
            for label, raws, category in (("20 KB", small, SMALL[1]), ("1.7 MB", large, LARGE[1])):
                size = sum(len(r) for r in raws) / len(raws) / 1024
                elapsed = send_all(port, context, raws, args.sessions)
                count = filed_count(running.port("imaps"), category)
                print(f"{label}: {len(raws)} packages (messages of {size:.0f} KiB) over {args.sessions} sessions in "
                      f"{elapsed:.1f} s = {len(raws) / elapsed:.1f} packages/s; filed and readable: {count}")
            for items in ("(UID FLAGS INTERNALDATE RFC822.SIZE)", "(UID FLAGS ENVELOPE)"):
                runs = listing_times(running.port("imaps"), SMALL[1], args.listings, items)
                times = sorted(runs)
                p95 = times[min(len(times) - 1, int(round(0.95 * len(times))) - 1)]
                print(f"IMAP listing of {args.small} documents (SELECT + FETCH 1:* {items}), {args.listings} runs: "
                      f"median {statistics.median(times) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
                      f"first {runs[0] * 1000:.0f} ms")
            print(f"hub peak RSS (VmHWM): {peak_rss_mib(running.process.pid):.0f} MiB")


if __name__ == "__main__":
    main()
