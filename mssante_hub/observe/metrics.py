"""The hub's Prometheus metrics, declared once (docs/configuration.md: where they are served).

Several workers (`serve --workers N`) share one view: the supervisor sets
PROMETHEUS_MULTIPROC_DIR before starting them, prometheus-client then keeps each worker's
values in a file of that folder and any worker's /metrics sums them (gauges of live things
summed over the living workers; `mssante_hub_worker_up` keeps one line per worker pid).
Labels are bounded: doors, refusal names, IMAP command names, outcome kinds; never an address.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from mssante_hub.rules import refusals

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
PREFIX = "mssante_hub"
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
OTHER_COMMAND = "OTHER"

REGISTRY = CollectorRegistry(auto_describe=True)
DELIVERIES = Counter(f"{PREFIX}_deliveries_total", "Messages stored durably, by front door (channel).",
                     ["door"], registry=REGISTRY)
REFUSALS = Counter(f"{PREFIX}_refusals_total", "Messages refused by delivery, by door and reason (rules/refusals.py).",
                   ["door", "reason"], registry=REGISTRY)
COMMIT_BATCH = Histogram(f"{PREFIX}_commit_batch_size", "Units of work in one group-committed transaction.",
                         buckets=BATCH_BUCKETS, registry=REGISTRY)
COMMIT_SECONDS = Histogram(f"{PREFIX}_commit_seconds", "Time of one group commit, statements and fsync.",
                           buckets=LATENCY_BUCKETS, registry=REGISTRY)
IMAP_SESSIONS = Gauge(f"{PREFIX}_imap_sessions", "IMAP connections open now.", multiprocess_mode="livesum",
                      registry=REGISTRY)
SMTP_SESSIONS = Gauge(f"{PREFIX}_smtp_sessions", "SMTP sessions open now (mx and submission).",
                      multiprocess_mode="livesum", registry=REGISTRY)
IMAP_COMMAND_SECONDS = Histogram(f"{PREFIX}_imap_command_seconds", "IMAP command latency, by command.",
                                 ["command"], buckets=LATENCY_BUCKETS, registry=REGISTRY)
RELAY_OUTCOMES = Counter(f"{PREFIX}_relay_outcomes_total",
                         "Relay attempts by outcome (sent, temporary, permanent; no route counts as its kind).",
                         ["outcome"], registry=REGISTRY)
NOTIFICATIONS = Counter(f"{PREFIX}_notifications_total", "Patient notifications, by outcome (sent, failed).",
                        ["outcome"], registry=REGISTRY)
DB_READS = Counter(f"{PREFIX}_db_reads_total",
                   "Database reads of the doors, by where they ran: `loop` (small reads on SQLite, on the event "
                   "loop's thread) or `pool` (the read pool).", ["where"], registry=REGISTRY)
PROXY_REFUSED = Counter(f"{PREFIX}_proxy_refused_total",
                        "Connections closed before their PROXY header was taken, by listener and reason "
                        "(untrusted_source, bad_header).", ["listener", "reason"], registry=REGISTRY)
WORKER_UP = Gauge(f"{PREFIX}_worker_up", "1 per serving process (label pid under several workers).",
                  multiprocess_mode="liveall", registry=REGISTRY)

_REASON_NAMES = {value: name for name, value in vars(refusals).items() if isinstance(value, refusals.Reason)}


def reason_name(reason: refusals.Reason) -> str:
    return _REASON_NAMES.get(reason, f"{reason.code}_{reason.status}")


def delivered(door: str) -> None:
    DELIVERIES.labels(door).inc()


def refused(door: str, reason: refusals.Reason) -> None:
    REFUSALS.labels(door, reason_name(reason)).inc()


def proxy_refused(listener: str, reason: str) -> None:
    PROXY_REFUSED.labels(listener, reason).inc()


def db_read_counters() -> tuple[Callable[[], None], Callable[[], None]]:
    """The `inc` of the loop's and the pool's read counters (mssante_hub/hub.py counts each read)."""
    return DB_READS.labels("loop").inc, DB_READS.labels("pool").inc


def committed(units: int, seconds: float) -> None:
    """The group committer's observer (storage/committer.py knows nothing of Prometheus)."""
    COMMIT_BATCH.observe(units)
    COMMIT_SECONDS.observe(seconds)


def imap_command(name: str, seconds: float) -> None:
    """`name`: a command of the IMAP door's table, or OTHER_COMMAND (the door decides: labels stay bounded)."""
    IMAP_COMMAND_SECONDS.labels(name).observe(seconds)


def relay_outcome(kind: str) -> None:
    RELAY_OUTCOMES.labels(kind).inc()


def notification(outcome: str) -> None:
    NOTIFICATIONS.labels(outcome).inc()


def multiprocess_dir() -> str:
    return os.environ.get(MULTIPROCESS_ENV, "")


class QueueCollector:
    """Relay queue depth and the age of its oldest item, read from the database at scrape time."""

    def __init__(self, read: Callable[[], tuple[int, dt.datetime | None]]) -> None:
        self._read = read

    def collect(self):
        depth, oldest = self._read()
        age = 0.0
        if oldest is not None:
            oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=dt.timezone.utc)
            age = max(0.0, (dt.datetime.now(dt.timezone.utc) - oldest).total_seconds())
        yield GaugeMetricFamily(f"{PREFIX}_relay_queue_depth", "Outbound items waiting (queued).", value=depth)
        yield GaugeMetricFamily(f"{PREFIX}_relay_queue_oldest_seconds", "Age of the oldest queued outbound item.",
                                value=age)


def render(queue: Callable[[], tuple[int, dt.datetime | None]]) -> tuple[bytes, str]:
    """The text exposition of every metric, all workers together: (body, content type). Blocking (a read)."""
    extra = CollectorRegistry(auto_describe=False)
    extra.register(QueueCollector(queue))
    if multiprocess_dir():
        merged = CollectorRegistry(auto_describe=False)
        multiprocess.MultiProcessCollector(merged)
        return generate_latest(merged) + generate_latest(extra), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY) + generate_latest(extra), CONTENT_TYPE_LATEST


def mark_worker_dead(pid: int) -> None:
    """Called by the supervisor when a worker exits: its live gauges stop counting."""
    if multiprocess_dir():
        multiprocess.mark_process_dead(pid)
