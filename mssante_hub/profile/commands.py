"""`mssante-hub profile ...`: the operator's side of the profil médical.

`profile backfill-keys` completes, for every patient space, the professionals' read-only views of the profile and
the agenda with what was filed before they existed (profile/backfill.py): run once after an upgrade; a second run
changes nothing.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable


def cmd_profile_backfill_keys(args: argparse.Namespace) -> int:
    from mssante_hub.hub import Hub
    from mssante_hub.profile import backfill
    from storage import accounts as account_repo

    with Hub.open(args.data_dir) as hub:
        system = hub.system_account()
        if system is None:
            print("mssante-hub: the hub has no system account")
            return 1
        spaces = hub.read_sync(account_repo.patient_ids)
        keys = placements = 0
        for space in spaces:  # one transaction per space: the writer is not held for the whole store
            done = backfill.backfill(hub, space, system)
            keys, placements = keys + done.keys, placements + done.placements
    print(f"spaces {len(spaces)}, keys wrapped {keys}, placements made {placements}")
    return 0


def add_profile_commands(commands, with_data_dir: Callable[[argparse.ArgumentParser], argparse.ArgumentParser]) -> None:
    profile = commands.add_parser("profile", help="the patients' profils médicaux").add_subparsers(
        dest="action", required=True)
    p = with_data_dir(profile.add_parser("backfill-keys", help="wrap for the hub's key the profile entries and "
                                                              "agenda appointments filed before the professionals' "
                                                              "views, and place them in those views"))
    p.set_defaults(func=cmd_profile_backfill_keys)
