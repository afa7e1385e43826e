"""A real HTTP client (http.client) for the webmail API of a served hub."""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from typing import Any


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any

    @property
    def error(self) -> dict:
        return self.body["error"]


class WebClient:
    def __init__(self, port: int, token: str | None = None) -> None:
        self.port = port
        self.token = token

    def call(self, method: str, path: str, body: Any = None, *, raw: bytes | None = None,
             headers: dict[str, str] | None = None) -> Answer:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        sent = dict(headers or {})
        if self.token:
            sent.setdefault("Authorization", f"Bearer {self.token}")
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            sent.setdefault("Content-Type", "application/json")
        try:
            connection.request(method, path, body=data, headers=sent)
            response = connection.getresponse()
            payload = response.read()
            parsed = json.loads(payload) if payload else None
            return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, parsed)
        finally:
            connection.close()

    def login(self, login: str, password: str) -> "WebClient":
        answer = self.call("POST", "/api/session", {"login": login, "password": password})
        assert answer.status == 201, answer.body
        return WebClient(self.port, answer.body["token"])

    def send(self, to: list[str], subject: str = "Bonjour", body: str = "Texte.", **extra) -> Answer:
        return self.call("POST", "/api/messages", {"to": to, "subject": subject, "body": body, **extra})
