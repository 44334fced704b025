"""The checked upload, kept between the dry run and the confirmation under instance/imports.

A staged file holds what the confirmation needs (for the register: the recognised columns with full ID
numbers, app.registry.import_check.staging_copy), so it lives under a generated name (never the user's
file name), owner-only, is bound to one purpose (the importer that checked it), village and user,
expires after PENDING_MAX_AGE, and is deleted once the confirmation has run (imported or refused), when
the person cancels, or by the purge of abandoned ones that every import page and `flask imports purge`
(cron) run.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{43}")
SHA256_RE = re.compile(r"[0-9a-f]{64}")
#: seconds a checked upload waits for its confirmation: ID numbers do not stay on disk longer than needed
PENDING_MAX_AGE = 30 * 60
# the data file keeps the name earlier versions gave it (<token>.xlsx, whatever the kind), so an
# upgrade purges what they staged the same way
_DATA, _META = ".xlsx", ".json"


@dataclass(frozen=True)
class Staged:
    """A staged upload: its bytes and the kind it was checked as (xlsx, csv or text)."""

    data: bytes
    kind: str


def _upload_dir(instance_path: str) -> Path:
    path = Path(instance_path) / "imports"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def store_upload(instance_path: str, data: bytes, *, purpose: str, village_id: int, user_id: int | None,
                 kind: str = "xlsx") -> tuple[str, str]:
    """Keep a checked upload under a generated name; return (token, sha256)."""
    folder = _upload_dir(instance_path)
    token = secrets.token_urlsafe(32)
    digest = hashlib.sha256(data).hexdigest()
    _write_private(folder / f"{token}{_DATA}", data)
    meta = {"sha256": digest, "purpose": purpose, "kind": kind, "village_id": village_id, "user_id": user_id,
            "created": time.time()}
    _write_private(folder / f"{token}{_META}", json.dumps(meta).encode())
    return token, digest


def load_upload(instance_path: str, token: str | None, *, purpose: str, village_id: int, user_id: int | None,
                sha256: str | None) -> Staged | None:
    """The staged upload for this token, or None unless it is this purpose's, village's and user's,
    fresh and unchanged."""
    if not token or not TOKEN_RE.fullmatch(token) or not sha256 or not SHA256_RE.fullmatch(sha256):
        return None
    folder = _upload_dir(instance_path)
    try:
        meta = json.loads((folder / f"{token}{_META}").read_text())
        data = (folder / f"{token}{_DATA}").read_bytes()
    except (OSError, ValueError):
        return None
    if (meta.get("purpose") != purpose or meta.get("village_id") != village_id
            or meta.get("user_id") != user_id or meta.get("sha256") != sha256
            or time.time() - float(meta.get("created", 0)) > PENDING_MAX_AGE
            or hashlib.sha256(data).hexdigest() != sha256):
        return None
    return Staged(data, str(meta.get("kind") or "xlsx"))


def cancel_upload(instance_path: str, token: str | None, *, purpose: str, village_id: int,
                  user_id: int | None) -> bool:
    """Delete a staged upload its owner no longer wants (the report's Cancel); True when one went.

    Only the user who staged it, for this purpose and village, can: a token is not enough.
    """
    if not token or not TOKEN_RE.fullmatch(token):
        return False
    try:
        meta = json.loads((_upload_dir(instance_path) / f"{token}{_META}").read_text())
    except (OSError, ValueError):
        return False
    if (meta.get("purpose"), meta.get("village_id"), meta.get("user_id")) != (purpose, village_id, user_id):
        return False
    discard_upload(instance_path, token)
    return True


def discard_upload(instance_path: str, token: str | None) -> None:
    """Delete a staged upload (after the import, or when it failed)."""
    if not token or not TOKEN_RE.fullmatch(token):
        return
    folder = _upload_dir(instance_path)
    for suffix in (_DATA, _META):
        try:
            (folder / f"{token}{suffix}").unlink()
        except FileNotFoundError:
            pass


def purge_stale_uploads(instance_path: str, max_age: float = PENDING_MAX_AGE) -> int:
    """Delete staged uploads nobody confirmed within `max_age` seconds; return how many files went."""
    folder = _upload_dir(instance_path)
    cutoff = time.time() - max_age
    removed = 0
    for path in folder.iterdir():
        if path.suffix in (_DATA, _META) and TOKEN_RE.fullmatch(path.stem):
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                pass
    return removed
