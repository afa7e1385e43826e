"""`mssante-hub peer trial` and `mssante-hub xdm pack|demo-cda`: the integrator's tools (docs/operators.md)."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Callable

DEMO_SUBJECT = "XDM/1.0/DDM+Compte rendu de démonstration"
DEMO_BODY = "Bonjour, veuillez trouver le compte rendu ci-joint."
# Receipts asked as MSSanté systems ask them (docs/domain.md §4): processed, then dispatched.
MDN_OPTIONS = "X-DIRECT-FINAL-DESTINATION-DELIVERY=optional,true"


class PeerUsageError(Exception):
    """Refused arguments; the command line exits 2."""


def _mx_address(config) -> tuple[str, str]:
    host, _, port = config.get("listen.mx").rpartition(":")
    host = host.strip("[]")
    if host in ("", "0.0.0.0", "::"):
        host = config.get("hub.hostname")
    return host, port


def swaks_command(config, trial, sender: str, recipient: str, package: str = "IHE_XDM.zip") -> str:
    """The exact swaks line that sends `package` as a document message from the trial system."""
    host, port = _mx_address(config)
    words = ["swaks", "--server", host, "--port", port, "--tls",
             "--tls-cert", str(trial.cert_file), "--tls-key", str(trial.key_file),
             "--from", sender, "--to", recipient,
             "--header", f"Subject: {DEMO_SUBJECT}",
             "--header", f"Disposition-Notification-To: <{sender}>",
             "--header", f"Disposition-Notification-Options: {MDN_OPTIONS}",
             "--body", DEMO_BODY,
             "--attach-type", "application/zip", "--attach-name", "IHE_XDM.zip", "--attach", f"@{package}"]
    return shlex.join(words)


def _demo_patient(config) -> str:
    from mssante_hub.admin.datadir import DEMO_PATIENT_INS

    return f"{DEMO_PATIENT_INS}@{config.get('hub.patient_domain')}"


def cmd_peer_trial(args: argparse.Namespace) -> int:
    from mssante_hub.admin.peers import PeerError, start_trial
    from mssante_hub.config import Config

    try:
        trial = start_trial(args.data_dir, args.domain, args.system_host, args.receipts_to)
    except PeerError as exc:
        raise PeerUsageError(str(exc)) from None
    config = Config.load(args.data_dir)
    sender = f"dpi@{trial.domain}"
    recipient = args.to or _demo_patient(config)
    ins = recipient.partition("@")[0]
    print(f"trial CA (now in mx.ca_files): {trial.ca_file}")
    print(f"system certificate: {trial.cert_file}  key: {trial.key_file}")
    print(f"whitelist: {trial.domain} listed with DN {trial.subject_dn}")
    if args.receipts_to:
        print(f"receipts for {trial.domain} go to {args.receipts_to} (relay.routes)")
    else:
        print(f"receipts: add a route, e.g. mssante-hub config set --data-dir {args.data_dir} relay.routes "
              f"'[\"{trial.domain}=HOST:PORT\"]'")
    print("(re)start `mssante-hub serve` so that the mx trusts the new CA; then send a document:")
    print(f"  mssante-hub xdm demo-cda --ins {shlex.quote(ins)} > cr-demo.xml")
    print("  mssante-hub xdm pack cr-demo.xml > IHE_XDM.zip")
    print(f"  {swaks_command(config, trial, sender, recipient)}")
    return 0


def _write_out(data: bytes, out: Path | None) -> None:
    if out is not None:
        out.write_bytes(data)
        return
    if sys.stdout.isatty():
        raise PeerUsageError("the package is binary: redirect it (> IHE_XDM.zip) or give --out FILE")
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def cmd_xdm_pack(args: argparse.Namespace) -> int:
    from mssante_hub.dossier import xdm_writer

    contents = []
    for path in args.cda:
        with open(path, "rb") as handle:
            data = handle.read(xdm_writer.xdm.MAX_MEMBER_BYTES + 1)
        if len(data) > xdm_writer.xdm.MAX_MEMBER_BYTES:
            raise PeerUsageError(f"{path}: larger than {xdm_writer.xdm.MAX_MEMBER_BYTES} bytes")
        contents.append(data)
    try:
        packed = xdm_writer.pack(contents)
    except (xdm_writer.XdmWriteError, xdm_writer.xdm.XdmError) as exc:
        raise PeerUsageError(str(exc)) from None
    _write_out(packed, args.out)
    return 0


def cmd_xdm_demo_cda(args: argparse.Namespace) -> int:
    from mssante_hub.accounts.identity import IdentityError
    from mssante_hub.dossier import xdm_writer

    try:
        data = xdm_writer.demo_cda(args.ins)
    except IdentityError as exc:
        raise PeerUsageError(str(exc)) from None
    _write_out(data, args.out)
    return 0


def add_peer_commands(commands, with_data_dir: Callable[[argparse.ArgumentParser], argparse.ArgumentParser]) -> None:
    """Register `peer trial` and `xdm pack|demo-cda` on the main parser."""
    peer = commands.add_parser("peer", help="connect hospital systems and other operators")
    peer = peer.add_subparsers(dest="action", required=True)
    p = with_data_dir(peer.add_parser("trial", help="test CA, system certificate and whitelist entry for a trial"))
    p.add_argument("--domain", required=True, help="the system's mail domain, e.g. chu-demo.test")
    p.add_argument("--system-host", help="the system's host name (certificate CN); default dpi.DOMAIN")
    p.add_argument("--receipts-to", metavar="HOST:PORT", help="where the system receives mail (relay route)")
    p.add_argument("--to", help="recipient of the printed example (default: the demo patient)")
    p.set_defaults(func=cmd_peer_trial)

    xdm = commands.add_parser("xdm", help="IHE XDM packages of CDA documents")
    xdm = xdm.add_subparsers(dest="action", required=True)
    p = xdm.add_parser("pack", help="write an IHE_XDM.zip of CDA R2 documents (to stdout or --out)")
    p.add_argument("cda", nargs="+", type=Path, help="CDA R2 documents (XML)")
    p.add_argument("--out", type=Path, help="write here instead of stdout")
    p.set_defaults(func=cmd_xdm_pack)
    p = xdm.add_parser("demo-cda", help="a small demonstration CDA R2 document for one INS (never for care)")
    p.add_argument("--ins", required=True)
    p.add_argument("--out", type=Path)
    p.set_defaults(func=cmd_xdm_demo_cda)
