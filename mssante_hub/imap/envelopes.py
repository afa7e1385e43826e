"""ENVELOPE answers made from summaries, kept per process for the next listing of the same messages.

A client lists a folder's ENVELOPEs again and again (each resync, each new window); opening a summary
costs a key unwrap (X25519, ~40 µs: half of a listing's time). An answer is kept under the reader's
account, the message's blob and the exact wrapped key it was opened with, and handed back only for a row
that carries that same wrapped key for that same reader: what the reader could open again itself. In
memory only (plaintext-derived, as imap/sortkeys.py's keys), never on disk or in logs; bounded.
"""

from __future__ import annotations

import threading

CACHE_ENTRIES = 20_000  # answers of this many messages (~0.5 KiB each); beyond, the oldest half goes

_answers: dict[tuple[int, str, bytes], bytes] = {}
_lock = threading.Lock()


def cached(reader_id: int, blob_id: str, wrapped: bytes) -> bytes | None:
    return _answers.get((reader_id, blob_id, wrapped))


def keep(reader_id: int, blob_id: str, wrapped: bytes, answer: bytes) -> None:
    with _lock:
        if len(_answers) >= CACHE_ENTRIES:
            for old in list(_answers)[: CACHE_ENTRIES // 2]:  # dicts keep insertion order: the oldest
                del _answers[old]
        _answers[(reader_id, blob_id, wrapped)] = answer
