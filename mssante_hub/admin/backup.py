"""`mssante-hub backup` and `restore`: the database and the data folder in one OpenPGP-encrypted archive.

The archive (a tar, built in memory and encrypted with python-gnupg to the operator's public key
before anything reaches disk) holds the database, as `pg_dump --format=custom` on PostgreSQL or
a copy through SQLite's online backup API (consistent while the hub serves), and the data
folder's own files: settings, TLS certificate and key, whitelist. The master key stays out of
it unless asked (`--include-master-key`): docs/security.md keeps it apart from the database's
backups, so a stolen archive and the operator's OpenPGP key together still open no message.
`restore` decrypts (the operator's secret key in their GnuPG home), writes a new data folder and
loads the database into an EMPTY one: a new SQLite file, or the PostgreSQL of `--storage-url`.
"""

from __future__ import annotations

import argparse
import io
import shutil
import sys
import sqlite3
import subprocess
import tarfile
import tempfile
from pathlib import Path

import gnupg
from sqlalchemy import inspect

from mssante_hub.config import Config
from storage import blobstore
from storage.database import is_sqlite, libpq_url, make_engine

SQLITE_MEMBER = "database.sqlite3"
PG_MEMBER = "database.pgdump"
FILES_PREFIX = "data/"
BLOBS_PREFIX = "blobs/"
RESTORE_BLOB_BATCH = 256  # the directory blob store's files, by id, wherever storage.blob_dir puts them
SQLITE_FILE = "hub.sqlite3"
# Never copied from the data folder: the live database (dumped instead) and what the running hub keeps in run/.
SKIPPED = ("hub.sqlite3", "hub.sqlite3-wal", "hub.sqlite3-shm", "run")
KEYS_DIR = "keys"
MAX_PUBLIC_KEY_CHARS = 256 * 1024
DUMP_TIMEOUT_S = 6 * 3600
GPG_HOME_PREFIX = "mhb-"


class BackupError(Exception):
    pass


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed (Debian: postgresql-client)")
    return found


def _dump_database(config: Config) -> tuple[str, bytes]:
    url = config.storage_url()
    if is_sqlite(url):
        source = sqlite3.connect(config.data_dir / SQLITE_FILE)
        copy = sqlite3.connect(":memory:")  # never a second file on disk
        try:
            source.backup(copy)  # the online backup API: a consistent copy beside live writers
            return SQLITE_MEMBER, copy.serialize()
        finally:
            copy.close()
            source.close()
    done = subprocess.run([_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", "-d", libpq_url(url)],
                          capture_output=True, timeout=DUMP_TIMEOUT_S)
    if done.returncode != 0:
        raise BackupError(f"pg_dump failed: {done.stderr.decode(errors='replace').strip()[:300]}")
    return PG_MEMBER, done.stdout


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), 0o600
    tar.addfile(info, io.BytesIO(data))


def build_archive(data_dir: Path, include_master_key: bool = False) -> bytes:
    config = Config.load(data_dir)
    member, dump = _dump_database(config)
    directory = config.get("storage.blob_store") == blobstore.DIRECTORY
    blob_dir = config.blob_dir().resolve()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        _add(tar, member, dump)
        if directory:
            # After the dump: every row in it had its file written before its commit, so the file is here (unless
            # its message was deleted and swept since). Orphans are copied too; the restored hub's sweeper drops them.
            for blob_id, path in blobstore.files(blob_dir):
                _add(tar, BLOBS_PREFIX + blob_id, path.read_bytes())
        for path in sorted(data_dir.rglob("*")):
            relative = path.relative_to(data_dir)
            if relative.parts[0] in SKIPPED or not path.is_file():
                continue
            if directory and path.resolve().is_relative_to(blob_dir):
                continue  # in BLOBS_PREFIX already
            if relative.parts[0] == KEYS_DIR and not include_master_key:
                continue
            _add(tar, FILES_PREFIX + relative.as_posix(), path.read_bytes())
    return buffer.getvalue()


class _Gpg:
    """A throw-away GnuPG home (the public key imported for one backup), or the operator's own."""

    def __init__(self, home: Path | None = None) -> None:
        self.own = home is None
        self.home = tempfile.mkdtemp(prefix=GPG_HOME_PREFIX) if home is None else str(home)
        self.gpg = gnupg.GPG(gnupghome=self.home)

    def close(self) -> None:
        if self.own:
            subprocess.run(["gpgconf", "--homedir", self.home, "--kill", "all"], capture_output=True, check=False)
            shutil.rmtree(self.home, ignore_errors=True)


def backup(data_dir: Path, out: Path, public_key: str, include_master_key: bool = False) -> int:
    """Write the encrypted archive to `out`; returns its size."""
    if len(public_key) > MAX_PUBLIC_KEY_CHARS:
        raise BackupError("the public key is too large")
    keys = _Gpg()
    try:
        imported = keys.gpg.import_keys(public_key)
        if not imported.fingerprints:
            raise BackupError("the public key could not be read (armored OpenPGP public key expected)")
        result = keys.gpg.encrypt(build_archive(data_dir, include_master_key), imported.fingerprints[0],
                                  always_trust=True, armor=False)
        if not result.ok:
            raise BackupError(f"gpg could not encrypt: {result.status}")
    finally:
        keys.close()
    partial = out.with_name(out.name + ".partial")
    partial.write_bytes(result.data)
    partial.replace(out)
    return len(result.data)


def _empty_postgres(url: str) -> bool:
    engine = make_engine(url, pool_size=1)
    try:
        return not inspect(engine).get_table_names()
    finally:
        engine.dispose()


def _restore_blobs(tar: tarfile.TarFile, members: dict, names: list[str], config: Config) -> None:
    """The directory store's files, each written as the store writes one (durable before the database is)."""
    store = blobstore.DirectoryStore(config.blob_dir())
    try:
        for start in range(0, len(names), RESTORE_BLOB_BATCH):
            items = []
            for name in names[start:start + RESTORE_BLOB_BATCH]:
                blob_id = name[len(BLOBS_PREFIX):]
                store.path(blob_id)  # refuses anything but a blob id: no path from the archive reaches the disk
                items.append((blob_id, tar.extractfile(members[name]).read()))
            store.put_many(items)
    except blobstore.BlobStoreError as exc:
        raise BackupError(f"unsafe blob name in the archive ({exc})") from None
    finally:
        store.close()


def restore(archive: Path, data_dir: Path, gnupg_home: Path | None, storage_url: str | None,
            master_key: Path | None, passphrase: str | None = None) -> None:
    """A new data folder from a backup; the database goes into an empty one (SQLite file or `storage_url`)."""
    if data_dir.exists() and any(data_dir.iterdir()):
        raise BackupError(f"{data_dir} is not empty: restore writes a new data folder")
    keys = _Gpg(gnupg_home)
    try:
        result = keys.gpg.decrypt(archive.read_bytes(), passphrase=passphrase)
    finally:
        keys.close()
    if not result.ok:
        raise BackupError(f"gpg could not decrypt: {result.status}")
    with tarfile.open(fileobj=io.BytesIO(result.data), mode="r") as tar:
        members = {m.name: m for m in tar.getmembers() if m.isfile()}
        dump_name = SQLITE_MEMBER if SQLITE_MEMBER in members else PG_MEMBER
        if dump_name not in members:
            raise BackupError("not a mssante-hub backup (no database in it)")
        if dump_name == PG_MEMBER and not storage_url:
            raise BackupError("a PostgreSQL backup: give --storage-url of an empty database")
        if dump_name == SQLITE_MEMBER and storage_url:
            raise BackupError("an SQLite backup restores into the data folder's SQLite file, not --storage-url")
        if storage_url and not _empty_postgres(storage_url):
            raise BackupError("the database of --storage-url is not empty")
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        for name, member in members.items():
            if not name.startswith(FILES_PREFIX):
                continue
            relative = Path(name[len(FILES_PREFIX):])
            if relative.is_absolute() or ".." in relative.parts:
                raise BackupError(f"unsafe path in the archive: {name}")
            target = data_dir / relative
            target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            target.write_bytes(tar.extractfile(member).read())
            target.chmod(0o600)
        blob_names = [name for name in members if name.startswith(BLOBS_PREFIX)]
        if blob_names:
            _restore_blobs(tar, members, blob_names, Config.load(data_dir))
        dump = tar.extractfile(members[dump_name]).read()
    if master_key is not None:
        (data_dir / KEYS_DIR).mkdir(mode=0o700, exist_ok=True)
        config = Config.load(data_dir)
        shutil.copyfile(master_key, config.path_setting("keys.master_key_file"))
        config.path_setting("keys.master_key_file").chmod(0o600)
    if dump_name == SQLITE_MEMBER:
        database = data_dir / SQLITE_FILE
        database.write_bytes(dump)  # the backup API's image is a database file as it stands
        database.chmod(0o600)
        check = sqlite3.connect(database)
        try:
            verdict = check.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            check.close()
        if verdict != "ok":
            raise BackupError(f"the restored SQLite database is damaged: {verdict[:200]}")
        return
    done = subprocess.run([_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error", "-d",
                           libpq_url(storage_url)], input=dump, capture_output=True, timeout=DUMP_TIMEOUT_S)
    if done.returncode != 0:
        raise BackupError(f"pg_restore failed: {done.stderr.decode(errors='replace').strip()[:300]}")
    config = Config.load(data_dir)
    config.set("storage.url", storage_url)
    config.save()


def cmd_backup(args: argparse.Namespace) -> int:
    try:
        size = backup(args.data_dir, args.out, args.recipient_key.read_text(encoding="utf-8"),
                      args.include_master_key)
    except BackupError as exc:
        print(f"mssante-hub: {exc}", file=sys.stderr)
        return 1
    kept = "with" if args.include_master_key else "without"
    print(f"backup written to {args.out} ({size} bytes, encrypted; {kept} the master key)")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    passphrase = sys.stdin.readline().rstrip("\n") if args.passphrase_stdin else None
    try:
        restore(args.archive, args.data_dir, args.gnupg_home, args.storage_url, args.master_key, passphrase)
    except BackupError as exc:
        print(f"mssante-hub: {exc}", file=sys.stderr)
        return 1
    print(f"restored into {args.data_dir}; run `mssante-hub doctor --data-dir {args.data_dir}` then serve")
    return 0


def add_backup_commands(commands, with_data_dir) -> None:
    p = with_data_dir(commands.add_parser("backup", help="the database and data folder, encrypted to an OpenPGP key"))
    p.add_argument("out", type=Path, help="the encrypted archive to write")
    p.add_argument("--recipient-key", type=Path, required=True, help="the operator's OpenPGP public key (armored)")
    p.add_argument("--include-master-key", action="store_true",
                   help="put keys/ in the archive too (by default the master key is backed up apart)")
    p.set_defaults(func=cmd_backup)
    p = with_data_dir(commands.add_parser("restore", help="a new data folder from a backup"))
    p.add_argument("archive", type=Path)
    p.add_argument("--gnupg-home", type=Path, help="GnuPG home with the operator's secret key (default ~/.gnupg)")
    p.add_argument("--storage-url", help="an EMPTY PostgreSQL database to load a PostgreSQL backup into")
    p.add_argument("--master-key", type=Path, help="the master key file, when the archive has none")
    p.add_argument("--passphrase-stdin", action="store_true", help="the secret key's passphrase on stdin")
    p.set_defaults(func=cmd_restore)
