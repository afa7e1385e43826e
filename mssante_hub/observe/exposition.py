"""/metrics over HTTP: a Twisted resource on the web listener, or its own listener (`metrics.listen`)."""

from __future__ import annotations

from twisted.internet import threads
from twisted.web import resource, server

from mssante_hub.admin.listeners import Listener, listen_tcp
from mssante_hub.hub import Hub
from mssante_hub.observe import metrics
from storage import outbound


class MetricsResource(resource.Resource):
    """GET /metrics: the Prometheus text format, every worker's figures together (metrics.py)."""

    isLeaf = True

    def __init__(self, hub: Hub) -> None:
        super().__init__()
        self._hub = hub

    def render_GET(self, request):  # noqa: N802 - Twisted's naming
        def scrape() -> tuple[bytes, str]:
            return metrics.render(lambda: self._hub.read_sync(outbound.queue_stats))

        def answer(result: tuple[bytes, str]) -> None:
            body, content_type = result
            request.setHeader(b"content-type", content_type.encode())
            request.write(body)
            request.finish()

        def failed(_) -> None:
            request.setResponseCode(503)
            request.finish()

        threads.deferToThread(scrape).addCallbacks(answer, failed)
        return server.NOT_DONE_YET


def mount(root: resource.Resource, hub: Hub) -> None:
    """On the web listener, unless the metrics have a listener of their own."""
    if not hub.config.get("metrics.listen"):
        root.putChild(b"metrics", MetricsResource(hub))


async def start(hub: Hub, host: str, port: int, reactor, sock=None) -> Listener:
    """The `metrics` listener (metrics.listen set): /metrics and nothing else."""
    root = resource.Resource()
    root.putChild(b"metrics", MetricsResource(hub))
    site = server.Site(root)
    site.displayTracebacks = False
    return listen_tcp(reactor, site, host, port, sock)
