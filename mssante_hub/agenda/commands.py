"""`mssante-hub agenda ...`: the operator's side of the agenda.

`agenda campaign load FILE` loads (or replaces, by id) prevention campaigns from a JSON file
(agenda/prevention.py gives its shape) and marks a content-free `screening` notification for the patients a
campaign targets now; `agenda campaign list` prints them. Loading is traced.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Callable


def cmd_campaign_load(args: argparse.Namespace) -> int:
    from mssante_hub import audit
    from mssante_hub.agenda import prevention
    from mssante_hub.hub import Hub

    path = Path(args.file)
    try:
        campaigns = prevention.parse_campaigns(path.read_bytes())
    except OSError as exc:
        print(f"mssante-hub: cannot read {path}: {exc.strerror}", file=sys.stderr)
        return 1
    except prevention.CampaignError as exc:
        print(f"mssante-hub: {path}: {exc}", file=sys.stderr)
        return 1
    with Hub.open(args.data_dir) as hub:
        count = prevention.load(hub, campaigns)
        notified = prevention.notify_targeted(hub, campaigns, dt.datetime.now(dt.timezone.utc).date())
        hub.committer.run(lambda conn: audit.record(
            conn, actor="operator", actor_type=audit.ActorType.OPERATOR, action=audit.AGENDA_CHANGE,
            target="campaigns:" + "+".join(c.id for c in campaigns)[:300], outcome="loaded"))
    print(f"loaded {count} campaign(s); {notified} patient(s) notified")
    return 0


def cmd_campaign_list(args: argparse.Namespace) -> int:
    from mssante_hub.hub import Hub
    from storage import agenda as agenda_store

    with Hub.open(args.data_dir) as hub:
        rows = hub.read_sync(agenda_store.campaigns)
    for c in rows:
        print(f"{c.id} {c.kind} sex:{c.sex or '*'} ages:{c.min_age}-{c.max_age} "
              f"window:{c.window_start}..{c.window_end} {c.title_fr}")
    print(f"campaigns {len(rows)}")
    return 0


def add_agenda_commands(commands, with_data_dir: Callable[[argparse.ArgumentParser], argparse.ArgumentParser]) -> None:
    agenda = commands.add_parser("agenda", help="the patients' agendas").add_subparsers(dest="action", required=True)
    campaign = agenda.add_parser("campaign", help="prevention campaigns").add_subparsers(dest="campaign_action",
                                                                                         required=True)
    p = with_data_dir(campaign.add_parser("load", help="load prevention campaigns from a JSON file"))
    p.add_argument("file", help="JSON: one campaign or a list (docs/agenda.md)")
    p.set_defaults(func=cmd_campaign_load)
    p = with_data_dir(campaign.add_parser("list", help="the campaigns loaded"))
    p.set_defaults(func=cmd_campaign_list)
