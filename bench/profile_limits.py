"""The profil médical's FHIR reader on hostile input: time and peak memory of each refusal, in process.

    python3 bench/profile_limits.py [--repeat 5]

Each input goes through what POST /api/profile does before filing (mssante_hub/profile/fhir.py: size bound on
the bytes, JSON parse, depth bound, fhir.resources validation), with the default `profile.max_resource_bytes`.
Peak memory is tracemalloc's (Python allocations), per input. A benchmark, not a test: figures go in notes
(docs/profile.md). The machine is shared: expect noise.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mssante_hub.config import SETTINGS  # noqa: E402
from mssante_hub.profile import fhir  # noqa: E402

LIMIT = next(s.default for s in SETTINGS if s.key == "profile.max_resource_bytes")
SUBJECT = {"reference": "Patient/self"}


def _nested(levels: int) -> dict:
    top = {"resourceType": "Condition", "subject": SUBJECT}
    level = top
    for _ in range(levels):
        level["extension"] = [{"url": "http://example.org/x"}]
        level = level["extension"][0]
    return top


def inputs() -> dict[str, bytes]:
    wide = {"resourceType": "Observation", "status": "final", "subject": SUBJECT,
            "code": {"coding": [{"system": "http://loinc.org", "code": str(n)} for n in range(2_500)]}}
    return {
        "5 MB note": json.dumps({"resourceType": "Condition", "subject": SUBJECT,
                                 "note": [{"text": "x" * (5 * 1024 * 1024)}]}).encode(),
        "50,000 levels of [": ('{"resourceType": "Condition", "note": ' + "[" * 50_000 + "]" * 50_000 + "}").encode(),
        "30 levels of extension": json.dumps(_nested(30)).encode(),
        "2,500 codings (under the size bound)": json.dumps(wide).encode(),
        "10,000 unknown fields": json.dumps({"resourceType": "Condition", "subject": SUBJECT,
                                             **{f"f{n}": n for n in range(10_000)}}).encode(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"profile.max_resource_bytes = {LIMIT}")
    for name, raw in inputs().items():
        times, peak, outcome = [], 0, ""
        for _ in range(args.repeat):
            tracemalloc.start()
            started = time.perf_counter()
            try:
                fhir.validate(fhir.parse_bytes(raw, LIMIT), LIMIT)
                outcome = "accepted"
            except fhir.Invalid as refused:
                outcome = f"refused {refused.status} {refused.errors[0]['type']}"
            times.append(time.perf_counter() - started)
            peak = max(peak, tracemalloc.get_traced_memory()[1])
            tracemalloc.stop()
        print(f"{name:40s} {len(raw):>9,d} B  {outcome:32s} max {max(times) * 1000:8.1f} ms  "
              f"peak {peak / 1024 / 1024:6.2f} MiB")


if __name__ == "__main__":
    main()
