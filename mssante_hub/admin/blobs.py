"""`mssante-hub blobs sweep`: delete the directory store's orphan files (also part of the daily job).

An orphan is a body file with no `blobs` row: a crash between its write and its commit, or a message
deleted since. Files younger than `storage.blob_sweep_grace_s` are left alone (their commit may be in
flight), except those this process saw deleted. Nothing to do with the database store.
"""

from __future__ import annotations

import argparse
import logging

from mssante_hub.hub import Hub

log = logging.getLogger(__name__)


def sweep(hub: Hub, grace_s: float | None = None) -> int:
    """Delete orphan blob files; returns how many (0 with the database store)."""
    grace = hub.config.get("storage.blob_sweep_grace_s") if grace_s is None else grace_s
    deleted = hub.blobs.sweep(hub.engine, grace)
    if deleted:
        log.info("blob sweep: %d orphan files deleted", deleted)
    return deleted


def cmd_blobs_sweep(args: argparse.Namespace) -> int:
    with Hub.open(args.data_dir) as hub:
        deleted = sweep(hub, args.grace_s)
    print(f"{deleted} orphan blob files deleted")
    return 0


def add_blob_commands(commands, with_data_dir) -> None:
    blobs = commands.add_parser("blobs", help="the directory blob store").add_subparsers(dest="action", required=True)
    p = with_data_dir(blobs.add_parser("sweep", help="delete body files that no row holds (orphans)"))
    p.add_argument("--grace-s", type=float, default=None,
                   help="only files older than this (default: storage.blob_sweep_grace_s)")
    p.set_defaults(func=cmd_blobs_sweep)
