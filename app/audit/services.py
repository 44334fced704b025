"""Write and verify the hash-chained audit log."""
from __future__ import annotations

import hashlib
import json
from typing import Any

import sqlalchemy as sa
from flask import g, has_request_context

from ..db import utcnow
from ..extensions import db
from .models import AuditHead, AuditLog

GENESIS = "0" * 64


def _row_digest(row: AuditLog) -> str:
    """Hash the row's own fields together with the previous row's hash."""
    payload = {
        "seq": row.seq,
        "at": row.at.isoformat(timespec="microseconds"),
        "actor_id": row.actor_id,
        "actor_name": row.actor_name,
        "role": row.role,
        "village_id": row.village_id,
        "household_id": row.household_id,
        "action": row.action,
        "object_type": row.object_type,
        "object_id": row.object_id,
        "request_id": row.request_id,
        "details": row.details,
        "prev": row.prev_hash,
    }
    data = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def _current_actor() -> tuple[int | None, str | None, str | None]:
    """Who is acting: the logged-in user in a request, the command line otherwise."""
    if not has_request_context():
        return None, g.get("cli_actor", "cli"), "system"
    from flask_login import current_user

    role = g.get("acting_role")
    if current_user and current_user.is_authenticated:
        return current_user.id, current_user.username, role
    return None, None, role


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
    if obj is not None:
        object_type = object_type or obj.__tablename__
        object_id = object_id if object_id is not None else obj.id
        if village_id is None:
            village_id = getattr(obj, "village_id", None)
    actor_id, actor_name, cur_role = _current_actor()
    if actor is not None:
        actor_id, actor_name = actor.id, actor.username
    head = db.session.scalars(
        sa.select(AuditHead).where(AuditHead.id == 1).with_for_update().execution_options(populate_existing=True)
    ).first()
    if head is None:
        head = AuditHead(id=1, seq=0, hash=GENESIS)
        db.session.add(head)
        db.session.flush()
    row = AuditLog(
        seq=head.seq + 1,
        at=utcnow(),
        actor_id=actor_id,
        actor_name=actor_name,
        role=role or cur_role,
        village_id=village_id,
        household_id=household_id,
        action=action,
        object_type=object_type,
        object_id=object_id,
        request_id=g.get("request_id"),
        details=json.dumps(details, ensure_ascii=False, sort_keys=True, default=str) if details else None,
        prev_hash=head.hash,
    )
    row.hash = _row_digest(row)
    db.session.add(row)
    head.seq = row.seq
    head.hash = row.hash
    db.session.flush()
    return row


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
