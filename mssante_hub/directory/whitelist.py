"""The trust space's whitelist (liste blanche MSSanté): which operator certificate may speak for which domain.

The official XML (docs/domain.md §2) is hostile input like any other: parsed with defusedxml,
bounded in size, checked against its SHA-256 when one is given. A good file is copied
into the data folder atomically; a bad one leaves the last good copy in place. Lookups
are dictionary lookups on the IDNA (punycode) form of the domain in lower case, and
certificate subject DNs are compared as sets of (attribute OID, value) in case-folded
form, whatever the order in which the RDNs were written.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import defusedxml.ElementTree as SafeET
from cryptography import x509

NAMESPACE = "https://listeblanche.mssante.fr/schema"
MAX_WHITELIST_BYTES = 32 * 1024 * 1024  # the 2025 file is ~3 MiB
MAX_ENTRIES = 200_000

DistinguishedName = frozenset[tuple[str, str]]


class WhitelistError(Exception):
    """A whitelist file cannot be used (unreadable, malformed, wrong checksum)."""


def normalize_domain(domain: str) -> str:
    """Case-insensitive, IDN-safe key of a domain: its IDNA ASCII form in lower case."""
    domain = domain.strip().rstrip(".").lower()
    if not domain:
        return ""
    try:
        return domain.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return domain  # not a valid IDN: kept as is, so it matches nothing it should not


_TYPE_ALIASES = {"E": "1.2.840.113549.1.9.1", "EMAILADDRESS": "1.2.840.113549.1.9.1", "S": "ST",
                 "SN": "2.5.4.4", "SERIALNUMBER": "2.5.4.5", "GIVENNAME": "2.5.4.42"}


def _split_dn(text: str) -> list[tuple[str, str]]:
    """RFC 4514 text, also with RFC 1779 quoted values as the published list has them."""
    pairs, current, quoted, escaped = [], [], False, False
    for char in text + ",":
        if escaped:
            current.append("\\" + char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char in ",;" and not quoted:
            part = "".join(current).strip()
            if part:
                kind, eq, value = part.partition("=")
                if not eq or not kind.strip():
                    raise ValueError(f"not TYPE=value: {part!r}")
                pairs.append((kind.strip(), value))
            current = []
        else:
            current.append(char)
    if quoted:
        raise ValueError("unterminated quote")
    return pairs


def _unescape(value: str) -> str:
    def one(match: re.Match) -> str:
        body = match[1]
        return chr(int(body, 16)) if len(body) == 2 else body

    return re.sub(r"\\([0-9A-Fa-f]{2}|.)", one, value)


def _key(kind: str, value: str) -> tuple[str, str]:
    kind = kind.upper()
    return _TYPE_ALIASES.get(kind, kind), " ".join(value.split()).casefold()


def normalize_dn(dn: str | x509.Name) -> DistinguishedName:
    """A DN as a set of (attribute type, case-folded value), from DN text or a certificate Name.

    Order of RDNs, case and runs of spaces do not matter; quotes and escapes are undone.
    """
    if isinstance(dn, x509.Name):
        return frozenset(_key(a.rfc4514_attribute_name, str(a.value)) for a in dn)
    return frozenset(_key(kind, _unescape(value.strip())) for kind, value in _split_dn(dn.strip()))


@dataclass(frozen=True)
class Entry:
    domain: str
    description: str
    dn: str


@dataclass
class Whitelist:
    generated: str = ""
    by_domain: dict[str, frozenset[DistinguishedName]] = field(default_factory=dict)
    known_dns: frozenset[DistinguishedName] = frozenset()
    entries: int = 0

    def has_domain(self, domain: str) -> bool:
        return normalize_domain(domain) in self.by_domain

    def allows(self, domain: str, dn: DistinguishedName) -> bool:
        """True if this certificate subject is listed for this mail domain."""
        return dn in self.by_domain.get(normalize_domain(domain), ())

    def knows_dn(self, dn: DistinguishedName) -> bool:
        return dn in self.known_dns

    @property
    def domains(self) -> int:
        return len(self.by_domain)


def _text(element, tag: str) -> str:
    found = element.find(f"{{{NAMESPACE}}}{tag}")
    return (found.text or "").strip() if found is not None else ""


def parse(data: bytes) -> Whitelist:
    """A Whitelist from the XML bytes, or WhitelistError saying what is wrong."""
    if len(data) > MAX_WHITELIST_BYTES:
        raise WhitelistError(f"the file is larger than {MAX_WHITELIST_BYTES} bytes")
    if data.rstrip().endswith(b"</ListeDomaines>"):
        # The published file (2025-03-13) stops before closing its root element; close it for it.
        data = data.rstrip() + b"</ListeBlancheMSSante>"
    try:
        root = SafeET.fromstring(data)
    except Exception as exc:  # noqa: BLE001 - defusedxml raises several kinds
        raise WhitelistError(f"not well-formed XML: {exc}") from None
    if root.tag != f"{{{NAMESPACE}}}ListeBlancheMSSante":
        raise WhitelistError(f"the root element is not ListeBlancheMSSante in namespace {NAMESPACE}")
    domains = root.find(f"{{{NAMESPACE}}}ListeDomaines")
    if domains is None:
        raise WhitelistError("no ListeDomaines element")
    collected: dict[str, set[DistinguishedName]] = {}
    count = 0
    for element in domains.iterfind(f"{{{NAMESPACE}}}Domaine"):
        count += 1
        if count > MAX_ENTRIES:
            raise WhitelistError(f"more than {MAX_ENTRIES} entries")
        name, dn_text = _text(element, "Nom"), _text(element, "DNCertificatOperateur")
        if not name or not dn_text:
            raise WhitelistError(f"entry {count} lacks Nom or DNCertificatOperateur")
        try:
            dn = normalize_dn(dn_text)
        except ValueError:
            raise WhitelistError(f"entry {count} ({name}): unreadable DN {dn_text!r}") from None
        collected.setdefault(normalize_domain(name), set()).add(dn)
    if count == 0:
        raise WhitelistError("the list has no Domaine entries")
    by_domain = {d: frozenset(dns) for d, dns in collected.items()}
    known = frozenset(dn for dns in by_domain.values() for dn in dns)
    return Whitelist(_text(root, "DateDeGeneration"), by_domain, known, count)


def check_sha256(data: bytes, expected: str) -> None:
    """Raise WhitelistError unless `expected` (hex, or a `sha256sum` line) is the data's SHA-256."""
    wanted = expected.strip().split()[0].lower() if expected.strip() else ""
    if hashlib.sha256(data).hexdigest() != wanted:
        raise WhitelistError("the SHA-256 checksum does not match the file; the last good list is kept")


def install(source: Path, target: Path, sha256: str | None = None) -> Whitelist:
    """Check `source` and make it the current list at `target`; on any error `target` is untouched."""
    try:
        with open(source, "rb") as handle:
            data = handle.read(MAX_WHITELIST_BYTES + 1)
    except OSError as exc:
        raise WhitelistError(f"cannot read {source}: {exc.strerror}") from None
    if sha256 is not None:
        check_sha256(data, sha256)
    whitelist = parse(data)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(target)
    return whitelist


class WhitelistFile:
    """The current list of a data folder, re-read when the file changes (after `whitelist load`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._current = Whitelist()

    def current(self) -> Whitelist:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return self._current
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp:
            try:
                self._current = parse(self.path.read_bytes())
            except (OSError, WhitelistError):
                pass  # keep the last good list in memory
            self._stamp = stamp
        return self._current
