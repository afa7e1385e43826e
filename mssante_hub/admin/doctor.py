"""`mssante-hub doctor`: check a data folder and say what to fix."""

from __future__ import annotations

from pathlib import Path

from crypto.errors import IntegrityError, MasterKeyError
from crypto.masterkey import group_or_other_can_read
from mssante_hub.config import Config, ConfigError
from mssante_hub.hub import Hub, open_master_key
from mssante_hub.admin.tlsgen import certificate_problems
from storage import database


def diagnose(data_dir: Path) -> list[str]:
    """Problems found, each with its fix; empty when all is well."""
    if not data_dir.is_dir():
        return [f"data folder {data_dir} does not exist; create it with: mssante-hub init --data-dir {data_dir}"]
    problems: list[str] = []
    if group_or_other_can_read(data_dir):
        problems.append(f"data folder {data_dir} is open to group or others; run: chmod 700 {data_dir}")
    try:
        config = Config.load(data_dir)
    except ConfigError as exc:
        return problems + [str(exc)]
    key_file = config.path_setting("keys.master_key_file")
    if key_file.exists() and group_or_other_can_read(key_file):
        problems.append(f"master key {key_file} is readable by group or others; run: chmod 600 {key_file}")
    problems += certificate_problems(config.path_setting("tls.cert_file"), config.path_setting("tls.key_file"))
    engine = database.make_engine(config.storage_url())
    schema_ok = False
    try:
        current, head = database.current_revision(engine), database.head_revision()
        if current != head:
            problems.append(f"database schema is at {current}, the code expects {head}; "
                            f"run: mssante-hub serve (it migrates) or alembic upgrade head")
        else:
            schema_ok = True
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        problems.append(f"database {config.storage_url().split('@')[-1]} cannot be read: {exc.__class__.__name__}")
    finally:
        engine.dispose()
    if schema_ok and not any("master key" in p for p in problems):
        try:
            hub = Hub(config, open_master_key(config), upgrade_schema=False)
            try:
                hub.check_master_key()
            finally:
                hub.close()
        except (MasterKeyError, IntegrityError) as exc:
            problems.append(str(exc))
    return problems
