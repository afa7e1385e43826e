"""The content-key cache: a second open is served from memory, and never for another reader, blob or seal."""

import pytest
from nacl.public import PrivateKey

import crypto.content_keys as content_keys_module
from crypto import aead
from crypto.content_keys import ContentKeys
from crypto.envelope import wrap_key
from crypto.errors import IntegrityError


def _counting_opens(monkeypatch) -> list[str]:
    """Counts the real X25519 opens (the cache's whole point is to avoid them)."""
    opened: list[str] = []
    real = content_keys_module.unwrap_key

    def counted(wrapped, blob_id, reader):
        opened.append(blob_id)
        return real(wrapped, blob_id, reader)

    monkeypatch.setattr(content_keys_module, "unwrap_key", counted)
    return opened


def test_second_open_comes_from_memory(monkeypatch):
    opened = _counting_opens(monkeypatch)
    reader = PrivateKey.generate()
    key = aead.new_key()
    wrapped = wrap_key(key, "blob-a", reader.public_key)
    keys = ContentKeys()
    assert keys.unwrap(wrapped, "blob-a", reader) == key
    assert keys.unwrap(wrapped, "blob-a", reader) == key
    assert opened == ["blob-a"]


def test_another_reader_blob_or_seal_is_never_served_from_an_entry():
    reader, stranger = PrivateKey.generate(), PrivateKey.generate()
    key = aead.new_key()
    wrapped = wrap_key(key, "blob-a", reader.public_key)
    keys = ContentKeys()
    keys.unwrap(wrapped, "blob-a", reader)
    with pytest.raises(IntegrityError):
        keys.unwrap(wrapped, "blob-a", stranger)
    with pytest.raises(IntegrityError):
        keys.unwrap(wrapped, "blob-b", reader)
    altered = bytearray(wrapped)
    altered[-1] ^= 0x01
    with pytest.raises(IntegrityError):
        keys.unwrap(bytes(altered), "blob-a", reader)


def test_bounded_least_recently_used_out_first(monkeypatch):
    opened = _counting_opens(monkeypatch)
    reader = PrivateKey.generate()
    sealed = {name: wrap_key(aead.new_key(), name, reader.public_key) for name in ("a", "b", "c")}
    keys = ContentKeys(max_cached=2)
    keys.unwrap(sealed["a"], "a", reader)
    keys.unwrap(sealed["b"], "b", reader)
    keys.unwrap(sealed["a"], "a", reader)  # a is now the most recent
    keys.unwrap(sealed["c"], "c", reader)  # b goes
    assert len(keys) == 2
    keys.unwrap(sealed["a"], "a", reader)
    keys.unwrap(sealed["b"], "b", reader)
    assert opened == ["a", "b", "c", "b"]
