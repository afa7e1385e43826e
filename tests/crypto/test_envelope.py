"""Envelope encryption primitives: round trip, binding to the row, tamper detection."""

import pytest
from nacl.public import PrivateKey

from crypto import aead
from crypto.envelope import decrypt_body, encrypt_message, unwrap_key, wrap_key
from crypto.errors import IntegrityError
from crypto.keyring import Keyring, open_private_key


def test_round_trip_and_binding_to_blob_id():
    sealed = encrypt_message("blob-a", b"corps du message", b"{}")
    assert decrypt_body(sealed.content_key, "blob-a", sealed.body) == b"corps du message"
    with pytest.raises(IntegrityError):
        decrypt_body(sealed.content_key, "blob-b", sealed.body)


def test_every_flipped_byte_is_detected():
    sealed = encrypt_message("blob-a", b"x" * 64, b"{}")
    for position in range(0, len(sealed.body), 7):
        altered = bytearray(sealed.body)
        altered[position] ^= 0x01
        with pytest.raises(IntegrityError):
            decrypt_body(sealed.content_key, "blob-a", bytes(altered))


def test_wrapped_key_opens_only_for_its_reader_and_its_blob():
    reader, stranger = PrivateKey.generate(), PrivateKey.generate()
    key = aead.new_key()
    wrapped = wrap_key(key, "blob-a", reader.public_key)
    assert unwrap_key(wrapped, "blob-a", reader) == key
    with pytest.raises(IntegrityError):
        unwrap_key(wrapped, "blob-a", stranger)
    with pytest.raises(IntegrityError):
        unwrap_key(wrapped, "blob-b", reader)


def test_private_keys_are_sealed_under_the_master_key():
    master, other = aead.new_key(), aead.new_key()
    ring = Keyring(master)
    public, sealed = ring.new_key_pair("k1")
    assert bytes(ring.private_key("k1", sealed).public_key) == public
    with pytest.raises(IntegrityError):
        open_private_key(other, "k1", sealed)
    with pytest.raises(IntegrityError):
        open_private_key(master, "k2", sealed)  # sealed key moved to another account
