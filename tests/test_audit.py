"""The audit log: one row per change, in the same transaction, hash-chained, append-only, verifiable."""
from __future__ import annotations

import json

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
    assert "household.update" in page and "clerk1" in page
    # what changed, by its label; the address itself is in the register, not in the audit
    assert "变更：住址" in page and "东头第三家" not in page


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
                      "household_id": 7, "details": {"rows": i}} for i in range(5)]
                    + [{"action": "test.bulk_obj", "obj": village}])
        single = record("test.single", village, details={"status": "bulk"})

    rows = list(db.session.scalars(sa.select(AuditLog).where(AuditLog.seq > start).order_by(AuditLog.seq)))
    assert [r.seq for r in rows] == list(range(start + 1, start + 8))
    assert [r.action for r in rows] == ["test.bulk"] * 5 + ["test.bulk_obj", "test.single"]
    assert [r.object_id for r in rows[:5]] == list(range(5)) and rows[0].details == '{"rows": 0}'
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


# --- no personal values in the chain ----------------------------------------------------------------

def _details_since(seq: int) -> list[tuple[str, str]]:
    """(action, details as stored) of every audit row after `seq`."""
    return [(a, d or "") for a, d in db.session.execute(
        sa.select(AuditLog.action, AuditLog.details).where(AuditLog.seq > seq).order_by(AuditLog.seq))]


def _leaks(rows: list[tuple[str, str]], values: list[str]) -> list[tuple[str, str]]:
    return [(action, v) for action, details in rows for v in values if v and v in details]


def test_no_personal_value_enters_the_audit_chain(clerk_client, clerk, village, make_user):
    """Register, import, kiosk, users, points and shop changes name what changed, never the values."""
    import datetime as dt

    from app.auth.services import create_user
    from app.kiosk import services as ks
    from app.points import services as pts
    from app.points.models import PointEntry
    from app.registry.identity import mask_id
    from app.registry.import_check import apply_import, check_workbook
    from app.shop import services as shop
    from app.submission import write_transaction
    from tests.conftest import valid_id
    from tests.test_import_export import good_rows, make_xlsx

    start = db.session.scalar(sa.select(sa.func.coalesce(sa.func.max(AuditLog.seq), 0)))
    head_id, wife_id = valid_id(11, "19580203"), valid_id(12, "19600405")
    personal = ["欧阳建国", "欧阳建华", "1958-02-03", "19580203", head_id, "13912345678", "槐树巷七号",
                "欠费未缴", "慕容秀英", "1960-04-05", wife_id, "13687654321", "慕容秀兰", "1961-05-06",
                "13500001111", "外出照顾欧阳老人", "司徒组长"]
    r = clerk_client.post("/registry/households/new", data={
        "number": "0701", "group_id": "0", "address": "槐树巷七号", "note": "欠费未缴", "name": "欧阳建国",
        "sex": "male", "birth_date": "1958-02-03", "phone": "13912345678", "id_number": head_id})
    assert r.status_code == 302, r.get_data(as_text=True)[-1500:]
    h = db.session.scalar(sa.select(Household).where(Household.number == "0701"))
    r = clerk_client.post(f"/registry/households/{h.id}/people/new", data={
        "name": "慕容秀英", "relation": "spouse", "sex": "female", "birth_date": "1960-04-05",
        "phone": "13687654321", "id_number": wife_id})
    assert r.status_code == 302
    wife = db.session.scalar(sa.select(Person).where(Person.name == "慕容秀英"))
    head = db.session.scalar(sa.select(Person).where(Person.name == "欧阳建国"))
    r = clerk_client.post(f"/registry/people/{wife.id}/edit", data={
        "name": "慕容秀兰", "relation": "spouse", "sex": "female", "birth_date": "1961-05-06",
        "phone": "13500001111"})
    assert r.status_code == 302
    r = clerk_client.post(f"/registry/people/{head.id}/edit", data={
        "name": "欧阳建华", "relation": "head", "sex": "male", "birth_date": "1958-02-03",
        "phone": "13912345678"})
    assert r.status_code == 302
    r = clerk_client.post(f"/registry/households/{h.id}/edit", data={
        "number": "0701", "group_id": "0", "address": "槐树巷七号", "note": "外出照顾欧阳老人"})
    assert r.status_code == 302
    for name in ("一组", "二组"):
        r = clerk_client.post("/registry/groups", data={"name": name, "kind": "group", "leader": "司徒组长",
                                                        "active": "y"})
        assert r.status_code == 302
    r = clerk_client.post(f"/registry/people/{wife.id}/move-out", data={"status": "moved",
                                                                        "note": "外出照顾欧阳老人"})
    assert r.status_code == 302

    # a register import
    rows = good_rows()
    personal += [v for row in rows for v in (row[2], row[4], row[8], row[9]) if isinstance(v, str)]
    personal += ["1962-03-04", "1990-05-06"]
    with write_transaction():
        apply_import(village, check_workbook(village, make_xlsx(rows)))

    db.session.rollback()
    with write_transaction():
        household = db.session.get(Household, h.id)
        ks.set_pin(household, "258036")
        card = ks.issue_card(household)
        create_user("wangkuaiji", "a-long-password-1", display_name="王会计")
        personal += ["258036", card, "wangkuaiji", "王会计", mask_id(head_id), mask_id(wife_id)]
    reviewer = make_user("shen", ("reviewer", village))
    with write_transaction():
        scheme = pts.create_scheme(village, "积分细则")
        cat = pts.create_category(scheme, "热心公益", "add")
        item = pts.create_item(cat, pts.ItemData(code="A01", text="参加村庄清洁日", points=2))
        entry = pts.record_entry(scheme, item, db.session.get(Household, h.id),
                                 person=db.session.get(Person, head.id), occurred_on=dt.date(2026, 11, 2),
                                 actor=clerk, today=dt.date(2026, 11, 3))
    with write_transaction():
        pts.reject(db.session.get(PointEntry, entry.id), reviewer, reason="欧阳建华当天不在村里")
        rice = shop.create_product(village, name="大米", unit="袋", price_points=20)
        shop.receive_donation(village, donor_name="欧阳建华", donor_kind="person", lines=[(rice, 5)])
        shop.receive_purchase(rice, 10, "从慕容超市进货")
    personal += ["欧阳建华当天不在村里", "从慕容超市进货"]

    rows = _details_since(start)
    assert len(rows) > 30
    assert _leaks(rows, personal) == []
    # the changes are still recorded: by field name and object id
    changed = [(a, json.loads(d).get("changed")) for a, d in rows if d]
    assert ("person.update", ["name", "birth_date", "phone"]) in changed
    assert ("person.update", ["name"]) in changed
    assert ("household.update", ["note"]) in changed
    assert ("person.create", ["name", "relation", "sex", "birth_date", "phone", "id_number"]) in changed
    assert ("user.create", ["username", "display_name"]) in changed
    assert verify()[1] is None


def test_audit_refuses_a_details_key_it_does_not_know(app, village):
    from app.audit.services import AuditDetailsRefused
    from app.submission import write_transaction

    n = _count()
    for details in ({"name": "张三"}, {"before": {"birth_date": "1960-01-01"}}, {"donor": "王五"},
                    {"changed": ["张三"]}, {"changed": "name"}):
        with pytest.raises(AuditDetailsRefused), write_transaction():
            record("test.refused", village, details=details)
    with pytest.raises(AuditDetailsRefused), write_transaction():
        record_many([{"action": "test.refused", "obj": village, "details": {"phone": "13800138000"}}])
    assert _count() == n and verify()[1] is None


def test_changes_names_every_changed_field_and_shows_only_non_personal_values():
    from app.audit.services import changes

    before = {"name": "张三", "birth_date": "1960-01-01", "status": "alive", "number": "0101", "note": None}
    after = {"name": "张三", "birth_date": "1961-01-01", "status": "moved", "number": "0102", "note": "外出"}
    assert changes(before, after) == {"changed": ["birth_date", "status", "number", "note"],
                                      "before": {"number": "0101", "status": "alive"},
                                      "after": {"number": "0102", "status": "moved"}}
    assert changes(before, dict(before)) == {}
    # a creation: the fields given, the non-personal values as they now are
    assert changes({}, {"name": "大米", "price_points": 20, "spec": ""}) == {
        "changed": ["name", "price_points"], "after": {"price_points": 20}}


def test_audit_pages_show_changed_fields_by_their_labels(clerk_client, village, make_household):
    h = make_household(village, "0101", "张三")
    head = db.session.scalar(sa.select(Person).where(Person.household_id == h.id))
    r = clerk_client.post(f"/registry/people/{head.id}/edit", data={
        "name": "张三丰", "relation": "head", "birth_date": "1950-06-07"})
    assert r.status_code == 302
    for url in ("/audit/", f"/audit/households/{h.id}"):
        page = clerk_client.get(url).get_data(as_text=True)
        assert "person.update" in page and "变更：姓名、出生日期" in page
        assert "张三丰" not in page and "1950-06-07" not in page
    clerk_client.get("/lang/en")
    page = clerk_client.get("/audit/").get_data(as_text=True)
    assert "Changed: Name, Birth date" in page


def test_one_transaction_locks_the_head_once_and_a_savepoint_rolled_back_leaves_no_gap(app, village):
    """Several rows in one transaction read and lock the chain head once; a savepoint rolled back after
    writing a row takes the row and the head's move with it, and the next row continues the chain."""
    from app.submission import write_transaction

    start = _count()
    head_reads = []

    def on_execute(conn, cursor, statement, *args):
        if "FROM audit_head" in statement:
            head_reads.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", on_execute)
    try:
        with write_transaction():
            record("test.first", village)
            record("test.second", village)
            assert len(head_reads) == 1
            try:
                with db.session.begin_nested():
                    record("test.dropped", village)
                    raise RuntimeError("refused after the audit row")
            except RuntimeError:
                pass
            record("test.third", village)
        assert len(head_reads) == 2  # read again once the savepoint was rolled back
        with write_transaction():
            record("test.next", village)
        assert len(head_reads) == 3  # a new transaction locks the head again
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", on_execute)
    rows = list(db.session.scalars(sa.select(AuditLog).where(AuditLog.seq > start).order_by(AuditLog.seq)))
    assert [r.action for r in rows] == ["test.first", "test.second", "test.third", "test.next"]
    assert [r.seq for r in rows] == list(range(start + 1, start + 5))
    assert verify() == (start + 4, None, None)
