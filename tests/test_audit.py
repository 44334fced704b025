"""The audit log: one row per change, in the same transaction, hash-chained, append-only, verifiable."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from app.audit.models import AuditLog
from app.audit.services import record, record_many, verify
from app.extensions import db
from app.registry.models import Household, Person


def _count(action: str | None = None) -> int:
    stmt = sa.select(sa.func.count(AuditLog.id))
    if action:
        stmt = stmt.where(AuditLog.action == action)
    return db.session.scalar(stmt)


def test_every_register_change_writes_exactly_one_row(clerk_client, village, make_household):
    h = make_household(village, "0101", "张三", members=[("张四", "child")])
    before = {a: _count(a) for a in ("household.create", "person.create", "person.update", "household.update",
                                     "household.split", "person.move_out", "household.change_head")}
    four = db.session.scalar(sa.select(Person).where(Person.name == "张四"))
    clerk_client.post(f"/registry/people/{four.id}/edit", data={"name": "张小四", "relation": "child"})
    clerk_client.post(f"/registry/households/{h.id}/edit", data={"number": "0101", "group_id": "0",
                                                               "address": "新地址"})
    clerk_client.post(f"/registry/households/{h.id}/head", data={"new_head_id": four.id,
                                                               "old_head_relation": "parent"})
    assert _count("person.update") == before["person.update"] + 1
    assert _count("household.update") == before["household.update"] + 1
    assert _count("household.change_head") == before["household.change_head"] + 1
    row = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "household.change_head"))
    assert row.actor_name == "clerk1" and row.role == "clerk" and row.village_id == village.id
    assert row.household_id == h.id and row.request_id and len(row.request_id) >= 8
    # a save without changes records nothing
    n = _count()
    clerk_client.post(f"/registry/households/{h.id}/edit", data={"number": "0101", "group_id": "0",
                                                               "address": "新地址"})
    assert _count() == n


def test_refused_change_leaves_no_audit_row_and_no_data(clerk_client, village, make_household):
    make_household(village, "0101", "张三")
    n_audit, n_hh = _count(), db.session.scalar(sa.select(sa.func.count(Household.id)))
    r = clerk_client.post("/registry/households/new", data={"number": "0101", "group_id": "0", "name": "重号"})
    assert r.status_code == 200
    assert _count() == n_audit
    assert db.session.scalar(sa.select(sa.func.count(Household.id))) == n_hh


def test_household_changes_page_lists_recent_changes(clerk_client, village, make_household):
    h = make_household(village, "0101", "张三")
    clerk_client.post(f"/registry/households/{h.id}/edit", data={"number": "0101", "group_id": "0",
                                                               "address": "东头第三家"})
    page = clerk_client.get(f"/audit/households/{h.id}").get_data(as_text=True)
    assert "household.update" in page and "东头第三家" in page and "clerk1" in page


def test_chain_verifies_and_tampering_is_found_at_that_row(app, clerk_client, village, make_household, runner):
    for i in range(5):
        make_household(village, f"02{i:02d}", f"王{i}")
    checked, broken, _ = verify()
    assert broken is None and checked == _count()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and "intact" in result.output

    target = db.session.scalar(sa.select(AuditLog).order_by(AuditLog.seq).offset(6).limit(1))
    seq = target.seq
    db.session.commit()
    # the database refuses the change as the app would make it…
    with pytest.raises(DBAPIError):
        db.session.execute(sa.text("UPDATE audit_log SET action = 'x' WHERE seq = :s"), {"s": seq})
        db.session.flush()
    db.session.rollback()
    with pytest.raises(DBAPIError):
        db.session.execute(sa.text("DELETE FROM audit_log WHERE seq = :s"), {"s": seq})
    db.session.rollback()
    # …so the test tampers as the database owner would: with the trigger out of the way
    if db.engine.dialect.name == "sqlite":
        db.session.execute(sa.text("DROP TRIGGER audit_log_no_update"))
        db.session.execute(sa.text("UPDATE audit_log SET details = '{\"number\": \"9999\"}' WHERE seq = :s"),
                           {"s": seq})
    else:
        db.session.execute(sa.text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
        db.session.execute(sa.text("UPDATE audit_log SET details = '{\"number\": \"9999\"}' WHERE seq = :s"),
                           {"s": seq})
        db.session.execute(sa.text("ALTER TABLE audit_log ENABLE TRIGGER USER"))
    db.session.commit()
    checked, broken, why = verify()
    assert broken == seq and checked == seq - 1
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and f"seq {seq}" in result.output


def test_deleted_row_is_detected(app, village, make_household):
    for i in range(3):
        make_household(village, f"03{i:02d}", f"赵{i}")
    total = _count()
    if db.engine.dialect.name == "sqlite":
        db.session.execute(sa.text("DROP TRIGGER audit_log_no_delete"))
    else:
        db.session.execute(sa.text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
    db.session.execute(sa.text("DELETE FROM audit_log WHERE seq = :s"), {"s": total})
    db.session.commit()
    _, broken, why = verify()
    assert broken == total and "end" in why


def test_history_table_is_append_only(app, village, make_household):
    make_household(village, "0401", "钱一")
    with pytest.raises(DBAPIError):
        db.session.execute(sa.text("UPDATE household_events SET note = 'x'"))
    db.session.rollback()
    with pytest.raises(DBAPIError):
        db.session.execute(sa.text("DELETE FROM household_events"))
    db.session.rollback()


def _tamper(seq: int) -> None:
    """Change one row's details as the database owner would: with the append-only trigger out of the way."""
    if db.engine.dialect.name == "sqlite":
        db.session.execute(sa.text("DROP TRIGGER audit_log_no_update"))
        db.session.execute(sa.text("UPDATE audit_log SET details = '{\"n\": 99}' WHERE seq = :s"), {"s": seq})
    else:
        db.session.execute(sa.text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
        db.session.execute(sa.text("UPDATE audit_log SET details = '{\"n\": 99}' WHERE seq = :s"), {"s": seq})
        db.session.execute(sa.text("ALTER TABLE audit_log ENABLE TRIGGER USER"))
    db.session.commit()


def test_record_many_chains_like_record_and_tampering_is_found(app, village):
    from app.submission import write_transaction

    start = _count()
    with write_transaction():
        record_many([])  # nothing to write: no row, no head move
        record_many([{"action": "test.bulk", "object_type": "people", "object_id": i, "village_id": village.id,
                      "household_id": 7, "details": {"n": i}} for i in range(5)]
                    + [{"action": "test.bulk_obj", "obj": village}])
        single = record("test.single", village, details={"after": "bulk"})

    rows = list(db.session.scalars(sa.select(AuditLog).where(AuditLog.seq > start).order_by(AuditLog.seq)))
    assert [r.seq for r in rows] == list(range(start + 1, start + 8))
    assert [r.action for r in rows] == ["test.bulk"] * 5 + ["test.bulk_obj", "test.single"]
    assert [r.object_id for r in rows[:5]] == list(range(5)) and rows[0].details == '{"n": 0}'
    # an object fills in the columns as in record(): same type, id and village
    assert (rows[5].object_type, rows[5].object_id, rows[5].village_id) == (
        rows[6].object_type, rows[6].object_id, rows[6].village_id) == ("villages", village.id, None)
    assert all(r.actor_name == "cli" and r.role == "system" for r in rows)  # no request: the command line
    assert all(b.prev_hash == a.hash for a, b in zip(rows, rows[1:]))
    assert single.seq == start + 7 and rows[-1].prev_hash == rows[-2].hash
    assert [r.at for r in rows] == sorted(r.at for r in rows)
    assert verify() == (start + 7, None, None)

    _tamper(start + 2)
    checked, broken, why = verify()
    assert (checked, broken) == (start + 1, start + 2) and "content" in why
