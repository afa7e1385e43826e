"""What the server announces, before and after TLS and login."""

from __future__ import annotations

# Always announced (RFC 3501 base plus the extensions implemented in this package).
BASE = (b"IMAP4rev1", b"IMAP4rev2", b"LITERAL+", b"SASL-IR", b"ID", b"ENABLE", b"IDLE", b"NAMESPACE", b"UNSELECT", b"UIDPLUS",
        b"MOVE", b"CHILDREN", b"SPECIAL-USE", b"CREATE-SPECIAL-USE", b"LIST-EXTENDED", b"CONDSTORE", b"QRESYNC", b"ESEARCH",
        b"QUOTA", b"QUOTA=RES-STORAGE", b"ACL", b"RIGHTS=texk", b"SORT", b"SORT=DISPLAY", b"ESORT",
        b"THREAD=REFERENCES", b"THREAD=ORDEREDSUBJECT", b"LIST-STATUS", b"MULTIAPPEND", b"BINARY", b"SEARCHRES", b"UTF8=ACCEPT")
AUTH_MECHANISMS = (b"PLAIN",)
BEARER_MECHANISMS = (b"XOAUTH2", b"OAUTHBEARER")  # announced when an OpenID provider is configured
REV2 = b"IMAP4rev2"
UTF8_ACCEPT = b"UTF8=ACCEPT"
UTF8_NAMES = frozenset({REV2, UTF8_ACCEPT})  # once either is enabled, mailbox names are UTF-8 (RFC 9051, 6855)
ENABLEABLE = (b"CONDSTORE", b"QRESYNC", REV2, UTF8_ACCEPT)


def announce(tls_active: bool, tls_available: bool, authenticated: bool, bearer: bool = False) -> list[bytes]:
    caps = list(BASE)
    if not tls_active:
        # No credentials in clear: say so (RFC 3501 §6.2.3) and offer the way out.
        if tls_available:
            caps.append(b"STARTTLS")
        caps.append(b"LOGINDISABLED")
    elif not authenticated:
        caps += [b"AUTH=" + m for m in AUTH_MECHANISMS + (BEARER_MECHANISMS if bearer else ())]
    return caps
