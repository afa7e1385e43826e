"""The agenda listing writes a stored time's ISO text without parsing it: the same text as parsing it and
datetime.isoformat() (microseconds or none, UTC)."""

from __future__ import annotations

import datetime as dt

import pytest

from storage import agenda


@pytest.mark.parametrize("stored", ["2027-01-01 09:00:00.000000", "2027-12-31 23:59:59.000001",
                                    "2030-06-15 00:00:00.500000"])
def test_stored_text_as_isoformat_writes_it(stored):
    assert agenda._iso_value(stored) == agenda._time_value(stored).isoformat()


def test_a_driver_datetime_is_formatted_as_before():
    value = dt.datetime(2027, 3, 1, 8, 30, tzinfo=dt.timezone.utc)
    assert agenda._iso_value(value) == value.isoformat() == "2027-03-01T08:30:00+00:00"
    assert agenda._iso_value(value.replace(tzinfo=None)) == "2027-03-01T08:30:00+00:00"
