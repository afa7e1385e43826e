"""`mssante-hub peer trial`: test CA trusted on mx, the system's certificate, one whitelist entry, the route."""

from __future__ import annotations

from cryptography import x509

from mssante_hub.config import Config
from mssante_hub.directory.whitelist import install, normalize_dn, parse
from tests.smtp.support import whitelist_xml
from tests.support.served import run_cli


def trial(data_dir, *extra):
    return run_cli("peer", "trial", "--data-dir", str(data_dir), "--domain", "chu-demo.test", *extra)


def test_trial_trusts_its_ca_lists_its_dn_and_keeps_the_list_it_extends(data_dir, tmp_path):
    config = Config.load(data_dir)
    source = tmp_path / "liste.xml"
    source.write_bytes(whitelist_xml([("autre-operateur.test", "CN=mx.autre-operateur.test,O=Autre")]))
    install(source, config.path_setting("mx.whitelist_file"))

    first = trial(data_dir, "--receipts-to", "127.0.0.1:2626")
    assert first.returncode == 0, first.stderr
    again = trial(data_dir, "--receipts-to", "127.0.0.1:2627")  # a second trial replaces, never piles up
    assert again.returncode == 0, again.stderr
    config = Config.load(data_dir)
    assert config.get("mx.ca_files") == ["peers/chu-demo.test/ca.pem"]
    assert config.get("relay.routes") == ["chu-demo.test=127.0.0.1:2627"]
    folder = data_dir / "peers" / "chu-demo.test"
    assert (folder / "system.key").stat().st_mode & 0o077 == 0
    assert not list(folder.glob("ca.key*"))  # the test CA can issue nothing more
    cert = x509.load_pem_x509_certificate((folder / "system.pem").read_bytes())
    ca = x509.load_pem_x509_certificate((folder / "ca.pem").read_bytes())
    cert.verify_directly_issued_by(ca)
    listed = parse(config.path_setting("mx.whitelist_file").read_bytes())
    assert listed.allows("chu-demo.test", normalize_dn(cert.subject))
    assert listed.has_domain("autre-operateur.test") and listed.entries == 2  # kept; the new DN listed once
    assert "swaks --server 127.0.0.1 --port 2525 --tls --tls-cert" in again.stdout


def test_trial_refuses_the_hubs_own_domain(data_dir):
    refused = run_cli("peer", "trial", "--data-dir", str(data_dir), "--domain", "hub.test")
    assert refused.returncode == 2 and "own domain" in refused.stderr
