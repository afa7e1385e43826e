"""The TLS policy every listener shares: TLS 1.2 or later, and for TLS 1.2 only forward-secret AEAD suites.

Mozilla's "intermediate" profile for TLS 1.2 (ECDHE key exchange; AES-GCM or ChaCha20-Poly1305);
TLS 1.3 suites are all AEAD and are left to OpenSSL. No CBC, no RSA key exchange, no SHA-1 MACs.
"""

from __future__ import annotations

import ssl

MINIMUM_VERSION = ssl.TLSVersion.TLSv1_2
TLS12_CIPHERS = ":".join([
    "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
])


def harden(context: ssl.SSLContext) -> ssl.SSLContext:
    """Apply the policy to a standard-library context (the SMTP doors)."""
    context.minimum_version = MINIMUM_VERSION
    context.set_ciphers(TLS12_CIPHERS)
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    return context
