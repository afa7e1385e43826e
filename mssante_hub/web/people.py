"""Who a message is from or to, as the patient sees it: names, never addresses (docs/domain.md §5.5).

A local professional is named by the account's display name (what the hub knows,
whatever the From field claims), with the profession and structure the operator recorded
(`account add|describe`); a trust-space sender by the name recorded when they wrote to
the patient (patients/conversations.py), then by the From field's display name, and
nothing more. An address is never shown: with no name known, a neutral label.
"""

from __future__ import annotations

import email.utils
import functools
from dataclasses import dataclass, field

from sqlalchemy import Connection

from mssante_hub.accounts.identity import PROFESSIONAL_TYPES
from mssante_hub.patients import conversations
from storage import accounts as account_repo

MAX_NAME_CHARS = 200
MAX_CACHED_FIELD_CHARS = 2_048
PARSED_FIELDS_CACHED = 2_048  # per cache (first address, all addresses): at most 4 MiB of fields each
UNKNOWN_SENDER = "Correspondant non identifié"
YOURSELF = "Vous"


def address_of(field: str) -> tuple[str, str]:
    """(display name, lower-case address) of a From-like field's first address."""
    field = field or ""
    # Cached as addresses_of is (below): an inbox row asks for its From twice, and the parser is pure Python.
    return _first(field) if len(field) <= MAX_CACHED_FIELD_CHARS else _first.__wrapped__(field)


@functools.lru_cache(maxsize=PARSED_FIELDS_CACHED)
def _first(field: str) -> tuple[str, str]:
    try:
        name, address = email.utils.parseaddr(field or "")
    except (ValueError, TypeError):
        return "", ""
    return "".join(c for c in name if c.isprintable()).strip()[:MAX_NAME_CHARS], address.strip().lower()


def addresses_of(field: str) -> list[tuple[str, str]]:
    field = field or ""
    # Long fields (many recipients) are parsed each time: the cache holds small ones only.
    return list(_parsed(field) if len(field) <= MAX_CACHED_FIELD_CHARS else _parsed.__wrapped__(field))


# A listing parses the same few From/To fields over and over (one correspondent, many messages), and the email
# package's address parser is pure Python: a third of an inbox page. Bounded; in this process's memory only.
@functools.lru_cache(maxsize=PARSED_FIELDS_CACHED)
def _parsed(field: str) -> tuple[tuple[str, str], ...]:
    try:
        pairs = email.utils.getaddresses([field])
    except (ValueError, TypeError):
        return ()
    return tuple(("".join(c for c in n if c.isprintable()).strip()[:MAX_NAME_CHARS], a.strip().lower())
                 for n, a in pairs if "@" in a)


@dataclass
class Names:
    """Names for the addresses of one holder's messages, looked up once per request."""

    holder_address: str
    accounts: dict[str, str]
    contacts: dict[str, str]
    details: dict[str, account_repo.Details] = field(default_factory=dict)

    @classmethod
    def load(cls, conn: Connection, holder_id: int, holder_address: str, addresses: set[str]) -> Names:
        wanted = sorted(a for a in addresses if a)
        if not wanted:
            return cls(holder_address.lower(), {}, {})
        rows = account_repo.by_addresses(conn, wanted)
        accounts = {a: r.display_name for a, r in rows.items() if r.display_name}
        local = [a for a, r in rows.items() if r.type in PROFESSIONAL_TYPES]
        known = conversations.contacts(conn, holder_id, wanted)
        return cls(holder_address.lower(), accounts, {a: c.display_name for a, c in known.items() if c.display_name},
                   account_repo.details_of(conn, local))

    def name(self, display_name: str, address: str) -> str:
        if address and address == self.holder_address:
            return YOURSELF
        if address in self.accounts:
            return self.accounts[address]
        if address in self.contacts and "@" not in self.contacts[address]:
            return self.contacts[address]
        if display_name and "@" not in display_name:
            return display_name
        return UNKNOWN_SENDER

    def about(self, address: str) -> dict[str, str]:
        """{"profession", "structure"} of a local professional ("" where the hub knows none)."""
        known = self.details.get(address)
        return {"profession": known.profession if known else "", "structure": known.structure if known else ""}

    def of_field(self, field: str) -> str:
        return self.name(*address_of(field))

    def of_list(self, field: str) -> list[str]:
        return [self.name(n, a) for n, a in addresses_of(field)]


def wanted_addresses(*fields: str) -> set[str]:
    return {a for field in fields for _, a in addresses_of(field)}
