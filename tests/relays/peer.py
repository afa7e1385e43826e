"""A real SMTP server playing the other operator: aiosmtpd, STARTTLS required, client certificate required."""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    client_subject: tuple


@dataclass
class PeerHandler:
    received: list[Received] = field(default_factory=list)
    refuse_with: str = ""  # e.g. "550 5.1.1 No such user": refuse every recipient

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse_with:
            return self.refuse_with
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        cert = session.ssl["ssl_object"].getpeercert() if session.ssl else {}
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content,
                                      cert.get("subject", ())))
        return "250 2.0.0 Ok: queued at the other operator"


class PeerController(Controller):
    def __init__(self, handler: PeerHandler, port: int, context: ssl.SSLContext) -> None:
        self.context = context
        super().__init__(handler, hostname="127.0.0.1", port=port)

    def factory(self):
        return SMTP(self.handler, hostname="mx.autre-operateur.test", tls_context=self.context,
                    require_starttls=True)


def start_peer(pki, port: int, refuse_with: str = "", leaf=None) -> tuple[PeerController, PeerHandler]:
    """`leaf`: the peer's certificate, pki.remote (names 127.0.0.1 and localhost) by default."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    (leaf or pki.remote).configure_cert(context)
    pki.ca.configure_trust(context)
    context.verify_mode = ssl.CERT_REQUIRED  # mutual TLS: the hub must show its certificate
    handler = PeerHandler(refuse_with=refuse_with)
    controller = PeerController(handler, port, context)
    controller.start()
    return controller, handler
