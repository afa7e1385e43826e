"""`mssante-hub peer trial`: connect a hospital system (or another operator) to this hub for a trial.

What a real connection needs, made here for a trial in one step (docs/operators.md):
- a CA the hub's mx trusts (`mx.ca_files`): here a throw-away test CA, written to
  `DIR/peers/<domain>/ca.pem`; its private key is never written, so it can issue nothing more;
- the system's certificate from that CA (client and server use: it also serves the system's own
  SMTP receiver, where the hub's relay delivers receipts), key mode 0600;
- a whitelist entry (liste blanche) that lists the certificate's subject DN for the domain, added
  to the data folder's current list (checked and installed as `whitelist load` does);
- optionally a relay route for receipts (`relay.routes`: `<domain>=HOST:PORT`).
A production peer comes with an IGC-Santé certificate and is in the national whitelist instead.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from crypto.masterkey import write_private_file
from mssante_hub.config import Config
from mssante_hub.directory import whitelist

TRIAL_DAYS = 90
PEERS_FOLDER = "peers"
WHITELIST_SOURCE = "whitelist-trial.xml"  # the list as last extended by a trial, before install
_LIST_CLOSE = "</ListeDomaines>"


class PeerError(Exception):
    pass


@dataclass(frozen=True)
class Trial:
    domain: str
    folder: Path
    ca_file: Path
    cert_file: Path
    key_file: Path
    subject_dn: str
    system_host: str


def _name(*attributes: tuple) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in attributes])


def _alt_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def make_trial_pki(folder: Path, domain: str, system_host: str, extra_hosts: list[str]) -> tuple[str, Path, Path, Path]:
    """A test CA and the system's certificate; returns (subject DN, ca, cert, key files)."""
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name((NameOID.ORGANIZATION_NAME, "mssante-hub trial CA"), (NameOID.COMMON_NAME, f"Trial CA {domain}"))
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
          .not_valid_after(now + dt.timedelta(days=TRIAL_DAYS))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                       crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    subject = _name((NameOID.COUNTRY_NAME, "FR"), (NameOID.ORGANIZATION_NAME, f"Essai {domain}"),
                    (NameOID.COMMON_NAME, system_host))
    hosts = list(dict.fromkeys([system_host, *extra_hosts]))
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=TRIAL_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([_alt_name(h) for h in hosts]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    folder.mkdir(parents=True, exist_ok=True)
    ca_file, cert_file, key_file = folder / "ca.pem", folder / "system.pem", folder / "system.key"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    write_private_file(key_file, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption()))
    return cert.subject.rfc4514_string(), ca_file, cert_file, key_file


def whitelist_entry(domain: str, dn: str, description: str) -> str:
    """One `<Domaine>` of the liste blanche (docs/domain.md §2), in the list's default namespace."""
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (f"<Domaine><Nom>{escape(domain)}</Nom><Description>{escape(description)}</Description>"
            f"<DNCertificatOperateur>{escape(dn)}</DNCertificatOperateur>"
            f"<ResponsableContact>-</ResponsableContact><SupportContact>-</SupportContact>"
            f"<DateMAJ>{stamp}</DateMAJ></Domaine>")


def whitelist_with(current: bytes | None, entry: str) -> bytes:
    """The current list with one more entry (a new list if there is none)."""
    if not current:
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return (f'<?xml version="1.0" encoding="UTF-8"?><ListeBlancheMSSante xmlns="{whitelist.NAMESPACE}">'
                f"<DateDeGeneration>{stamp}</DateDeGeneration><ListeDomaines>{entry}</ListeDomaines>"
                f"</ListeBlancheMSSante>\n").encode("utf-8")
    text = current.decode("utf-8")
    at = text.rfind(_LIST_CLOSE)
    if at < 0:
        raise PeerError("the current whitelist has no ListeDomaines element to extend")
    return (text[:at] + entry + text[at:]).encode("utf-8")


def start_trial(data_dir: Path, domain: str, system_host: str | None = None, receipts_to: str | None = None) -> Trial:
    """Make the trial PKI, trust its CA on mx, whitelist the system, route receipts; returns what was made."""
    config = Config.load(data_dir)
    domain = whitelist.normalize_domain(domain)
    if not domain or "." not in domain:
        raise PeerError(f"{domain!r} is not a mail domain")
    if domain in (config.get("hub.domain"), config.get("hub.patient_domain")):
        raise PeerError(f"{domain} is this hub's own domain; a peer has a domain of its own")
    system_host = system_host or f"dpi.{domain}"
    extra = ["localhost", "127.0.0.1"]
    if receipts_to:
        host, sep, port = receipts_to.rpartition(":")
        if not sep or not port.isdigit():
            raise PeerError(f"--receipts-to takes HOST:PORT, not {receipts_to!r}")
        extra.append(host.strip("[]"))
    folder = data_dir / PEERS_FOLDER / domain
    dn, ca_file, cert_file, key_file = make_trial_pki(folder, domain, system_host, extra)

    target = config.path_setting("mx.whitelist_file")
    current = target.read_bytes() if target.exists() else None
    listed = whitelist.parse(current) if current else None
    if listed is None or not listed.allows(domain, whitelist.normalize_dn(dn)):
        source = folder / WHITELIST_SOURCE
        source.write_bytes(whitelist_with(current, whitelist_entry(domain, dn, f"Essai {domain} (mssante-hub)")))
        try:
            whitelist.install(source, target)
        except whitelist.WhitelistError as exc:
            raise PeerError(f"the whitelist could not be extended: {exc}") from None

    ca_files = [str(p) for p in config.get("mx.ca_files")]
    relative = f"{PEERS_FOLDER}/{domain}/{ca_file.name}"  # like every path setting: relative to the data folder
    if not any((data_dir / p).resolve() == ca_file.resolve() for p in ca_files):
        config.set("mx.ca_files", ca_files + [relative])
    if receipts_to:
        routes = [r for r in config.get("relay.routes") if r.partition("=")[0].strip().lower() != domain]
        config.set("relay.routes", routes + [f"{domain}={receipts_to}"])
    config.save()
    return Trial(domain, folder, ca_file, cert_file, key_file, dn, system_host)
