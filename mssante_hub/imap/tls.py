"""The TLS context of the IMAP listeners, from the hub's certificate and key files."""

from __future__ import annotations

from OpenSSL import crypto
from twisted.internet import ssl

from mssante_hub import tlspolicy
from mssante_hub.hub import Hub


def context_factory(hub: Hub) -> ssl.CertificateOptions:
    """TLS 1.2 or later, the configured chain and key (config tls.cert_file, tls.key_file)."""
    chain = hub.config.path_setting("tls.cert_file").read_bytes()
    key = ssl.KeyPair.load(hub.config.path_setting("tls.key_file").read_bytes(), crypto.FILETYPE_PEM)
    certs = [ssl.Certificate.loadPEM(block) for block in _pem_blocks(chain)]
    return ssl.CertificateOptions(
        privateKey=key.original, certificate=certs[0].original,
        extraCertChain=[c.original for c in certs[1:]],
        raiseMinimumTo=ssl.TLSVersion.TLSv1_2,
        acceptableCiphers=ssl.AcceptableCiphers.fromOpenSSLCipherString(
            tlspolicy.TLS12_CIPHERS + ":TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"),
    )


def _pem_blocks(data: bytes) -> list[bytes]:
    marker = b"-----END CERTIFICATE-----"
    return [block + marker for block in data.split(marker) if b"-----BEGIN CERTIFICATE-----" in block]
