"""`mssante-hub patient ...` and `mssante-hub jobs run-daily`: the operator side of patient spaces.

Errors print one line on stderr and exit 1 (2 for usage), like the rest of the CLI.
Activation codes are printed only by `patient add`, to the operator who asked;
they are never logged.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Callable

EXIT_FAILURE = 1
EXIT_USAGE = 2
PATIENT = "PATIENT"  # storage.models.AccountType.PATIENT


def _fail(message: str, code: int = EXIT_FAILURE) -> int:
    print(f"mssante-hub: {message}", file=sys.stderr)
    return code


def _with_hub(args: argparse.Namespace, fn: Callable) -> int:
    from mssante_hub.hub import Hub
    from mssante_hub.accounts.identity import IdentityError
    from mssante_hub.patients.notifications import NotifyError
    from mssante_hub.patients.export import ExportError
    from mssante_hub.patients.lifecycle import LifecycleError
    from mssante_hub.patients.provision import ProvisionError
    from mssante_hub.patients.representatives import RepresentativeError

    hub = Hub.open(args.data_dir)
    try:
        return fn(hub)
    except IdentityError as exc:
        return _fail(str(exc), EXIT_USAGE)
    except (ProvisionError, LifecycleError, ExportError, NotifyError, RepresentativeError) as exc:
        return _fail(str(exc))
    finally:
        hub.close()


def cmd_patient_add(args: argparse.Namespace) -> int:
    from mssante_hub.accounts import identity
    from mssante_hub.patients.provision import PatientRecord, add_patient, validate_row

    def run(hub) -> int:
        birth_name, _, first = args.name.strip().partition(" ")
        row = dict(ins=args.ins, birth_name=args.birth_name or birth_name, first_names=args.first_names or first or "-",
                   birth_date=args.birth_date or "1900-01-01", sex=args.sex or "M", email=args.email)
        try:
            record = validate_row(row)
        except ValueError as exc:
            return _fail(str(exc), EXIT_USAGE)
        if not args.birth_date or not args.sex:  # unknown traits stay unknown rather than invented
            record = PatientRecord(record.ins, record.birth_name, record.first_names,
                                   record.birth_date if args.birth_date else "", record.sex if args.sex else "",
                                   record.email)
        code = add_patient(hub, record)
        print(f"patient space {identity.patient_address(record.ins, hub.config.get('hub.patient_domain'))} created "
              f"(pending activation)")
        print(f"activation code: {code}")
        return 0

    return _with_hub(args, run)


def cmd_patient_provision(args: argparse.Namespace) -> int:
    from mssante_hub.patients.provision import provision_csv

    def run(hub) -> int:
        result = provision_csv(hub, args.csv, progress=not args.quiet)
        for line, reason in result.rejected[:args.show_rejected]:
            print(f"line {line}: {reason}", file=sys.stderr)
        if len(result.rejected) > args.show_rejected:
            print(f"... and {len(result.rejected) - args.show_rejected} more rows refused", file=sys.stderr)
        print(f"{result.created} patient spaces created, {len(result.rejected)} rows refused; "
              f"{result.created} notices queued")
        return EXIT_FAILURE if result.rejected else 0

    return _with_hub(args, run)


def cmd_patient_close(args: argparse.Namespace) -> int:
    from mssante_hub.patients.lifecycle import close_space

    def run(hub) -> int:
        close_space(hub, args.ins, actor="operator")
        print("space closed and archived")
        return 0

    return _with_hub(args, run)


def cmd_patient_reopen(args: argparse.Namespace) -> int:
    from mssante_hub.patients.lifecycle import reopen_space

    def run(hub) -> int:
        reopen_space(hub, args.ins, actor="operator")
        print("space reopened from its archive")
        return 0

    return _with_hub(args, run)


def cmd_patient_delete(args: argparse.Namespace) -> int:
    from mssante_hub.patients.lifecycle import request_deletion

    def run(hub) -> int:
        due = request_deletion(hub, args.ins, actor="operator")
        print(f"deletion recorded; the daily job executes it on or after {due:%Y-%m-%d}")
        return 0

    return _with_hub(args, run)


def cmd_patient_export(args: argparse.Namespace) -> int:
    from mssante_hub.patients.export import export_space

    def run(hub) -> int:
        if bool(args.recipient_key) == bool(args.passphrase_stdin):
            return _fail("give exactly one of --recipient-key FILE or --passphrase-stdin", EXIT_USAGE)
        key = args.recipient_key.read_text(encoding="ascii", errors="replace") if args.recipient_key else None
        passphrase = sys.stdin.readline().rstrip("\r\n") if args.passphrase_stdin else None
        count = export_space(hub, args.ins, args.out, public_key=key, passphrase=passphrase, actor="operator")
        print(f"{count} items exported to {args.out} (OpenPGP-encrypted)")
        return 0

    return _with_hub(args, run)


def cmd_patient_history(args: argparse.Namespace) -> int:
    from mssante_hub import audit
    from mssante_hub.accounts import identity
    from storage.models import Account

    def run(hub) -> int:
        ins = identity.validate_ins(args.ins)
        account_id = hub.read_sync(lambda conn: conn.execute(
            Account.__table__.select().with_only_columns(Account.id).where(Account.ins == ins)).scalar())
        if account_id is None:
            return _fail("no space for this INS")
        for entry in hub.read_sync(lambda conn: audit.access_history(conn, account_id, args.limit)):
            print(f"{entry.at:%Y-%m-%d %H:%M}  {entry.actor_type:8}  {entry.actor_name}  {entry.action}  "
                  f"{entry.outcome}")
        return 0

    return _with_hub(args, run)


def _space_address(hub, ins: str) -> str:
    from mssante_hub.accounts import identity

    return identity.patient_address(identity.validate_ins(ins), hub.config.get("hub.patient_domain"))


def cmd_patient_list(args: argparse.Namespace) -> int:
    from mssante_hub.accounts.mailboxes import list_mailboxes
    from mssante_hub.admin.account_commands import print_listing

    def run(hub) -> int:
        print_listing(list_mailboxes(hub, (PATIENT,), args.status))
        return 0

    return _with_hub(args, run)


def cmd_patient_show(args: argparse.Namespace) -> int:
    from mssante_hub.accounts.mailboxes import show_mailbox
    from mssante_hub.admin.account_commands import print_mailbox

    def run(hub) -> int:
        print_mailbox(show_mailbox(hub, _space_address(hub, args.ins), (PATIENT,)))
        return 0

    return _with_hub(args, run)


def cmd_patient_passwd(args: argparse.Namespace) -> int:
    """The holder lost the password: the operator sets one (given to the holder out of band)."""
    from mssante_hub.accounts.mailboxes import set_password
    from mssante_hub.admin.account_commands import read_password

    def run(hub) -> int:
        address = _space_address(hub, args.ins)
        ended = set_password(hub, address, read_password(args.password_stdin), types=(PATIENT,))
        print(f"password of {address} changed; {ended} webmail sessions ended")
        return 0

    return _with_hub(args, run)


def cmd_patient_representative(args: argparse.Namespace) -> int:
    """`patient representative add|remove|list`: legal representatives (docs/patients.md)."""
    from mssante_hub.patients import representatives

    def run(hub) -> int:
        if args.change == "list":
            for holder, dependant, kind, since in representatives.listing(hub):
                print(f"{holder}  represents  {dependant}  {kind}  since {since:%Y-%m-%d}")
            return 0
        if not (args.holder and args.dependant):
            return _fail("--holder INS and --dependant INS are required", EXIT_USAGE)
        if args.change == "add":
            kind = "protected_adult" if args.protected_adult else "minor"
            done = representatives.add(hub, args.holder, args.dependant, kind)
            print("legal representative linked" if done else "already linked")
            return 0
        done = representatives.remove(hub, args.holder, args.dependant)
        print("link removed" if done else "no such link")
        return 0 if done else EXIT_FAILURE

    return _with_hub(args, run)


def cmd_pharmacy_flag(args: argparse.Namespace) -> int:
    from mssante_hub.patients.conversations import flag_pharmacy

    def run(hub) -> int:
        hub.committer.run(lambda conn: flag_pharmacy(conn, args.address))
        print(f"{args.address.lower()} flagged as a pharmacy")
        return 0

    return _with_hub(args, run)


DAILY_LOCK = "daily-job"


def cmd_jobs_run_daily(args: argparse.Namespace) -> int:
    import datetime as dt

    from mssante_hub.cluster.singleton import RunOnce
    from mssante_hub.patients import jobs

    def run(hub) -> int:
        once = RunOnce(hub, DAILY_LOCK)  # several machines' timers: one job runs, the others see it held
        if not once.try_acquire():
            print("the daily job is running elsewhere; nothing done here")
            return 0
        try:
            now = dt.datetime.now(dt.timezone.utc)
            if not args.again and jobs.ran_on(hub, now):  # read under the lock: whoever ran first marked the day
                print(f"the daily job already ran today ({jobs.day_mark(now)} UTC); nothing done here "
                      "(--again runs it anyway)")
                return 0
            done = asyncio.run(jobs.run_daily(hub, now))
            jobs.record_run(hub, now)
        finally:
            once.release()
        print(" ".join(f"{name}={count}" for name, count in done.items()))
        return 0

    return _with_hub(args, run)


def add_patient_commands(commands, with_data_dir: Callable[[argparse.ArgumentParser], argparse.ArgumentParser]) -> None:
    """Register `patient ...`, `pharmacy flag` and `jobs run-daily` on the main parser."""
    patient = commands.add_parser("patient", help="manage patient spaces").add_subparsers(dest="action", required=True)
    p = with_data_dir(patient.add_parser("add", help="create one patient space; prints its activation code"))
    p.add_argument("--ins", required=True, help="matricule INS (15 characters)")
    p.add_argument("--name", required=True, help="birth name then first names")
    p.add_argument("--email", required=True, help="personal address for notices and notifications")
    p.add_argument("--birth-name")
    p.add_argument("--first-names")
    p.add_argument("--birth-date", help="YYYY-MM-DD")
    p.add_argument("--sex", choices=["M", "F"])
    p.set_defaults(func=cmd_patient_add)

    p = with_data_dir(patient.add_parser("provision", help="create spaces in bulk from a CSV file"))
    p.add_argument("--csv", type=Path, required=True,
                   help="UTF-8 CSV with the header ins,birth_name,first_names,birth_date,sex,email")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--show-rejected", type=int, default=50, help="how many refused rows to list")
    p.set_defaults(func=cmd_patient_provision)

    for name, func, text in (("close", cmd_patient_close, "close a space (archived, restorable)"),
                             ("reopen", cmd_patient_reopen, "reopen a closed space from its archive"),
                             ("delete", cmd_patient_delete, "record the holder's request for deletion")):
        p = with_data_dir(patient.add_parser(name, help=text))
        p.add_argument("--ins", required=True)
        p.set_defaults(func=func)

    p = with_data_dir(patient.add_parser("export", help="export a space as an OpenPGP-encrypted archive"))
    p.add_argument("--ins", required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--recipient-key", type=Path, help="the holder's OpenPGP public key (armored)")
    p.add_argument("--passphrase-stdin", action="store_true", help="encrypt to a passphrase read from stdin")
    p.set_defaults(func=cmd_patient_export)

    p = with_data_dir(patient.add_parser("history", help="the space's access history"))
    p.add_argument("--ins", required=True)
    p.add_argument("--limit", type=int, default=100)
    p.set_defaults(func=cmd_patient_history)

    p = with_data_dir(patient.add_parser("list", help="list patient spaces"))
    p.add_argument("--status", choices=["active", "pending", "closed", "suspended"])
    p.set_defaults(func=cmd_patient_list)

    p = with_data_dir(patient.add_parser("show", help="one space: status, last login, counts"))
    p.add_argument("--ins", required=True)
    p.set_defaults(func=cmd_patient_show)

    p = with_data_dir(patient.add_parser("passwd", help="set a new password; ends the space's webmail sessions"))
    p.add_argument("--ins", required=True)
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    p.set_defaults(func=cmd_patient_passwd)

    p = with_data_dir(patient.add_parser("representative", help="legal representatives of minors and protected "
                                                               "adults: add, remove, list"))
    p.add_argument("change", choices=["add", "remove", "list"])
    p.add_argument("--holder", help="INS of the representative's own space (add, remove)")
    p.add_argument("--dependant", help="INS of the minor's or protected adult's space (add, remove)")
    p.add_argument("--protected-adult", action="store_true",
                   help="a protected adult (tutelle): the link does not end at 18")
    p.set_defaults(func=cmd_patient_representative)

    pharmacy = commands.add_parser("pharmacy", help="pharmacy mailboxes").add_subparsers(dest="action", required=True)
    p = with_data_dir(pharmacy.add_parser("flag", help="flag an ORG mailbox (local or remote) as a pharmacy"))
    p.add_argument("address")
    p.set_defaults(func=cmd_pharmacy_flag)

    jobs = commands.add_parser("jobs", help="periodic jobs").add_subparsers(dest="action", required=True)
    p = with_data_dir(jobs.add_parser("run-daily", help="deletions, purges, audit retention, inactive mailboxes, "
                                                        "notifications; once a UTC day"))
    p.add_argument("--again", action="store_true", help="run it even if it already ran today")
    p.set_defaults(func=cmd_jobs_run_daily)
