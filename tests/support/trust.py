"""A whitelist (liste blanche) for tests whose professionals write to another operator's domain."""

from __future__ import annotations

from pathlib import Path

from mssante_hub.config import Config
from mssante_hub.directory.whitelist import install


def list_domains(data_dir: Path, domains: list[str]) -> None:
    """Install a whitelist naming these domains (one made-up operator certificate DN each)."""
    from tests.smtp.support import whitelist_xml

    source = data_dir / "whitelist-source.xml"
    source.write_bytes(whitelist_xml([(d, f"CN=mx.{d},O=Operateur de test") for d in domains]))
    install(source, Config.load(data_dir).path_setting("mx.whitelist_file"))
