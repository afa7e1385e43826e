"""What a test needs and the machine lacks: said loudly, never a silent skip.

A test that cannot run here calls :func:`missing`: it is skipped (or, under CI, where everything must run,
failed), and the run ends with one summary line per kind of thing missing, naming the tests not run and
how to enable them (tests/conftest.py prints it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import pytest


@dataclass
class Missing:
    what: str
    how: str
    tests: list[str] = field(default_factory=list)


NOT_RUN: dict[str, Missing] = {}


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


MARK = "NOT RUN HERE: "  # starts the skip reason, so that the run's controller (xdist's too) can count it
SEPARATOR = " | to run it: "


def missing(nodeid: str, what: str, how: str) -> None:
    """Skip this test (fail it under CI=true) because `what` is missing; `how` says how to get it."""
    if in_ci():
        pytest.fail(f"{what} (CI must run every test): {how}", pytrace=False)
    pytest.skip(f"{MARK}{what}{SEPARATOR}{how}")


def note_report(report) -> None:
    """Count a skipped test's report if `missing` skipped it (called where the reports arrive: with
    pytest-xdist that is the controller, which never runs the tests itself)."""
    if not report.skipped or not isinstance(report.longrepr, tuple):
        return
    reason = str(report.longrepr[2])
    start = reason.find(MARK)
    if start < 0:
        return
    what, _, how = reason[start + len(MARK):].partition(SEPARATOR)
    entry = NOT_RUN.setdefault(what, Missing(what, how))
    if report.nodeid not in entry.tests:
        entry.tests.append(report.nodeid)


def summary_lines() -> list[str]:
    lines = []
    for entry in NOT_RUN.values():
        modules = sorted({t.split("::")[0] for t in entry.tests})
        lines.append(f"NOT RUN: {len(entry.tests)} tests because {entry.what} ({', '.join(modules)}); "
                     f"to run them: {entry.how}")
    return lines
