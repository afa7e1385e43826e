"""SMTP ingest, end to end, hub vs Postfix+Dovecot on this machine, with Postfix's smtp-source as load.

    python3 bench/smtp_ingest.py [--messages 2000] [--sessions 10] [--sizes 4k,200k] [--runs 3]

For each size: N one-recipient messages over S sessions, timed from the first byte until
all N are readable in the store (the hub acknowledges only after an fsync'ed commit, so
end to end = until the count of stored messages reaches N; one is then decrypted to
prove it readable). The baseline runs ../shared/tools/baseline/smtp_load.sh against
Postfix -> LMTP -> Dovecot Maildir. The hub's mx takes the load from a trusted network
(`mx.trusted_networks = ["127.0.0.0/8"]`) since smtp-source speaks no TLS; encryption
at rest and fsync stay on. A second figure: the hub's submission with STARTTLS and AUTH
PLAIN, driven by an aiosmtplib load of S sessions. Medians of the runs are printed.
Each side first takes an untimed warm-up burst (WARM_UP_MESSAGES): under `--workers N` the
listening lines come from the supervisor while its workers may still be importing, and the
first timed run counted their start (about 700 msg/s against 950-1050 for the runs after it).
A benchmark, not a test: figures go in notes, not assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
BASELINE = Path(os.environ.get("MSSANTE_BASELINE", REPO.parent / "shared" / "tools" / "baseline"))
BASELINE_MAILDIR = Path(os.environ.get("BASELINE_DIR", "/tmp/baseline-mail")) / "mail/hub.test/loadtest/Maildir"
RECIPIENT = "loadtest@hub.test"
PASSWORD = "bench password long enough"
WARM_UP_MESSAGES = 300
LISTENING = re.compile(r"^listening (\S+) (\S+):(\d+)$")


def size_bytes(text: str) -> int:
    return int(text[:-1]) * 1024 if text[-1] in "kK" else int(text)


def hub_cli(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mssante_hub.admin.cli", *args], cwd=REPO, check=True, text=True,
                          capture_output=True, **kwargs)


class ServedHub:
    def __init__(self, data_dir: Path, workers: int = 1, listeners: tuple[str, ...] = ("mx", "submission")) -> None:
        self.data_dir = data_dir
        listen = [arg for name in listeners for arg in ("--listen", f"{name}=127.0.0.1:0")]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mssante_hub.admin.cli", "serve", "--data-dir", str(data_dir),
             "--workers", str(workers), *listen],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.ports: dict[str, int] = {}
        while len(self.ports) < len(listeners):
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError("the hub did not start")
            found = LISTENING.match(line.strip())
            if found:
                self.ports[found[1]] = int(found[3])

    def cpu_seconds(self) -> float:
        """User + system CPU time of the serving process and its living workers so far (Linux /proc)."""
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        total = 0
        for each in [pid, *map(int, children)]:
            fields = Path(f"/proc/{each}/stat").read_text().rpartition(")")[2].split()
            total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)


def make_data_dir(base: Path, settings: list[str]) -> Path:
    data_dir = base / "hub"
    hub_cli("init", "--data-dir", str(data_dir), "--domain", "hub.test", "--patient-domain", "patient.hub.test")
    hub_cli("account", "add", "--data-dir", str(data_dir), "--type", "PER", "--address", RECIPIENT,
            "--name", "Load Test", "--password-stdin", input=PASSWORD + "\n")
    hub_cli("config", "set", "--data-dir", str(data_dir), "mx.trusted_networks", '["127.0.0.0/8"]')
    hub_cli("config", "set", "--data-dir", str(data_dir), "smtp.max_sessions_per_client", "1000")
    for setting in settings:
        key, _, value = setting.partition("=")
        hub_cli("config", "set", "--data-dir", str(data_dir), key, value)
    return data_dir


def stored_count(hub) -> int:
    from storage import messages

    return hub.read_sync(messages.count_messages)


def wait_stored(hub, target: int, timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    while stored_count(hub) < target:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {stored_count(hub)} of {target} stored")
        time.sleep(0.02)


def smtp_source(port: int, n: int, sessions: int, size: int) -> None:
    tool = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
    subprocess.run([tool, "-4", "-s", str(sessions), "-m", str(n), "-l", str(size), "-f", "loadgen@example.net",
                    "-t", RECIPIENT, "-S", f"smtp_load {n} x {size}", f"inet:127.0.0.1:{port}"], check=True)


def hub_smtp_source_run(hub, port: int, n: int, sessions: int, size: int) -> float:
    before = stored_count(hub)
    start = time.perf_counter()
    smtp_source(port, n, sessions, size)
    wait_stored(hub, before + n)
    return n / (time.perf_counter() - start)


def hub_submission_run(hub, port: int, ca_file: Path, n: int, sessions: int, size: int) -> float:
    import aiosmtplib

    body = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod.\r\n"
    head = f"From: {RECIPIENT}\r\nTo: {RECIPIENT}\r\nSubject: bench\r\n\r\n".encode()
    raw = head + (body * (size // len(body) + 1))[:size]

    async def session(count: int) -> None:
        context = ssl.create_default_context(cafile=str(ca_file))
        context.check_hostname = False  # the self-signed certificate names mx.hub.localhost
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=True, tls_context=context)
        await client.connect()
        await client.login(RECIPIENT, PASSWORD)
        for _ in range(count):
            await client.sendmail(RECIPIENT, [RECIPIENT], raw)
        await client.quit()

    async def main() -> None:
        await asyncio.gather(*(session(n // sessions + (1 if i < n % sessions else 0)) for i in range(sessions)))

    before = stored_count(hub)
    start = time.perf_counter()
    asyncio.run(main())
    wait_stored(hub, before + n)
    return n / (time.perf_counter() - start)


def baseline_run(n: int, sessions: int, size: int) -> float:
    subprocess.run([str(BASELINE / "postfix_dovecot.sh"), "clean-mail", "loadtest"], check=True,
                   capture_output=True)
    result = subprocess.run([str(BASELINE / "smtp_load.sh"), "127.0.0.1", "2525", str(n), str(sessions), RECIPIENT,
                             str(size)], env={**os.environ, "MAILDIR": str(BASELINE_MAILDIR)},
                            check=True, capture_output=True, text=True)
    found = re.search(r"e2e_rate=([\d.]+)", result.stdout)
    if not found:
        raise RuntimeError(f"no end-to-end figure from smtp_load.sh: {result.stdout}")
    return float(found[1])


def readable_check(hub) -> None:
    from mssante_hub.reader import read_folder

    assert read_folder(hub, RECIPIENT)[-1].raw, "the last message is not readable"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--sizes", default="4k,200k")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-baseline", action="store_true", help="measure the hub only")
    parser.add_argument("--workers", type=int, default=1, help="serve --workers N (0: one per core)")
    parser.add_argument("--no-submission", action="store_true", help="skip the STARTTLS+AUTH submission figure")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a hub setting for the run, e.g. limits.parse_processes=2")
    args = parser.parse_args()
    if not args.no_baseline:
        # Not captured: the daemons it starts inherit a pipe and would keep it open for ever.
        subprocess.run([str(BASELINE / "postfix_dovecot.sh"), "start"], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    from mssante_hub.hub import Hub

    with tempfile.TemporaryDirectory(prefix="bench-smtp-") as tmp:
        data_dir = make_data_dir(Path(tmp), args.set)
        served = ServedHub(data_dir, args.workers)
        hub = Hub.open(data_dir, upgrade_schema=False)
        try:
            print(f"N={args.messages} sessions={args.sessions} runs={args.runs} (medians) workers={args.workers} "
                  f"settings={args.set}")
            warm = hub_smtp_source_run(hub, served.ports["mx"], WARM_UP_MESSAGES, args.sessions, 4096)
            warm_line = f"  warm-up ({WARM_UP_MESSAGES} x 4k, not counted): hub {warm:.0f} msg/s"
            if not args.no_baseline:
                warm_line += f", Postfix+Dovecot {baseline_run(WARM_UP_MESSAGES, args.sessions, 4096):.0f} msg/s"
            print(warm_line, flush=True)
            for size_text in args.sizes.split(","):
                size = size_bytes(size_text)
                cpu_before = served.cpu_seconds()
                hub_rates = [hub_smtp_source_run(hub, served.ports["mx"], args.messages, args.sessions, size)
                             for _ in range(args.runs)]
                cpu_ms = (served.cpu_seconds() - cpu_before) * 1000 / (args.messages * args.runs)
                print(f"  {size_text} hub mx runs: {' '.join(f'{r:.0f}' for r in hub_rates)} msg/s;"
                      f" hub CPU {cpu_ms:.2f} ms/msg", flush=True)
                readable_check(hub)
                hub_rate = statistics.median(hub_rates)
                line = f"{size_text}: hub mx (smtp-source) {hub_rate:.0f} msg/s end to end"
                if not args.no_submission:
                    tls_rates = [hub_submission_run(hub, served.ports["submission"], data_dir / "tls/cert.pem",
                                                    args.messages, args.sessions, size) for _ in range(args.runs)]
                    line += f"; hub submission STARTTLS+AUTH (aiosmtplib) {statistics.median(tls_rates):.0f} msg/s"
                if not args.no_baseline:
                    base = statistics.median(baseline_run(args.messages, args.sessions, size)
                                             for _ in range(args.runs))
                    line += f"; Postfix+Dovecot {base:.0f} msg/s; ratio hub/baseline {hub_rate / base:.2f}x"
                print(line, flush=True)
        finally:
            hub.close()
            served.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
