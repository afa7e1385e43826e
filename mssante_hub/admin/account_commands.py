"""`mssante-hub account ...`: professional mailboxes (PER, ORG, APP, CAB) for the operator.

add, passwd, list, show, suspend, resume, delete. Passwords are read from standard input
(`--password-stdin`) or asked on the terminal, never taken as an argument (it would show in
`ps` and shell history). Errors are one line on stderr, as for every command.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import Callable

from mssante_hub.accounts.mailboxes import MIN_PASSWORD_CHARS, PROFESSIONAL_TYPES, MailboxInfo

STATUSES = ("active", "suspended", "pending", "closed")  # storage.models.AccountStatus


class CommandUsageError(Exception):
    """A refused argument (short password, unconfirmed deletion); the command line exits 2."""


def read_password(password_stdin: bool) -> str:
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Password: ")
    if len(password) < MIN_PASSWORD_CHARS:
        raise CommandUsageError(f"the password must have at least {MIN_PASSWORD_CHARS} characters")
    return password


def _when(value) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value is not None else "-"


def print_mailbox(info: MailboxInfo) -> None:
    """`show`: one `field: value` line each, stable for scripts."""
    for name, value in (("address", info.address), ("id", info.id), ("type", info.type),
                        ("name", info.display_name), ("status", info.status), ("rpps", info.rpps or "-"),
                        ("ins", info.ins or "-"), ("created", _when(info.created_at)),
                        ("last login", _when(info.last_login_at)), ("messages", info.messages),
                        ("webmail sessions", info.web_sessions)):
        print(f"{name}: {value}")


def print_listing(rows: list[MailboxInfo]) -> None:
    for info in rows:
        print(f"{info.address}  {info.type:4}  {info.status:9}  last login {_when(info.last_login_at)}  "
              f"{info.display_name}")
    print(f"{len(rows)} mailboxes")


def _hub(args: argparse.Namespace):
    from mssante_hub.hub import Hub

    return Hub.open(args.data_dir)


def cmd_add(args: argparse.Namespace) -> int:
    from mssante_hub.accounts.mailboxes import add_account

    from mssante_hub.accounts import identity

    number = args.rpps
    if args.adeli:  # kept as the idNatPS 0 + ADELI in the number column (identity.idnatps_of_account)
        try:
            number = identity.idnatps_from_adeli(args.adeli)
        except identity.IdentityError as exc:
            print(f"mssante-hub: {exc}", file=sys.stderr)
            return 2
    password = read_password(args.password_stdin)
    with _hub(args) as hub:
        account_id = add_account(hub, type=args.type, address=args.address, display_name=args.name,
                                 password=password, rpps=number, profession=args.profession,
                                 structure=args.structure)
    print(f"account {account_id} {args.address.strip().lower()} created")
    return 0


def cmd_describe(args: argparse.Namespace) -> int:
    from mssante_hub.accounts.mailboxes import describe_professional

    if args.profession is None and args.structure is None:
        raise CommandUsageError("describe needs --profession and/or --structure (\"\" clears one)")
    with _hub(args) as hub:
        describe_professional(hub, args.address, args.profession, args.structure)
    print(f"{args.address.strip().lower()} described")
    return 0


def cmd_passwd(args: argparse.Namespace) -> int:
    from mssante_hub.accounts.mailboxes import set_password

    password = read_password(args.password_stdin)
    with _hub(args) as hub:
        ended = set_password(hub, args.address, password)
    print(f"password of {args.address.strip().lower()} changed; {ended} webmail sessions ended")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from mssante_hub.accounts.mailboxes import list_mailboxes

    types = (args.type,) if args.type else PROFESSIONAL_TYPES
    with _hub(args) as hub:
        print_listing(list_mailboxes(hub, types, args.status))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from mssante_hub.accounts.mailboxes import show_mailbox

    with _hub(args) as hub:
        print_mailbox(show_mailbox(hub, args.address, PROFESSIONAL_TYPES))
    return 0


def _set_suspended(suspended: bool) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        from mssante_hub.accounts.mailboxes import set_suspended

        with _hub(args) as hub:
            set_suspended(hub, args.address, suspended)
        print(f"{args.address.strip().lower()} {'suspended' if suspended else 'resumed'}")
        return 0

    return run


def cmd_delete(args: argparse.Namespace) -> int:
    from mssante_hub.accounts.mailboxes import delete_mailbox

    if args.yes != args.address.strip().lower():
        raise CommandUsageError("deleting a mailbox cannot be undone: repeat its address after --yes")
    with _hub(args) as hub:
        delete_mailbox(hub, args.address)
    print(f"{args.address.strip().lower()} deleted; its key is gone, so nothing stored for it can be read again")
    return 0


def cmd_key(args: argparse.Namespace) -> int:
    """`account key add|list|remove`: an APP mailbox's OpenPGP public keys (signed reports, docs/dossier.md)."""
    from mssante_hub.dossier import signatures

    with _hub(args) as hub:
        try:
            if args.change == "list":
                for fingerprint in signatures.list_keys(hub, args.address):
                    print(fingerprint)
                return 0
            if args.change == "add":
                if args.file is None:
                    raise CommandUsageError("add needs --file KEY.asc (an armored OpenPGP public key)")
                text = args.file.read_text(encoding="ascii", errors="replace")
                added = signatures.add_key(hub, args.address, text)
                print(f"{len(added)} key(s) registered: {' '.join(added)}" if added else "already registered")
                return 0
            if not args.fingerprint:
                raise CommandUsageError("remove needs --fingerprint FPR")
            removed = signatures.remove_key(hub, args.address, args.fingerprint)
            print("key removed" if removed else "no such key")
            return 0 if removed else 1
        except signatures.KeyRefused as exc:
            print(f"mssante-hub: {exc}", file=sys.stderr)
            return 1


def add_account_commands(commands, with_data_dir: Callable[[argparse.ArgumentParser], argparse.ArgumentParser]) -> None:
    """Register `account ...` on the main parser."""
    account = commands.add_parser("account", help="manage professional mailboxes")
    account = account.add_subparsers(dest="action", required=True)

    p = with_data_dir(account.add_parser("add", help="create a professional mailbox"))
    p.add_argument("--type", required=True, choices=list(PROFESSIONAL_TYPES))
    p.add_argument("--address", required=True)
    p.add_argument("--name", required=True)
    number = p.add_mutually_exclusive_group()
    number.add_argument("--rpps")
    number.add_argument("--adeli", help="a professional without an RPPS: the 9-digit ADELI number")
    p.add_argument("--profession", help="shown to patients beside the name, e.g. \"Médecin généraliste\"")
    p.add_argument("--structure", help="shown to patients beside the name, e.g. \"Cabinet du Parc, Lyon\"")
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    p.set_defaults(func=cmd_add)

    p = with_data_dir(account.add_parser("describe", help="set what patients read beside a professional's name"))
    p.add_argument("--address", required=True)
    p.add_argument("--profession", help="e.g. \"Médecin généraliste\"; \"\" clears it")
    p.add_argument("--structure", help="e.g. \"Cabinet du Parc, Lyon\"; \"\" clears it")
    p.set_defaults(func=cmd_describe)

    p = with_data_dir(account.add_parser("passwd", help="set a new password; ends the mailbox's sessions"))
    p.add_argument("--address", required=True)
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    p.set_defaults(func=cmd_passwd)

    p = with_data_dir(account.add_parser("list", help="list professional mailboxes"))
    p.add_argument("--type", choices=list(PROFESSIONAL_TYPES))
    p.add_argument("--status", choices=list(STATUSES))
    p.set_defaults(func=cmd_list)

    p = with_data_dir(account.add_parser("show", help="one mailbox: status, last login, counts"))
    p.add_argument("--address", required=True)
    p.set_defaults(func=cmd_show)

    for name, suspended, text in (("suspend", True, "refuse logins and mail; ends sessions"),
                                  ("resume", False, "undo a suspension (operator's or for inactivity)")):
        p = with_data_dir(account.add_parser(name, help=text))
        p.add_argument("--address", required=True)
        p.set_defaults(func=_set_suspended(suspended))

    p = with_data_dir(account.add_parser("key", help="an APP mailbox's OpenPGP public keys: its PGP/MIME-signed "
                                                     "documents are verified against them"))
    p.add_argument("change", choices=["add", "list", "remove"])
    p.add_argument("--address", required=True)
    p.add_argument("--file", type=Path, help="add: a file holding an armored OpenPGP public key")
    p.add_argument("--fingerprint", help="remove: the key's fingerprint")
    p.set_defaults(func=cmd_key)

    p = with_data_dir(account.add_parser("delete", help="delete a mailbox for good (crypto-shredded)"))
    p.add_argument("--address", required=True)
    p.add_argument("--yes", required=True, metavar="ADDRESS", help="the address again, to confirm")
    p.set_defaults(func=cmd_delete)
