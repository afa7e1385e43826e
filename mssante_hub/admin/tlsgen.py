"""A self-signed certificate for the embedded default (development, demos, tests)."""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from crypto.masterkey import group_or_other_can_read, write_private_file

SELF_SIGNED_DAYS = 825


def write_self_signed(
    cert_file: Path, key_file: Path, hostnames: list[str], not_before: dt.datetime | None = None,
    days: int = SELF_SIGNED_DAYS,
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0])])
    now = not_before or dt.datetime.now(dt.timezone.utc)
    alt_names: list[x509.GeneralName] = [x509.DNSName(h) for h in hostnames]
    alt_names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    write_private_file(
        key_file,
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )
    cert_file.parent.mkdir(parents=True, exist_ok=True)
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def certificate_problems(cert_file: Path, key_file: Path) -> list[str]:
    """What is wrong with the configured certificate and key, if anything."""
    if not cert_file.exists():
        return [f"certificate {cert_file} is missing"]
    if not key_file.exists():
        return [f"TLS key {key_file} is missing"]
    problems = []
    try:
        cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    except ValueError:
        return [f"{cert_file} is not a PEM certificate"]
    now = dt.datetime.now(dt.timezone.utc)
    if cert.not_valid_after_utc < now:
        problems.append(f"certificate {cert_file} expired on {cert.not_valid_after_utc:%Y-%m-%d}; renew it")
    elif cert.not_valid_after_utc < now + dt.timedelta(days=30):
        problems.append(f"certificate {cert_file} expires on {cert.not_valid_after_utc:%Y-%m-%d}; renew it soon")
    if group_or_other_can_read(key_file):
        problems.append(f"TLS key {key_file} is readable by group or others; run: chmod 600 {key_file}")
    try:
        key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    except (ValueError, TypeError):
        return problems + [f"{key_file} is not an unencrypted PEM private key"]
    if key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) != \
            cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo):
        problems.append(f"TLS key {key_file} does not match certificate {cert_file}")
    return problems
