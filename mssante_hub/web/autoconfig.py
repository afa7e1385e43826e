"""What mail clients are told about this hub: Mozilla autoconfig and the RFC 6186 SRV records.

The autoconfig document is served at /.well-known/autoconfig/mail/config-v1.1.xml and
/mail/config-v1.1.xml (the path of the `autoconfig.<domain>` host); `mssante-hub dns-srv`
prints the SRV records that say the same to other clients (deploy/dns-srv.md).

Both come from one place, `client_endpoints`: the public names and ports the operator sets
(`public.*`), else the addresses `serve` really listens on (announced as each listener
starts, port 0 resolved), else the `listen.*` settings. A listener bound to every interface
is given under `hub.hostname`. Nothing is offered without TLS.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from xml.sax.saxutils import escape

from twisted.web import resource

from mssante_hub.admin.listeners import announced
from mssante_hub.hub import Hub

CONFIG_PATH = (b"mail", b"config-v1.1.xml")
SRV_TTL_S = 3600
# RFC 8314: implicit TLS preferred, so it gets the lower priority number.
PRIORITY_IMPLICIT_TLS, PRIORITY_STARTTLS = 0, 10


@dataclass(frozen=True)
class Endpoint:
    service: str  # the listener's name: imaps, imap, submission
    host: str
    port: int
    socket_type: str  # autoconfig's socketType: SSL (implicit TLS) or STARTTLS
    srv: str  # RFC 6186 service label


# listener name -> (public host setting, public port setting, socketType, SRV label)
_SERVICES = (
    ("imaps", "public.imap_host", "public.imaps_port", "SSL", "_imaps._tcp"),
    ("imap", "public.imap_host", "public.imap_port", "STARTTLS", "_imap._tcp"),
    ("submission", "public.submission_host", "public.submission_port", "STARTTLS", "_submission._tcp"),
)


def _split(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def _is_wildcard(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return host == ""


def client_endpoints(hub: Hub) -> list[Endpoint]:
    """The services a client should use, in order of preference; those neither listened on nor enabled are left out."""
    config = hub.config
    listening = announced(hub)
    enabled = set(config.get("listen.enabled"))
    found = []
    for name, host_key, port_key, socket_type, srv in _SERVICES:
        public_host, public_port = config.get(host_key), config.get(port_key)
        if name not in listening and name not in enabled and not public_port:
            continue
        host, port = listening.get(name) or _split(config.get(f"listen.{name}"))
        if public_host:
            host = public_host
        elif _is_wildcard(host):
            host = config.get("hub.hostname")
        found.append(Endpoint(name, host, public_port or port, socket_type, srv))
    return found


def config_xml(hub: Hub) -> bytes:
    domain = escape(hub.config.get("hub.domain"))
    servers = []
    for endpoint in client_endpoints(hub):
        kind = "outgoingServer type=\"smtp\"" if endpoint.service == "submission" else "incomingServer type=\"imap\""
        servers.append(f"""    <{kind}>
      <hostname>{escape(endpoint.host)}</hostname>
      <port>{endpoint.port}</port>
      <socketType>{endpoint.socket_type}</socketType>
      <username>%EMAILADDRESS%</username>
      <authentication>password-cleartext</authentication>
    </{kind.split()[0]}>
""")
    return (f"""<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="{domain}">
    <domain>{domain}</domain>
    <displayName>MSSanté ({domain})</displayName>
    <displayShortName>MSSanté</displayShortName>
""" + "".join(servers) + """  </emailProvider>
</clientConfig>
""").encode("utf-8")


def srv_records(hub: Hub) -> list[str]:
    """RFC 6186 records in zone-file syntax, for the professionals' domain; POP3 explicitly absent."""
    domain = hub.config.get("hub.domain").rstrip(".")
    lines = []
    for endpoint in client_endpoints(hub):
        priority = PRIORITY_IMPLICIT_TLS if endpoint.socket_type == "SSL" or endpoint.service == "submission" \
            else PRIORITY_STARTTLS
        lines.append(f"{endpoint.srv}.{domain}. {SRV_TTL_S} IN SRV {priority} 1 {endpoint.port} "
                     f"{endpoint.host.rstrip('.')}.")
    for label in ("_pop3._tcp", "_pop3s._tcp", "_submissions._tcp"):  # services this hub does not offer
        lines.append(f"{label}.{domain}. {SRV_TTL_S} IN SRV 0 0 0 .")
    return lines


class ConfigV11(resource.Resource):
    isLeaf = True

    def __init__(self, hub: Hub) -> None:
        super().__init__()
        self._hub = hub

    def render_GET(self, request):  # noqa: N802 - Twisted's naming
        request.setHeader(b"content-type", b"application/xml; charset=utf-8")
        request.setHeader(b"cache-control", b"public, max-age=3600")
        # Built per request (a few hundred bytes): listeners started after the web one are included.
        return config_xml(self._hub)


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
