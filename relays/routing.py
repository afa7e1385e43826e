"""Where a recipient's domain is delivered: static routes first, then DNS MX when enabled (RFC 5321 §5.1).

Order, as Postfix's (transport_maps, relayhost, then DNS): a route for the domain itself, then the
`*` route, then, with DNS on, the domain's MX hosts by preference (equal preferences in random
order), each host's A and AAAA addresses; a domain without MX records is its own implicit MX
(its A/AAAA records). A null MX (RFC 7505) or a domain that does not exist is a permanent
failure; a DNS server that does not answer, a temporary one.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import dns.asyncresolver
import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver

from relays.client import PERMANENT, TEMPORARY, Hop
from relays import status

MAX_MX_HOSTS = 5  # MX hosts tried per attempt, best first
MAX_ADDRESSES = 10  # addresses tried per attempt, across those hosts


class NoRoute(Exception):
    """No next hop now: `kind` is client.PERMANENT or client.TEMPORARY."""

    def __init__(self, kind: str, reply: str, status: str) -> None:
        super().__init__(reply)
        self.kind, self.reply, self.status = kind, reply, status


@dataclass(frozen=True)
class DnsSettings:
    servers: tuple[tuple[str, int], ...] = ()  # empty: the system's resolv.conf
    smtp_port: int = 25
    timeout_s: float = 10.0
    own_hostname: str = ""  # an MX naming us ends the list there (RFC 5321 §5.1, no loop)


def parse_servers(entries: list[str]) -> tuple[tuple[str, int], ...]:
    """'host' or 'host:port' ('[v6]:port') entries."""
    servers = []
    for entry in entries:
        entry = entry.strip()
        if entry.startswith("["):
            host, _, port = entry[1:].partition("]")
            servers.append((host, int(port.lstrip(":") or 53)))
        elif entry.count(":") == 1:
            host, _, port = entry.partition(":")
            servers.append((host, int(port)))
        else:
            servers.append((entry, 53))
    return tuple(servers)


class MxResolver:
    def __init__(self, settings: DnsSettings) -> None:
        self.settings = settings
        if settings.servers:
            resolver = dns.asyncresolver.Resolver(configure=False)
            resolver.nameservers = [host for host, _ in settings.servers]
            resolver.nameserver_ports = {host: port for host, port in settings.servers}
        else:
            resolver = dns.asyncresolver.Resolver()
        resolver.lifetime = settings.timeout_s
        resolver.timeout = min(settings.timeout_s, 3.0)
        self.resolver = resolver

    async def _query(self, name: str, rdtype: str):
        """The answer's records; [] when the name exists without such records; NoRoute otherwise."""
        try:
            answer = await self.resolver.resolve(name, rdtype, search=False)
        except dns.resolver.NXDOMAIN:
            raise NoRoute(PERMANENT, f"{name}: domain does not exist / domaine inexistant", status.BAD_DESTINATION_DOMAIN) from None
        except dns.resolver.NoAnswer:
            return []
        except (dns.resolver.NoNameservers, dns.exception.Timeout, dns.resolver.LifetimeTimeout) as exc:
            raise NoRoute(TEMPORARY, f"DNS {rdtype} {name}: {type(exc).__name__}", status.DNS_TEMPORARY) from None
        except dns.exception.DNSException as exc:
            raise NoRoute(TEMPORARY, f"DNS {rdtype} {name}: {type(exc).__name__}", status.DNS_TEMPORARY) from None
        return list(answer)

    async def addresses(self, host: str) -> list[str]:
        found = []
        for rdtype in ("A", "AAAA"):
            found += [record.address for record in await self._query(host, rdtype)]
        return found

    async def mx_hosts(self, domain: str) -> list[str]:
        """MX host names, best first; [domain] for an implicit MX."""
        records = await self._query(domain, "MX")
        if not records:
            return [domain]  # RFC 5321 §5.1: no MX records, the domain is its own mail exchanger
        if any(r.exchange == dns.name.root for r in records):
            if len(records) == 1:
                raise NoRoute(PERMANENT, f"{domain} accepts no mail (null MX) / n'accepte aucun courrier",
                              status.NULL_MX)
            records = [r for r in records if r.exchange != dns.name.root]
        by_preference: dict[int, list[str]] = {}
        for record in records:
            by_preference.setdefault(record.preference, []).append(record.exchange.to_text(omit_final_dot=True))
        hosts: list[str] = []
        own = self.settings.own_hostname.lower().rstrip(".")
        for preference in sorted(by_preference):
            names = by_preference[preference]
            if own and own in (n.lower() for n in names):
                break  # we are a mail exchanger of this domain: only better ones may be used
            random.shuffle(names)  # RFC 5321 §5.1: spread the load over equal preferences
            hosts += names
        if not hosts:
            raise NoRoute(PERMANENT, f"{domain}: mail loops back to this host / boucle vers ce serveur", status.ROUTING_LOOP)
        return hosts[:MAX_MX_HOSTS]

    async def hops(self, domain: str) -> list[Hop]:
        hops: list[Hop] = []
        last: NoRoute | None = None
        for host in await self.mx_hosts(domain):
            try:
                addresses = await self.addresses(host)
            except NoRoute as problem:  # one MX host that does not resolve: try the next
                last = problem
                continue
            hops += [Hop(address, self.settings.smtp_port, host) for address in addresses]
        if not hops:
            raise last or NoRoute(PERMANENT, f"{domain}: no address for its mail exchangers / aucune adresse",
                                  status.NO_ROUTE)
        return hops[:MAX_ADDRESSES]


class Router:
    """Static routes, then DNS (when a resolver is given)."""

    def __init__(self, routes: dict[str, Hop], resolver: MxResolver | None = None) -> None:
        self.routes = routes
        self.resolver = resolver

    async def hops(self, rcpt: str) -> list[Hop]:
        domain = rcpt.rpartition("@")[2].lower().rstrip(".")
        static = self.routes.get(domain) or self.routes.get("*")
        if static is not None:
            return [static]
        if self.resolver is None:
            raise NoRoute(PERMANENT, "no route to this domain / aucune route vers ce domaine", status.NO_ROUTE)
        try:
            ascii_domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise NoRoute(PERMANENT, f"{domain}: not a valid domain / domaine invalide", status.BAD_DESTINATION_DOMAIN) from None
        return await self.resolver.hops(ascii_domain)
