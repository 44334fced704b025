"""A fingerprint of the whole database, to prove that a request wrote nothing (T8, T10, T12)."""
from __future__ import annotations

import hashlib

import sqlalchemy as sa

from app.extensions import db

#: tables a refused or read-only request may write by design: the audit log of the refusal and its chain
#: head, the attempt budgets and probes, the kiosk sessions' last_seen
WRITTEN_BY_REFUSALS = frozenset({"audit_log", "audit_head", "budget_counters", "login_probes", "kiosk_probes",
                                 "kiosk_sessions"})


def fingerprint(ignore: frozenset[str] = WRITTEN_BY_REFUSALS) -> dict[str, tuple[int, str]]:
    """table → (row count, SHA-256 of every row in primary-key order), for every table of the schema.

    Call inside an app context; it reads in its own transaction and leaves the session clean.
    """
    db.session.rollback()
    out: dict[str, tuple[int, str]] = {}
    for table in db.metadata.sorted_tables:
        if table.name in ignore:
            continue
        order = list(table.primary_key.columns) or list(table.columns)
        h = hashlib.sha256()
        n = 0
        for row in db.session.execute(sa.select(*table.columns).order_by(*order)):
            h.update(repr(tuple(row)).encode())
            n += 1
        out[table.name] = (n, h.hexdigest()[:16])
    db.session.rollback()
    return out


def changed_tables(before: dict[str, tuple[int, str]], after: dict[str, tuple[int, str]]) -> list[str]:
    """The tables whose rows differ, with their counts: ["households: 20 → 21 rows", "people: changed"]."""
    out = []
    for name in sorted(set(before) | set(after)):
        b, a = before.get(name), after.get(name)
        if b != a:
            out.append(f"{name}: {b[0] if b else '-'} → {a[0] if a else '-'} rows" if (b and a and b[0] != a[0])
                       or not (b and a) else f"{name}: rows changed")
    return out
