"""One delivery attempt to a next hop: STARTTLS required, the hub's client certificate, DSN passed on.

The outcome says whether the item is done (sent), may be retried (temporary: 4xx,
network, TLS) or will never go (permanent: 5xx). Replies are kept for the DSN.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import aiosmtplib
from relays import status

SENT, TEMPORARY, PERMANENT = "sent", "temporary", "permanent"


@dataclass(frozen=True)
class Hop:
    host: str
    port: int
    tls_name: str = ""  # the name its certificate must carry when `host` is an address found through DNS


@dataclass(frozen=True)
class Outcome:
    kind: str
    reply: str  # the remote's reply, or what went wrong locally
    status: str  # enhanced status code for the DSN
    remote_mta: str = ""
    dsn_passed_on: bool = False  # the next hop speaks DSN: it reports success itself


def client_context(cert_file: Path, key_file: Path, ca_files: list[Path]) -> ssl.SSLContext:
    """TLS 1.2+, the peer verified against the trust-space CAs only, our certificate offered."""
    if ca_files:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies chain and host name
        for ca in ca_files:
            context.load_verify_locations(cafile=str(ca))
    else:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(cert_file), str(key_file))
    return context


def _status_of(code: int, message: str) -> str:
    first = message.split(" ", 1)[0]
    parts = first.split(".")
    if len(parts) == 3 and all(p.isdigit() for p in parts) and parts[0] in "245":
        return first
    return f"{str(code)[0]}.0.0"


def _refused(exc: aiosmtplib.SMTPResponseException, remote: str) -> Outcome:
    kind = PERMANENT if 500 <= exc.code < 600 else TEMPORARY
    text = " ".join(str(exc.message).split())[:300]
    return Outcome(kind, f"{exc.code} {text}", _status_of(exc.code, text), remote)


def dsn_rcpt_options(notify: str, orcpt: str) -> list[str]:
    options = [f"NOTIFY={notify}"] if notify else []
    if orcpt:
        options.append(f"ORCPT={orcpt}")
    return options


async def attempt(hop: Hop, tls: ssl.SSLContext, helo: str, mail_from: str, rcpt: str, raw: bytes, *,
                  notify: str = "", orcpt: str = "", ret: str = "", envid: str = "",
                  timeout: float = 30.0) -> Outcome:
    """Try once to hand one message for one recipient to the next hop."""
    remote = f"{hop.host}:{hop.port}"
    client = aiosmtplib.SMTP(hostname=hop.host, port=hop.port, local_hostname=helo, start_tls=False,
                             tls_context=tls, timeout=timeout)
    try:
        await client.connect()
        # STARTTLS is required (no STARTTLS offered: SMTPException, retried later); the certificate must name
        # the host we meant to reach (the MX host name when DNS routed us).
        await client.starttls(server_hostname=hop.tls_name or hop.host)
        await client.ehlo()  # what the server offers over TLS (RFC 3207 §4.2: forget what came before)
        dsn = client.supports_extension("dsn")
        mail_options = []
        if dsn and ret:
            mail_options.append(f"RET={ret}")
        if dsn and envid:
            mail_options.append(f"ENVID={envid}")
        if not raw.isascii() and client.supports_extension("8bitmime"):
            mail_options.append("BODY=8BITMIME")
        size_limit = client.esmtp_extensions.get("size", "")
        if size_limit.isdigit() and 0 < int(size_limit) < len(raw):
            return Outcome(PERMANENT, f"message larger than the next hop's SIZE {size_limit}", status.TOO_BIG_FOR_NEXT_HOP, remote)
        await client.mail(mail_from, options=mail_options)
        await client.rcpt(rcpt, options=dsn_rcpt_options(notify, orcpt) if dsn else [])
        response = await client.data(raw)
        return Outcome(SENT, f"{response.code} {response.message}"[:300], _status_of(response.code, response.message),
                       remote, dsn_passed_on=dsn)
    except aiosmtplib.SMTPResponseException as exc:
        return _refused(exc, remote)
    except (aiosmtplib.SMTPException, OSError, ssl.SSLError, TimeoutError) as exc:
        return Outcome(TEMPORARY, f"{type(exc).__name__}: {exc}"[:300], status.NETWORK_TEMPORARY, remote)
    finally:
        try:
            await client.quit()
        except Exception:  # noqa: BLE001 - the outcome is already known
            client.close()
