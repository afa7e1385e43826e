"""Signed reports: an APP mailbox registers its OpenPGP public key (the CLI); its PGP/MIME-signed document messages
(RFC 3156), sent over SMTP, are verified with gpg: good, bad (altered after signing) and unknown-key signatures and
an unsigned message, with real keys made here, on a served hub; the receipt and the webmail's API say which."""

from __future__ import annotations

import email
import email.policy
import shutil
import smtplib
import subprocess
import tempfile
import uuid
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import SMTP

import gnupg
import pytest

from mssante_hub.hub import Hub
from mssante_hub.reader import read_folder
from tests.conftest import TEST_PASSWORD, make_data_dir
from tests.dossier import builder, support
from tests.dossier.builder import fixture
from tests.dossier.support import APP, PATIENT
from tests.smtp.support import configure_smtp, make_pki
from tests.support.served import run_cli, served
from tests.web.conftest import configure
from tests.web.support import WebClient

PATIENT_PASSWORD = "mot de passe de dominique"


class Signer:
    """A gpg home with one fresh Ed25519 key (no passphrase), made for the test."""

    def __init__(self, name: str) -> None:
        self.home = tempfile.mkdtemp(prefix="mht-", dir="/tmp")
        self.gpg = gnupg.GPG(gnupghome=self.home)
        made = self.gpg.gen_key(self.gpg.gen_key_input(key_type="EDDSA", key_curve="ed25519", key_usage="sign",
                                                       name_real=name, name_email=f"{uuid.uuid4().hex}@test",
                                                       no_protection=True))
        assert made.fingerprint, made.stderr
        self.fingerprint = made.fingerprint

    def public_key(self) -> str:
        return self.gpg.export_keys(self.fingerprint)

    def sign(self, data: bytes) -> bytes:
        signed = self.gpg.sign(data, keyid=self.fingerprint, detach=True, clearsign=False)
        assert signed.data, signed.stderr
        return signed.data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")  # as mail carries text: CRLF

    def close(self) -> None:
        subprocess.run(["gpgconf", "--homedir", self.home, "--kill", "all"], capture_output=True, check=False)
        shutil.rmtree(self.home, ignore_errors=True)


def signed_message(signer: Signer, xdm_zip: bytes, alter: bool = False) -> bytes:
    """A document message as RFC 3156 has it: multipart/signed over (text part + IHE_XDM.zip)."""
    inner = MIMEMultipart("mixed")
    inner.attach(MIMEText("Bonjour,\nVeuillez trouver le compte rendu signé ci-joint.\n", "plain", "utf-8"))
    attachment = MIMEApplication(xdm_zip, "zip")
    attachment.add_header("Content-Disposition", "attachment", filename="IHE_XDM.zip")
    inner.attach(attachment)
    del inner["MIME-Version"]
    entity = inner.as_bytes(policy=SMTP)
    signature = signer.sign(entity)
    if alter:  # a byte changed after signing, in a part the hub does not otherwise check
        entity = entity.replace(b"Content-Type: text/plain", b"Content-Type: text/plain; format=flowed", 1)
    boundary = f"sig-{uuid.uuid4().hex}"
    head = (f"From: {APP}\r\nTo: {PATIENT}\r\nSubject: XDM/1.0/DDM+Compte rendu signe\r\n"
            f"Date: Sun, 22 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{uuid.uuid4().hex}@test>\r\n"
            f"Disposition-Notification-To: <{APP}>\r\nMIME-Version: 1.0\r\n"
            f'Content-Type: multipart/signed; micalg=pgp-sha512; protocol="application/pgp-signature"; '
            f'boundary="{boundary}"\r\n\r\n').encode()
    body = (b"--" + boundary.encode() + b"\r\n" + entity + b"\r\n--" + boundary.encode() + b"\r\n"
            b'Content-Type: application/pgp-signature; name="signature.asc"\r\n\r\n' + signature
            + b"\r\n--" + boundary.encode() + b"--\r\n")
    return head + body


@pytest.fixture(scope="module")
def scene(tmp_path_factory, module_fixtures_dir):
    base = tmp_path_factory.mktemp("signatures")
    data_dir = make_data_dir(base)
    pki = make_pki(base)
    configure(data_dir, {})
    configure_smtp(data_dir, pki)
    registered, stranger = Signer("DPI du CH"), Signer("Quelqu'un d'autre")
    hub = Hub.open(data_dir)
    try:
        support.add_app(hub)
        support.provision_patient(hub)
        key_file = base / "dpi.asc"
        key_file.write_text(registered.public_key())
        added = run_cli("account", "key", "add", "--data-dir", str(data_dir), "--address", APP, "--file", str(key_file))
        assert added.returncode == 0 and registered.fingerprint in added.stdout, added.stderr
        refused = run_cli("account", "key", "add", "--data-dir", str(data_dir), "--address", PATIENT, "--file",
                          str(key_file))
        assert refused.returncode == 1 and "APP" in refused.stderr
        with served(data_dir, ["web", "submission"]) as running:
            def send(raw: bytes) -> None:
                client = smtplib.SMTP("127.0.0.1", running.port("submission"), timeout=60)
                client.starttls(context=pki.client_context(None))
                client.login(APP, TEST_PASSWORD)
                assert client.sendmail(APP, [PATIENT], raw) == {}
                client.quit()

            cases = {  # category -> how its document was sent
                "CAR_VAC": ("VAC-NOTE_2023.01.xml", "87273-9", lambda z: signed_message(registered, z)),
                "BIOLOGIE": ("BIO-CR-BIO_2024.01_TSH_1.xml", "11502-2",
                             lambda z: signed_message(registered, z, alter=True)),
                "RADIO_SC": ("IMG_CR_IMG_2024.01.xml", "18748-4", lambda z: signed_message(stranger, z)),
                "SYNTHESE": ("IPS-FR_2024.01.xml", "60591-5", support.document_message),
            }
            for name, type_code, make in cases.values():
                send(make(builder.cda_package(fixture(module_fixtures_dir, name), type_code)))
            mdns = _receipts(hub, len(cases))
            client = WebClient(running.port("web")).login(support.INS, PATIENT_PASSWORD)
            yield hub, client, mdns, data_dir, registered
    finally:
        hub.close()
        registered.close()
        stranger.close()


def _receipts(hub, count: int) -> list[str]:
    support.receipts(hub, count)
    texts = []
    for stored in read_folder(hub, APP):
        report = email.message_from_bytes(stored.raw, policy=email.policy.default)
        texts.append(report.get_payload()[0].get_content())
    return texts


def test_each_document_shows_what_its_signature_is(scene):
    _, client, _, _, _ = scene
    shown = {}
    for category in ("CAR_VAC", "BIOLOGIE", "RADIO_SC", "SYNTHESE"):
        documents = client.call("GET", f"/api/dossier/documents?category={category}").body["documents"]
        assert len(documents) == 1, category  # a bad signature is flagged, the document still filed
        shown[category] = documents[0]["signature"]
    assert shown == {"CAR_VAC": "verified", "BIOLOGIE": "invalid", "RADIO_SC": "unverified", "SYNTHESE": None}


def test_the_index_holds_the_state_and_the_receipts_say_it(scene):
    hub, _, mdns, _, _ = scene
    states = {row.category: row.signature for row in support.index_rows(hub)}
    assert states == {"CAR_VAC": "good", "BIOLOGIE": "bad", "RADIO_SC": "unknown", "SYNTHESE": ""}
    assert sum("Signature OpenPGP vérifiée" in m for m in mdns) == 1
    assert sum("Signature OpenPGP INVALIDE" in m for m in mdns) == 1
    assert sum("Signature OpenPGP non vérifiable" in m for m in mdns) == 1
    assert sum("Signature" not in m for m in mdns) == 1  # the unsigned one says nothing of signatures


def test_keys_are_listed_and_removed_by_the_operator(scene):
    _, _, _, data_dir, registered = scene
    listed = run_cli("account", "key", "list", "--data-dir", str(data_dir), "--address", APP)
    assert listed.stdout.split() == [registered.fingerprint]
    removed = run_cli("account", "key", "remove", "--data-dir", str(data_dir), "--address", APP,
                      "--fingerprint", registered.fingerprint)
    assert removed.returncode == 0 and "key removed" in removed.stdout
    assert run_cli("account", "key", "list", "--data-dir", str(data_dir), "--address", APP).stdout == ""
