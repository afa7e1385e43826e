"""Helpers for SMTP tests: a throw-away PKI, a whitelist, a hub's front doors on a background loop."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path

import trustme
from cryptography import x509

from mssante_hub.config import Config
from mssante_hub.directory.whitelist import install

HOSPITAL_DOMAIN = "hopital.test"
REMOTE_DOMAIN = "autre-operateur.test"


def cert_dn(leaf: trustme.LeafCert) -> str:
    return x509.load_pem_x509_certificate(leaf.cert_chain_pems[0].bytes()).subject.rfc4514_string()


def whitelist_xml(entries: list[tuple[str, str]]) -> bytes:
    items = "".join(
        f"<Domaine><Nom>{domain}</Nom><Description>test</Description>"
        f"<DNCertificatOperateur>{dn}</DNCertificatOperateur><ResponsableContact>x</ResponsableContact>"
        f"<SupportContact>x</SupportContact><DateMAJ>2025-03-13T14:54:10Z</DateMAJ></Domaine>"
        for domain, dn in entries
    )
    return (f'<?xml version="1.0" encoding="UTF-8"?><ListeBlancheMSSante xmlns="https://listeblanche.mssante.fr/schema">'
            f"<DateDeGeneration>2025-03-13T14:54:10Z</DateDeGeneration><ListeDomaines>{items}</ListeDomaines>"
            f"</ListeBlancheMSSante>").encode()


@dataclass
class Pki:
    ca: trustme.CA
    ca_file: Path
    server: trustme.LeafCert  # the hub's certificate (server and relay client)
    hospital: trustme.LeafCert  # a hospital system of HOSPITAL_DOMAIN, whitelisted
    remote: trustme.LeafCert  # the other operator (REMOTE_DOMAIN), whitelisted
    stranger: trustme.LeafCert  # same CA, not on the whitelist
    expired: trustme.LeafCert  # whitelisted DN, expired

    def client_context(self, leaf: trustme.LeafCert | None) -> ssl.SSLContext:
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        if leaf is not None:
            leaf.configure_cert(context)
        return context


def make_pki(base: Path) -> Pki:
    ca = trustme.CA(organization_name="IGC-Sante de test")
    ca_file = base / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    now = dt.datetime.now(dt.timezone.utc)
    return Pki(
        ca=ca, ca_file=ca_file,
        server=ca.issue_cert("127.0.0.1", "localhost", common_name="mx.hub.test", organization_name="Hub"),
        hospital=ca.issue_cert("dpi.hopital.test", common_name="dpi.hopital.test", organization_name="CH Test",
                               organization_unit_name="1234567890"),
        remote=ca.issue_cert("127.0.0.1", "localhost", common_name="mx.autre-operateur.test",
                             organization_name="Autre Operateur"),
        stranger=ca.issue_cert("x.test", common_name="inconnu.test", organization_name="Inconnu"),
        expired=ca.issue_cert("dpi.hopital.test", common_name="dpi.hopital.test", organization_name="CH Test",
                              organization_unit_name="1234567890", not_before=now - dt.timedelta(days=30),
                              not_after=now - dt.timedelta(days=1)),
    )


def configure_smtp(data_dir: Path, pki: Pki, **settings) -> None:
    """The hub's TLS certificate from the test CA, mx.ca_files, a whitelist, any extra settings."""
    pki.server.private_key_pem.write_to_path(str(data_dir / "tls" / "key.pem"))
    pki.server.cert_chain_pems[0].write_to_path(str(data_dir / "tls" / "cert.pem"))
    config = Config.load(data_dir)
    config.set("mx.ca_files", [str(pki.ca_file)])
    for key, value in settings.items():
        config.set(key, value)
    config.save()
    xml = data_dir / "whitelist-source.xml"
    xml.write_bytes(whitelist_xml([(HOSPITAL_DOMAIN, cert_dn(pki.hospital)), (REMOTE_DOMAIN, cert_dn(pki.remote))]))
    install(xml, config.path_setting("mx.whitelist_file"))


class LoopThread:
    """An asyncio loop in a thread, so that blocking clients (smtplib) can talk to servers on it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro, timeout: float = 60):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()
