"""Prevention campaigns (docs/domain.md §7): the operator loads a campaign file; each patient the campaign
targets (by age and sex, read from the sealed identity traits when the agenda is shown) sees it with a
status: to plan, done, not done. The status is set by the patient and sealed under their index key.

Loading marks a content-free notification of kind `screening` for the patients a campaign targets now
(notify_targeted). The file (`mssante-hub agenda campaign load FILE`) is JSON: one campaign or a list of them, each
    {"id": "depistage-cancer-sein-2027", "kind": "exam" | "vaccination",
     "sex": "F" | "M" | "", "min_age": 50, "max_age": 74,
     "window": {"start": "2027-01-01", "end": "2027-12-31"},
     "title": {"fr": "...", "en": "..."}, "text": {"fr": "...", "en": "..."}}
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from sqlalchemy import Connection

from mssante_hub.agenda import index
from mssante_hub.hub import Hub
from mssante_hub.patients import derived_keys
from storage import accounts as account_repo
from storage import agenda as agenda_store

KINDS = ("exam", "vaccination")
TO_PLAN, DONE, NOT_DONE = "to_plan", "done", "not_done"
STATUSES = (TO_PLAN, DONE, NOT_DONE)
MAX_CAMPAIGNS = 1000
MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_TITLE_CHARS = 200
MAX_TEXT_CHARS = 4000


class CampaignError(ValueError):
    pass


@dataclass(frozen=True)
class Campaign:
    id: str
    kind: str
    sex: str
    min_age: int
    max_age: int
    window_start: dt.date
    window_end: dt.date
    title_fr: str
    title_en: str
    text_fr: str
    text_en: str

    def values(self) -> dict:
        return dict(self.__dict__)


def _text(value, limit: int, what: str, required: bool = False) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > limit:
        raise CampaignError(f"{what}: a text of at most {limit} characters expected")
    return value.strip()


def parse_campaigns(data: bytes) -> list[Campaign]:
    """The campaigns of a file, checked; CampaignError says which field is wrong."""
    if len(data) > MAX_FILE_BYTES:
        raise CampaignError(f"file larger than {MAX_FILE_BYTES} bytes")
    try:
        loaded = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CampaignError(f"not JSON: {exc}") from None
    entries = loaded if isinstance(loaded, list) else [loaded]
    if len(entries) > MAX_CAMPAIGNS:
        raise CampaignError(f"more than {MAX_CAMPAIGNS} campaigns")
    found = []
    for number, entry in enumerate(entries, 1):
        where = f"campaign {number}"
        if not isinstance(entry, dict):
            raise CampaignError(f"{where}: an object expected")
        ident = _text(entry.get("id"), 64, f"{where}: id", required=True)
        kind = entry.get("kind")
        if kind not in KINDS:
            raise CampaignError(f"{where}: kind must be one of {', '.join(KINDS)}")
        sex = entry.get("sex") or ""
        if sex not in ("", "F", "M"):
            raise CampaignError(f"{where}: sex must be F, M or empty")
        ages = entry.get("min_age", 0), entry.get("max_age", 200)
        if not all(isinstance(a, int) and 0 <= a <= 200 for a in ages) or ages[0] > ages[1]:
            raise CampaignError(f"{where}: min_age and max_age must be whole years, min <= max")
        window = entry.get("window") or {}
        try:
            start, end = dt.date.fromisoformat(window["start"]), dt.date.fromisoformat(window["end"])
        except (KeyError, TypeError, ValueError):
            raise CampaignError(f"{where}: window.start and window.end must be YYYY-MM-DD") from None
        if end < start:
            raise CampaignError(f"{where}: the window ends before it starts")
        title, text = entry.get("title") or {}, entry.get("text") or {}
        if not isinstance(title, dict) or not isinstance(text, dict):
            raise CampaignError(f"{where}: title and text are objects with fr and en")
        found.append(Campaign(ident, kind, sex, ages[0], ages[1], start, end,
                              _text(title.get("fr"), MAX_TITLE_CHARS, f"{where}: title.fr", required=True),
                              _text(title.get("en"), MAX_TITLE_CHARS, f"{where}: title.en"),
                              _text(text.get("fr"), MAX_TEXT_CHARS, f"{where}: text.fr"),
                              _text(text.get("en"), MAX_TEXT_CHARS, f"{where}: text.en")))
    return found


def load(hub: Hub, campaigns: list[Campaign]) -> int:
    """Store (or replace) the campaigns; returns how many."""
    def work(conn: Connection) -> None:
        for campaign in campaigns:
            agenda_store.put_campaign(conn, campaign.values())

    hub.committer.run(work)
    return len(campaigns)


NOTIFY_BATCH = 500


def notify_targeted(hub: Hub, campaigns: list[Campaign], day: dt.date) -> int:
    """Mark news of kind `screening` for every active patient a campaign targets today; returns how many.

    The traits are opened here, in batches, and nothing is kept of whom a campaign targets: only the
    content-free pending notification (patients/notifications.py), which the worker sends and clears.
    """
    from sqlalchemy import select

    from mssante_hub.patients import notifications
    from storage.models import Account, AccountStatus, AccountType
    from storage.patients import PatientProfile

    live = [c for c in campaigns if c.window_start <= day <= c.window_end]
    if not live:
        return 0
    marked, after = 0, 0
    while True:
        rows = hub.read_sync(lambda conn: conn.execute(
            select(Account.id, Account.ins, PatientProfile.traits)
            .join(PatientProfile, PatientProfile.account_id == Account.id)
            .where(Account.type == AccountType.PATIENT.value, Account.status == AccountStatus.ACTIVE.value,
                   PatientProfile.activated_at.is_not(None), Account.id > after)
            .order_by(Account.id).limit(NOTIFY_BATCH)).all())
        if not rows:
            return marked
        after = rows[-1].id
        targeted = [r.id for r in rows if r.traits and any(
            targets(c, derived_keys.open_traits(hub, r.ins, r.traits), day) for c in live)]
        if targeted:
            def work(conn: Connection, ids=tuple(targeted)) -> None:
                for account_id in ids:
                    notifications.mark_pending(conn, account_id, notifications.SCREENING)

            hub.committer.run(work)
            marked += len(targeted)


def age_on(birth_date: str, day: dt.date) -> int | None:
    try:
        born = dt.date.fromisoformat(birth_date)
    except (TypeError, ValueError):
        return None
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def targets(campaign, traits: dict, day: dt.date) -> bool:
    """Whether a campaign is for this patient now: in its window, of its sex and ages."""
    if not campaign.window_start <= day <= campaign.window_end:
        return False
    if campaign.sex and traits.get("sex") != campaign.sex:
        return False
    age = age_on(traits.get("birth_date", ""), day)
    return age is not None and campaign.min_age <= age <= campaign.max_age


def _traits(hub: Hub, conn: Connection, account_id: int) -> dict:
    from sqlalchemy import select

    from storage.models import Account
    from storage.patients import PatientProfile

    row = conn.execute(select(Account.ins, PatientProfile.traits).join(
        PatientProfile, PatientProfile.account_id == Account.id).where(Account.id == account_id)).first()
    if row is None or not row.traits:
        return {}
    return derived_keys.open_traits(hub, row.ins, row.traits)


def for_patient(conn: Connection, hub: Hub, patient: account_repo.AccountRow, day: dt.date) -> list[dict]:
    """The campaigns that target this patient today, with their status."""
    traits = _traits(hub, conn, patient.id)
    chosen = [c for c in agenda_store.campaigns(conn) if targets(c, traits, day)]
    if not chosen:
        return []
    sealed = agenda_store.prevention_status(conn, patient.id)
    key = index.key(hub, patient)
    found = []
    for c in chosen:
        status = TO_PLAN
        if c.id in sealed:
            status = index.open_(key, patient.id, f"{index.PREVENTION}:{c.id}", sealed[c.id]).get("status", TO_PLAN)
        found.append({"id": c.id, "kind": c.kind, "title": c.title_fr, "title_en": c.title_en, "text": c.text_fr,
                      "text_en": c.text_en, "window_start": c.window_start.isoformat(),
                      "window_end": c.window_end.isoformat(), "status": status})
    return found


def set_status(conn: Connection, hub: Hub, patient: account_repo.AccountRow, campaign_id: str, status: str,
               day: dt.date) -> bool:
    """The patient's status in a campaign that targets them; False if it does not."""
    if status not in STATUSES:
        raise CampaignError("status must be one of " + ", ".join(STATUSES))
    if not any(c["id"] == campaign_id for c in for_patient(conn, hub, patient, day)):
        return False
    sealed = index.seal(index.key(hub, patient), patient.id, f"{index.PREVENTION}:{campaign_id}", {"status": status})
    agenda_store.set_prevention_status(conn, patient.id, campaign_id, sealed)
    return True
