"""Migration of a former record: a folder (or zip) of XDM packages filed into the right patients' dossiers.

`mssante-hub dossier import --data-dir DIR PATH`. Each package goes to the patient space of the INS its
first CDA carries, through the one delivery path (`delivery.accept`, channel internal, the hub's
postmaster as sender): the same checks, filing, versions and quarantine as a document message by SMTP.
Resumable: each package's SHA-256 is recorded in its delivery's own transaction (Envelope.import_key,
storage/dossier.py DossierImport), so a run interrupted anywhere continues where it stopped and files
nothing twice. A progress bar (tqdm) on stderr; the report lists what was refused and why.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
import zipfile
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Iterator

from tqdm import tqdm

from mssante_hub import delivery
from mssante_hub.accounts import identity
from mssante_hub.dossier import cda, integration, safexml, xdm
from mssante_hub.hub import Hub
from mssante_hub.rules.refusals import Refusal
from storage import dossier as dossier_store

PACKAGE_SUFFIX = ".zip"
IN_FLIGHT = 8  # packages being delivered at once: enough to fill the group committer's batches
MAX_PACKAGES = 1_000_000
CHUNK = 64  # packages read into memory at a time


class ImportFailure(Exception):
    """The PATH cannot be read as a folder or zip of packages."""


@dataclass
class Report:
    filed: int = 0  # packages whose documents were filed now
    already: int = 0  # done by an earlier run
    refused: list[tuple[str, str]] = field(default_factory=list)  # (package name, why)


def packages(path: Path) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of every `*.zip` package in a folder (recursively, sorted) or in a zip of packages."""
    if path.is_dir():
        for count, file in enumerate(sorted(p for p in path.rglob("*") if p.suffix.lower() == PACKAGE_SUFFIX)):
            if count >= MAX_PACKAGES:
                raise ImportFailure(f"more than {MAX_PACKAGES} packages")
            if file.stat().st_size > xdm.MAX_ZIP_BYTES:
                yield str(file.relative_to(path)), b""  # refused below as too large, never read whole
                continue
            yield str(file.relative_to(path)), file.read_bytes()
        return
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise ImportFailure(f"{path}: neither a folder nor a zip of packages ({type(exc).__name__})") from None
    with archive:
        infos = sorted((i for i in archive.infolist() if i.filename.lower().endswith(PACKAGE_SUFFIX)),
                       key=lambda i: i.filename)
        if len(infos) > MAX_PACKAGES:
            raise ImportFailure(f"more than {MAX_PACKAGES} packages")
        for info in infos:
            if info.file_size > xdm.MAX_ZIP_BYTES:
                yield info.filename, b""
                continue
            with archive.open(info) as member:
                yield info.filename, member.read(xdm.MAX_ZIP_BYTES + 1)


def _ins_of(data: bytes) -> str:
    """The INS of the package's first CDA, or ValueError saying why not (no content in the text)."""
    try:
        package = xdm.read_package(data)
    except xdm.XdmError as exc:
        raise ValueError(integration._xdm_error(exc).label) from None
    for entry in package.documents:
        if entry.is_xml:
            try:
                header = cda.read_header(entry.content)
            except (safexml.XmlRefused, cda.CdaError):
                raise ValueError(integration.NOT_CDA.label) from None
            for ins_id in header.ins_ids:
                if identity.is_valid_ins(ins_id.extension):
                    return ins_id.extension
            raise ValueError(integration.INCOMPLETE_INS.label if header.ins_ids else integration.NO_INS.label)
    raise ValueError(integration.NO_CDA.label)


def _message(hub: Hub, sender: str, recipient: str, data: bytes) -> bytes:
    message = EmailMessage(policy=SMTP)
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = "XDM/1.0/DDM+Import de votre ancien dossier / former record"
    message["Message-ID"] = f"<{uuid.uuid4().hex}@{hub.config.get('hub.hostname')}>"
    message.set_content("Document repris de votre ancien dossier.\n\nDocument imported from your former record.\n")
    message.add_attachment(data, maintype="application", subtype="zip", filename=integration.XDM_FILE_NAME)
    return message.as_bytes()


async def _one(hub: Hub, sender: str, name: str, data: bytes, key: str, report: Report) -> None:
    if not data:
        report.refused.append((name, "Archive XDM hors limites"))
        return
    try:
        ins = _ins_of(data)
    except ValueError as why:
        report.refused.append((name, str(why)))
        return
    address = identity.patient_address(ins, hub.config.get("hub.patient_domain"))
    envelope = delivery.Envelope(mail_from=sender, rcpt_to=(address,), channel=delivery.Channel.INTERNAL,
                                 import_key=key)
    try:
        delivered = await delivery.accept(hub, envelope, _message(hub, sender, address, data))
    except Refusal as refusal:
        report.refused.append((name, refusal.reason.fr))
        return
    filed = delivered.filing.get(address)
    if filed is None or filed.error is not None:
        report.refused.append((name, f"{filed.error[0]} {filed.error[1]}" if filed else "non classé"))
    else:
        report.filed += 1


def count_packages(path: Path) -> int:
    """How many packages PATH holds (for the progress bar; nothing is read)."""
    if path.is_dir():
        return sum(1 for p in path.rglob("*") if p.suffix.lower() == PACKAGE_SUFFIX)
    try:
        with zipfile.ZipFile(path) as archive:
            return sum(1 for i in archive.infolist() if i.filename.lower().endswith(PACKAGE_SUFFIX))
    except (OSError, zipfile.BadZipFile) as exc:
        raise ImportFailure(f"{path}: neither a folder nor a zip of packages ({type(exc).__name__})") from None


async def run(hub: Hub, path: Path, progress: bool = True) -> Report:
    """Import every package of PATH not done yet; memory holds CHUNK packages at a time, whatever PATH's size."""
    report = Report()
    sender = f"postmaster@{hub.config.get('hub.domain')}"
    limit = asyncio.Semaphore(IN_FLIGHT)
    with tqdm(total=count_packages(path), unit="package", desc="import", disable=not progress) as bar:
        async def one(name: str, data: bytes, key: str) -> None:
            async with limit:
                await _one(hub, sender, name, data, key, report)
                bar.update(1)

        chunk: list[tuple[str, bytes]] = []
        for item in packages(path):
            chunk.append(item)
            if len(chunk) >= CHUNK:
                await _chunk(hub, chunk, one, report, bar)
                chunk = []
        if chunk:
            await _chunk(hub, chunk, one, report, bar)
    return report


async def _chunk(hub: Hub, chunk: list[tuple[str, bytes]], one, report: Report, bar) -> None:
    keys = [hashlib.sha256(data).hexdigest() for _, data in chunk]
    done = await hub.read(lambda conn: dossier_store.imported(conn, keys))
    pending = []
    for (name, data), key in zip(chunk, keys):
        if key in done:
            report.already += 1
            bar.update(1)
        else:
            pending.append(one(name, data, key))
    await asyncio.gather(*pending)
