"""Opt-out provisioning: patient spaces created in bulk from a CSV file.

Each space gets its key pair, sealed identity traits, a one-time
activation code (stored as a keyed hash) and a notice queued to the person's
personal address. Work is done in batches: crypto for a batch runs in a worker
thread while the previous batch is written, and each batch is one transaction of
multi-row inserts, so a million spaces take minutes, not days.
"""

from __future__ import annotations

import collections
import concurrent.futures
import csv
import datetime as dt
import json
import multiprocessing
import os
import re
import secrets
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, NamedTuple

from nacl.public import PrivateKey, PublicKey
from sqlalchemy import Connection, select
from tqdm import tqdm

from crypto.envelope import encrypt_message, wrap_key
from crypto.keyring import Keyring
from mssante_hub import audit
from mssante_hub.accounts import identity
from mssante_hub.hub import Hub
from mssante_hub.patients import derived_keys, notices
from storage import bulk, deliveries
from storage.models import Account, AccountStatus, AccountType, AuditEvent
from storage.patients import ActivationCode, PatientProfile

CSV_COLUMNS = ("ins", "birth_name", "first_names", "birth_date", "sex", "email")
MAX_LINE_CHARS = 2048
MAX_NAME_CHARS = 100
MAX_EMAIL_CHARS = 254
BATCH_SIZE = 2000
PROCESS_WORKERS = 2
MAX_PENDING_WRITES = 1
PROVISION_SQLITE_CACHE_KIB = 256 * 1024
PROCESS_POOL_MIN_ROWS = 20_000  # below this, starting worker processes costs more than it saves
# 20 characters of Crockford base32: 100 bits, far beyond guessing under the lock-out.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_CHARS = 20
CODE_GROUP = 5
_CODE_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1", "-": None, " ": None})
_EMAIL = re.compile(r"^[^@\s\"<>(),;:\\\[\]]{1,64}@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")
_ISO_DATE = re.compile(r"^(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})$")
_FRENCH_DATE = re.compile(r"^(?P<d>\d{2})/(?P<m>\d{2})/(?P<y>\d{4})$")
_SEX = {"M": "M", "1": "M", "H": "M", "F": "F", "2": "F"}


class ProvisionError(Exception):
    """The CSV file cannot be used at all (header, size, encoding)."""


@dataclass(frozen=True)
class PatientRecord:
    """One person to provision, as validated from a CSV row."""

    ins: str
    birth_name: str
    first_names: str
    birth_date: str  # ISO YYYY-MM-DD
    sex: str  # M or F
    email: str

    def traits(self) -> dict:
        return dict(birth_name=self.birth_name, first_names=self.first_names, birth_date=self.birth_date,
                    sex=self.sex, email=self.email)


@dataclass
class ProvisionResult:
    created: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line, reason), never the row's content
    codes: dict[str, str] = field(default_factory=dict)  # INS -> code, only when asked (patient add)


def new_code() -> str:
    number = int.from_bytes(secrets.token_bytes(CODE_CHARS * 5 // 8 + 1), "big")
    raw = "".join(CODE_ALPHABET[(number >> (5 * i)) & 31] for i in range(CODE_CHARS))
    return "-".join(raw[i:i + CODE_GROUP] for i in range(0, CODE_CHARS, CODE_GROUP))


def normalise_code(code: str) -> str:
    """The code as hashed: upper case, without dashes or spaces, O/I/L read as 0/1/1."""
    return code.strip().upper().translate(_CODE_READ_AS)[:64]


# --- Reading the CSV --------------------------------------------------------------

def _name(value: str, what: str) -> str:
    value = unicodedata.normalize("NFC", value.strip())
    if not value or len(value) > MAX_NAME_CHARS:
        raise ValueError(f"{what} must have 1 to {MAX_NAME_CHARS} characters")
    if not value.isprintable():  # control, format and line-separator characters have no place in a name
        raise ValueError(f"{what} holds control characters")
    return value


def _birth_date(value: str) -> str:
    # A regex and date() rather than strptime: a tenth of the cost, which shows at a million rows.
    found = _ISO_DATE.match(value.strip()) or _FRENCH_DATE.match(value.strip())
    if found is None:
        raise ValueError("birth_date must be YYYY-MM-DD or DD/MM/YYYY")
    try:
        date = dt.date(int(found["y"]), int(found["m"]), int(found["d"]))
    except ValueError:
        raise ValueError("birth_date is not a real date") from None
    if date.year < 1880 or date > dt.date.today():
        raise ValueError("birth_date is out of range")
    return date.isoformat()


def validate_row(row: dict[str, str]) -> PatientRecord:
    """A record from one CSV row, or ValueError saying which field is wrong (not its value)."""
    try:
        ins = identity.validate_ins(row["ins"])
    except identity.IdentityError as exc:
        raise ValueError(f"ins: {exc}") from None
    sex = _SEX.get(row["sex"].strip().upper())
    if sex is None:
        raise ValueError("sex must be M, F, 1 or 2")
    email = row["email"].strip()
    if len(email) > MAX_EMAIL_CHARS or not _EMAIL.match(email):
        raise ValueError("email is not a mail address")
    return PatientRecord(ins, _name(row["birth_name"], "birth_name"), _name(row["first_names"], "first_names"),
                         _birth_date(row["birth_date"]), sex, email)


def _bounded_lines(handle) -> Iterator[str]:
    for line in handle:
        if len(line) > MAX_LINE_CHARS:
            raise ProvisionError(f"a line is longer than {MAX_LINE_CHARS} characters; is this the right file?")
        yield line


def read_csv(path: Path, max_rows: int) -> Iterator[tuple[int, PatientRecord | str]]:
    """(line number, record or reason for refusal) for each data row; ProvisionError if unusable."""
    try:
        handle = open(path, encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise ProvisionError(f"cannot read {path}: {exc.strerror}") from None
    with handle:
        reader = csv.reader(_bounded_lines(handle))
        try:
            header = [h.strip().lower() for h in next(reader)]
        except StopIteration:
            raise ProvisionError(f"{path} is empty; expected a header: {','.join(CSV_COLUMNS)}") from None
        except UnicodeDecodeError:
            raise ProvisionError(f"{path} is not UTF-8 text") from None
        if sorted(header) != sorted(CSV_COLUMNS):
            raise ProvisionError(f"the header must name exactly these columns: {','.join(CSV_COLUMNS)}")
        rows = 0
        try:
            for values in reader:
                line = reader.line_num
                if not values or values == [""]:
                    continue
                rows += 1
                if rows > max_rows:
                    raise ProvisionError(f"more than {max_rows} rows (setting patients.provision_max_rows)")
                if len(values) != len(header):
                    yield line, f"expected {len(header)} fields, found {len(values)}"
                    continue
                try:
                    yield line, validate_row(dict(zip(header, values)))
                except ValueError as exc:
                    yield line, str(exc)
        except UnicodeDecodeError:
            raise ProvisionError(f"{path} is not UTF-8 text (after line {reader.line_num})") from None
        except csv.Error as exc:
            raise ProvisionError(f"malformed CSV near line {reader.line_num}: {exc}") from None


# --- Building and writing batches -------------------------------------------------

_ACCOUNT_COLUMNS = ("type", "address", "display_name", "key_id", "public_key", "sealed_private_key", "ins", "status",
                    "created_at")
_PROFILE_COLUMNS = ("account_id", "traits", "objection_until")
_CODE_COLUMNS = ("account_id", "code_hash", "failures")
_AUDIT_COLUMNS = ("at", "actor", "actor_type", "action", "subject_account_id", "target", "outcome")


class _NewAccount(NamedTuple):
    """An account row, in _ACCOUNT_COLUMNS order (the bulk insert takes tuples)."""

    type: str
    address: str
    display_name: str
    key_id: str
    public_key: bytes
    sealed_private_key: bytes
    ins: str
    status: str
    created_at: dt.datetime


@dataclass
class _Built:
    """One batch ready to write: accounts, profiles and codes as rows, the notices as store units."""

    accounts: list[_NewAccount] = field(default_factory=list)
    profiles: list[tuple] = field(default_factory=list)  # without account_id (known after insert)
    codes: list[tuple] = field(default_factory=list)  # idem
    notices: list[deliveries.Unit] = field(default_factory=list)  # the opt-out letters, queued for the relay
    plain_codes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _BuildContext:
    """What building a batch needs, as plain values: picklable for worker processes."""

    keyring: Keyring  # pickles without its cache
    traits_key: bytes
    codes_key: bytes
    system_id: int
    system_public: bytes
    patient_domain: str
    notice: notices.Context
    now: dt.datetime
    objection_until: dt.datetime

    @classmethod
    def of(cls, hub: Hub, now: dt.datetime, objection_until: dt.datetime) -> "_BuildContext":
        system = hub.system_account()
        return cls(hub.keyring, derived_keys.traits_key(hub), derived_keys.codes_key(hub), system.id,
                   system.public_key, hub.config.get("hub.patient_domain"), notices.Context.of(hub), now,
                   objection_until)


def _build(ctx: _BuildContext, records: list[PatientRecord]) -> _Built:
    """All the crypto of one batch (in a worker: libsodium releases the GIL, processes avoid it)."""
    system_public = PublicKey(ctx.system_public)
    patient, pending, now = AccountType.PATIENT.value, AccountStatus.PENDING.value, ctx.now
    built = _Built()
    for record in records:
        key_id = secrets.token_hex(16)
        private = PrivateKey.generate()
        built.accounts.append(_NewAccount(
            patient, identity.patient_address(record.ins, ctx.patient_domain), "", key_id, bytes(private.public_key),
            ctx.keyring.seal(key_id, bytes(private)), record.ins, pending, now,
        ))
        built.profiles.append((derived_keys.seal_traits_with(ctx.traits_key, record.ins, record.traits()),
                               ctx.objection_until))
        code = new_code()
        built.plain_codes[record.ins] = code
        built.codes.append((derived_keys.code_hash_with(ctx.codes_key, record.ins, normalise_code(code)), 0))
        raw, summary = notices.provisioning_notice(ctx.notice, record.email, code, ctx.objection_until, now)
        sealed = encrypt_message(secrets.token_hex(16), raw, json.dumps(summary).encode())
        built.notices.append(deliveries.Unit(
            body=deliveries.Body(sealed.blob_id, sealed.body, sealed.summary, len(raw)),
            readers=[deliveries.Reader(ctx.system_id, wrap_key(sealed.content_key, sealed.blob_id, system_public))],
            placements=[], queued=[deliveries.Queued(record.email, ctx.notice.sender, next_attempt_at=now)],
        ))
    return built


def _write(conn: Connection, built: _Built, actor: str, now: dt.datetime) -> None:
    """One batch, one transaction, one executemany per table."""
    if conn.dialect.name == "sqlite":
        # Inserts land at random places in the unique indexes (INS, address, key and blob ids): past
        # SQLite's 2 MiB default page cache every batch would re-read its index pages from disk.
        conn.exec_driver_sql(f"PRAGMA cache_size=-{PROVISION_SQLITE_CACHE_KIB}")
    bulk.insert_rows(conn, Account.__table__, _ACCOUNT_COLUMNS, built.accounts)
    inserted = [row.ins for row in built.accounts]
    ids_by_ins = dict(conn.execute(select(Account.ins, Account.id).where(Account.ins.in_(inserted))).all())
    ids = [ids_by_ins[ins] for ins in inserted]
    # No folders yet: a pending space receives nothing; activation creates them. At a
    # million spaces that is six million rows not written for people who may object.
    bulk.insert_rows(conn, PatientProfile.__table__, _PROFILE_COLUMNS,
                     [(i, *v) for i, v in zip(ids, built.profiles)])
    bulk.insert_rows(conn, ActivationCode.__table__, _CODE_COLUMNS, [(i, *v) for i, v in zip(ids, built.codes)])
    deliveries.store_many(conn, built.notices)
    bulk.insert_rows(conn, AuditEvent.__table__, _AUDIT_COLUMNS, [
        (now, actor, audit.ActorType.OPERATOR.value, audit.PATIENT_PROVISION, i, f"account:{i}", "pending") for i in ids
    ])


def _existing_ins(hub: Hub, batch: list[PatientRecord]) -> set[str]:
    wanted = [r.ins for r in batch]
    return set(hub.read_sync(lambda conn: conn.execute(select(Account.ins).where(Account.ins.in_(wanted))).scalars()
                             .all()))


def provision(
    hub: Hub,
    records: Iterable[tuple[int, PatientRecord | str]],
    *,
    total: int | None = None,
    progress: bool = False,
    actor: str = "operator",
    keep_codes: bool = False,
    batch_size: int = BATCH_SIZE,
    now: dt.datetime | None = None,
    processes: bool | None = None,
) -> ProvisionResult:
    """Create a space for every valid record; rows refused are reported by line, never echoed."""
    now = now or dt.datetime.now(dt.timezone.utc)
    objection_until = now + dt.timedelta(days=hub.config.get("patients.objection_window_days"))
    result = ProvisionResult()
    seen: set[str] = set()
    bar = tqdm(total=total, unit="space", desc="provisioning patient spaces", disable=not progress)

    def batches() -> Iterator[list[tuple[int, PatientRecord]]]:
        batch: list[tuple[int, PatientRecord]] = []
        for line, item in records:
            if isinstance(item, str):
                result.rejected.append((line, item))
                bar.update(1)
            elif item.ins in seen:
                result.rejected.append((line, "ins: appears twice in the file"))
                bar.update(1)
            else:
                seen.add(item.ins)
                batch.append((line, item))
                if len(batch) >= batch_size:
                    yield batch
                    batch = []
        if batch:
            yield batch

    def fresh(batch: list[tuple[int, PatientRecord]]) -> list[PatientRecord]:
        existing = _existing_ins(hub, [r for _, r in batch])
        for line, record in batch:
            if record.ins in existing:
                result.rejected.append((line, "ins: a space already exists for this INS"))
        return [r for _, r in batch if r.ins not in existing]

    ctx = _BuildContext.of(hub, now, objection_until)
    workers = min(PROCESS_WORKERS, os.cpu_count() or 1)
    # Large runs build in worker processes (the GIL would serialise the Python around the crypto);
    # small ones in a thread, which starts at once.
    big = processes if processes is not None else (total or 0) >= PROCESS_POOL_MIN_ROWS and workers > 1
    pool: concurrent.futures.Executor = (
        concurrent.futures.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
        if big else concurrent.futures.ThreadPoolExecutor(1, "provision-crypto"))
    building: collections.deque = collections.deque()  # (build future, rows it covers)
    writing: collections.deque = collections.deque()  # (write future or None, built batch, rows)

    def finish_write() -> None:
        written, built, rows = writing.popleft()
        if written is not None:
            written.result()
            result.created += len(built.accounts)
            if keep_codes:
                result.codes.update(built.plain_codes)
        bar.update(rows)

    def start_write() -> None:
        future, rows = building.popleft()
        built = future.result()
        written = hub.committer.submit(lambda conn: _write(conn, built, actor, now)) if built.accounts else None
        writing.append((written, built, rows))
        # One batch being written while this thread reads the file on and the workers build.
        while len(writing) > MAX_PENDING_WRITES:
            finish_write()

    try:
        for batch in batches():
            building.append((pool.submit(_build, ctx, fresh(batch)), len(batch)))
            # Keep every worker busy plus one batch ahead, written in file order.
            while len(building) > (workers if big else 1):
                start_write()
        while building:
            start_write()
        while writing:
            finish_write()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    bar.close()
    return result


def provision_csv(hub: Hub, path: Path, *, progress: bool = True, actor: str = "operator") -> ProvisionResult:
    """Provision from a CSV file (columns: CSV_COLUMNS, any order, UTF-8)."""
    max_rows = hub.config.get("patients.provision_max_rows")
    total = _count_lines(path, max_rows)  # for the bar, and to choose worker processes for big files
    return provision(hub, read_csv(path, max_rows), total=total, progress=progress, actor=actor)


def _count_lines(path: Path, max_rows: int) -> int | None:
    try:
        with open(path, "rb") as handle:
            count = sum(1 for _ in handle) - 1
    except OSError:
        return None
    return min(max(count, 0), max_rows)


def add_patient(hub: Hub, record: PatientRecord, actor: str = "operator") -> str:
    """One space (command line `patient add`); returns its activation code."""
    result = provision(hub, [(1, record)], actor=actor, keep_codes=True)
    if result.rejected:
        raise ProvisionError(result.rejected[0][1])
    return result.codes[record.ins]
