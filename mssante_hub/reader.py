"""The one place stored messages are opened: unwrap the content key with the reader's private key,
decrypt, verify.

Every door (IMAP FETCH and SEARCH, the webmail), the relay and the export read through a
:class:`Reader` over the stored-message rows of storage/messages.py (any row with `blob_id`,
`wrapped`, and `body` or `summary`). A ciphertext altered or moved to another row fails
authentication (crypto.IntegrityError); a row without a key for this reader is NotReadable.
"""

from __future__ import annotations

import email
import email.policy
import json
from dataclasses import dataclass
from typing import Protocol

from crypto.envelope import decrypt_body, decrypt_summary
from crypto.errors import IntegrityError
from crypto.keyring import Keyring
from mssante_hub.envelope import INBOX
from mssante_hub.hub import Hub
from storage import accounts as account_repo
from storage import blobstore, folders, messages


class NotReadable(Exception):
    """The reader holds no key for this message."""


class Stored(Protocol):
    blob_id: str
    wrapped: bytes | None


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


class Reader:
    """Opens stored messages for one account (its private key opened once, through the keyring's cache)."""

    def __init__(self, keyring: Keyring, account: account_repo.AccountRow,
                 blobs: blobstore.BlobStore | None = None) -> None:
        self.account = account
        self._private = keyring.private_key(account.key_id, account.sealed_private_key)
        self._content_keys = keyring.content_keys
        self._blobs = blobs if blobs is not None else blobstore.DatabaseStore()

    @classmethod
    def of(cls, hub: Hub, account: account_repo.AccountRow) -> Reader:
        return cls(hub.keyring, account, hub.blobs)

    @staticmethod
    def can_open(stored: Stored) -> bool:
        return stored.wrapped is not None

    def key(self, stored: Stored) -> bytes:
        """The message's content key (for a caller that opens both summary and body)."""
        if stored.wrapped is None:
            raise NotReadable(f"account {self.account.id} holds no key for blob {stored.blob_id}")
        return self._content_keys.unwrap(stored.wrapped, stored.blob_id, self._private)

    def summary(self, stored: Stored, key: bytes | None = None) -> dict:
        """The listing fields (subject, from, date, ids) without the body."""
        return json.loads(decrypt_summary(key or self.key(stored), stored.blob_id, stored.summary))

    def body(self, stored: Stored, key: bytes | None = None) -> bytes:
        """The whole message as received (RFC 5322 bytes)."""
        # The row's body column, or the install's blob directory when the column holds none (storage/blobstore.py).
        return decrypt_body(key or self.key(stored), stored.blob_id, self._blobs.body(stored.blob_id, stored.body))

    def attachment(self, stored: Stored, index: int) -> Attachment | None:
        """The `index`-th attachment (email package order), decoded, or None."""
        message = email.message_from_bytes(self.body(stored), policy=email.policy.default)
        for position, part in enumerate(message.iter_attachments()):
            if position == index:
                return Attachment(part.get_filename() or "", part.get_content_type(),
                                  part.get_payload(decode=True) or b"")
        return None


@dataclass(frozen=True)
class OpenedMessage:
    message_id: int
    uid: int
    raw: bytes
    summary: dict
    flags: str


def open_message(reader: Reader, stored: messages.ReadableMessage) -> OpenedMessage:
    key = reader.key(stored)
    return OpenedMessage(stored.message_id, stored.uid, reader.body(stored, key), reader.summary(stored, key),
                         stored.flags)


def read_folder(hub: Hub, address: str, folder: str = INBOX) -> list[OpenedMessage]:
    """Every message of one folder, decrypted for its owner (command line and tests)."""
    with hub.engine.connect() as conn:
        account = account_repo.by_address(conn, address)
        if account is None:
            raise NotReadable(f"no account {address}")
        fid = folders.folder_id(conn, account.id, folder)
        stored = messages.messages_in_folder(conn, account.id, fid) if fid else []
    reader = Reader.of(hub, account)
    return [open_message(reader, s) for s in stored]


def read_as(hub: Hub, address: str, message_id: int) -> OpenedMessage:
    """Open any stored message with `address`'s key: fails unless it is a reader."""
    with hub.engine.connect() as conn:
        account = account_repo.by_address(conn, address)
        stored = messages.message_by_id(conn, account.id, message_id) if account else None
    if account is None or stored is None:
        raise NotReadable(f"no message {message_id} for {address}")
    return open_message(Reader.of(hub, account), stored)


__all__ = ["Attachment", "IntegrityError", "NotReadable", "OpenedMessage", "Reader", "open_message", "read_as",
           "read_folder"]
