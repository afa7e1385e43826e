"""The `mssante-hub` command: the operator interface (README.md, docs/architecture.md).

Errors are one line on stderr saying what is wrong and how to fix it; exit code 2
for usage, 1 for failure.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path

import tomlkit

from crypto.errors import IntegrityError, MasterKeyError
from mssante_hub import __version__
from mssante_hub.config import LOG_FORMATS, LOG_LEVELS, Config, ConfigError, parse_toml_value, setting

EXIT_FAILURE = 1
EXIT_USAGE = 2
PRIVATE_UMASK = 0o077


class UsageError(Exception):
    pass


def cmd_init(args: argparse.Namespace) -> int:
    from mssante_hub.admin.datadir import add_demo_accounts, holds_hub, init_data_dir
    from mssante_hub.hub import Hub

    if args.if_missing and holds_hub(args.data_dir):
        # Re-running the README's command must serve the same hub, never overwrite it: nothing is touched.
        print(f"{args.data_dir} already holds a hub; left as it is"
              + (" (demo passwords were printed when it was made; reset one with `mssante-hub account passwd`)"
                 if args.demo else ""))
        return 0
    config = init_data_dir(args.data_dir, args.domain, args.patient_domain, args.storage_url, args.blob_store,
                           args.blob_dir)
    print(f"created {args.data_dir} (settings: {config.path})")
    if args.demo:
        pro_password, patient_password = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
        with Hub.open(args.data_dir) as hub:
            professional, patient = add_demo_accounts(hub, pro_password, patient_password)
        print(f"demo professional: {professional}  password: {pro_password}")
        print(f"demo patient:      {patient}  password: {patient_password}")
    return 0


def _parse_listen(values: list[str]) -> dict[str, str]:
    overrides = {}
    for value in values:
        name, sep, address = value.partition("=")
        if not sep:
            raise UsageError(f"--listen takes NAME=HOST:PORT, not {value!r}")
        overrides[name] = address
    return overrides


def cmd_serve(args: argparse.Namespace) -> int:
    from mssante_hub.admin.service import serve

    return serve(args.data_dir, _parse_listen(args.listen), args.log_level, args.log_format, args.workers)


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    from mssante_hub.hub import Hub
    from mssante_hub.admin.keys import rotate_master_key

    with Hub.open(args.data_dir) as hub:
        count = rotate_master_key(hub, progress=not args.quiet)
    print(f"master key rotated; {count} account keys re-sealed")
    return 0


def cmd_whitelist_load(args: argparse.Namespace) -> int:
    from mssante_hub.directory.whitelist import WhitelistError, install

    config = Config.load(args.data_dir)
    checksum = args.sha256
    if args.sha256_file:
        checksum = args.sha256_file.read_text(encoding="ascii", errors="replace")
    try:
        loaded = install(args.file, config.path_setting("mx.whitelist_file"), checksum)
    except WhitelistError as exc:
        print(f"mssante-hub: whitelist not loaded, the last good list is kept: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    print(f"whitelist loaded: {loaded.entries} entries, {loaded.domains} domains, "
          f"{len(loaded.known_dns)} certificates (generated {loaded.generated or 'unknown'})")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from mssante_hub.admin.doctor import diagnose

    problems = diagnose(args.data_dir)
    for problem in problems:
        print(f"problem: {problem}")
    if not problems:
        print(f"ok: {args.data_dir} is healthy")
    return EXIT_FAILURE if problems else 0


def cmd_config(args: argparse.Namespace) -> int:
    config = Config.load(args.data_dir)
    setting(args.key)
    if args.action == "get":
        print(tomlkit.item(config.get(args.key)).as_string())
        return 0
    if args.value is None:
        raise UsageError("config set needs a VALUE")
    config.set(args.key, parse_toml_value(args.value))
    config.save()
    return 0


def cmd_dns_srv(args: argparse.Namespace) -> int:
    from mssante_hub.web.autoconfig import srv_records

    # Settings only (no hub opened): the same endpoints the web listener's autoconfig gives.
    hub = argparse.Namespace(config=Config.load(args.data_dir))
    print("; RFC 6186 records for the professionals' domain (from public.* and listen.*; docs/operators.md)")
    for line in srv_records(hub):
        print(line)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mssante-hub", description="Secure health messaging hub.")
    parser.add_argument("--version", action="version", version=f"mssante-hub {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    def with_data_dir(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--data-dir", type=Path, required=True, help="the hub's data folder")
        return p

    p = with_data_dir(commands.add_parser("init", help="create a new data folder"))
    p.add_argument("--domain", help="mail domain of the professionals")
    p.add_argument("--patient-domain", help="mail domain of patient spaces")
    p.add_argument("--storage-url", help="PostgreSQL URL (postgresql://user@host/db); default: SQLite in the folder")
    p.add_argument("--blob-store", choices=("database", "directory"),
                   help="where message bodies' ciphertext lives (storage.blob_store; default: database)")
    p.add_argument("--blob-dir", help="the directory store's folder (storage.blob_dir; default: blobs/ in the folder)")
    p.add_argument("--demo", action="store_true", help="also create a demo professional and patient")
    p.add_argument("--if-missing", action="store_true",
                   help="do nothing (exit 0) if the folder already holds a hub; anything else is still refused")
    p.set_defaults(func=cmd_init)

    p = with_data_dir(commands.add_parser("serve", help="run the hub"))
    p.add_argument("--listen", action="append", default=[], metavar="NAME=HOST:PORT",
                   help="start this listener (mx, submission, imap, imaps, web) here; repeatable")
    p.add_argument("--log-level", choices=list(LOG_LEVELS), help="activity log on stderr (default: log.level)")
    p.add_argument("--log-format", choices=list(LOG_FORMATS),
                   help="activity log as readable lines or one JSON object a line (default: log.format)")
    p.add_argument("--workers", type=int, metavar="N",
                   help="processes sharing the listeners and the database (default: serve.workers; 0: one per core)")
    p.set_defaults(func=cmd_serve)

    from mssante_hub.admin.account_commands import add_account_commands
    add_account_commands(commands, with_data_dir)

    keys = commands.add_parser("keys", help="manage keys").add_subparsers(dest="action", required=True)
    p = with_data_dir(keys.add_parser("rotate", help="new master key; re-seals account keys, not bodies"))
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_keys_rotate)

    whitelist = commands.add_parser("whitelist", help="the trust space's whitelist (liste blanche)")
    whitelist = whitelist.add_subparsers(dest="action", required=True)
    p = with_data_dir(whitelist.add_parser("load", help="check and install a whitelist XML file"))
    p.add_argument("file", type=Path, help="listeblanchemssante-*.xml")
    p.add_argument("--sha256", help="expected SHA-256 of the file (hex)")
    p.add_argument("--sha256-file", type=Path, help="checksum file published with the list")
    p.set_defaults(func=cmd_whitelist_load)

    p = with_data_dir(commands.add_parser("doctor", help="check a data folder and say what to fix"))
    p.set_defaults(func=cmd_doctor)

    p = with_data_dir(commands.add_parser("dns-srv", help="the DNS SRV records (RFC 6186) mail clients need"))
    p.set_defaults(func=cmd_dns_srv)

    p = with_data_dir(commands.add_parser("config", help="read or change one setting"))
    p.add_argument("action", choices=["get", "set"])
    p.add_argument("key", help="dotted setting name, e.g. mx.trusted_networks")
    p.add_argument("value", nargs="?", help="new value in TOML syntax")
    p.set_defaults(func=cmd_config)

    from mssante_hub.patients.commands import add_patient_commands  # patient spaces, jobs (issue 5)
    add_patient_commands(commands, with_data_dir)
    from mssante_hub.imap.importer import add_import_command  # import-imap (issue 4)
    add_import_command(commands, with_data_dir)
    from mssante_hub.admin.peer_commands import add_peer_commands  # peer trial, xdm pack (issue 17)
    add_peer_commands(commands, with_data_dir)
    from mssante_hub.dossier.commands import add_dossier_commands  # the patients' dossiers (issue 13)
    add_dossier_commands(commands, with_data_dir)
    from mssante_hub.agenda.commands import add_agenda_commands  # the patients' agendas (issue 14)
    add_agenda_commands(commands, with_data_dir)
    from mssante_hub.profile.commands import add_profile_commands  # the patients' profils médicaux (issue 14)
    add_profile_commands(commands, with_data_dir)
    from mssante_hub.catalogue.commands import add_catalogue_commands  # the catalogue of services (issue 14)
    add_catalogue_commands(commands, with_data_dir)
    from mssante_hub.admin.backup import add_backup_commands  # backup and restore (issue 16)
    add_backup_commands(commands, with_data_dir)
    from mssante_hub.admin.blobs import add_blob_commands  # the directory blob store's sweeper (issue 16)
    add_blob_commands(commands, with_data_dir)
    return parser


def main(argv: list[str] | None = None) -> int:
    # Every file the hub writes (database, WAL, keys, settings) is its owner's alone.
    os.umask(PRIVATE_UMASK)
    from mssante_hub.admin.account_commands import CommandUsageError
    from mssante_hub.admin.peer_commands import PeerUsageError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (UsageError, CommandUsageError, PeerUsageError) as exc:
        print(f"mssante-hub: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_FAILURE
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback, for operators
        from mssante_hub.accounts.mailboxes import AccountError
        from mssante_hub.admin.datadir import DataDirError
        from mssante_hub.admin.service import ServeError

        known = (ConfigError, MasterKeyError, IntegrityError, AccountError, DataDirError, ServeError, OSError)
        if not isinstance(exc, known):
            raise
        print(f"mssante-hub: {exc}", file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, ConfigError) else EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
