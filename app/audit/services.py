"""Write and verify the hash-chained audit log."""
from __future__ import annotations

import hashlib
import json
from typing import Any, Mapping

import sqlalchemy as sa
from flask import g, has_request_context
from flask_login import current_user

from ..db import utcnow
from ..extensions import db
from .models import AuditHead, AuditLog

GENESIS = "0" * 64


#: the columns a row's hash covers, besides the previous row's hash
_HASHED = ("seq", "at", "actor_id", "actor_name", "role", "village_id", "household_id", "action",
           "object_type", "object_id", "request_id", "details")


def _digest(values: Mapping[str, Any]) -> str:
    """Hash a row's fields (column name → value) together with the previous row's hash.

    The one definition of the hashed bytes: record(), record_many() and verify() all come here, so rows
    written one at a time and in bulk hash alike and verify() accepts any mix of them.
    """
    payload = {name: values[name] for name in _HASHED}
    payload["at"] = values["at"].isoformat(timespec="microseconds")
    payload["prev"] = values["prev_hash"]
    data = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def _row_digest(row: AuditLog) -> str:
    """Hash a loaded or new AuditLog row (see _digest)."""
    return _digest({name: getattr(row, name) for name in (*_HASHED, "prev_hash")})


def _current_actor() -> tuple[int | None, str | None, str | None]:
    """Who is acting: the logged-in user in a request, the command line otherwise."""
    if not has_request_context():
        return None, g.get("cli_actor", "cli"), "system"
    role = g.get("acting_role")
    if current_user and current_user.is_authenticated:
        return current_user.id, current_user.username, role
    return None, None, role


def lock_head() -> AuditHead:
    """The chain head, locked until the transaction ends (FOR UPDATE on PostgreSQL; on SQLite the
    caller's BEGIN IMMEDIATE already holds the write lock); created at genesis on first use."""
    head = db.session.scalars(
        sa.select(AuditHead).where(AuditHead.id == 1).with_for_update().execution_options(populate_existing=True)
    ).first()
    if head is None:
        head = AuditHead(id=1, seq=0, hash=GENESIS)
        db.session.add(head)
        db.session.flush()
    return head


def _row_values(
    action: str,
    obj: Any = None,
    *,
    village_id: int | None = None,
    household_id: int | None = None,
    details: dict | None = None,
    object_type: str | None = None,
    object_id: int | None = None,
    actor: Any = None,
    role: str | None = None,
    _who: tuple[int | None, str | None, str | None] | None = None,
) -> dict[str, Any]:
    """The column values of one audit row from record()'s arguments, without seq, hashes and time.

    The caller stamps `at` after locking the head, so times rise along the chain as it is written.

    `_who` is the (actor id, name, role) of _current_actor(), passed in by record_many so it is looked up
    once per batch instead of once per row.
    """
    if obj is not None:
        object_type = object_type or obj.__tablename__
        object_id = object_id if object_id is not None else obj.id
        if village_id is None:
            village_id = getattr(obj, "village_id", None)
    actor_id, actor_name, cur_role = _who if _who is not None else _current_actor()
    if actor is not None:
        actor_id, actor_name = actor.id, actor.username
    return {
        "actor_id": actor_id,
        "actor_name": actor_name,
        "role": role or cur_role,
        "village_id": village_id,
        "household_id": household_id,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "request_id": g.get("request_id"),
        "details": json.dumps(details, ensure_ascii=False, sort_keys=True, default=str) if details else None,
    }


def record(
    action: str,
    obj: Any = None,
    *,
    village_id: int | None = None,
    household_id: int | None = None,
    details: dict | None = None,
    object_type: str | None = None,
    object_id: int | None = None,
    actor: Any = None,
    role: str | None = None,
) -> AuditLog:
    """Append one audit row in the caller's transaction and extend the hash chain.

    Locking the chain head (FOR UPDATE on PostgreSQL, BEGIN IMMEDIATE on SQLite)
    keeps two writers from forking the chain.
    """
    values = _row_values(action, obj, village_id=village_id, household_id=household_id, details=details,
                         object_type=object_type, object_id=object_id, actor=actor, role=role)
    head = lock_head()
    row = AuditLog(seq=head.seq + 1, at=utcnow(), prev_hash=head.hash, **values)
    row.hash = _row_digest(row)
    db.session.add(row)
    head.seq = row.seq
    head.hash = row.hash
    db.session.flush()
    return row


def record_many(rows: list[dict[str, Any]]) -> None:
    """Append many audit rows at once, in list order, exactly as that many record() calls would.

    Each dict holds record()'s arguments (action, obj or object_type/object_id, village_id, household_id,
    details, …). A bulk import writes thousands of rows: locking the head, inserting and moving the head
    once per row costs three statements each, so here the head is locked once, the hashes are chained in
    Python and the rows go in one executemany. The rows hash as record()'s would (same _digest).
    """
    if not rows:
        return
    who = _current_actor()
    values = [_row_values(**kwargs, _who=who) for kwargs in rows]
    head = lock_head()
    seq, prev = head.seq, head.hash
    for row in values:
        seq += 1
        row["seq"], row["at"], row["prev_hash"] = seq, utcnow(), prev
        row["hash"] = prev = _digest(row)
    # render_nulls: None goes in as NULL (as record() writes it) instead of the column being left out,
    # which would split the executemany wherever the set of empty columns changes
    db.session.execute(sa.insert(AuditLog).execution_options(render_nulls=True), values)
    head.seq, head.hash = seq, prev
    db.session.flush()


def verify(batch: int = 5000) -> tuple[int, int | None, str | None]:
    """Walk the chain in order; return (rows checked, first broken seq or None, why)."""
    prev_hash = GENESIS
    expected_seq = 1
    checked = 0
    while True:
        rows = db.session.scalars(
            sa.select(AuditLog).where(AuditLog.seq >= expected_seq).order_by(AuditLog.seq).limit(batch)
        ).all()
        if not rows:
            break
        for row in rows:
            if row.seq != expected_seq:
                return checked, expected_seq, "missing row"
            if row.prev_hash != prev_hash:
                return checked, row.seq, "previous hash does not match"
            if _row_digest(row) != row.hash:
                return checked, row.seq, "row content does not match its hash"
            prev_hash = row.hash
            expected_seq += 1
            checked += 1
        db.session.expunge_all()
    head = db.session.get(AuditHead, 1)
    if head is not None and (head.seq != expected_seq - 1 or head.hash != prev_hash):
        return checked, expected_seq, "rows missing at the end of the chain"
    return checked, None, None
