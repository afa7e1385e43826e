"""Seeded fuzzing with hypothesis: deterministic (derandomize), no example database, ~10,000 inputs per target.

Each target is an in-process parser fed hostile bytes; the property is always the same: the
parser answers (a value or its own refusal) and never raises anything else. A crash found here
becomes a regression test in test_regressions.py. A longer run: FUZZ_EXAMPLES=200000 pytest tests/fuzz.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

from tests.fuzz.mutations import BATCH

INPUTS = int(os.environ.get("FUZZ_EXAMPLES", "10000"))  # inputs per target, BATCH per hypothesis example

settings.register_profile(
    "fuzz", max_examples=max(1, INPUTS // BATCH), derandomize=True, deadline=None, database=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
FUZZ = settings.get_profile("fuzz")
