"""Who is on the other end of a web request: the peer, or the client a trusted reverse proxy names.

Behind the documented reverse proxy every request comes from the proxy's address; counting
failed sign-ins per that address would let five wrong passwords lock the whole webmail. A
peer in `web.trusted_proxies` is believed about `X-Forwarded-For`: the right-most entry that is
not itself a trusted proxy is the client (entries further left are the client's own claims).
Anyone else's `X-Forwarded-For` is ignored.
"""

from __future__ import annotations

import ipaddress

from twisted.web import server

MAX_FORWARDED_ENTRIES = 20  # a longer chain is not believed past this many hops


class ClientAddress:
    def __init__(self, trusted_proxies: list[str]) -> None:
        self.trusted = [ipaddress.ip_network(n, strict=False) for n in trusted_proxies]

    def _is_trusted(self, text: str) -> bool:
        try:
            ip = ipaddress.ip_address(text)
        except ValueError:
            return False
        return any(ip in net for net in self.trusted)

    def __call__(self, request: server.Request) -> str:
        peer = getattr(request.getClientAddress(), "host", "?")
        if not self.trusted or not self._is_trusted(peer):
            return peer
        values = request.requestHeaders.getRawHeaders(b"x-forwarded-for") or []
        hops = [h.strip() for v in values for h in v.decode("latin-1").split(",")][-MAX_FORWARDED_ENTRIES:]
        for hop in reversed(hops):
            if self._is_trusted(hop):
                continue
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # a malformed hop: believe nothing further left
        return peer
