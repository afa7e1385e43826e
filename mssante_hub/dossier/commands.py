"""`mssante-hub dossier ...`: the operator's side of the dossier.

`dossier quarantine` prints how many document messages are held in quarantine (about another
patient, docs/dossier.md "Quarantine"): a count, never who or what.
"""

from __future__ import annotations

import argparse
from typing import Callable


def cmd_dossier_quarantine(args: argparse.Namespace) -> int:
    from mssante_hub.hub import Hub
    from storage import dossier as dossier_store

    with Hub.open(args.data_dir) as hub:
        count = hub.read_sync(dossier_store.quarantine_count)
    print(f"quarantined {count}")
    return 0


def add_dossier_commands(commands, with_data_dir: Callable[[argparse.ArgumentParser], argparse.ArgumentParser]) -> None:
    dossier = commands.add_parser("dossier", help="the patients' dossiers").add_subparsers(dest="action",
                                                                                           required=True)
    p = with_data_dir(dossier.add_parser("quarantine", help="how many document messages are held in quarantine"))
    p.set_defaults(func=cmd_dossier_quarantine)
