"""Mail client settings (Mozilla autoconfig, RFC 6186 SRV records) agree with what `serve` announces."""

from __future__ import annotations

import subprocess
import urllib.request
import xml.etree.ElementTree as ET

from mssante_hub.config import Config
from tests.conftest import DOMAIN
from tests.relays.peer import free_port
from tests.support.served import LISTENING, ServedHub, hub_command, run_cli, served

PATHS = ("/.well-known/autoconfig/mail/config-v1.1.xml", "/mail/config-v1.1.xml")


def autoconfig(port: int, path: str = PATHS[0]) -> ET.Element:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as response:
        assert response.headers["content-type"].startswith("application/xml")
        return ET.fromstring(response.read()).find("emailProvider")


def offered(provider: ET.Element) -> set[tuple[str, str, int, str]]:
    """(kind, host, port, socketType) of every server the document gives."""
    return {(s.tag, s.findtext("hostname"), int(s.findtext("port")), s.findtext("socketType"))
            for s in provider if s.tag in ("incomingServer", "outgoingServer")}


def expected(addresses: dict) -> set[tuple[str, str, int, str]]:
    return {("incomingServer", *addresses["imaps"], "SSL"), ("incomingServer", *addresses["imap"], "STARTTLS"),
            ("outgoingServer", *addresses["submission"], "STARTTLS")}


def srv(data_dir) -> set[tuple[str, int, str]]:
    """(service label, port, target) of the records `dns-srv` prints."""
    result = run_cli("dns-srv", "--data-dir", str(data_dir))
    assert result.returncode == 0, result.stderr
    found = set()
    for line in result.stdout.splitlines():
        if line.startswith(";"):
            continue
        name, _ttl, _in, _srv, _priority, _weight, port, target = line.split()
        found.add((name.removesuffix(f".{DOMAIN}."), int(port), target))
    return found


def serve_from_settings(data_dir, count: int):
    """`serve` with no --listen, as the README runs it: the listeners of the settings."""
    process = subprocess.Popen(hub_command("serve", "--data-dir", str(data_dir)), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    addresses = {}
    while len(addresses) < count:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(process.stderr.read())
        found = LISTENING.match(line.strip())
        if found:
            addresses[found[1]] = (found[2], int(found[3]))
    return ServedHub(process, addresses)


def test_autoconfig_and_srv_give_the_listeners_serve_announces(data_dir):
    config = Config.load(data_dir)
    for name in ("imap", "imaps", "submission", "web"):
        config.set(f"listen.{name}", f"127.0.0.1:{free_port()}")
    config.set("listen.enabled", ["web", "imap", "imaps", "submission"])
    config.save()
    hub = serve_from_settings(data_dir, 4)
    try:
        provider = autoconfig(hub.port("web"))
        assert provider.findtext("domain") == DOMAIN
        assert offered(provider) == expected(hub.addresses)
        assert all(s.findtext("username") == "%EMAILADDRESS%" for s in provider.findall("incomingServer"))
    finally:
        assert hub.stop() == 0
    announced = {name: (port, f"{host}.") for name, (host, port) in hub.addresses.items()}
    assert {("_imaps._tcp", *announced["imaps"]), ("_imap._tcp", *announced["imap"]),
            ("_submission._tcp", *announced["submission"])} <= srv(data_dir)
    assert ("_pop3._tcp", 0, ".") in srv(data_dir)


def test_autoconfig_gives_the_real_ports_of_listeners_asked_on_port_0(data_dir):
    with served(data_dir, ["web", "imap", "imaps", "submission"]) as hub:
        for path in PATHS:
            assert offered(autoconfig(hub.port("web"), path)) == expected(hub.addresses)


def test_the_public_names_the_operator_sets_win(data_dir):
    for key, value in (("public.imap_host", "imap.hub.example.fr"), ("public.imaps_port", "993"),
                       ("public.imap_port", "143"), ("public.submission_host", "smtp.hub.example.fr"),
                       ("public.submission_port", "587")):
        assert run_cli("config", "set", "--data-dir", str(data_dir), key, value).returncode == 0
    with served(data_dir, ["web", "imaps"]) as hub:
        assert offered(autoconfig(hub.port("web"))) == {
            ("incomingServer", "imap.hub.example.fr", 993, "SSL"),
            ("incomingServer", "imap.hub.example.fr", 143, "STARTTLS"),
            ("outgoingServer", "smtp.hub.example.fr", 587, "STARTTLS")}
    assert {("_imaps._tcp", 993, "imap.hub.example.fr."), ("_submission._tcp", 587, "smtp.hub.example.fr.")} <= \
        srv(data_dir)
