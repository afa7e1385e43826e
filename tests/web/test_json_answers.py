"""web/http.encode (orjson) writes the JSON json.dumps(body, ensure_ascii=False, default=str) wrote: the
same values for what the API answers, datetimes and dataclasses through str, non-string keys as strings, and
json's own answer for what orjson refuses."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest

from mssante_hub.web.http import encode
from storage.models import AccountType


@dataclasses.dataclass
class _Shown:
    n: int


@pytest.mark.parametrize("body", [
    {"text": "é\u2028<>&\"\\\n\t", "numbers": [1, 2.5, -0.0, None, True, False], "empty": {}, "tuple": (1, "a")},
    {1: "int key", None: "none key", False: "bool key", 2.5: "float key"},
    {"at": dt.datetime(2027, 1, 1, 9, 30, tzinfo=dt.timezone.utc), "day": dt.date(2027, 1, 1)},
    {"dataclass": _Shown(3), "enum": AccountType.PER, "set": {1}},
    {"big": 2 ** 70},
])
def test_the_same_json_as_json_dumps(body):
    assert json.loads(encode(body)) == json.loads(json.dumps(body, ensure_ascii=False, default=str))
