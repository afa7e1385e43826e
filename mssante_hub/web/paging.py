"""Keyset pages of the API's listings (the agenda, the dossier's documents): the `after` cursor and `limit`.

A cursor is the last listed item's sort key, a UTC time and a row id, written with nothing a query string
would need escaped; clients treat it as opaque and send back the `next` value they received.
"""

from __future__ import annotations

import datetime as dt

from mssante_hub.web.http import MAX_ID_DIGITS

_CURSOR_TIME = "%Y%m%dT%H%M%S.%fZ"  # UTC
MAX_CURSOR_CHARS = 60  # 23 for the time, 1, at most MAX_ID_DIGITS: anything longer is refused unread
MAX_LIMIT_DIGITS = 9


def cursor(at: dt.datetime, row_id: int) -> str:
    """Where the next page starts: after the item of this sort time and id."""
    return f"{at.astimezone(dt.UTC).strftime(_CURSOR_TIME)}~{row_id}"


def parse_cursor(value: bytes) -> tuple[dt.datetime, int] | None:
    """The (time, id) of a cursor `cursor` wrote, or None."""
    if len(value) > MAX_CURSOR_CHARS:
        return None
    start, _, item_id = value.decode("ascii", "replace").partition("~")
    if not (item_id.isascii() and item_id.isdigit() and len(item_id) <= MAX_ID_DIGITS):
        return None
    try:
        at = dt.datetime.strptime(start, _CURSOR_TIME).replace(tzinfo=dt.UTC)
    except ValueError:
        return None
    return at, int(item_id)


def parse_limit(value: bytes, most: int) -> int | None:
    """A page size from 1 to `most`, or None (the caller refuses or caps it)."""
    text = value.decode("ascii", "replace")
    if not (text.isascii() and text.isdigit() and len(text) <= MAX_LIMIT_DIGITS):
        return None
    return int(text) if 1 <= int(text) <= most else None
