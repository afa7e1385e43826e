"""HTTP plumbing of the web listener: bounded request bodies, JSON in and out, API errors.

Twisted's request spools a body of unknown or large length to a temporary file;
a webmail body is a patient's message, so it stays in memory, and past the
configured cap the connection is answered 413 and closed, never read to the end.
Bodies held at once across the site are capped too (503 past it): memory stays
bounded however many uploads run.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

import orjson
from twisted.web import server

from mssante_hub.rules import refusals

JSON_TYPE = b"application/json; charset=utf-8"
# Deepest JSON nesting a request may carry: the API's own bodies are two levels deep.
MAX_JSON_DEPTH = 8
# Every API answer: never cached, never sniffed, never framed, no referrer leak.
SECURITY_HEADERS = {
    b"server": b"mssante-hub",  # not the framework and its version
    b"cache-control": b"no-store",
    b"x-content-type-options": b"nosniff",
    b"x-frame-options": b"DENY",
    b"referrer-policy": b"no-referrer",
    b"content-security-policy": b"default-src 'none'; frame-ancestors 'none'",
}
# On every answer of the listener (pages, API, health check, autoconfig), whatever else they set.
BASELINE_HEADERS = {b"x-content-type-options": b"nosniff", b"referrer-policy": b"no-referrer"}
# Only once the client reached us over TLS (directly, or through a trusted proxy that says so).
HSTS = b"max-age=31536000; includeSubDomains"
_REFUSED = (b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
            b"Connection: close\r\nContent-Length: %d\r\n\r\n%s")
_REASONS = {413: b"Payload Too Large", 503: b"Service Unavailable"}


@dataclass(frozen=True)
class ApiError(Exception):
    """An answer other than success: HTTP status, a stable code, French then English text."""

    status: int
    code: str
    fr: str
    en: str

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "fr": self.fr, "en": self.en}}


BAD_JSON = ApiError(400, "bad_request", "Requête invalide", "Malformed request")
NOT_JSON = ApiError(415, "unsupported_media_type", "Le corps doit être du JSON", "The body must be JSON")
TOO_LARGE = ApiError(413, "too_large", "Requête trop volumineuse", "Request too large")
UNAUTHENTICATED = ApiError(401, "unauthenticated", "Session absente ou expirée, reconnectez-vous",
                           "No session or session expired, sign in again")
LOGIN_FAILED = ApiError(401, "login_failed", "Identifiant ou mot de passe incorrect", "Wrong login or password")
THROTTLED = ApiError(429, "throttled", "Trop d'essais, réessayez plus tard", "Too many attempts, try again later")
SIGN_INS_BUSY = ApiError(429, "sign_ins_busy", "Trop de connexions en cours pour cet identifiant, réessayez dans un instant",
                         "Too many sign-ins in progress for this login, try again shortly")
FORBIDDEN = ApiError(403, "forbidden", "Accès refusé", "Access denied")
NOT_FOUND = ApiError(404, "not_found", "Introuvable", "Not found")
METHOD_NOT_ALLOWED = ApiError(405, "method_not_allowed", "Méthode non permise", "Method not allowed")
BUSY = ApiError(503, "busy", "Serveur occupé, réessayez dans un instant", "Server busy, try again shortly")
UNAVAILABLE = ApiError(503, "unavailable", "Service momentanément indisponible, réessayez plus tard",
                       "Service temporarily unavailable, try again later")

# Enhanced status classes (RFC 3463) of refusals -> HTTP status of the API.
_REFUSAL_STATUS = {"5.7": 403, "5.3": 413, "5.1": 422, "5.2": 422, "5.5": 422, "5.6": 422}


MAX_ID_DIGITS = 18  # a row id in a path fits a signed 64-bit integer


def is_id(text: str, max_digits: int = MAX_ID_DIGITS) -> bool:
    """A row id in a path or header: ASCII digits only. str.isdigit() alone also takes '³' or '²', which int()
    refuses: found by schemathesis as a 503 (tests/web/test_ids.py)."""
    return text.isascii() and text.isdigit() and 0 < len(text) <= max_digits


def refusal_error(reason: refusals.Reason) -> ApiError:
    """The API's answer to a refused message: the same words as the SMTP reply, and its status code."""
    if not reason.permanent:
        status = 503
    else:
        status = _REFUSAL_STATUS.get(reason.status[:3], 422)
    return ApiError(status, reason.status, reason.fr, reason.en)


def _too_deep(value: Any, depth: int = 0) -> bool:
    if depth > MAX_JSON_DEPTH:
        return True
    if isinstance(value, dict):
        return any(_too_deep(v, depth + 1) for v in value.values())
    if isinstance(value, list):
        return any(_too_deep(v, depth + 1) for v in value)
    return False


def read_json(request: server.Request) -> dict[str, Any]:
    """The request's JSON object, or ApiError: content type, UTF-8, an object, bounded depth."""
    ctype = (request.getHeader(b"content-type") or b"").split(b";")[0].strip().lower()
    if ctype != b"application/json":
        raise NOT_JSON
    try:
        value = json.loads(request.content.getvalue().decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BAD_JSON from None
    if not isinstance(value, dict) or _too_deep(value):
        raise BAD_JSON
    return value


# orjson writes what json.dumps(body, ensure_ascii=False, default=str) writes (datetimes and dataclasses
# through str as well, non-string keys as strings), without the spaces, ~50x faster: json.dumps of an agenda
# listing of 5,000 items took ~70 ms of the event loop. What orjson refuses (an integer over 64 bits) goes
# to json as before.
_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def encode(body: dict[str, Any] | list) -> bytes:
    """A JSON answer's bytes (UTF-8)."""
    try:
        return orjson.dumps(body, default=str, option=_ORJSON_OPTIONS)
    except orjson.JSONEncodeError:
        return json.dumps(body, ensure_ascii=False, default=str).encode("utf-8")


def respond(request: server.Request, status: int, body: dict[str, Any] | list | None) -> None:
    """Write one JSON answer and finish, unless the client has gone."""
    if getattr(request, "gone", False):
        return
    request.setResponseCode(status)
    for name, value in SECURITY_HEADERS.items():
        request.setHeader(name, value)
    if body is None:
        request.finish()
        return
    request.setHeader(b"content-type", JSON_TYPE)
    payload = encode(body)
    request.setHeader(b"content-length", str(len(payload)).encode())
    request.write(payload)
    request.finish()


def respond_file(request: server.Request, data: bytes, content_type: bytes, filename: str) -> None:
    """Write one download (e.g. an encrypted export) and finish, unless the client has gone."""
    if getattr(request, "gone", False):
        return
    request.setResponseCode(200)
    for name, value in SECURITY_HEADERS.items():
        request.setHeader(name, value)
    request.setHeader(b"content-type", content_type)
    request.setHeader(b"content-disposition", f'attachment; filename="{filename}"'.encode("ascii"))
    request.setHeader(b"content-length", str(len(data)).encode())
    request.write(data)
    request.finish()


class BodyBudget:
    """Bytes of request bodies held at once by one site: many slow uploads cannot exhaust memory."""

    def __init__(self, max_request_bytes: int, max_total_bytes: int) -> None:
        self.max_request_bytes = max_request_bytes
        self.max_total_bytes = max_total_bytes
        self.held = 0


class BoundedRequest(server.Request):
    """A request whose body is held in memory, capped per request and across the site (`site.bodies`)."""

    gone = False
    refused = False
    _held = 0

    def gotLength(self, length: int | None) -> None:  # noqa: N802 - Twisted's naming
        self.content = io.BytesIO()
        if length is not None and length > self._budget().max_request_bytes:
            self._refuse(TOO_LARGE)

    def handleContentChunk(self, data: bytes) -> None:  # noqa: N802
        if self.refused:
            return
        budget = self._budget()
        if self._held + len(data) > budget.max_request_bytes:
            self._refuse(TOO_LARGE)
            return
        if budget.held + len(data) > budget.max_total_bytes:
            self._refuse(BUSY)
            return
        budget.held += len(data)
        self._held += len(data)
        self.content.write(data)

    def process(self) -> None:
        if self.refused:  # a refused body was answered already, and is not handed on
            return
        for name, value in BASELINE_HEADERS.items():
            self.setHeader(name, value)
        if self._over_tls():
            self.setHeader(b"strict-transport-security", HSTS)
        super().process()

    def _over_tls(self) -> bool:
        if self.isSecure():
            return True
        site = self.channel.site
        from_proxy = getattr(site, "is_trusted_proxy", lambda host: False)(getattr(self.getClientAddress(), "host", ""))
        return from_proxy and (self.getHeader(b"x-forwarded-proto") or b"").strip().lower() == b"https"

    def finish(self) -> None:
        self._release()
        super().finish()

    def connectionLost(self, reason) -> None:  # noqa: N802
        self.gone = True
        self._release()
        super().connectionLost(reason)

    def _budget(self) -> BodyBudget:
        return self.channel.site.bodies

    def _release(self) -> None:
        if self._held:
            self._budget().held -= self._held
            self._held = 0
        self.content = io.BytesIO()

    def _refuse(self, error: ApiError) -> None:
        # Answered on the transport directly: the request may not be complete, nor even processed yet.
        self.refused = True
        self._release()
        payload = json.dumps(error.body(), ensure_ascii=False).encode()
        transport = self.channel.transport
        transport.write(_REFUSED % (error.status, _REASONS[error.status], len(payload), payload))
        transport.loseConnection()
