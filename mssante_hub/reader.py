"""Open stored messages for one reader: unwrap the content key, decrypt, verify."""

from __future__ import annotations

import json
from dataclasses import dataclass

from crypto.envelope import decrypt_body, decrypt_summary, unwrap_key
from crypto.errors import IntegrityError
from mssante_hub.hub import Hub
from storage import accounts as account_repo
from storage import folders, messages


class NotReadable(Exception):
    """The reader holds no key for this message."""


@dataclass(frozen=True)
class OpenedMessage:
    message_id: int
    uid: int
    raw: bytes
    summary: dict
    flags: str


def open_message(hub: Hub, reader: account_repo.AccountRow, stored: messages.ReadableMessage) -> OpenedMessage:
    if stored.wrapped is None:
        raise NotReadable(f"account {reader.address} holds no key for message {stored.message_id}")
    private = hub.keyring.private_key(reader.key_id, reader.sealed_private_key)
    key = unwrap_key(stored.wrapped, stored.blob_id, private)
    return OpenedMessage(
        stored.message_id, stored.uid, decrypt_body(key, stored.blob_id, stored.body),
        json.loads(decrypt_summary(key, stored.blob_id, stored.summary)), stored.flags,
    )


def read_folder(hub: Hub, address: str, folder: str = folders.INBOX) -> list[OpenedMessage]:
    """Every message of one folder, decrypted for its owner (command line and tests)."""
    with hub.engine.connect() as conn:
        reader = account_repo.by_address(conn, address)
        if reader is None:
            raise NotReadable(f"no account {address}")
        fid = folders.folder_id(conn, reader.id, folder)
        stored = messages.messages_in_folder(conn, reader.id, fid) if fid else []
    return [open_message(hub, reader, s) for s in stored]


def read_as(hub: Hub, address: str, message_id: int) -> OpenedMessage:
    """Open any stored message with `address`'s key: fails unless it is a reader."""
    with hub.engine.connect() as conn:
        reader = account_repo.by_address(conn, address)
        stored = messages.message_by_id(conn, reader.id, message_id) if reader else None
    if reader is None or stored is None:
        raise NotReadable(f"no message {message_id} for {address}")
    return open_message(hub, reader, stored)


__all__ = ["IntegrityError", "NotReadable", "OpenedMessage", "open_message", "read_folder", "read_as"]
