"""docs/operators.md followed literally: a hospital system on loopback, with the certificate `peer trial` made,
sends a CDA in an XDM package with swaks and gets its receipts (processed, dispatched) on its own SMTP server.

The doc's ```sh blocks of "Try it on one machine" run as they are written, in order, in a fresh folder; a block
that says it keeps running is started in the background and waited for. The README's ports are fixed (2525,
8080, ...), so where we may, the walk runs in a network namespace of its own (only loopback, nothing else on it).
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.support.missing import missing
from tests.test_readme import can_isolate

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "operators.md"
SECTION = "## Try it on one machine"
BACKGROUND = "# in another terminal (keeps running)"
RECEIPTS = "recus"
WAIT_S = 120
LISTENERS = 5  # listen.enabled by default



def doc_blocks() -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    return [b.strip() for b in re.findall(r"```sh\n(.*?)```", text[start:end if end > 0 else None], re.S)]


def _wait_port(host: str, port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited: {process.stderr.read()}")
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {host}:{port}")


def _wait_listening(process: subprocess.Popen) -> None:
    seen = 0
    while seen < LISTENERS:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"serve exited: {process.stderr.read()}")
        seen += line.startswith("listening ")


def walk(workdir: Path) -> None:
    """Run the doc's blocks in `workdir`; leave once the receipts are in, stopping what was started."""
    started: list[subprocess.Popen] = []
    try:
        for block in doc_blocks():
            if block.startswith(BACKGROUND):
                command = block.splitlines()[1]
                process = subprocess.Popen(["bash", "-c", f"exec {command}"], cwd=workdir, stdout=subprocess.PIPE,
                                           stderr=subprocess.PIPE, text=True)
                started.append(process)
                listen = re.search(r"-l (\S+):(\d+)", command)
                if listen:
                    _wait_port(listen[1], int(listen[2]), process)
                else:
                    _wait_listening(process)
                continue
            done = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=workdir, capture_output=True,
                                  text=True, timeout=WAIT_S)
            (workdir / f"step{len(list(workdir.glob('step*')))}.out").write_text(done.stdout + done.stderr)
            if done.returncode != 0:
                raise RuntimeError(f"step failed ({done.returncode}): {block}\n{done.stdout}\n{done.stderr}")
        deadline = time.monotonic() + WAIT_S
        inbox = workdir / RECEIPTS / "new"
        while time.monotonic() < deadline and len(list(inbox.glob("*"))) < 2:
            time.sleep(0.1)
    finally:
        for process in reversed(started):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def dispositions(inbox: Path) -> list[tuple[str, str, str]]:
    found = []
    for path in inbox.glob("*"):
        report = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert report.get_content_type() == "multipart/report", report.get_content_type()
        fields = report.get_payload()[1].get_payload()[0]
        found.append((str(report["To"]), str(report["From"]), fields["Disposition"]))
    return sorted(found)


def test_the_operators_doc_connects_a_hospital_system_that_gets_its_receipts(tmp_path, request):
    if shutil.which("swaks") is None:
        missing(request.node.nodeid, "swaks is not installed", "apt-get install swaks (tests/run.sh does, as root)")
    # `mssante-hub` as the doc writes it: this tree's command, whatever is installed.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "mssante-hub"
    wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} -m mssante_hub.admin.cli "$@"\n')
    wrapper.chmod(0o755)
    (bin_dir / "python3").symlink_to(sys.executable)
    workdir = tmp_path / "integrateur"
    workdir.mkdir()
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "PYTHONPATH": str(REPO)}
    inner = [sys.executable, "-m", "tests.test_operators_doc", str(workdir)]
    argv = ["unshare", "-n", "bash", "-c", 'ip link set lo up && exec "$@"', "-", *inner] if can_isolate() else inner
    result = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=10 * WAIT_S)
    assert result.returncode == 0, result.stdout + result.stderr

    printed = (workdir / "step0.out").read_text()  # init, then peer trial
    swaks_line = next(line for block in doc_blocks() for line in block.splitlines() if line.startswith("swaks "))
    assert f"  {swaks_line}\n" in printed  # the doc's command is the one `peer trial` prints
    got = dispositions(workdir / RECEIPTS / "new")
    patient = "279035121518989@patient.hub.localhost"
    assert got == [("dpi@chu-demo.test", patient, "automatic-action/MDN-sent-automatically; dispatched"),
                   ("dpi@chu-demo.test", patient, "automatic-action/MDN-sent-automatically; processed")], got


if __name__ == "__main__":
    walk(Path(sys.argv[1]))
