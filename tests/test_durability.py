"""A delivery that returned survives kill -9 of the process."""

import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from mssante_hub.hub import Hub
from mssante_hub.reader import read_folder
from storage.models import Message
from tests.conftest import add_professional

ACKNOWLEDGED_BEFORE_KILL = 300
REPO = Path(__file__).resolve().parents[1]


def test_acknowledged_deliveries_survive_kill_9(data_dir):
    hub = Hub.open(data_dir)
    reader = add_professional(hub, "dr.durable")
    hub.close()

    child = subprocess.Popen(
        [sys.executable, "-m", "tests.support.deliver_forever", str(data_dir), reader],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
    )
    acknowledged = []
    try:
        while len(acknowledged) < ACKNOWLEDGED_BEFORE_KILL:
            line = child.stdout.readline()
            assert line, child.stderr.read()
            acknowledged.append(line.split())
        child.send_signal(signal.SIGKILL)  # mid-stream: more deliveries are in flight
        child.wait(timeout=10)
        acknowledged += [line.split() for line in child.stdout.read().splitlines() if line.strip()]
    finally:
        if child.poll() is None:
            child.kill()

    hub = Hub.open(data_dir)
    try:
        stored = {m.uid: m for m in read_folder(hub, reader)}
        for blob_id, uid in acknowledged:
            assert int(uid) in stored, f"acknowledged message uid {uid} lost"
        with hub.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(Message)).scalar_one() >= len(acknowledged)
    finally:
        hub.close()
