"""The web listener: the webmail (pages and JSON API), the health check, mail client autoconfiguration."""

from __future__ import annotations

import json

from sqlalchemy import text
import ipaddress

from twisted.internet import threads
from twisted.web import http, resource, server

from mssante_hub.admission import PerAddress, bound_send_buffer

from mssante_hub.hub import Hub
from mssante_hub.admin.listeners import Listener, listen_tcp
from mssante_hub.observe import exposition
from mssante_hub.web import autoconfig, pages
from mssante_hub.web.agenda_api import IcsFeed
from mssante_hub.web.api import Api
from mssante_hub.web.http import BodyBudget, BoundedRequest


class Health(resource.Resource):
    """GET /healthz: 200 when the database answers, 503 otherwise. No detail leaks."""

    isLeaf = True

    def __init__(self, hub: Hub) -> None:
        super().__init__()
        self._hub = hub

    def render_GET(self, request):  # noqa: N802 - Twisted's naming
        def probe() -> None:
            with self._hub.engine.connect() as conn:
                conn.execute(text("SELECT 1"))

        def answer(ok: bool) -> None:
            request.setResponseCode(200 if ok else 503)
            request.setHeader(b"content-type", b"application/json")
            request.write(json.dumps({"status": "ok" if ok else "unavailable"}).encode())
            request.finish()

        d = threads.deferToThread(probe)
        d.addCallbacks(lambda _: answer(True), lambda _: answer(False))
        return server.NOT_DONE_YET


_HEAD_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"


class CountedChannel(http.HTTPChannel):
    """An HTTP connection that gives its per-address slot back when it goes, and whose request
    heads have one deadline each (`web.request_head_timeout_s`): Twisted's idle timeout is
    re-armed by every byte, so a header line every few seconds would hold the connection forever."""

    counted_host: str | None = None
    _head_timer = None
    _in_body = False

    def connectionMade(self) -> None:  # noqa: N802 - Twisted's naming
        bound_send_buffer(self.transport, self.site.send_buffer_bytes)
        super().connectionMade()

    def dataReceived(self, data: bytes) -> None:  # noqa: N802 - Twisted's naming
        if self._head_timer is None and not self._in_body:
            self._head_timer = self.callLater(self.site.head_timeout_s, self._head_too_slow)
        super().dataReceived(data)

    def allHeadersReceived(self) -> None:  # noqa: N802
        self._stop_head_timer()
        self._in_body = True
        super().allHeadersReceived()

    def requestDone(self, request) -> None:  # noqa: N802
        self._in_body = False
        super().requestDone(request)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None and self._head_timer.active():
            self._head_timer.cancel()
        self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self.transport is not None:
            self.transport.write(_HEAD_TIMEOUT)
            self.transport.loseConnection()

    def connectionLost(self, reason) -> None:  # noqa: N802 - Twisted's naming
        self._stop_head_timer()
        if self.counted_host is not None:
            self.site.per_address.release(self.counted_host)
            self.counted_host = None
        super().connectionLost(reason)


class CappedSite(server.Site):
    """A site that refuses a connection past `web.max_connections_per_address` (trusted proxies excepted)."""

    protocol = CountedChannel
    send_buffer_bytes = 0  # build_site sets `web.send_buffer_bytes`

    def __init__(self, *args, per_address: PerAddress, trusted_proxies: list[str], head_timeout_s: float,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.per_address = per_address
        self.head_timeout_s = head_timeout_s
        self.trusted = [ipaddress.ip_network(n, strict=False) for n in trusted_proxies]

    def is_trusted_proxy(self, host: str) -> bool:
        return self._exempt(host)

    def _exempt(self, host: str) -> bool:
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(ip in net for net in self.trusted)

    def buildProtocol(self, addr):  # noqa: N802 - Twisted's naming
        host = getattr(addr, "host", "")
        exempt = self._exempt(host)
        if not exempt and not self.per_address.acquire(host):
            return None  # Twisted closes the connection at once
        channel = super().buildProtocol(addr)
        if not exempt:
            channel.counted_host = host
        return channel


def build_site(hub: Hub) -> server.Site:
    root = resource.Resource()
    root.putChild(b"healthz", Health(hub))
    root.putChild(b"api", Api(hub))
    root.putChild(b"ical", IcsFeed(hub))  # the patient's private ICS feed (web/agenda_api.py)
    pages.register(root)  # the patients' webmail: /, /app.js, /app.css
    autoconfig.register(root, hub)  # mail client autoconfiguration (IMAP issue)
    exposition.mount(root, hub)  # /metrics, unless metrics.listen gives them a listener of their own
    site = CappedSite(root, requestFactory=BoundedRequest, timeout=hub.config.get("web.request_timeout_s"),
                      per_address=PerAddress(hub.config.get("web.max_connections_per_address")),
                      trusted_proxies=hub.config.get("web.trusted_proxies"),
                      head_timeout_s=hub.config.get("web.request_head_timeout_s"))
    site.bodies = BodyBudget(hub.config.get("web.max_request_bytes"), hub.config.get("web.max_buffered_bytes"))
    site.send_buffer_bytes = hub.config.get("web.send_buffer_bytes")
    site.displayTracebacks = False
    return site


async def start(hub: Hub, host: str, port: int, reactor, sock=None) -> Listener:
    return listen_tcp(reactor, build_site(hub), host, port, sock)
