"""`mssante-hub catalogue ...`: the operator's side of the catalogue of services.

`catalogue load FILE` loads (or updates, by service id) the services of a JSON file (catalogue/services.py
gives its shape): loading it again changes nothing; a new version asks the patients to approve it again, a
dereferenced or suspended service loses its access at once. `catalogue list` prints the services. Loading
is traced.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable


def cmd_load(args: argparse.Namespace) -> int:
    from mssante_hub.catalogue import services
    from mssante_hub.hub import Hub

    path = Path(args.file)
    try:
        found = services.parse(path.read_bytes())
    except OSError as exc:
        print(f"mssante-hub: cannot read {path}: {exc.strerror}", file=sys.stderr)
        return 1
    except services.CatalogueError as exc:
        print(f"mssante-hub: {path}: {exc}", file=sys.stderr)
        return 1
    with Hub.open(args.data_dir) as hub:
        try:
            done = services.load(hub, found)
        except services.CatalogueError as exc:
            print(f"mssante-hub: {path}: {exc}", file=sys.stderr)
            return 1
    print(f"loaded {len(found)} service(s): {done.new} new, {done.updated} updated, {done.unchanged} unchanged; "
          f"{done.reapprovals} consent(s) to approve again, {done.lapsed} lapsed")
    for mailbox in done.missing_mailboxes:
        print(f"note: no APP mailbox {mailbox} yet (mssante-hub account add --type APP)")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from mssante_hub.hub import Hub
    from storage import catalogue as store

    with Hub.open(args.data_dir) as hub:
        rows = hub.read_sync(store.services)
    for s in rows:
        print(f"{s.id} {s.status} v{s.version} exchange:{'yes' if s.data_exchange else 'no'} "
              f"scopes:{','.join(s.scopes) or '-'} mailbox:{s.mailbox} {s.name}")
    print(f"services {len(rows)}")
    return 0


def add_catalogue_commands(commands, with_data_dir: Callable[[argparse.ArgumentParser],
                                                              argparse.ArgumentParser]) -> None:
    catalogue = commands.add_parser("catalogue", help="the catalogue of referenced services").add_subparsers(
        dest="action", required=True)
    p = with_data_dir(catalogue.add_parser("load", help="load or update services from a JSON file"))
    p.add_argument("file", help="JSON: one service or a list (docs/catalogue.md)")
    p.set_defaults(func=cmd_load)
    p = with_data_dir(catalogue.add_parser("list", help="the services loaded"))
    p.set_defaults(func=cmd_list)
