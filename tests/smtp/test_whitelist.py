"""The whitelist: the real 2025 file, checksums, last good copy kept, case-insensitive IDN-safe lookups."""

from __future__ import annotations

import hashlib

import pytest

from mssante_hub.config import Config
from mssante_hub.directory.whitelist import WhitelistError, WhitelistFile, install, normalize_dn, parse
from tests.support.served import run_cli

REAL = "whitelist/listeblanchemssante-2025-03-13.xml"
MIPIH = "CN=medimail-asip.mipih.fr,OU=318310021300028,O=GIP MIPIH,ST=Haute-Garonne (31),C=FR"


def test_the_real_list_loads_with_its_counts(fixtures_dir):
    whitelist = parse((fixtures_dir / REAL).read_bytes())
    assert (whitelist.entries, whitelist.domains) == (6554, 5002)
    # 392 DN spellings; quoted and unquoted, comma-space variants of one subject count once.
    assert len(whitelist.known_dns) == 383
    assert normalize_dn('CN=mss.ch-cadillac.fr,OU=1330781295,O="C.H. DE  CADILLAC",ST=Gironde (33),C=FR') == \
        normalize_dn("CN=mss.ch-cadillac.fr, OU=1330781295, O=C.H. DE CADILLAC, ST=Gironde (33), C=FR")
    assert whitelist.allows("ADSEA29.MSSANTE.FR", normalize_dn(MIPIH))
    # RDNs in another order and another case name the same subject.
    assert whitelist.allows("adsea29.mssante.fr", normalize_dn("c=fr,st=haute-garonne (31),o=gip mipih,"
                                                               "ou=318310021300028,cn=MEDIMAIL-ASIP.MIPIH.FR"))
    assert not whitelist.allows("adsea29.mssante.fr", normalize_dn("CN=other,O=GIP MIPIH,C=FR"))
    assert not whitelist.has_domain("adsea29.mssante.fr.evil.example")


def test_idn_domains_match_their_punycode_form(tmp_path):
    from tests.smtp.support import whitelist_xml
    whitelist = parse(whitelist_xml([("hôpital-test.fr", "CN=mx.example,C=FR")]))
    assert whitelist.has_domain("xn--hpital-test-2eb.fr") and whitelist.has_domain("HÔPITAL-TEST.FR")
    assert "hôpital-test.fr".encode("idna") == b"xn--hpital-test-2eb.fr"


def test_cli_load_checks_the_checksum_and_keeps_the_last_good_list(data_dir, fixtures_dir, tmp_path):
    source = fixtures_dir / REAL
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    ok = run_cli("whitelist", "load", "--data-dir", str(data_dir), str(source), "--sha256", digest)
    assert ok.returncode == 0, ok.stderr
    assert "6554 entries, 5002 domains" in ok.stdout
    target = Config.load(data_dir).path_setting("mx.whitelist_file")
    good = target.read_bytes()

    bad_sum = run_cli("whitelist", "load", "--data-dir", str(data_dir), str(source), "--sha256", "0" * 64)
    assert bad_sum.returncode == 1 and "SHA-256" in bad_sum.stderr and "last good" in bad_sum.stderr
    broken = tmp_path / "broken.xml"
    broken.write_bytes(source.read_bytes()[:5000])
    bad_xml = run_cli("whitelist", "load", "--data-dir", str(data_dir), str(broken))
    assert bad_xml.returncode == 1 and "XML" in bad_xml.stderr
    assert target.read_bytes() == good


def test_hostile_xml_is_refused(tmp_path):
    bomb = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
            b'<ListeBlancheMSSante xmlns="https://listeblanche.mssante.fr/schema">&b;</ListeBlancheMSSante>')
    with pytest.raises(WhitelistError):
        parse(bomb)
    path = tmp_path / "bomb.xml"
    path.write_bytes(bomb)
    with pytest.raises(WhitelistError):
        install(path, tmp_path / "current.xml")
    assert not (tmp_path / "current.xml").exists()


def test_a_running_hub_sees_a_newly_loaded_list(tmp_path):
    from tests.smtp.support import whitelist_xml
    source = tmp_path / "a.xml"
    source.write_bytes(whitelist_xml([("a.test", "CN=a,C=FR")]))
    current = tmp_path / "current.xml"
    install(source, current)
    watched = WhitelistFile(current)
    assert watched.current().has_domain("a.test")
    source.write_bytes(whitelist_xml([("a.test", "CN=a,C=FR"), ("b.test", "CN=b,C=FR")]))
    install(source, current)
    assert watched.current().has_domain("b.test")
