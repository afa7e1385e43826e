"""Mozilla autoconfig (Thunderbird and others): the mail client settings of this hub.

Served at /.well-known/autoconfig/mail/config-v1.1.xml and /mail/config-v1.1.xml (the
path of the `autoconfig.<domain>` host). The RFC 6186 SRV records that say the same
to other clients are in deploy/dns-srv.md.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from twisted.web import resource

from mssante_hub.hub import Hub

# Public ports of the standard services (the listen.* settings are the local binds).
IMAPS_PORT = 993
IMAP_PORT = 143
SUBMISSION_PORT = 587
CONFIG_PATH = (b"mail", b"config-v1.1.xml")


def config_xml(hub: Hub) -> bytes:
    domain = escape(hub.config.get("hub.domain"))
    host = escape(hub.config.get("hub.hostname"))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="{domain}">
    <domain>{domain}</domain>
    <displayName>MSSanté ({domain})</displayName>
    <displayShortName>MSSanté</displayShortName>
    <incomingServer type="imap">
      <hostname>{host}</hostname>
      <port>{IMAPS_PORT}</port>
      <socketType>SSL</socketType>
      <username>%EMAILADDRESS%</username>
      <authentication>password-cleartext</authentication>
    </incomingServer>
    <incomingServer type="imap">
      <hostname>{host}</hostname>
      <port>{IMAP_PORT}</port>
      <socketType>STARTTLS</socketType>
      <username>%EMAILADDRESS%</username>
      <authentication>password-cleartext</authentication>
    </incomingServer>
    <outgoingServer type="smtp">
      <hostname>{host}</hostname>
      <port>{SUBMISSION_PORT}</port>
      <socketType>STARTTLS</socketType>
      <username>%EMAILADDRESS%</username>
      <authentication>password-cleartext</authentication>
    </outgoingServer>
  </emailProvider>
</clientConfig>
""".encode("utf-8")


class ConfigV11(resource.Resource):
    isLeaf = True

    def __init__(self, hub: Hub) -> None:
        super().__init__()
        self._body = config_xml(hub)

    def render_GET(self, request):  # noqa: N802 - Twisted's naming
        request.setHeader(b"content-type", b"application/xml; charset=utf-8")
        request.setHeader(b"cache-control", b"public, max-age=3600")
        return self._body


def register(root: resource.Resource, hub: Hub) -> None:
    """Mount the document under /.well-known/autoconfig/ and /mail/."""
    document = ConfigV11(hub)
    mail = resource.Resource()
    mail.putChild(CONFIG_PATH[1], document)
    autoconfig = resource.Resource()
    autoconfig.putChild(CONFIG_PATH[0], mail)
    well_known = root.children.get(b".well-known") or resource.Resource()
    well_known.putChild(b"autoconfig", autoconfig)
    root.putChild(b".well-known", well_known)
    root.putChild(CONFIG_PATH[0], mail)
