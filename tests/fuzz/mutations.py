"""Mutations of valid seeds, drawn as one byte string (cheap for hypothesis: one draw per input).

Random bytes alone rarely get past a parser's first check; a valid seed with a few edits
reaches its deeper paths. The drawn string is an edit script: its first byte picks a seed (or
says "use the rest as the input itself"), then each 5 bytes are one edit: where (2 bytes), what
(insert a token, insert 2 raw bytes, delete, repeat a slice).
"""

from __future__ import annotations

import random
from contextlib import contextmanager
from typing import Iterator

from hypothesis import note, strategies as st

TOKENS = [b"\r\n", b"\n", b"\r", b"\x00", b"--", b"\"", b"=?utf-8?b?", b"?=", b"{", b"}", b"(", b")", b"[",
          b"]", b"<", b">", b"\\", b":", b";", b"*", b"%", b"\xff", b"\xc3", b" ", b"\t", b"0", b"4294967296",
          b"99999999999999999999", b"+", b"{5}\r\n", b"{0+}\r\n", b"boundary=", b"multipart/mixed",
          b"<!DOCTYPE x [<!ENTITY e \"e\">]>", b"&e;", b"encoding=\"x\"", b"PK\x03\x04", b"PK\x05\x06"]
EDIT = 5
RAW_MODE = 7  # first byte % 8 == 7: the rest is the input as is


def apply(seeds: list[bytes], script: bytes) -> bytes:
    if not script:
        return seeds[0]
    if script[0] % 8 == RAW_MODE:
        return script[1:]
    data = bytearray(seeds[script[0] % len(seeds)])
    for i in range(1, len(script) - EDIT + 1, EDIT):
        where = int.from_bytes(script[i:i + 2], "big") % (len(data) + 1)
        kind, a, b = script[i + 2] % 4, script[i + 3], script[i + 4]
        if kind == 0:
            data[where:where] = TOKENS[a % len(TOKENS)]
        elif kind == 1:
            data[where:where] = bytes((a, b))
        elif kind == 2:
            del data[where:where + 1 + a % 32]
        else:
            data[where:where] = bytes(data[where:where + 1 + a % 64]) * (1 + b % 4)
    return bytes(data)


BATCH = 10  # inputs per hypothesis example: its engine costs ~1.5 ms an example on this machine


def batches():
    """What hypothesis draws: one seed of a batch of inputs (deterministic under derandomize)."""
    return st.integers(0, 2 ** 64 - 1)


def batch(seed: int, seeds: list[bytes], max_size: int = 512) -> Iterator[bytes]:
    """BATCH inputs made from one drawn seed: mutated seeds, or (one time in eight) raw bytes."""
    rng = random.Random(seed)
    for _ in range(BATCH):
        yield apply(seeds, rng.randbytes(rng.randint(0, max_size)))


@contextmanager
def reported(data: bytes):
    """On failure, show the exact input (hypothesis shrinks the seed, not the bytes)."""
    try:
        yield
    except BaseException:
        note(f"input: {data!r}")
        raise
