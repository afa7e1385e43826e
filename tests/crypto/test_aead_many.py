"""aead.open_many (libsodium called directly, one buffer) opens exactly what aead.open_ opens, and refuses
what it refuses."""

from __future__ import annotations

import pytest

from crypto import aead
from crypto.errors import IntegrityError


def test_open_many_matches_open_for_every_size():
    key = aead.new_key()
    texts = [b"", b"x", "é".encode() * 300, bytes(range(256)) * 40, b"y" * 17]
    items = [(aead.seal(key, text, b"row-%d" % n), b"row-%d" % n) for n, text in enumerate(texts)]
    assert aead.open_many(key, items) == texts == [aead.open_(key, sealed, aad) for sealed, aad in items]
    assert aead.open_many(key, []) == []


@pytest.mark.parametrize("spoil", ["aad", "bit", "short", "key"])
def test_open_many_refuses_what_open_refuses(spoil):
    key = aead.new_key()
    good = (aead.seal(key, b"first", b"a"), b"a")
    sealed, aad = aead.seal(key, b"second", b"b"), b"b"
    used_key = key
    if spoil == "aad":
        aad = b"c"
    elif spoil == "bit":
        sealed = sealed[:-1] + bytes([sealed[-1] ^ 1])
    elif spoil == "short":
        sealed = sealed[:aead.NONCE_BYTES + aead.TAG_BYTES - 1]
    else:
        used_key = aead.new_key()
    with pytest.raises(IntegrityError):
        aead.open_(used_key, sealed, aad)
    with pytest.raises(IntegrityError):
        aead.open_many(used_key, [good, (sealed, aad)])
