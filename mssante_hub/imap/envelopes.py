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
# Also bounded in bytes: a summary may keep up to 16 KiB of header values, and hostile mail can be built so.
CACHE_BYTES = 16 * 1024 * 1024

_answers: dict[tuple[int, str, bytes], bytes] = {}
_held = 0  # bytes of the answers kept
_lock = threading.Lock()


def cached(reader_id: int, blob_id: str, wrapped: bytes) -> bytes | None:
    return _answers.get((reader_id, blob_id, wrapped))


def keep(reader_id: int, blob_id: str, wrapped: bytes, answer: bytes) -> None:
    global _held
    with _lock:
        if len(_answers) >= CACHE_ENTRIES or _held + len(answer) > CACHE_BYTES:
            for old in list(_answers)[: max(len(_answers) // 2, 1)]:  # dicts keep insertion order: the oldest
                _held -= len(_answers.pop(old))
        key = (reader_id, blob_id, wrapped)
        _held += len(answer) - len(_answers.get(key, b""))
        _answers[key] = answer
