"""Fuzzing the profil médical's FHIR reader: bounded JSON, then fhir.resources validation (mssante_hub/profile/fhir.py).

The property of tests/fuzz: the reader answers (a validated resource) or refuses with its own Invalid, and
never raises anything else, whatever the bytes.
"""

from __future__ import annotations

import json

from hypothesis import given

from mssante_hub.profile import fhir
from tests.fuzz.conftest import FUZZ
from tests.fuzz.mutations import batch, batches, reported
from tests.profile.resources import of_each_kind

SEEDS = [json.dumps(resource).encode() for resource in of_each_kind().values()]
LIMIT = 64 * 1024


@FUZZ
@given(batches())
def test_the_fhir_reader_answers_or_refuses(seed):
    for raw in batch(seed, SEEDS, max_size=1024):
        with reported(raw):
            try:
                resource = fhir.validate(fhir.parse_bytes(raw, LIMIT), LIMIT)
            except fhir.Invalid as refused:
                assert refused.errors and all(set(e) == {"location", "type"} for e in refused.errors)
                continue
            fhir.summary(resource)
            fhir.to_json(resource)
