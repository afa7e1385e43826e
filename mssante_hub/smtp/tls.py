"""TLS for the SMTP front doors: TLS 1.2+, and client certificates checked by the hub itself.

The chain is verified by OpenSSL against the configured CA bundles during the
handshake. Validity dates are deliberately left to :func:`check_validity` (OpenSSL's
NO_CHECK_TIME flag) so that an expired certificate gets an explicit 5xx reply at
MAIL time instead of a bare handshake alert the sender cannot read.
"""

from __future__ import annotations

import datetime as dt
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from mssante_hub import tlspolicy

# OpenSSL's X509_V_FLAG_NO_CHECK_TIME; not named by the ssl module.
_NO_CHECK_TIME = 0x200000


@dataclass(frozen=True)
class PeerCertificate:
    subject: x509.Name
    not_before: dt.datetime
    not_after: dt.datetime
    der: bytes
    certificate: x509.Certificate

    def validity_problem(self, now: dt.datetime | None = None) -> str:
        """'' when valid now, else 'expired' or 'not-yet-valid'."""
        now = now or dt.datetime.now(dt.timezone.utc)
        if now > self.not_after:
            return "expired"
        if now < self.not_before:
            return "not-yet-valid"
        return ""


def server_context(cert_file: Path, key_file: Path, client_ca_files: list[Path]) -> ssl.SSLContext:
    """A server context; asks for a client certificate when CA bundles are given."""
    context = tlspolicy.harden(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER))
    context.load_cert_chain(cert_file, key_file)
    if client_ca_files:
        for ca in client_ca_files:
            context.load_verify_locations(cafile=str(ca))
        context.verify_mode = ssl.CERT_OPTIONAL
        context.verify_flags |= _NO_CHECK_TIME
    else:
        context.verify_mode = ssl.CERT_NONE
    return context


def peer_certificate(ssl_extra: dict | None) -> PeerCertificate | None:
    """The verified client certificate of a STARTTLS session, if the client sent one."""
    if not ssl_extra:
        return None
    ssl_object = ssl_extra.get("ssl_object")
    der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    if not der:
        return None
    cert = x509.load_der_x509_certificate(der)
    return PeerCertificate(cert.subject, cert.not_valid_before_utc, cert.not_valid_after_utc, der, cert)
