"""The master key: 32 random bytes kept outside the database.

It lives in a file readable by its owner only (mode 0600), or in an environment
variable holding its hex form. The database and its backups alone reveal nothing.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from crypto.aead import KEY_BYTES, new_key
from crypto.errors import MasterKeyError

PRIVATE_FILE_MODE = 0o600


def write_private_file(path: Path, data: bytes) -> None:
    """Write a secret atomically with mode 0600 from the first byte on."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def create_master_key_file(path: Path) -> bytes:
    """Make a new master key file; refuses to replace an existing one."""
    if path.exists():
        raise MasterKeyError(f"{path} already exists; refusing to overwrite a master key")
    key = new_key()
    write_private_file(path, key.hex().encode() + b"\n")
    return key


def group_or_other_can_read(path: Path) -> bool:
    return bool(path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO))


def _decode(text: str, where: str) -> bytes:
    try:
        key = bytes.fromhex(text.strip())
    except ValueError as exc:
        raise MasterKeyError(f"{where} does not hold a hex master key") from exc
    if len(key) != KEY_BYTES:
        raise MasterKeyError(f"{where} holds {len(key)} bytes; a master key has {KEY_BYTES}")
    return key


def load_master_key(path: Path, env_var: str | None = None) -> bytes:
    """The master key from the environment variable if set, else from the file.

    Refuses a file that group or others may read, as sshd refuses such a host key.
    """
    if env_var and os.environ.get(env_var):
        return _decode(os.environ[env_var], f"environment variable {env_var}")
    if not path.exists():
        raise MasterKeyError(f"master key file {path} is missing")
    if group_or_other_can_read(path):
        raise MasterKeyError(f"master key file {path} is readable by group or others; run: chmod 600 {path}")
    return _decode(path.read_text(), str(path))
