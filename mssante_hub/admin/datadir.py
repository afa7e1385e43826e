"""Create a data folder: settings, master key, TLS certificate, database, the hub's own account."""

from __future__ import annotations

import os
from pathlib import Path

import tomlkit

from crypto.masterkey import create_master_key_file
from mssante_hub.accounts.mailboxes import add_account, add_system_account
from mssante_hub.config import CONFIG_FILE_NAME, Config
from mssante_hub.hub import Hub
from mssante_hub.admin.tlsgen import write_self_signed
from mssante_hub.envelope import Channel
from storage.models import AccountType

DATA_DIR_MODE = 0o700
DEMO_PROFESSIONAL = "demo.medecin"
DEMO_PATIENT_INS = "279035121518989"  # the valid test matricule of docs/domain.md §1


class DataDirError(Exception):
    pass


def holds_hub(data_dir: Path) -> bool:
    """A folder `init` made before: its settings file is there."""
    return (data_dir / CONFIG_FILE_NAME).is_file()


def init_data_dir(
    data_dir: Path, domain: str | None = None, patient_domain: str | None = None, storage_url: str | None = None,
    blob_store: str | None = None, blob_dir: str | None = None,
) -> Config:
    """Lay out a new data folder; refuses one that already holds anything."""
    if data_dir.exists() and any(data_dir.iterdir()):
        raise DataDirError(f"{data_dir} already exists and is not empty; choose a new folder")
    data_dir.mkdir(mode=DATA_DIR_MODE, parents=True, exist_ok=True)
    os.chmod(data_dir, DATA_DIR_MODE)
    document = tomlkit.document()
    document.add(tomlkit.comment("mssante-hub settings; every key is described in docs/configuration.md"))
    document.add(tomlkit.comment("edit with: mssante-hub config set --data-dir DIR KEY VALUE"))
    config = Config(data_dir, document)
    if domain:
        config.set("hub.domain", domain)
        config.set("hub.hostname", f"mx.{domain}")
    if patient_domain:
        config.set("hub.patient_domain", patient_domain)
    if storage_url:
        config.set("storage.url", storage_url)
    if blob_store:
        config.set("storage.blob_store", blob_store)
    if blob_dir:
        config.set("storage.blob_dir", blob_dir)
    # Written even when default: where the bodies are is the first thing a restore or a second hub must know.
    config.set("storage.blob_store", config.get("storage.blob_store"))
    config.set("listen.enabled", list(config.get("listen.enabled")))
    (data_dir / CONFIG_FILE_NAME).touch(mode=0o600)
    config.save()
    master = create_master_key_file(config.path_setting("keys.master_key_file"))
    write_self_signed(
        config.path_setting("tls.cert_file"), config.path_setting("tls.key_file"),
        [config.get("hub.hostname"), config.get("hub.domain"), "localhost"],
    )
    hub = Hub(config, master)
    try:
        add_system_account(hub)
    finally:
        hub.close()
    return config


def add_demo_accounts(hub: Hub, password_professional: str, password_patient: str) -> tuple[str, str]:
    """A demo professional and a demo patient; returns their addresses."""
    professional = f"{DEMO_PROFESSIONAL}@{hub.config.get('hub.domain')}"
    patient = f"{DEMO_PATIENT_INS}@{hub.config.get('hub.patient_domain')}"
    add_account(hub, type="PER", address=professional, display_name="Dr Demo Médecin", password=password_professional,
                rpps="810003456789")
    add_account(hub, type=AccountType.PATIENT.value, address=patient, display_name="Patiente Démo",
                password=password_patient, ins=DEMO_PATIENT_INS)
    _demo_welcome(hub, professional, patient)
    return professional, patient


def _demo_welcome(hub: Hub, professional: str, patient: str) -> None:
    """The demo doctor writes first, through the one delivery path: the patient can answer from the webmail."""
    import asyncio
    from email.message import EmailMessage
    from email.utils import formatdate, make_msgid

    from mssante_hub import delivery
    from storage import accounts as account_repo

    message = EmailMessage()
    message["From"] = f"Dr Demo Médecin <{professional}>"
    message["To"] = patient
    message["Subject"] = "Bienvenue dans votre messagerie santé"
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=professional.rpartition("@")[2])
    message.set_content("Bonjour,\n\nCeci est un message de démonstration : vous pouvez y répondre depuis votre "
                        "messagerie.\n\nDr Demo Médecin\n")
    sender = hub.read_sync(lambda conn: account_repo.by_address(conn, professional))
    who = delivery.Identity(professional, sender.id, sender.type)
    envelope = delivery.Envelope(mail_from=professional, rcpt_to=(patient,), channel=Channel.SUBMISSION)
    asyncio.run(delivery.accept(hub, envelope, message.as_bytes().replace(b"\n", b"\r\n"), who))
