"""What the catalogue's consent costs a push, end to end: messages per second from SMTP submission to stored,
from an APP mailbox tied to no catalogue entry (no look-up) and from a connected service (the consent read at
RCPT, at DATA and again in the storing transaction), then the service's FHIR measures (each validated and filed
into Dossier/Profil), and pushes refused at RCPT (no consent: one read and one trace each).

    python3 bench/catalogue.py [--messages 2000] [--sessions 4]

A served hub (`mssante-hub serve`, SQLite, fsync on), one patient space; every 250 comes after the commit. A
benchmark, not a test: figures go in notes, not assertions. The machine is shared: expect noise.
"""

from __future__ import annotations

import argparse
import smtplib
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mssante_hub.hub import Hub  # noqa: E402
from tests.catalogue.support import SERVICE, SERVICE_LOCAL, SERVICE_MAILBOX, load  # noqa: E402
from tests.catalogue.support import measure_message, text_message  # noqa: E402
from tests.conftest import TEST_PASSWORD, add_professional, make_data_dir  # noqa: E402
from tests.dossier.support import APP, INS, PATIENT, add_app, provision_patient  # noqa: E402
from tests.smtp.support import configure_smtp, make_pki  # noqa: E402
from tests.support.served import served  # noqa: E402
from tests.web.conftest import configure  # noqa: E402
from tests.web.support import WebClient  # noqa: E402

PATIENT_PASSWORD = "mot de passe de dominique"
UNCONNECTED = "sans-accord"


def send_all(port: int, pki, sender: str, raws: list[bytes], sessions: int, accepted: bool = True) -> float:
    def run(share: list[bytes]) -> None:
        client = smtplib.SMTP("127.0.0.1", port, timeout=120)
        try:
            client.starttls(context=pki.client_context(None))
            client.login(sender, TEST_PASSWORD)
            for raw in share:
                if accepted:
                    assert client.sendmail(sender, [PATIENT], raw) == {}
                else:
                    client.mail(sender)
                    assert client.rcpt(PATIENT)[0] == 550
                    client.rset()
        finally:
            client.quit()

    threads = [threading.Thread(target=run, args=(raws[i::sessions],)) for i in range(sessions)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--sessions", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        data_dir = make_data_dir(base)
        pki = make_pki(base)
        # Refused RCPTs and the RSETs after them would end a session (smtp.max_errors, smtp.max_junk_commands).
        configure(data_dir, {"smtp.max_errors": 1_000_000, "smtp.max_junk_commands": 1_000_000})
        configure_smtp(data_dir, pki)
        hub = Hub.open(data_dir)
        add_app(hub)
        add_professional(hub, SERVICE_LOCAL, type="APP")
        add_professional(hub, UNCONNECTED, type="APP")
        provision_patient(hub)
        hub.close()
        load(data_dir, [SERVICE, {**SERVICE, "id": UNCONNECTED, "mailbox": f"{UNCONNECTED}@hub.test"}])
        with served(data_dir, ["web", "submission"]) as running:
            web = WebClient(running.port("web")).login(INS, PATIENT_PASSWORD)
            granted = web.call("POST", "/api/catalogue/suivi-diabete/consent", {"scopes": ["messages", "measures"]})
            assert granted.status == 200, granted.body
            port, n = running.port("submission"), args.messages
            rows = []
            for label, sender, raws, ok in (
                    ("APP mailbox in no catalogue entry, plain mail", APP,
                     [text_message(PATIENT, f"m{i}", APP) for i in range(n)], True),
                    ("connected service, plain mail (messages scope)", SERVICE_MAILBOX,
                     [text_message(PATIENT, f"s{i}") for i in range(n)], True),
                    ("connected service, one FHIR Observation each (measures)", SERVICE_MAILBOX,
                     [measure_message(PATIENT) for _ in range(n // 4)], True),
                    ("service without consent, refused at RCPT", f"{UNCONNECTED}@hub.test",
                     [b""] * n, False)):
                seconds = send_all(port, pki, sender, raws, args.sessions, ok)
                rows.append((label, len(raws), seconds))
    print(f"{args.sessions} submission sessions, SQLite, fsync on; shared 2-core machine")
    for label, count, seconds in rows:
        print(f"{label}: {count} in {seconds:.1f} s = {count / seconds:.0f}/s")


if __name__ == "__main__":
    main()
