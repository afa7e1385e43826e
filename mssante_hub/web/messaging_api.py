"""The messaging side of the patient's space in the JSON API: what the pages show beyond raw messages.

    GET    /api/home             Accueil: unread messages (names and subjects for the page, never the title)
    GET    /api/conversations    one line per professional: name, unread, last date, ended ("a mis fin à vos
                                 échanges", docs/domain.md §5.3), whether the patient may write
    GET    /api/recipients       whom the patient may write to now, by rules/policy.py's own rule, and the
                                 attachment types and budget of §5.6
    DELETE /api/sessions         sign out everywhere: every session of the account ends

Names come from web/people.py (never an address); times are ISO 8601 with their
offset (web/rendering.iso). The contact's address is in the JSON (the page needs
it to write) but is never shown.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from sqlalchemy import Connection, select
from twisted.web import server

from mssante_hub import audit
from mssante_hub.accounts import identity
from mssante_hub.hub import Hub
from mssante_hub.patients import conversations, derived_keys
from mssante_hub.reader import Reader
from mssante_hub.rules import policy, refusals
from mssante_hub.web import rendering, spaces
from mssante_hub.web.people import Names, address_of, addresses_of, wanted_addresses
from mssante_hub.web.sessions import Session
from storage import accounts as account_repo
from storage import dossier as dossier_store
from storage import folders, messages, sessions
from storage.models import Account
from storage.patients import PatientProfile

SEEN = "\\Seen"
INBOX = "INBOX"
# Newest INBOX messages read to count each conversation's unread messages and last date.
CONVERSATION_SCAN = 200
HOME_UNREAD_SHOWN = 5


def ended_banner(name: str) -> dict[str, str]:
    """docs/domain.md §5.3: what the patient is shown once a professional closed the exchange."""
    fr, _, en = conversations.ended_text(conversations.Contact("", "", name, False, True)).partition(" / ")
    return {"fr": fr, "en": en}


def list_entry(row: messages.ListedMessage, summary: dict, names: Names, folder: str) -> dict[str, Any]:
    """One listed message as the pages show it: names, the document named, an attachment marker."""
    subject, document = rendering.shown_subject(summary.get("subject", ""))
    _, sender = address_of(summary.get("from", ""))
    entry = {"id": row.message_id, "uid": row.uid, "date": rendering.iso(row.internal_date), "size": row.size,
             "seen": SEEN in row.flags.split(), "from": summary.get("from", ""),
             "from_name": names.of_field(summary.get("from", "")),
             "to_names": names.of_list(summary.get("to", "")), "subject": subject, "document": document,
             "attachments": rendering.has_attachments(summary.get("content-type", "")),
             "contact": sender}
    if folder != INBOX:  # the correspondent of a sent message is its first recipient
        recipients = wanted_addresses(summary.get("to", ""))
        entry["contact"] = min(recipients) if recipients else ""
    return entry


def names_for_rows(conn: Connection, session: Session, summaries: list[dict]) -> Names:
    wanted = set()
    for summary in summaries:
        wanted |= wanted_addresses(summary.get("from", ""), summary.get("to", ""))
    return Names.load(conn, session.account_id, session.address, wanted)


def conversation_of(conn: Connection, hub: Hub, session: Session, shown: dict) -> dict[str, Any] | None:
    """The state of the exchange a message belongs to: who answers, whether the patient may, the banner."""
    if session.type != identity.PATIENT or shown.get("folder") != INBOX:
        return None
    _, sender = address_of(shown.get("from", ""))
    # Reply-To as policy reads it (a display name may hold a comma): the contact the answer goes to.
    targets = [a for _, a in addresses_of(shown.get("reply_to", ""))] or [sender]
    known = conversations.contacts(conn, session.account_id, targets + [sender])
    contact = next((known[a] for a in targets if a in known), known.get(sender))
    names = Names.load(conn, session.account_id, session.address, {sender})
    name = names.of_field(shown.get("from", ""))
    target = contact.address if contact else targets[0]
    reason = policy.webmail_refusal(hub, target, contact)
    state: dict[str, Any] = {"reply_to": target, "name": name, "can_reply": reason is None,
                             "ended": bool(contact and contact.ended and not contact.pharmacy)}
    if state["ended"]:
        state["banner"] = ended_banner(name)
    return state


def holder_name(conn: Connection, hub: Hub, session: Session) -> str:
    """The name the header shows: a patient's first given name and birth name (sealed traits), else the
    account's display name; "" when neither is known (the page then shows no address either)."""
    account = account_repo.by_id(conn, session.account_id)
    if session.type == identity.PATIENT:
        row = conn.execute(select(PatientProfile.traits, Account.ins)
                           .join(Account, Account.id == PatientProfile.account_id)
                           .where(PatientProfile.account_id == session.account_id)).first()
        if row is not None and row.ins:
            try:
                traits = derived_keys.open_traits(hub, row.ins, row.traits)
            except Exception:  # noqa: BLE001 - a trait that cannot be opened only leaves the name out
                traits = {}
            first = str(traits.get("first_names", "")).split(" ")[0]
            name = f"{first} {traits.get('birth_name', '')}".strip()
            if name:
                return name
    return account.display_name if account else ""


class MessagingApi:
    def __init__(self, hub: Hub, client_ip: Callable[[server.Request], str],
                 session_of: Callable[[server.Request], Awaitable[Session]]) -> None:
        self.hub = hub
        self._client_ip = client_ip
        self._session_of = session_of

    def _scan_inbox(self, conn: Connection, session: Session, limit: int) -> list[tuple[messages.ListedMessage,
                                                                                         dict]]:
        withheld = spaces.withheld(conn, session)
        rows = [r for r in messages.page(conn, session.account_id, INBOX, limit, None)
                if Reader.can_open(r) and r.blob_id not in withheld]
        if not rows:
            return []
        account = account_repo.by_id(conn, session.account_id)
        reader = Reader.of(self.hub, account)
        return [(row, reader.summary(row)) for row in rows]

    async def home(self, request: server.Request) -> tuple[int, dict]:
        session = await self._session_of(request)

        def work(conn: Connection) -> dict[str, Any]:
            fid = folders.folder_id(conn, session.account_id, INBOX)
            counts = dict(messages.folder_status(conn, fid)) if fid else {"messages": 0, "unseen": 0}
            withheld = spaces.withheld(conn, session)
            if withheld and fid:  # a legal representative: what is kept from them is not counted either
                kept = dossier_store.placed_flags(conn, fid, withheld)
                counts["messages"] -= len(kept)
                counts["unseen"] -= sum(1 for flags in kept if SEEN not in flags.split())
            scanned = self._scan_inbox(conn, session, CONVERSATION_SCAN) if counts["unseen"] else []
            unread = [(row, summary) for row, summary in scanned if SEEN not in row.flags.split()]
            names = names_for_rows(conn, session, [s for _, s in unread[:HOME_UNREAD_SHOWN]])
            return {"unread": counts["unseen"], "messages": counts["messages"],
                    "latest_unread": [list_entry(r, s, names, INBOX) for r, s in unread[:HOME_UNREAD_SHOWN]]}

        return 200, await self.hub.read(work)

    async def conversations(self, request: server.Request) -> tuple[int, dict]:
        session = await self._session_of(request)

        def work(conn: Connection) -> list[dict[str, Any]]:
            if session.type != identity.PATIENT:
                return []
            contacts = conversations.conversation_list(conn, session.account_id)
            if not contacts:
                return []
            names = Names.load(conn, session.account_id, session.address,
                               {c.address for c in contacts} | {c.opened_by for c in contacts})
            by_sender: dict[str, list] = {}
            for row, summary in self._scan_inbox(conn, session, CONVERSATION_SCAN):
                by_sender.setdefault(address_of(summary.get("from", ""))[1], []).append(row)
            listed = []
            for contact in contacts:
                rows = by_sender.get(contact.address, []) + (
                    by_sender.get(contact.opened_by, []) if contact.opened_by != contact.address else [])
                name = names.name(contact.display_name, contact.opened_by or contact.address)
                ended = contact.ended and not contact.pharmacy
                item = {"contact": contact.address, "senders": sorted({contact.address, contact.opened_by}),
                        "name": name, **names.about(contact.opened_by or contact.address),
                        "pharmacy": contact.pharmacy, "ended": ended,
                        "can_write": policy.webmail_refusal(self.hub, contact.address, contact) is None,
                        "unread": sum(1 for r in rows if SEEN not in r.flags.split()),
                        "last_at": rendering.iso(max(r.internal_date for r in rows)) if rows else None}
                if ended:
                    item["banner"] = ended_banner(name)
                listed.append(item)
            return listed

        return 200, {"conversations": await self.hub.read(work)}

    async def recipients(self, request: server.Request) -> tuple[int, dict]:
        session = await self._session_of(request)

        def work(conn: Connection) -> list[dict[str, str]]:
            allowed = policy.writable_contacts(conn, self.hub, session.account_id)
            names = Names.load(conn, session.account_id, session.address, {c.opened_by for c in allowed}
                               | {c.address for c in allowed})
            return [{"contact": c.address, "name": names.name(c.display_name, c.opened_by or c.address),
                     **names.about(c.opened_by or c.address), "pharmacy": c.pharmacy} for c in allowed]

        patient = session.type == identity.PATIENT
        return 200, {
            "restricted": patient,  # professionals write to any address; a patient only to these
            "recipients": await self.hub.read(work) if patient else [],
            "attachment_types": sorted(policy.PATIENT_ATTACHMENT_EXTENSIONS) if patient else [],
            "attachment_budget_bytes": self.hub.config.get("patients.attachment_budget_bytes") if patient else None,
            "attachment_errors": {"type": refusals.PATIENT_ATTACHMENT_TYPE.fr,
                                  "size": refusals.PATIENT_ATTACHMENTS_TOO_BIG.fr},
        }

    async def end_sessions(self, request: server.Request) -> tuple[int, None]:
        session = await self._session_of(request)

        def work(conn: Connection) -> None:
            sessions.end_all(conn, session.account_id)
            audit.record(conn, actor=session.actor, actor_type=session.actor_type,
                         action=audit.LOGOUT, subject_account_id=session.account_id,
                         target=f"web ip:{self._client_ip(request)} sessions:all", outcome="ok")

        await self.hub.write(work)
        return 204, None
