"""The Mozilla autoconfig document, served by the real web listener."""

from __future__ import annotations

import urllib.request
import xml.etree.ElementTree as ET

from tests.conftest import DOMAIN
from tests.support.served import served


def test_autoconfig_xml_offers_imap_over_tls_only(data_dir):
    with served(data_dir, ["web"]) as hub:
        for path in ("/.well-known/autoconfig/mail/config-v1.1.xml", "/mail/config-v1.1.xml"):
            with urllib.request.urlopen(f"http://127.0.0.1:{hub.port('web')}{path}", timeout=30) as response:
                assert response.headers["content-type"].startswith("application/xml")
                root = ET.fromstring(response.read())
            provider = root.find("emailProvider")
            assert provider.findtext("domain") == DOMAIN
            incoming = provider.findall("incomingServer")
            assert {(s.findtext("port"), s.findtext("socketType")) for s in incoming} == {("993", "SSL"),
                                                                                          ("143", "STARTTLS")}
            assert all(s.findtext("username") == "%EMAILADDRESS%" for s in incoming)
            assert provider.find("outgoingServer").findtext("port") == "587"
