"""`mssante-hub dossier ...`: the operator's side of the dossier.

`dossier import PATH` files a folder (or zip) of XDM packages into the patients' dossiers
(dossier/importer.py): resumable, with a progress bar and a report of what was refused and why.
`dossier emergencies` lists the emergency accesses not yet reviewed (who, when, which space's
account id), `--mark-reviewed ID` marks one reviewed (traced).
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


def cmd_dossier_import(args: argparse.Namespace) -> int:
    import asyncio
    import sys
    from pathlib import Path

    from mssante_hub.dossier import importer
    from mssante_hub.hub import Hub

    path = Path(args.path)
    if not path.exists():
        print(f"mssante-hub: {path} not found", file=sys.stderr)
        return 1
    with Hub.open(args.data_dir) as hub:
        try:
            report = asyncio.run(importer.run(hub, path, progress=not args.quiet))
        except importer.ImportFailure as exc:
            print(f"mssante-hub: {exc}", file=sys.stderr)
            return 1
    print(f"filed {report.filed}, already imported {report.already}, refused {len(report.refused)}")
    for name, why in report.refused:
        print(f"refused {name}: {why}")
    return 0


def cmd_dossier_emergencies(args: argparse.Namespace) -> int:
    from mssante_hub import audit
    from mssante_hub.hub import Hub
    from storage import dossier as dossier_store

    with Hub.open(args.data_dir) as hub:
        if args.mark_reviewed is not None:
            def work(conn) -> bool:
                done = dossier_store.mark_reviewed(conn, args.mark_reviewed)
                if done:
                    audit.record(conn, actor="operator", actor_type=audit.ActorType.OPERATOR,
                                 action=audit.DOSSIER_EMERGENCY, target=f"emergency:{args.mark_reviewed}",
                                 outcome="reviewed")
                return done

            if not hub.committer.run(work):
                print(f"mssante-hub: no emergency access {args.mark_reviewed} to review")
                return 1
            print(f"reviewed {args.mark_reviewed}")
            return 0
        rows = hub.read_sync(dossier_store.emergencies_to_review)
    for emergency_id, opened_at, address, account_id in rows:
        print(f"{emergency_id} {opened_at:%Y-%m-%d %H:%M} {address} account:{account_id}")
    print(f"to review {len(rows)}")
    return 0


def cmd_dossier_backfill_views(args: argparse.Namespace) -> int:
    """Every patient space's professionals', GP and author views completed with the documents filed before
    those views existed (storage.dossier.backfill_views); run once after an upgrade, harmless again."""
    from mssante_hub.hub import Hub
    from storage import accounts as account_repo
    from storage import dossier as dossier_store

    with Hub.open(args.data_dir) as hub:
        system = hub.system_account()
        if system is None:
            print("mssante-hub: the hub has no system account")
            return 1
        spaces = hub.read_sync(account_repo.patient_ids)
        made = 0
        for space in spaces:  # one transaction per space: the writer is not held for the whole store
            made += hub.committer.run(lambda conn, space=space: dossier_store.backfill_views(conn, space, system.id))
    print(f"spaces {len(spaces)}, placements made {made}")
    return 0


def add_dossier_commands(commands, with_data_dir: Callable[[argparse.ArgumentParser], argparse.ArgumentParser]) -> None:
    dossier = commands.add_parser("dossier", help="the patients' dossiers").add_subparsers(dest="action",
                                                                                           required=True)
    p = with_data_dir(dossier.add_parser("quarantine", help="how many document messages are held in quarantine"))
    p.set_defaults(func=cmd_dossier_quarantine)
    p = with_data_dir(dossier.add_parser("emergencies", help="emergency accesses (bris de glace) to review"))
    p.add_argument("--mark-reviewed", type=int, metavar="ID", help="mark one emergency access reviewed")
    p.set_defaults(func=cmd_dossier_emergencies)
    p = with_data_dir(dossier.add_parser("import", help="file a folder or zip of XDM packages (a former record); "
                                                       "resumable"))
    p.add_argument("path", help="a folder of IHE_XDM zip packages, or a zip of them")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_dossier_import)
    p = with_data_dir(dossier.add_parser("backfill-views", help="place documents filed before the professionals', "
                                                               "GP and author views existed in those views"))
    p.set_defaults(func=cmd_dossier_backfill_views)
