"""/api/openapi.json describes the API the server really serves: the same paths and methods as the routes
it registers, and every described operation answered by a route (never the router's 404/405)."""

from __future__ import annotations

import re

from mssante_hub.web.openapi import dossier_path, profile_path, route_path
from tests.web.support import WebClient


def _registered(web_hub) -> set[tuple[str, str]]:
    """The routes of the served hub's API resource (web/api.py's table), as (METHOD, path)."""
    from mssante_hub.web.server import build_site

    site = build_site(web_hub.hub)
    api = site.resource.children[b"api"]
    routes = {(method, route_path(name)) for method, name in api._routes}
    # /api/dossier/... is routed by its own table (web/dossier_api.py), not web/api.py's.
    dossier = {(method, dossier_path(shape)) for shape, methods in api.dossier.routes().items() for method in methods}
    assert dossier and not routes & dossier
    profile = {(method, profile_path(shape)) for shape, methods in api.profile.routes().items() for method in methods}
    assert profile and not routes & profile
    # /api/agenda/... and /api/catalogue/... likewise (web/agenda_api.py's and web/catalogue_api.py's ROUTES).
    return routes | dossier | profile | set(api.agenda.ROUTES) | set(api.catalogue.ROUTES)


def test_the_description_is_openapi_3_and_names_every_route(web_hub):
    answer = WebClient(web_hub.port).call("GET", "/api/openapi.json")
    assert answer.status == 200 and answer.headers["content-type"].startswith("application/json")
    spec = answer.body
    assert spec["openapi"].startswith("3.")
    described = {(method.upper(), path) for path, operations in spec["paths"].items() for method in operations}
    assert described == _registered(web_hub)


def test_every_described_operation_reaches_a_route(web_hub):
    client = WebClient(web_hub.port)
    spec = client.call("GET", "/api/openapi.json").body
    for path, operations in spec["paths"].items():
        concrete = re.sub(r"\{[^}]+\}", "1", path)
        for method in operations:
            answer = client.call(method.upper(), concrete, {} if method in ("post", "put") else None)
            # Without a session a route answers 401 (or 400/415/422 for a public one, 200 for this description);
            # an unknown route would be the router's 404 not_found or 405.
            assert answer.status not in (404, 405), (method, path, answer.status, answer.body)
