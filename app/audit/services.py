"""Write and verify the hash-chained audit log."""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from flask import g, has_request_context
from flask_login import current_user
from sqlalchemy.orm import Session

from ..db import utcnow
from ..extensions import db
from .models import AuditHead, AuditLog

GENESIS = "0" * 64


#: the columns a row's hash covers, besides the previous row's hash
_HASHED = ("seq", "at", "actor_id", "actor_name", "role", "village_id", "household_id", "action",
           "object_type", "object_id", "request_id", "details")


#: The detail keys an audit row may carry; every key here promises that its values are never personal:
#: they are ids, counts, amounts, codes, statuses, flags, field names or dates of events, never a name, an
#: ID number, a birth date, a phone, an address, a free-text note or reason, a PIN or a secret code.
#:
#: A whitelist, not a blacklist of personal keys, because the chain is append-only and hash-linked: a value
#: that enters it can never be corrected or erased (PIPL), not even by the operator. A blacklist fails
#: open: the next call site that writes "donor", "leader", "members" or "remark" leaks until somebody
#: notices, and by then the value is in the chain for good. A whitelist fails closed: record() refuses an
#: unlisted key at once (the test of that call site fails), and whoever adds a key decides here, in one
#: place, that its values are never personal. What changed is said by field name (`changed`, see changes()),
#: and the values themselves are read from the object's own table, where they can be corrected.
ALLOWED_DETAIL_KEYS = frozenset({
    # the shape of changes(): changed field names, and the old and new values of allowed fields
    "changed", "before", "after",
    # access refusals
    "permission", "target_village_id",
    # ids of rows (a person, household, entry, transfer … is named by its id, never by its name)
    "village_id", "township_id", "household_id", "person_id", "head_id", "head_person_id",
    "new_household_id", "entry_id", "category_id", "version_id", "version_no", "ruleset_id",
    "supersedes_id", "job_id", "article_ids", "people", "split_from", "into", "from", "by", "replaces",
    "transfer", "reversal", "reverses", "debit", "credit", "product",
    # counts and sizes
    "households", "rows", "entries", "transfers", "redemptions", "articles", "lines", "failures", "add",
    "deduct", "categories", "new_categories", "chars", "differences", "qty", "year", "printed_again",
    "eligible", "present", "women_present", "households_total", "households_present", "votes_yes",
    "votes_no", "votes_abstain", "left", "skipped",
    # codes and statuses: a catalogue or place code (item, village, township) or a household's 户号, never a
    # secret (PINs, card and enrolment codes are not written to the audit at all); a rule's article number
    "code", "number", "item", "status", "role", "kind", "source", "direction", "year_policy", "policy",
    "decision", "channel", "step", "to", "label", "cap_period", "level", "applies_to", "receipt_no",
    "sha256", "full_phones", "scheme_created", "new", "reviewer", "active", "evidence_required",
    "end_reason",
    # points, prices and thresholds
    "amount", "points", "applied", "corrected_points", "closing", "total", "price_points", "reorder_level",
    "cap_points", "posting_days", "appeal_working_days", "star_bands",
    "assembly_num", "assembly_den", "households_num", "households_den", "representatives_num",
    "representatives_den", "party_num", "party_den", "majority_num", "majority_den", "women_min",
    # dates of events (never of people: a birth date is a field name in `changed`, nothing more)
    "occurred_on", "posting_until", "due_on", "held_on", "period",
    # patrol: ids of teams, members, routes, checkpoints and shifts; a shift's attendance and a finding's
    # action are codes; a leave's or a status change's dates are duty dates, not a person's
    "team_id", "member_id", "route_id", "checkpoint_id", "shift_id", "instead_of", "ref_id", "ref_kind",
    "attendance", "action", "month", "shifts", "places", "short", "on", "starts_on", "ends_on", "first_day",
    "last_day",
    # grid work: ids of grids, workers (users), visits and events; an event's priority, a visit's purpose and
    # the feature an event went to are codes; whether the resident was satisfied is a yes/no
    "grid_id", "parent_id", "user_id", "event_id", "visit_id", "assignee_id", "priority", "purpose",
    "handed_to", "satisfied", "follow_up",
})

#: what a field name in `changed` looks like: an attribute name, which a personal value never is
_FIELD_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")


class AuditDetailsRefused(ValueError):
    """A call site asked to write details the audit does not take (a programming error, not a user's)."""


def _check_details(value: Any, path: str = "details") -> None:
    """Refuse a details structure with a key outside ALLOWED_DETAIL_KEYS, at any depth."""
    if isinstance(value, Mapping):
        for key, inner in value.items():
            if key not in ALLOWED_DETAIL_KEYS:
                raise AuditDetailsRefused(
                    f"{path}[{key!r}] is not an allowed audit detail key: personal values never enter the "
                    f"chain; record the field's name with changed= (see ALLOWED_DETAIL_KEYS)")
            if key == "changed":
                if not isinstance(inner, list) or not all(
                        isinstance(n, str) and _FIELD_NAME.fullmatch(n) for n in inner):
                    raise AuditDetailsRefused(f"{path}['changed'] must be a list of field names")
            else:
                _check_details(inner, f"{path}[{key!r}]")
    elif isinstance(value, (list, tuple)):
        for inner in value:
            _check_details(inner, path)


def changed_fields(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """The names of the fields whose values differ between two snapshots (field → value), in the
    snapshots' order (a form's order reads better on the audit page than the alphabet's).

    A field missing from one side counts as None there, so changed_fields({}, values) names the fields
    a new object was given a value for; an empty text or list counts as None (a form's blank field).
    """
    def value(snapshot: Mapping[str, Any], key: str) -> Any:
        v = snapshot.get(key)
        return None if v in ("", [], ()) else v

    names = dict.fromkeys([*after, *before])
    return [k for k in names if value(before, k) != value(after, k)]


def changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """Audit details for an object that went from `before` to `after` ({} before a creation).

    The names of the changed fields, and the old and new values of those changed fields whose values are
    never personal (an allowed key: a status, points, a code); a personal field (name, birth date, phone,
    ID number, address, note …) appears by its name only. Empty when nothing changed.
    """
    changed = changed_fields(before, after)
    if not changed:
        return {}
    out: dict[str, Any] = {"changed": changed}
    shown = [k for k in changed if k in ALLOWED_DETAIL_KEYS]
    if shown and before:
        out["before"] = {k: before.get(k) for k in shown}
    if shown:
        out["after"] = {k: after.get(k) for k in shown}
    return out


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
    session = db.session()
    head = session.info.get(_HEAD_HELD)
    if head is not None:
        return head
    head = session.scalars(
        sa.select(AuditHead).where(AuditHead.id == 1).with_for_update().execution_options(populate_existing=True)
    ).first()
    if head is None:
        head = AuditHead(id=1, seq=0, hash=GENESIS)
        session.add(head)
        session.flush()
    session.info[_HEAD_HELD] = head
    return head


#: session.info key of the chain head this session holds locked: a transaction that writes several audit rows
#: (a redemption: its transfer's and its own) locks and reads the head once (bench figure 3)
_HEAD_HELD = "audit_head_held"


@sa.event.listens_for(Session, "after_transaction_end")
def _head_released(session, transaction) -> None:
    # the transaction's or a savepoint's end (not a flush's inner one): a savepoint rolled back takes its lock
    # and its head update with it, so the next record() locks and reads the head again
    if transaction.parent is None or transaction.nested:
        session.info.pop(_HEAD_HELD, None)


def _row_values(
    action: str,
    obj: Any = None,
    *,
    village_id: int | None = None,
    household_id: int | None = None,
    details: dict | None = None,
    changed: Iterable[str] | None = None,
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

    :raise AuditDetailsRefused: a details key outside ALLOWED_DETAIL_KEYS (nothing is written).
    """
    if changed is not None:
        details = {**(details or {}), "changed": list(dict.fromkeys(changed))}
    if details:
        _check_details(details)
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
    changed: Iterable[str] | None = None,
    object_type: str | None = None,
    object_id: int | None = None,
    actor: Any = None,
    role: str | None = None,
) -> AuditLog:
    """Append one audit row in the caller's transaction and extend the hash chain.

    `changed` names the fields a change touched (["name", "birth_date"]): what changed is recorded by field
    name and object id, never by value, because nothing in the chain can be redacted later. `details` may
    only use ALLOWED_DETAIL_KEYS (changes(before, after) builds both from two snapshots).

    Locking the chain head (FOR UPDATE on PostgreSQL, BEGIN IMMEDIATE on SQLite)
    keeps two writers from forking the chain.
    """
    return record_together([dict(action=action, obj=obj, village_id=village_id, household_id=household_id,
                                 details=details, changed=changed, object_type=object_type,
                                 object_id=object_id, actor=actor, role=role)])[0]


def record_together(rows: list[dict[str, Any]]) -> list[AuditLog]:
    """Append the few audit rows of one change (record()'s arguments each) as that many record() calls would,
    in one flush: the head is locked and moved once (a sale: its transfer's row and its own). They are ORM
    rows, as record()'s, which the audit gate (T16) follows; record_many's Core insert, one statement for
    all, is for imports of thousands."""
    who = _current_actor()
    values = [_row_values(**kwargs, _who=who) for kwargs in rows]
    head = lock_head()
    out = []
    for row_values in values:
        row = AuditLog(seq=head.seq + 1, at=utcnow(), prev_hash=head.hash, **row_values)
        row.hash = _row_digest(row)
        head.seq, head.hash = row.seq, row.hash
        out.append(row)
    db.session.add_all(out)
    db.session.flush()
    return out


def record_many(rows: list[dict[str, Any]]) -> None:
    """Append many audit rows at once, in list order, exactly as that many record() calls would.

    Each dict holds record()'s arguments (action, obj or object_type/object_id, village_id, household_id,
    details, changed, …). A bulk import writes thousands of rows: locking the head, inserting and moving
    the head once per row costs three statements each, so here the head is locked once, the hashes are
    chained in Python and the rows go in one executemany. The rows hash as record()'s would (same _digest).
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
