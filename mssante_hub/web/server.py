"""The web listener: the webmail (pages and JSON API), the health check, mail client autoconfiguration."""

from __future__ import annotations

import json

from sqlalchemy import text
from twisted.internet import threads
from twisted.web import resource, server

from mssante_hub.hub import Hub
from mssante_hub.admin.listeners import Listener
from mssante_hub.web import autoconfig, pages
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


def build_site(hub: Hub) -> server.Site:
    root = resource.Resource()
    root.putChild(b"healthz", Health(hub))
    root.putChild(b"api", Api(hub))
    pages.register(root)  # the patients' webmail: /, /app.js, /app.css
    autoconfig.register(root, hub)  # mail client autoconfiguration (IMAP issue)
    site = server.Site(root, requestFactory=BoundedRequest, timeout=hub.config.get("web.request_timeout_s"))
    site.bodies = BodyBudget(hub.config.get("web.max_request_bytes"), hub.config.get("web.max_buffered_bytes"))
    site.displayTracebacks = False
    return site


async def start(hub: Hub, host: str, port: int, reactor) -> Listener:
    listening = reactor.listenTCP(port, build_site(hub), interface=host)
    return Listener.from_twisted(listening)
