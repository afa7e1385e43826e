"""A revoked client certificate is refused on mx; a bad CRL leaves the last good one in force."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from mssante_hub.smtp import replies
from tests.smtp.support import HOSPITAL_DOMAIN
from tests.smtp.test_mx import ascii_reply, reply, tls_client

DPI = f"dpi@{HOSPITAL_DOMAIN}"


def make_crl(pki, revoked_leaf, key=None) -> bytes:
    ca_cert = x509.load_pem_x509_certificate(pki.ca.cert_pem.bytes())
    key = key or serialization.load_pem_private_key(pki.ca.private_key_pem.bytes(), password=None)
    serial = x509.load_pem_x509_certificate(revoked_leaf.cert_chain_pems[0].bytes()).serial_number
    now = dt.datetime.now(dt.timezone.utc)
    builder = (x509.CertificateRevocationListBuilder().issuer_name(ca_cert.subject).last_update(now)
               .next_update(now + dt.timedelta(days=7))
               .add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(serial)
                                        .revocation_date(now).build()))
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


@pytest.fixture
def smtp_settings(tmp_path, pki):
    crl = tmp_path / "igc.crl"
    crl.write_bytes(make_crl(pki, pki.hospital))
    return {"mx.crl_files": [str(crl)]}


def test_a_revoked_certificate_is_refused_and_a_bad_crl_keeps_the_last_good(smtp_hub, pki, tmp_path):
    with tls_client(smtp_hub, pki, pki.hospital) as client:
        code, text = client.mail(DPI)
    assert reply(code, text) == ascii_reply(replies.CERTIFICATE_REVOKED)

    crl = tmp_path / "igc.crl"
    crl.write_bytes(b"not a CRL at all")
    with tls_client(smtp_hub, pki, pki.hospital) as client:
        assert reply(*client.mail(DPI)) == ascii_reply(replies.CERTIFICATE_REVOKED)

    forged = make_crl(pki, pki.remote, key=ec.generate_private_key(ec.SECP256R1()))  # not signed by the CA
    crl.write_bytes(forged)
    with tls_client(smtp_hub, pki, pki.hospital) as client:
        assert reply(*client.mail(DPI)) == ascii_reply(replies.CERTIFICATE_REVOKED)
    with tls_client(smtp_hub, pki, pki.remote) as client:
        # The forged CRL "revokes" this one: ignored, so the refusal is about the DN, not revocation.
        assert reply(*client.mail(f"x@{HOSPITAL_DOMAIN}")) == ascii_reply(replies.DN_NOT_LISTED)
