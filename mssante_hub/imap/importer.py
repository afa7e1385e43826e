"""`mssante-hub import-imap`: move a mailbox from another IMAP server into the hub.

Folders, flags and internal dates are kept. Every message enters through
delivery.accept (parsed, encrypted, durably stored) like any other; the import is
resumable: a state file in the data folder remembers, per source folder and
UIDVALIDITY, the last UID stored, and is written only after that message is durable.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import email.utils
import json
import re
import ssl
import sys
from dataclasses import dataclass
from pathlib import Path

STATE_DIR = "import-state"
FETCH_BATCH = 200  # UIDs listed per FETCH of flags and dates
SPECIAL_USES = ("\\Sent", "\\Drafts", "\\Trash", "\\Junk", "\\Archive")
DROPPED_FLAGS = {"\\recent"}
_LIST_LINE = re.compile(rb'^\((?P<attrs>[^)]*)\) (?P<delim>"[^"]*"|NIL) (?P<name>.+)$')
_FETCH_ITEMS = re.compile(rb"UID (\d+)|FLAGS \(([^)]*)\)|INTERNALDATE \"([^\"]+)\"")


class ImportProblem(Exception):
    """The import cannot go on; the message says why and what to do."""


@dataclass
class SourceFolder:
    name: str  # as the source names it (decoded)
    wire_name: bytes  # as the source spells it on the wire
    target: str  # folder in the hub
    special_use: str | None


def add_import_command(commands, with_data_dir) -> None:
    p = with_data_dir(commands.add_parser("import-imap", help="import a mailbox from another IMAP server"))
    p.add_argument("--address", required=True, help="the hub mailbox that receives the messages")
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, default=993)
    p.add_argument("--security", choices=["tls", "starttls", "none"], default="tls",
                   help="implicit TLS (993), STARTTLS, or none (loopback tests only)")
    p.add_argument("--user", required=True, help="login on the source server")
    p.add_argument("--password-stdin", action="store_true", help="read the source password from standard input")
    p.add_argument("--insecure", action="store_true", help="do not verify the source's certificate")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_import_imap)


def cmd_import_imap(args: argparse.Namespace) -> int:
    import getpass

    from mssante_hub.hub import Hub

    password = sys.stdin.readline().rstrip("\r\n") if args.password_stdin else getpass.getpass("Source password: ")
    hub = Hub.open(args.data_dir)
    try:
        summary = asyncio.run(run_import(hub, args, password))
    except ImportProblem as exc:
        print(f"mssante-hub: import stopped: {exc}", file=sys.stderr)
        return 1
    finally:
        hub.close()
    print(f"imported {summary['imported']} messages into {len(summary['folders'])} folders"
          f" ({summary['skipped']} already there, {summary['refused']} refused)")
    return 0


def _decode_name(raw: bytes) -> str:
    raw = raw.strip()
    if raw.startswith(b'"'):
        raw = re.sub(rb"\\(.)", rb"\1", raw[1:-1])
    try:
        return raw.decode("imap4-utf-7")
    except (UnicodeDecodeError, ValueError, LookupError):
        return raw.decode("utf-8", "replace")


def _quote(raw: bytes) -> str:
    return '"' + raw.decode("ascii").replace("\\", "\\\\").replace('"', '\\"') + '"'


async def _connect(args: argparse.Namespace, password: str):
    import aioimaplib
    import twisted.mail.imap4  # noqa: F401 - the imap4-utf-7 codec

    context = ssl.create_default_context()
    if args.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if args.security == "tls":
        client = aioimaplib.IMAP4_SSL(args.host, args.port, ssl_context=context, timeout=120)
    else:
        client = aioimaplib.IMAP4(args.host, args.port, timeout=120)
    await client.wait_hello_from_server()
    if args.security == "starttls":
        response = await client.protocol.execute(
            aioimaplib.Command("STARTTLS", client.protocol.new_tag(), loop=client.protocol.loop))
        if response.result != "OK":
            raise ImportProblem("the source refused STARTTLS")
        await asyncio.get_running_loop().start_tls(client.protocol.transport, client.protocol, context,
                                                   server_hostname=args.host)
    response = await client.login(args.user, password)
    if response.result != "OK":
        raise ImportProblem("the source refused the login; check --user and the password")
    return client


async def _source_folders(client) -> list[SourceFolder]:
    response = await client.list('""', "*")
    folders = []
    for line in response.lines:
        found = _LIST_LINE.match(line) if isinstance(line, bytes) else None
        if not found:
            continue
        attrs = found["attrs"].decode("ascii", "replace").split()
        if any(a.lower() == "\\noselect" for a in attrs):
            continue
        delimiter = found["delim"].strip(b'"').decode() if found["delim"] != b"NIL" else "/"
        wire = found["name"].strip()
        name = _decode_name(wire)
        use = next((u for u in SPECIAL_USES if u.lower() in {a.lower() for a in attrs}), None)
        target = "INBOX" if name.upper() == "INBOX" else name.replace(delimiter, "/") if delimiter else name
        folders.append(SourceFolder(name, wire.strip(b'"'), target, use))
    return folders


def _ensure_folder(hub, account_id: int, folder: SourceFolder) -> str:
    """The hub folder for a source folder: its special-use twin, or one created by name."""
    from storage import folders

    def work(conn) -> str:
        if folder.special_use:
            for row in folders.folders_of(conn, account_id):
                if row.special_use == folder.special_use:
                    return row.name
        if folders.folder_by_name(conn, account_id, folder.target) is None:
            parts = folder.target.split("/")
            for depth in range(1, len(parts) + 1):
                name = "/".join(parts[:depth])
                if folders.folder_by_name(conn, account_id, name) is None:
                    folders.create_folder(conn, account_id, name, folder.special_use if name == folder.target
                                            else None)
        return folder.target

    return hub.committer.run(work)


async def _listing(client, last_uid: int) -> list[tuple[int, list[str], dt.datetime | None]]:
    """(uid, flags, internal date) of the source folder's messages after `last_uid`."""
    response = await client.uid("fetch", f"{last_uid + 1}:*", "(UID FLAGS INTERNALDATE)")
    out = []
    for line in response.lines:
        if not isinstance(line, bytes) or b"FETCH" not in line:
            continue
        uid, flags, date = None, [], None
        for found in _FETCH_ITEMS.finditer(line):
            if found[1]:
                uid = int(found[1])
            elif found[2] is not None:
                flags = [f for f in found[2].decode("ascii", "replace").split() if f.lower() not in DROPPED_FLAGS]
            elif found[3]:
                try:
                    date = email.utils.parsedate_to_datetime(
                        found[3].decode().replace("-", " ", 2)).astimezone(dt.timezone.utc)
                except (TypeError, ValueError):
                    date = None
        if uid is not None and uid > last_uid:
            out.append((uid, flags, date))
    return sorted(out)


async def _body(client, uid: int) -> bytes | None:
    response = await client.uid("fetch", str(uid), "(BODY.PEEK[])")
    for index, line in enumerate(response.lines):
        if isinstance(line, bytes) and b"FETCH" in line and line.rstrip().endswith(b"}"):
            return bytes(response.lines[index + 1])
    return None


def _state_path(hub, address: str, args) -> Path:
    safe = re.sub(r"[^A-Za-z0-9@._-]", "_", f"{address}-{args.user}@{args.host}_{args.port}")
    return hub.config.data_dir / STATE_DIR / f"{safe}.json"


def _save_state(path: Path, state: dict) -> None:
    path.parent.mkdir(mode=0o700, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=1))
    tmp.replace(path)


async def run_import(hub, args: argparse.Namespace, password: str) -> dict:
    from tqdm import tqdm

    from mssante_hub import delivery
    from mssante_hub.rules.refusals import Refusal
    from storage import accounts as account_repo

    address = args.address.lower()
    account = hub.read_sync(lambda conn: account_repo.by_address(conn, address))
    if account is None:
        raise ImportProblem(f"no mailbox {address} in this hub; create it with `mssante-hub account add`")
    state_path = _state_path(hub, address, args)
    state = json.loads(state_path.read_text()) if state_path.exists() else {}
    client = await _connect(args, password)
    summary = {"imported": 0, "skipped": 0, "refused": 0, "folders": []}
    try:
        folders = await _source_folders(client)
        plans = []
        for folder in folders:
            response = await client.select(_quote(folder.wire_name))
            if response.result != "OK":
                continue
            validity = next((int(m[1]) for line in response.lines if isinstance(line, bytes)
                             for m in [re.search(rb"UIDVALIDITY (\d+)", line)] if m), 0)
            done = state.get(folder.name, {})
            last = done.get("last_uid", 0) if done.get("uidvalidity") == validity else 0
            listing = await _listing(client, last)
            summary["skipped"] += done.get("count", 0) if last else 0
            plans.append((folder, validity, last, listing))
        total = sum(len(p[3]) for p in plans)
        with tqdm(total=total, unit="msg", disable=args.quiet, file=sys.stderr) as progress:
            for folder, validity, last, listing in plans:
                target = _ensure_folder(hub, account.id, folder)
                summary["folders"].append(target)
                await client.select(_quote(folder.wire_name))
                entry = state.setdefault(folder.name, {})
                if entry.get("uidvalidity") != validity:
                    entry.clear()
                    entry.update(uidvalidity=validity, last_uid=0, count=0)
                for uid, flags, date in listing:
                    raw = await _body(client, uid)
                    if raw is not None:
                        envelope = delivery.Envelope(mail_from=address, rcpt_to=(address,), channel=delivery.Channel.IMAP,
                                                     folder=target, flags=" ".join(flags), internal_date=date,
                                                     peer=args.host)
                        try:
                            await delivery.accept(hub, envelope, raw, delivery.Identity(address, account.id))
                            summary["imported"] += 1
                            entry["count"] = entry.get("count", 0) + 1
                        except Refusal:
                            summary["refused"] += 1
                    entry["last_uid"] = uid
                    _save_state(state_path, state)  # after the message is durable: resumable
                    progress.update(1)
    finally:
        try:
            await client.logout()
        except Exception:  # noqa: BLE001 - the source may already be gone
            pass
    return summary
