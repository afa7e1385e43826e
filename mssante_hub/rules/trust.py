"""The trust space: which addresses a message may go to, and which may become a patient's contact.

One rule for every door (submission at RCPT and again in delivery, the webmail in delivery):
an address is in the trust space when its domain is one of the hub's own or a domain the
whitelist (liste blanche) lists. Reply-To and the null sender are judged here too, so that a
patient's authorised contacts never leave the trust space (docs/domain.md §5.2, docs/security.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mssante_hub.directory.whitelist import WhitelistFile

if TYPE_CHECKING:
    from mssante_hub.hub import Hub


def whitelist_of(hub: "Hub") -> WhitelistFile:
    """One re-read-on-change view of the data folder's whitelist per hub."""
    found = getattr(hub, "trust_whitelist", None)
    if found is None:
        found = hub.trust_whitelist = WhitelistFile(hub.config.path_setting("mx.whitelist_file"))
    return found


def in_trust_space(hub: "Hub", address: str) -> bool:
    domain = address.rpartition("@")[2].strip().lower()
    if not domain:
        return False
    return hub.is_local(address) or whitelist_of(hub).current().has_domain(domain)


def outside(hub: "Hub", addresses: list[str]) -> list[str]:
    """Those of `addresses` a message may not be sent to."""
    return [a for a in addresses if not in_trust_space(hub, a)]
