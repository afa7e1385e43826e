"""What reading a professional's FHIR JSON attachments costs: time and peak memory of the worst messages, in process.

    python3 bench/fhir_offers.py [--repeat 5]

Each message goes through what GET /api/profile/offers/messages/ID does once the body is decrypted
(mssante_hub/profile/fhir_offers.py: the message parsed, each JSON attachment bounded, read and its resources
validated with fhir.resources), with the default `profile.max_resource_bytes`. Peak memory is tracemalloc's
(Python allocations), per message, parsing included. A benchmark, not a test: figures go in docs/profile.md. The
machine is shared: expect noise, and report `uptime` with the figures.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import json
import sys
import time
import tracemalloc
from email.message import EmailMessage
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mssante_hub.config import SETTINGS
from mssante_hub.profile import fhir_offers

LIMIT = next(s.default for s in SETTINGS if s.key == "profile.max_resource_bytes")
INS = "279035121518989"
SUBJECT = {"reference": "Patient/p"}
CONDITION = {"resourceType": "Condition", "subject": SUBJECT, "onsetDateTime": "2015-06-01",
             "code": {"coding": [{"system": "http://snomed.info/sct", "code": "38341003",
                                  "display": "Hypertension artérielle"}]}}


def _message(payloads: list[bytes]) -> bytes:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "dr@hub.test", f"{INS}@patient.hub.test", "Bench"
    message.set_content("Bonjour.\n")
    for n, data in enumerate(payloads):
        message.add_attachment(data, maintype="application", subtype="fhir+json", filename=f"{n}.json")
    return message.as_bytes(policy=email.policy.SMTP)


def _bundle(resources: list[dict]) -> bytes:
    return json.dumps({"resourceType": "Bundle", "type": "collection",
                       "entry": [{"resource": r} for r in resources]}).encode()


def inputs() -> dict[str, bytes]:
    wide = {**CONDITION, "code": {"coding": [{"system": "http://snomed.info/sct", "code": str(n)}
                                             for n in range(2_400)]}}  # ~117 KB, under the bound
    return {
        "200 Conditions in one Bundle": _message([_bundle([CONDITION] * 200)]),
        "10 Bundles of 20 Conditions": _message([_bundle([CONDITION] * 20)] * 10),
        "10 resources of 2,400 codings": _message([json.dumps(wide).encode()] * 10),
        "10 x 200 invalid Conditions": _message([_bundle([{**CONDITION, "onsetDateTime": "x"}] * 200)] * 10),
        "one 10 MB attachment": _message([b'{"resourceType": "Condition", "note": [{"text": "'
                                          + b"x" * (10 * 1024 * 1024) + b'"}]}']),
        "50,000 levels of [": _message([b"[" * 50_000 + b"]" * 50_000]),
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
            message = email.message_from_bytes(raw, policy=email.policy.default)
            found = fhir_offers.read(message, INS, LIMIT)
            times.append(time.perf_counter() - started)
            peak = max(peak, tracemalloc.get_traced_memory()[1])
            tracemalloc.stop()
            reasons = sorted({r["reason"] for r in found.refused})
            outcome = f"{len(found.offers)} offers, {len(found.refused)} refused {','.join(reasons)}"
        print(f"{name:36s} {len(raw):>11,d} B  {outcome[:44]:44s} max {max(times) * 1000:8.1f} ms  "
              f"peak {peak / 1024 / 1024:6.2f} MiB")


if __name__ == "__main__":
    main()
