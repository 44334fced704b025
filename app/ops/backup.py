"""`flask backup` and `flask restore`: one archive per backup, with a checksum beside it.

An archive is a gzipped tar named `<code>-<UTC time>.tar.gz` (`dongcun-20261205T030000Z.tar.gz`) holding

- `manifest.json`: when, which installation, which database and schema revision, and the SHA-256 of every
  other member;
- the database: `database.sqlite3` (SQLite's online backup API, one step, so one consistent snapshot taken
  while the app goes on writing; never a file copy) or `database.pgdump` (pg_dump's custom format, itself one
  consistent snapshot);
- `instance/…`: the files of the instance folder (evidence, patrol and grid photos, any future upload
  folder, the `secret_key` and `id_hmac_key` files), except the SQLite database itself, the backups,
  checked imports waiting for their confirmation (`imports/`) and batch statement PDFs (`statements/`,
  printed again on demand).

The database is dumped before the files are read: a photo is saved before the row naming it commits, so
every photo the dump names is in the archive. `<archive>.sha256` (the `sha256sum` format) is written last:
an archive without it is incomplete and neither listed nor restored.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import sqlalchemy as sa
from flask import current_app

from ..extensions import db
from .schema import code_heads, database_heads

FORMAT = 1
SUFFIX = ".tar.gz"
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database.sqlite3"
PG_MEMBER = "database.pgdump"
FILES_PREFIX = "instance/"
#: instance subfolders that are never backed up (see the module docstring)
SKIPPED_FOLDERS = ("imports", "statements")
#: secrets kept as files in the instance folder (app/config.py); restored over a fresh installation's own
KEY_FILES = ("secret_key", "id_hmac_key")
NAME_RE = re.compile(r"^(?P<code>[a-z0-9_-]+?)-(?P<stamp>\d{8}T\d{6}Z)(?:-(?P<n>\d+))?\.tar\.gz$")
STAMP = "%Y%m%dT%H%M%SZ"
CHUNK = 1 << 20


class BackupError(Exception):
    """A backup or restore refused or failed; the message says why, for the operator."""


@dataclass(frozen=True)
class BackupFile:
    path: Path
    code: str
    taken_at: dt.datetime  # UTC
    seq: int
    size: int

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def checksum_path(self) -> Path:
        return checksum_path(self.path)


@dataclass
class RestoreResult:
    manifest: dict
    target: str
    files_restored: int = 0
    keys_set_aside: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def checksum_path(archive: Path) -> Path:
    return archive.with_name(archive.name + ".sha256")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def backup_dir() -> Path:
    """BACKUP_DIR, or instance/backups."""
    configured = current_app.config.get("BACKUP_DIR")
    return Path(configured) if configured else Path(current_app.instance_path) / "backups"


# --- listing and keeping the last N ---------------------------------------------------------------

def list_backups(folder: Path | None = None) -> list[BackupFile]:
    """The complete backups in the folder (archive and checksum file both present), newest first."""
    folder = folder or backup_dir()
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        m = NAME_RE.match(path.name)
        if not m or not path.is_file() or not checksum_path(path).is_file():
            continue
        taken = dt.datetime.strptime(m["stamp"], STAMP).replace(tzinfo=dt.timezone.utc)
        found.append(BackupFile(path, m["code"], taken, int(m["n"] or 1), path.stat().st_size))
    return sorted(found, key=lambda b: (b.taken_at, b.seq, b.name), reverse=True)


def prune(folder: Path, keep: int) -> list[Path]:
    """Delete all but the `keep` newest backups (and their checksum files); return what was deleted."""
    removed = []
    for old in list_backups(folder)[max(keep, 1):]:
        # the checksum first: a half-deleted backup is no longer listed
        for path in (old.checksum_path, old.path):
            path.unlink(missing_ok=True)
        removed.append(old.path)
    return removed


def _new_name(folder: Path, code: str, now: dt.datetime) -> str:
    stamp = now.astimezone(dt.timezone.utc).strftime(STAMP)
    name, n = f"{code}-{stamp}{SUFFIX}", 1
    while (folder / name).exists() or checksum_path(folder / name).exists():
        n += 1
        name = f"{code}-{stamp}-{n}{SUFFIX}"
    return name


# --- taking a backup -------------------------------------------------------------------------------

def _pg_env_and_args(url: sa.engine.URL) -> tuple[dict, list[str]]:
    """libpq options of a SQLAlchemy URL: the password goes in the environment, never on the command line."""
    env = dict(os.environ)
    args = []
    host = url.host or url.query.get("host")
    if host:
        args += ["--host", str(host)]
    if url.port:
        args += ["--port", str(url.port)]
    if url.username:
        args += ["--username", url.username]
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    if url.query.get("sslmode"):
        env["PGSSLMODE"] = str(url.query["sslmode"])
    return env, args


def _run(cmd: list[str], env: dict, what: str) -> None:
    try:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)  # noqa: S603  (pg_dump/pg_restore, fixed arguments)
    except FileNotFoundError:
        raise BackupError(f"{cmd[0]} not found: install the PostgreSQL client (apt-get install "
                          f"postgresql-client) or set {what.upper()}_COMMAND") from None
    if done.returncode != 0:
        raise BackupError(f"{what} failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")


def _dump_sqlite(db_path: str, out: Path) -> list[str]:
    """SQLite's online backup API in one step: one read transaction, so one snapshot; writers go on."""
    # mode=rw: a missing database file is an error here, never a new empty one
    src = sqlite3.connect(Path(db_path).as_uri() + "?mode=rw", uri=True, timeout=60)
    dst = sqlite3.connect(out)
    try:
        src.backup(dst)  # pages=-1: everything in a single step
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, whatever the source's journal
        if (ok := dst.execute("PRAGMA quick_check").fetchone()[0]) != "ok":
            raise BackupError(f"the copy fails SQLite's check: {ok}")
        try:
            return sorted(r[0] for r in dst.execute("SELECT version_num FROM alembic_version"))
        except sqlite3.OperationalError:  # never migrated
            return []
    finally:
        dst.close()
        src.close()


def _dump_postgresql(url: sa.engine.URL, out: Path) -> list[str]:
    with db.engine.connect() as conn:
        revision = sorted(database_heads(conn))
    env, args = _pg_env_and_args(url)
    command = current_app.config.get("PG_DUMP_COMMAND") or "pg_dump"
    _run([command, "--format=custom", "--file", str(out), *args, "--dbname", url.database or ""], env,
         "pg_dump")
    return revision


def _instance_files(instance: Path, skip: list[Path]) -> list[Path]:
    """Every file of the instance folder that belongs in a backup, in a stable order."""
    chosen = []
    for root, dirs, files in os.walk(instance):
        here = Path(root)
        dirs[:] = sorted(d for d in dirs if not (here == instance and d in SKIPPED_FOLDERS)
                         and (here / d).resolve() not in skip and not d.startswith("."))
        for name in sorted(files):
            path = here / name
            if path.resolve() in skip or not path.is_file() or name.startswith("."):
                continue
            chosen.append(path)
    return chosen


def create_backup(code: str, *, folder: Path | None = None, keep: int | None = None,
                  now: dt.datetime | None = None) -> BackupFile:
    """Write one backup of the database and the instance files into `folder`; keep the newest `keep`."""
    folder = folder or backup_dir()
    keep = keep if keep is not None else int(current_app.config.get("BACKUP_KEEP", 14))
    folder.mkdir(parents=True, exist_ok=True)
    now = now or dt.datetime.now(dt.timezone.utc)
    url = db.engine.url
    instance = Path(current_app.instance_path).resolve()
    work = Path(tempfile.mkdtemp(prefix=".backup-", dir=folder))
    name = _new_name(folder, code, now)
    archive, partial = folder / name, folder / f".{name}.partial"
    try:
        skip = [folder.resolve(), work.resolve()]
        if url.get_backend_name() == "sqlite":
            db_path = Path(url.database).resolve()
            skip += [db_path, *(db_path.with_name(db_path.name + s) for s in ("-wal", "-shm", "-journal"))]
            member = SQLITE_MEMBER
            revision = _dump_sqlite(str(db_path), work / member)
        elif url.get_backend_name() == "postgresql":
            member = PG_MEMBER
            revision = _dump_postgresql(url, work / member)
        else:
            raise BackupError(f"cannot back up a {url.get_backend_name()} database")
        # after the dump: every photo a dumped row names is on disk by now
        files = _instance_files(instance, skip) if instance.is_dir() else []
        members = [(member, work / member)] + [(FILES_PREFIX + p.relative_to(instance).as_posix(), p)
                                                for p in files]
        digests = {arc: sha256_of(src) for arc, src in members}
        manifest = {
            "format": FORMAT, "app": "xiangyue", "code": code,
            "taken_at": now.astimezone(dt.timezone.utc).isoformat(timespec="seconds"),
            "database": {"dialect": url.get_backend_name(), "member": member, "revision": revision},
            "members": digests,
        }
        blob = json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True).encode()
        with tarfile.open(partial, "w:gz", compresslevel=6) as tar:
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mtime, info.mode = len(blob), int(now.timestamp()), 0o600
            tar.addfile(info, io.BytesIO(blob))
            for arc, src in members:
                tar.add(src, arcname=arc, recursive=False)
        os.replace(partial, archive)
        os.chmod(archive, 0o600)  # it holds the keys and every ID number's HMAC key
        _write_atomically(checksum_path(archive), f"{sha256_of(archive)}  {archive.name}\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        partial.unlink(missing_ok=True)
    prune(folder, keep)
    return next(b for b in list_backups(folder) if b.path == archive)


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    tmp.write_text(text, encoding="ascii")
    os.replace(tmp, path)


# --- checking and restoring ------------------------------------------------------------------------

def verify_archive(archive: Path) -> dict:
    """Check the archive against its .sha256 file and each member against the manifest; return the latter."""
    if not archive.is_file():
        raise BackupError(f"{archive}: no such file")
    sums = checksum_path(archive)
    if not sums.is_file():
        raise BackupError(f"{archive}: its checksum file {sums.name} is missing; the backup is incomplete")
    expected = (sums.read_text(encoding="ascii", errors="replace").split() or [""])[0].lower()
    actual = sha256_of(archive)
    if actual != expected:
        raise BackupError(f"{archive}: checksum mismatch (SHA-256 {actual}, {sums.name} says {expected}): "
                          "the file is damaged or was changed; refusing it")
    try:
        with tarfile.open(archive, "r:gz") as tar:
            manifest = json.loads(tar.extractfile(MANIFEST).read())
            if manifest.get("format") != FORMAT:
                raise BackupError(f"{archive}: unknown backup format {manifest.get('format')!r}")
            seen = set()
            for info in tar.getmembers():
                if info.name == MANIFEST:
                    continue
                if not info.isfile() or info.name not in manifest["members"]:
                    raise BackupError(f"{archive}: unexpected member {info.name!r}")
                digest = hashlib.sha256()
                fh = tar.extractfile(info)
                while chunk := fh.read(CHUNK):
                    digest.update(chunk)
                if digest.hexdigest() != manifest["members"][info.name]:
                    raise BackupError(f"{archive}: {info.name} does not match its checksum in the manifest")
                seen.add(info.name)
            if missing := set(manifest["members"]) - seen:
                raise BackupError(f"{archive}: members missing: {', '.join(sorted(missing))}")
    except (tarfile.TarError, KeyError, ValueError, OSError) as e:
        raise BackupError(f"{archive}: not a readable backup ({e})") from None
    return manifest


def target_url(into: str) -> sa.engine.URL:
    """--into: a database URL, or a path for a SQLite file."""
    if "://" in into:
        url = sa.engine.make_url(into)
        if url.drivername in ("postgresql", "postgres"):
            url = url.set(drivername="postgresql+psycopg")
        return url
    return sa.engine.make_url("sqlite:///" + str(Path(into).expanduser().resolve()))


def _refuse_unless_empty(url: sa.engine.URL) -> None:
    shown = url.render_as_string(hide_password=True)
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "")
        if not path.parent.is_dir():
            raise BackupError(f"{path.parent}: no such folder")
        if not path.exists() or path.stat().st_size == 0:
            return
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            tables = sa.inspect(conn).get_table_names()
    except sa.exc.DBAPIError as e:
        raise BackupError(f"cannot open the target {shown}: {str(e.orig).strip().splitlines()[0]} "
                          "(create an empty database first, e.g. createdb xiangyue_restored)") from None
    finally:
        engine.dispose()
    if tables:
        raise BackupError(f"the target {shown} is not empty ({len(tables)} tables): a backup is restored "
                          "only into a fresh, empty database; nothing was written")


def _restore_files(tar: tarfile.TarFile, manifest: dict, files_into: Path, result: RestoreResult) -> None:
    names = sorted(n for n in manifest["members"] if n.startswith(FILES_PREFIX))
    plan = []
    for name in names:
        rel = Path(name[len(FILES_PREFIX):])
        if rel.is_absolute() or ".." in rel.parts:
            raise BackupError(f"unsafe file name in the backup: {name!r}")
        dest = files_into / rel
        if dest.exists() and rel.as_posix() not in KEY_FILES and sha256_of(dest) != manifest["members"][name]:
            raise BackupError(f"{dest} exists and differs from the backup's copy; nothing was written")
        plan.append((name, rel, dest))
    stamp = dt.datetime.now(dt.timezone.utc).strftime(STAMP)
    for name, rel, dest in plan:
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.exists() and sha256_of(dest) == manifest["members"][name]:
            continue
        if dest.exists():  # a key file of a fresh installation: kept beside, never lost
            aside = dest.with_name(f"{dest.name}.before-restore-{stamp}")
            os.replace(dest, aside)
            result.keys_set_aside.append(str(aside))
        with tar.extractfile(name) as src, open(dest, "wb") as out:
            shutil.copyfileobj(src, out, CHUNK)
        if rel.as_posix() in KEY_FILES:
            os.chmod(dest, 0o600)
        result.files_restored += 1


def restore_backup(archive: Path, into: str, *, files_into: Path | None = None,
                   checks: Callable[[str], tuple[list[str], list[str]]] | None = None) -> RestoreResult:
    """Load a backup into a fresh database (and its files into `files_into`), then run `checks` on it.

    `checks(url)` returns (lines to print, problems); a problem makes the restore fail. Nothing is written
    when the archive fails its checksums or the target database is not empty.
    """
    manifest = verify_archive(archive)
    url = target_url(into)
    dialect = manifest["database"]["dialect"]
    if url.get_backend_name() != dialect:
        raise BackupError(f"this is a {dialect} backup: restore it into a {dialect} database, "
                          f"not {url.get_backend_name()}")
    _refuse_unless_empty(url)
    result = RestoreResult(manifest, url.render_as_string(hide_password=True))
    with tarfile.open(archive, "r:gz") as tar, tempfile.TemporaryDirectory(prefix="xiangyue-restore-") as tmp:
        dump = Path(tmp) / manifest["database"]["member"]
        with tar.extractfile(manifest["database"]["member"]) as src, open(dump, "wb") as out:
            shutil.copyfileobj(src, out, CHUNK)
        if dialect == "sqlite":
            src_db, dst_db = sqlite3.connect(dump), sqlite3.connect(url.database)
            try:
                src_db.backup(dst_db)
            finally:
                dst_db.close()
                src_db.close()
        else:
            env, args = _pg_env_and_args(url)
            command = current_app.config.get("PG_RESTORE_COMMAND") or "pg_restore"
            _run([command, "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction", *args,
                  "--dbname", url.database or "", str(dump)], env, "pg_restore")
        if files_into is not None:
            _restore_files(tar, manifest, files_into, result)
    revision = manifest["database"]["revision"]
    result.lines.append(f"restored {manifest['code']} of {manifest['taken_at']} into {result.target}")
    if set(revision) != code_heads():
        result.lines.append(f"schema revision {', '.join(revision) or 'none'}; this code's is "
                            f"{', '.join(sorted(code_heads()))}: run `flask db upgrade` on it before serving")
    if checks is not None:
        lines, problems = checks(url.render_as_string(hide_password=False))
        result.lines += lines
        result.problems += problems
    return result
