"""The "imap" listener: IMAP with STARTTLS (port 143 in production)."""

from mssante_hub.hub import Hub
from mssante_hub.admin.listeners import Listener


async def start(hub: Hub, host: str, port: int, reactor, sock=None) -> Listener:
    from mssante_hub.imap.listen import start_listener

    return await start_listener(hub, host, port, reactor, implicit_tls=False, sock=sock)
