"""The webmail's pages: a fixed list of static files, read once from the package, served with a strict policy.

A fixed list, not a directory: nothing else of the package can be fetched, and
there is no listing. The Content-Security-Policy allows only this origin's own
script, style and API (no inline script, no framing), so that message content,
always written as text by app.js, could not run even if it tried.
"""

from __future__ import annotations

from importlib import resources

from twisted.web import resource

PAGES = {
    b"": ("index.html", b"text/html; charset=utf-8"),
    b"app.js": ("app.js", b"text/javascript; charset=utf-8"),
    b"app-core.js": ("app-core.js", b"text/javascript; charset=utf-8"),
    b"app-mail.js": ("app-mail.js", b"text/javascript; charset=utf-8"),
    b"app-docs.js": ("app-docs.js", b"text/javascript; charset=utf-8"),
    b"app-profile.js": ("app-profile.js", b"text/javascript; charset=utf-8"),
    b"app-agenda.js": ("app-agenda.js", b"text/javascript; charset=utf-8"),
    b"app-chart.js": ("app-chart.js", b"text/javascript; charset=utf-8"),
    b"app-spaces.js": ("app-spaces.js", b"text/javascript; charset=utf-8"),
    b"app-totp.js": ("app-totp.js", b"text/javascript; charset=utf-8"),
    b"app-i18n.js": ("app-i18n.js", b"text/javascript; charset=utf-8"),
    b"app-i18n-en.js": ("app-i18n-en.js", b"text/javascript; charset=utf-8"),
    b"app-catalogue.js": ("app-catalogue.js", b"text/javascript; charset=utf-8"),
    b"app-settings.js": ("app-settings.js", b"text/javascript; charset=utf-8"),
    b"app.css": ("app.css", b"text/css; charset=utf-8"),
    b"favicon.ico": ("favicon.ico", b"image/x-icon"),  # browsers ask for it: a local file, not a 404
}
PAGE_HEADERS = {
    b"server": b"mssante-hub",
    b"content-security-policy": (b"default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                                 b"img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"),
    b"x-content-type-options": b"nosniff",
    b"x-frame-options": b"DENY",
    b"referrer-policy": b"no-referrer",
    b"cache-control": b"no-cache",
}


class Page(resource.Resource):
    isLeaf = True

    def __init__(self, body: bytes, content_type: bytes) -> None:
        super().__init__()
        self.body = body
        self.content_type = content_type

    def render_GET(self, request) -> bytes:  # noqa: N802 - Twisted's naming
        if request.postpath:  # a leaf: "/app.js/anything" is not a page
            return resource.NoResource().render(request)
        for name, value in PAGE_HEADERS.items():
            request.setHeader(name, value)
        request.setHeader(b"content-type", self.content_type)
        return self.body


def register(root: resource.Resource) -> None:
    static = resources.files("mssante_hub.web") / "static"
    for path, (name, content_type) in PAGES.items():
        root.putChild(path, Page((static / name).read_bytes(), content_type))
