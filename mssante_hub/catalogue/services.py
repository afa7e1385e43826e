"""The operator's catalogue file: read under limits, then loaded (or updated, by service id) in one transaction.

`mssante-hub catalogue load FILE` (catalogue/commands.py) reads JSON: one service or a list of them, each
    {"id": "suivi-diabete", "editor": "Éditeur SAS", "name": "Suivi Diabète",
     "description": "...", "urls": {"site": "https://...", "privacy": "https://..."},
     "purposes": ["suivi de la glycémie"], "themes": ["diabète", "maladies chroniques"],
     "status": "online" | "offline" | "dereferenced" | "suspended", "data_exchange": true,
     "version": "2.1", "scopes": ["measures", "agenda"], "mailbox": "suivi-diabete@hub.test"}
The mailbox is the service's APP mailbox on this hub: what it sends to a patient is held to the patient's
consent (catalogue/consent.py). Loading the same file again changes nothing; a changed entry is updated:
- a new version asks every patient who approved an older one to approve again before now +
  `catalogue.reapproval_days` (after that date their consent lapses: catalogue/consent.py, the daily job);
- dereferenced or suspended: every consent lapses at once.
Each consequence for a patient is traced on their space (their access history shows it) and marks their
content-free notification of kind `service` ("des nouvelles d'un service connecté").
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field

from mssante_hub import audit
from mssante_hub.hub import Hub
from mssante_hub.patients import notifications
from storage import accounts as account_repo
from storage import catalogue as store

ONLINE, OFFLINE, DEREFERENCED, SUSPENDED = "online", "offline", "dereferenced", "suspended"
STATUSES = (ONLINE, OFFLINE, DEREFERENCED, SUSPENDED)
ENDED = frozenset({DEREFERENCED, SUSPENDED})  # access ends at once (consents lapse)
DOCUMENTS, AGENDA, MEASURES, MESSAGES = "documents", "agenda", "measures", "messages"
SCOPES = (DOCUMENTS, AGENDA, MEASURES, MESSAGES)
SCOPE_LABELS = {DOCUMENTS: ("Documents de santé", "Health documents"), AGENDA: ("Rendez-vous", "Appointments"),
                MEASURES: ("Mesures du profil médical", "Medical profile measures"),
                MESSAGES: ("Messages", "Messages")}
MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_SERVICES = 2000
MAX_NAME_CHARS = 200
MAX_DESCRIPTION_CHARS = 4000
MAX_LIST_ITEMS = 20
MAX_ITEM_CHARS = 200
MAX_URL_CHARS = 500
MAX_VERSION_CHARS = 64
MAX_ADDRESS_CHARS = 320
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_URL_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_ADDRESS = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9.-]{1,253}$")
REQUIRED = ("id", "editor", "name", "status", "data_exchange", "version", "mailbox")


class CatalogueError(ValueError):
    """The file is refused; the message says which service and field."""


def _text(value, limit: int, what: str, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or len(value) > limit or (required and not value.strip()):
        raise CatalogueError(f"{what}: a text of at most {limit} characters expected")
    if any(ord(c) < 32 and c not in "\n\t" for c in value):
        raise CatalogueError(f"{what}: control characters refused")
    return value.strip()


def _texts(value, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_LIST_ITEMS:
        raise CatalogueError(f"{what}: a list of at most {MAX_LIST_ITEMS} texts expected")
    return tuple(_text(v, MAX_ITEM_CHARS, what) for v in value)


def _urls(value, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > MAX_LIST_ITEMS:
        raise CatalogueError(f"{where} urls: an object of at most {MAX_LIST_ITEMS} named URLs expected")
    found = {}
    for name, url in value.items():
        if not isinstance(name, str) or not _URL_NAME.match(name):
            raise CatalogueError(f"{where} urls: names are short lower-case words")
        url = _text(url, MAX_URL_CHARS, f"{where} urls.{name}")
        if not url.startswith("https://") or any(c.isspace() for c in url):
            raise CatalogueError(f"{where} urls.{name}: an https:// URL expected")
        found[name] = url
    return found


def _service(entry, number: int) -> store.Service:
    where = f"service {number}"
    if not isinstance(entry, dict):
        raise CatalogueError(f"{where}: an object expected")
    for name in REQUIRED:
        if name not in entry:
            raise CatalogueError(f"{where}: {name} missing")
    service_id = entry["id"]
    if not isinstance(service_id, str) or not _ID.match(service_id):
        raise CatalogueError(f"{where}: id is 1 to 64 lower-case letters, digits, '.', '_' or '-'")
    where = f"service {service_id}"
    status = entry["status"]
    if status not in STATUSES:
        raise CatalogueError(f"{where}: status is one of {', '.join(STATUSES)}")
    if not isinstance(entry["data_exchange"], bool):
        raise CatalogueError(f"{where}: data_exchange is true or false")
    scopes = entry.get("scopes", [])
    if not isinstance(scopes, list) or any(s not in SCOPES for s in scopes) or len(set(scopes)) != len(scopes):
        raise CatalogueError(f"{where}: scopes are among {', '.join(SCOPES)}, each once")
    if scopes and not entry["data_exchange"]:
        raise CatalogueError(f"{where}: a service that exchanges no data offers no scopes")
    mailbox = entry["mailbox"]
    if not isinstance(mailbox, str) or len(mailbox) > MAX_ADDRESS_CHARS or not _ADDRESS.match(mailbox):
        raise CatalogueError(f"{where}: mailbox is the service's e-mail address")
    return store.Service(
        id=service_id, editor=_text(entry["editor"], MAX_NAME_CHARS, f"{where} editor"),
        name=_text(entry["name"], MAX_NAME_CHARS, f"{where} name"),
        description=_text(entry.get("description"), MAX_DESCRIPTION_CHARS, f"{where} description", False),
        urls=_urls(entry.get("urls"), where), purposes=_texts(entry.get("purposes"), f"{where} purposes"),
        themes=_texts(entry.get("themes"), f"{where} themes"), status=status,
        data_exchange=entry["data_exchange"], version=_text(entry["version"], MAX_VERSION_CHARS, f"{where} version"),
        scopes=tuple(s for s in SCOPES if s in scopes), mailbox=mailbox.strip().lower())


def parse(data: bytes) -> list[store.Service]:
    """The services of a catalogue file, checked; CatalogueError says which field is wrong."""
    if len(data) > MAX_FILE_BYTES:
        raise CatalogueError(f"file larger than {MAX_FILE_BYTES} bytes")
    try:
        loaded = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise CatalogueError(f"not JSON: {type(exc).__name__}") from None
    entries = loaded if isinstance(loaded, list) else [loaded]
    if len(entries) > MAX_SERVICES:
        raise CatalogueError(f"more than {MAX_SERVICES} services")
    found = [_service(entry, number) for number, entry in enumerate(entries, 1)]
    for what in ("id", "mailbox"):
        values = [getattr(s, what) for s in found]
        if len(set(values)) != len(values):
            raise CatalogueError(f"two services with the same {what}")
    return found


def check_mailboxes(hub: Hub, services: list[store.Service]) -> None:
    """Each mailbox is an address of this hub, and where its account exists it is an APP mailbox; another
    service's mailbox already loaded cannot be taken."""
    for entry in services:
        if not hub.is_local(entry.mailbox):
            raise CatalogueError(f"service {entry.id}: mailbox {entry.mailbox} is not an address of this hub")

    def look(conn) -> None:
        for entry in services:
            account = account_repo.by_address(conn, entry.mailbox)
            if account is not None and account.type != "APP":
                raise CatalogueError(f"service {entry.id}: {entry.mailbox} is a {account.type} mailbox, not APP")
            owner = store.mailbox_owner(conn, entry.mailbox)
            if owner is not None and owner != entry.id:
                raise CatalogueError(f"service {entry.id}: {entry.mailbox} is the mailbox of service {owner}")

    hub.read_sync(look)


@dataclass
class Loaded:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    reapprovals: int = 0
    lapsed: int = 0
    missing_mailboxes: list[str] = field(default_factory=list)


def load(hub: Hub, services: list[store.Service], now: dt.datetime | None = None) -> Loaded:
    """Save every service in one transaction, with what a change means for the consents, traced."""
    now = now or dt.datetime.now(dt.timezone.utc)
    check_mailboxes(hub, services)
    limit = now + dt.timedelta(days=hub.config.get("catalogue.reapproval_days"))
    result = Loaded()

    def work(conn) -> None:
        for entry in services:
            before = store.save_service(conn, entry)
            if before is None:
                result.new += 1
            elif before == entry:
                result.unchanged += 1
            else:
                result.updated += 1
            if account_repo.by_address(conn, entry.mailbox) is None:
                result.missing_mailboxes.append(entry.mailbox)
            if entry.status in ENDED:
                for account_id in store.lapse_service(conn, entry.id):
                    result.lapsed += 1
                    audit.record(conn, actor="operator", actor_type=audit.ActorType.OPERATOR,
                                 action=audit.CATALOGUE_LAPSE, subject_account_id=account_id,
                                 target=f"service:{entry.id}", outcome=entry.status)
                    notifications.mark_pending(conn, account_id, notifications.SERVICE)
            elif before is not None and before.version != entry.version:
                for account_id in store.ask_reapproval(conn, entry.id, entry.version, limit):
                    result.reapprovals += 1
                    audit.record(conn, actor="operator", actor_type=audit.ActorType.OPERATOR,
                                 action=audit.CATALOGUE_REAPPROVAL, subject_account_id=account_id,
                                 target=f"service:{entry.id} version:{entry.version} by:{limit.date()}",
                                 outcome="pending")
                    # Content-free: "news from a connected service", never which (patients/notifications.py).
                    notifications.mark_pending(conn, account_id, notifications.SERVICE)
        audit.record(conn, actor="operator", actor_type=audit.ActorType.OPERATOR, action=audit.CATALOGUE_LOAD,
                     target=f"services:{len(services)} new:{result.new} updated:{result.updated}", outcome="loaded")

    hub.committer.run(work)
    return result
