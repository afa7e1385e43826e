"""Certificate revocation lists of the trust space's CAs (docs/domain.md §2: not revoked, keep the last good CRL).

Each configured CRL file (PEM or DER) is re-read when it changes; it is used only if its
signature verifies against one of the configured CA certificates. A CRL that fails to
load or verify leaves the last good copy of that file in force.
"""

from __future__ import annotations

import logging
from pathlib import Path

from cryptography import x509

log = logging.getLogger("mssante_hub.directory.revocation")


def load_ca_certificates(paths: list[Path]) -> list[x509.Certificate]:
    certs: list[x509.Certificate] = []
    for path in paths:
        certs += x509.load_pem_x509_certificates(path.read_bytes())
    return certs


def _load_crl(data: bytes) -> x509.CertificateRevocationList:
    if data.lstrip().startswith(b"-----BEGIN"):
        return x509.load_pem_x509_crl(data)
    return x509.load_der_x509_crl(data)


class RevocationLists:
    def __init__(self, crl_files: list[Path], ca_files: list[Path]) -> None:
        self.crl_files = crl_files
        self.cas = load_ca_certificates(ca_files) if crl_files else []
        self._stamps: dict[Path, tuple[int, int]] = {}
        self._good: dict[Path, x509.CertificateRevocationList] = {}

    def _verified(self, crl: x509.CertificateRevocationList) -> bool:
        for ca in self.cas:
            if ca.subject == crl.issuer:
                try:
                    if crl.is_signature_valid(ca.public_key()):
                        return True
                except (TypeError, ValueError):
                    continue
        return False

    def _refresh(self) -> None:
        for path in self.crl_files:
            try:
                stat = path.stat()
            except OSError:
                continue  # keep the last good copy
            stamp = (stat.st_mtime_ns, stat.st_size)
            if self._stamps.get(path) == stamp:
                continue
            self._stamps[path] = stamp
            try:
                crl = _load_crl(path.read_bytes())
            except (OSError, ValueError) as exc:
                log.error("CRL %s unreadable, keeping the last good one: %s", path, exc)
                continue
            if not self._verified(crl):
                log.error("CRL %s is not signed by a configured CA, keeping the last good one", path)
                continue
            self._good[path] = crl

    def is_revoked(self, cert: x509.Certificate) -> bool:
        self._refresh()
        return any(crl.issuer == cert.issuer and crl.get_revoked_certificate_by_serial_number(cert.serial_number)
                   is not None for crl in self._good.values())
