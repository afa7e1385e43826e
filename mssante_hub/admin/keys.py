"""Master key rotation: re-seal every account's private key; bodies are not touched.

Crash-safe order: the new key is written beside the old one (`master.key.new`), the
database is re-sealed in one transaction, then the new file replaces the old. A hub
that finds the database already re-sealed and `master.key.new` present finishes the
rename when it opens (Hub.check_master_key).
"""

from __future__ import annotations

import os
from pathlib import Path

from tqdm import tqdm

from crypto.aead import new_key
from crypto.errors import MasterKeyError
from crypto.keyring import Keyring
from crypto.masterkey import write_private_file
from mssante_hub import audit
from mssante_hub.hub import PENDING_MASTER_KEY_SUFFIX, Hub
from storage import accounts as account_repo
from storage.database import WRITER_OPTION

ROTATION_BATCH = 1000


def rotate_master_key(hub: Hub, progress: bool = True) -> int:
    """Re-seal every private key under a new master key; returns how many."""
    env_var = hub.config.get("keys.master_key_env")
    if env_var and os.environ.get(env_var):
        raise MasterKeyError(f"the master key comes from ${env_var}; rotate it where it is kept, not here")
    key_file = hub.config.path_setting("keys.master_key_file")
    pending = Path(str(key_file) + PENDING_MASTER_KEY_SUFFIX)
    new = new_key()
    new_keyring = Keyring(new)
    write_private_file(pending, new.hex().encode() + b"\n")
    rotated = 0
    with hub.engine.connect().execution_options(**{WRITER_OPTION: True}) as conn, conn.begin():
        total = account_repo.count_accounts(conn)
        with tqdm(total=total, unit="key", desc="re-sealing account keys", disable=not progress) as bar:
            updates: list[tuple[int, bytes]] = []
            for account_id, key_id, sealed in account_repo.iter_sealed_keys(conn):
                updates.append((account_id, hub.keyring.reseal_for(new_keyring, key_id, sealed)))
                if len(updates) >= ROTATION_BATCH:
                    account_repo.replace_sealed_keys(conn, updates)
                    bar.update(len(updates))
                    rotated += len(updates)
                    updates = []
            account_repo.replace_sealed_keys(conn, updates)
            bar.update(len(updates))
            rotated += len(updates)
        audit.record(conn, actor="operator", actor_type=audit.ActorType.OPERATOR, action=audit.KEYS_ROTATE, target=f"accounts:{rotated}")
    pending.replace(key_file)
    return rotated
