"""The one write path of every form (app.submission): transaction, field error, busy retry."""
from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from flask import render_template_string
from flask_wtf import FlaskForm
from sqlalchemy.exc import IntegrityError, OperationalError
from wtforms import StringField, SubmitField

from app.auth.models import User
from app.db import local_today, unique_violation
from app.extensions import db
from app.points import services as pts
from app.points.models import PointCategory, PointEntry
from app.registry.models import Household, Village
from app.registry.services import RegistryError, create_village
from app.rules import services as rules
from app.rules.models import RuleSet, RuleVersion
from app.submission import Submitted, is_busy, run_write, submit, write_transaction
from tests.conftest import PASSWORD

PAGE = "{% for f in form %}{% for e in f.errors %}<p class=err data-field={{ f.name }}>{{ e }}</p>" \
       "{% endfor %}{% endfor %}"


class _Form(FlaskForm):
    code = StringField()
    name = StringField()
    submit = SubmitField()


def _locked() -> OperationalError:
    return OperationalError("INSERT …", {}, Exception("database is locked"))


def _villages() -> list[str]:
    db.session.rollback()
    return list(db.session.scalars(sa.select(Village.code).order_by(Village.code)))


@pytest.fixture
def scratch(app):
    """A POST route whose action is set by the test: (app, calls, set_action)."""
    state = {"action": None, "calls": 0, "unique": None}

    def view():
        form = _Form()
        if form.validate_on_submit():
            def action():
                state["calls"] += 1
                return state["action"](form)
            done = submit(form, action, field="name", unique=state["unique"])
            if done:
                return f"ok {done.value.code}"
        return render_template_string(PAGE, form=form)

    app.add_url_rule("/_scratch", "scratch", view, methods=["POST"])

    def set_action(fn):
        state["action"] = fn
    return state, set_action


def test_a_refusal_lands_on_the_field_it_names_and_writes_nothing(client, scratch):
    state, set_action = scratch

    def action(form):
        create_village("w1", "写了一半村")  # written, flushed …
        raise RegistryError("这个编号不能用", field="code")  # … then refused
    set_action(action)
    r = client.post("/_scratch", data={"code": "w1", "name": "x"})
    assert r.status_code == 200
    assert '<p class=err data-field=code>这个编号不能用</p>' in r.get_data(as_text=True)
    assert _villages() == []


def test_a_refusal_without_a_field_goes_to_the_views_field(client, scratch):
    _state, set_action = scratch

    def action(form):
        raise RegistryError("不行")
    set_action(action)
    r = client.post("/_scratch", data={"code": "w1", "name": "x"})
    assert '<p class=err data-field=name>不行</p>' in r.get_data(as_text=True)


def test_success_commits_once_and_returns_the_value(client, scratch):
    state, set_action = scratch
    set_action(lambda form: create_village(form.code.data, "好村"))
    r = client.post("/_scratch", data={"code": "w2", "name": "x"})
    assert r.get_data(as_text=True) == "ok w2"
    assert _villages() == ["w2"] and state["calls"] == 1


def test_a_busy_database_is_tried_again_from_the_start(client, scratch):
    state, set_action = scratch

    def action(form):
        create_village(f"b{state['calls']}", "忙村")
        if state["calls"] < 3:
            raise _locked()  # the first two attempts' villages are rolled back with them
        return db.session.scalar(sa.select(Village).where(Village.code == "b3"))
    set_action(action)
    r = client.post("/_scratch", data={"code": "x", "name": "x"})
    assert r.get_data(as_text=True) == "ok b3"
    assert state["calls"] == 3 and _villages() == ["b3"]


def test_a_database_busy_through_every_try_gets_the_friendly_503_page(client, scratch):
    state, set_action = scratch

    def action(form):
        create_village("never", "忙村")
        raise _locked()
    set_action(action)
    r = client.post("/_scratch", data={"code": "x", "name": "x"})
    assert r.status_code == 503
    text = r.get_data(as_text=True)
    assert "系统正忙，请稍后再试。" in text and "请重试" in text
    assert "Traceback" not in text
    assert state["calls"] == 3 and _villages() == []


def test_another_database_error_is_not_retried(client, scratch):
    state, set_action = scratch

    def action(form):
        raise OperationalError("SELECT", {}, Exception("no such column: nope"))
    set_action(action)
    r = client.post("/_scratch", data={"code": "x", "name": "x"})
    assert r.status_code == 500 and state["calls"] == 1


@pytest.mark.parametrize("message, busy", [
    ("database is locked", True), ("database table is locked", True), ("deadlock detected", True),
    ("no such table: x", False), ("syntax error", False)])
def test_is_busy(message, busy):
    assert is_busy(OperationalError("x", {}, Exception(message))) is busy


def _duplicate(code: str) -> None:
    """Insert a village whose code is taken, without the service's check: a unique violation."""
    db.session.execute(sa.insert(Village).values(code=code, name="重名村"))


def test_unique_violation_names_the_constraint_on_either_database(app, make_household, village):
    with pytest.raises(IntegrityError) as single, write_transaction():
        _duplicate("v1")
    assert unique_violation(single.value) == "uq_villages_code"
    with pytest.raises(IntegrityError) as pair, write_transaction():
        db.session.execute(sa.insert(Household).values(village_id=village.id, number="0101"))
        db.session.execute(sa.insert(Household).values(village_id=village.id, number="0101"))
    assert unique_violation(pair.value) == "uq_households_village_number"
    with pytest.raises(IntegrityError) as other, write_transaction():
        db.session.execute(sa.insert(Household).values(village_id=village.id, number=None))
    assert unique_violation(other.value) is None


def test_a_unique_value_taken_meanwhile_is_tried_again(client, scratch):
    state, set_action = scratch
    with write_transaction():
        create_village("u1", "先来村")

    def action(form):
        if state["calls"] == 1:
            _duplicate("u1")  # the first attempt lost the race …
        return create_village("u2", "后到村")  # … the next one sees the winner's row and does its own work
    set_action(action)
    r = client.post("/_scratch", data={"code": "x", "name": "x"})
    assert r.get_data(as_text=True) == "ok u2"
    assert state["calls"] == 2 and _villages() == ["u1", "u2"]


@pytest.mark.parametrize("declared, field, message", [
    (None, "name", "已经存在：可能是别人刚刚保存的。没有做任何修改。"),
    ({"uq_villages_code": ("code", "这个编号刚被别人用了")}, "code", "这个编号刚被别人用了")])
def test_a_unique_value_taken_on_every_try_is_a_message_on_the_form(client, scratch, declared, field, message):
    state, set_action = scratch
    state["unique"] = declared
    with write_transaction():
        create_village("u1", "先来村")
    set_action(lambda form: _duplicate("u1"))
    r = client.post("/_scratch", data={"code": "x", "name": "x"})
    assert r.status_code == 200
    assert f"<p class=err data-field={field}>{message}</p>" in r.get_data(as_text=True)
    assert state["calls"] == 3 and _villages() == ["u1"]


def test_a_write_without_a_form_that_keeps_losing_the_race_gets_the_409_page(app, client):
    with write_transaction():
        create_village("u1", "先来村")
    app.add_url_rule("/_formless", "formless", lambda: run_write(lambda: _duplicate("u1")), methods=["POST"])
    r = client.post("/_formless")
    assert r.status_code == 409 and "这条信息刚刚被其他人改过，请刷新页面后再试。" in r.get_data(as_text=True)
    assert _villages() == ["u1"]


def test_another_broken_constraint_is_not_retried(client, scratch):
    state, set_action = scratch
    set_action(lambda form: db.session.execute(sa.insert(Village).values(code=None, name="无编号村")))
    r = client.post("/_scratch", data={"code": "x", "name": "x"})
    assert r.status_code == 500 and state["calls"] == 1


def test_write_transaction_commits_or_rolls_back_whole(app):
    with write_transaction():
        create_village("t1", "一村")
    with pytest.raises(RegistryError):
        with write_transaction():
            create_village("t2", "二村")
            raise RegistryError("no")
    assert _villages() == ["t1"]


def test_run_write_and_submitted(app):
    v = run_write(lambda: create_village("r1", "一村"))
    assert v.code == "r1" and _villages() == ["r1"]
    assert not Submitted(False) and Submitted(True, v) and not Submitted(True, v).replayed


# --- identical forms sent at the same moment (issue 13: a unique violation was a 500 on PostgreSQL) ---

RACERS = 10


def _race(app, username: str, post) -> list[tuple[int, str]]:
    """RACERS browsers, each logged in as `username`, send `post(client)` at the same moment."""
    clients = []
    for _ in range(RACERS):
        c = app.test_client()
        assert c.post("/login", data={"username": username, "password": PASSWORD}).status_code == 302
        clients.append(c)
    start = threading.Barrier(RACERS)
    results: list = [None] * RACERS

    def run(i):
        start.wait()
        r = post(clients[i])
        results[i] = (r.status_code, r.get_data(as_text=True))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(RACERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert all(r is not None for r in results)
    return results


def _one_went_through(results, message: str) -> None:
    codes = sorted(code for code, _page in results)
    assert all(code < 500 for code in codes), codes
    assert codes.count(302) == 1, codes
    refused = [page for code, page in results if code != 302]
    assert all(message in page for page in refused), refused[0][:2000]


def test_ten_identical_new_users_at_once_make_one(app, make_user):
    make_user("admin1", ("admin", None))
    results = _race(app, "admin1", lambda c: c.post("/admin/users", data={
        "username": "wangwu", "password": "long-enough-pw", "submit": "1"}))
    _one_went_through(results, "用户名“wangwu”已被使用。")
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User).where(User.username == "wangwu")) == 1


def test_ten_identical_new_categories_at_once_make_one(app, village, clerk):
    with write_transaction():
        pts.create_scheme(village, "积分细则")
    results = _race(app, "clerk1", lambda c: c.post("/points/scheme", data={
        "c-submit": "1", "c-name": "热心公益", "c-direction": "add"}))
    _one_went_through(results, "该方案已有名为“热心公益”的类别。")
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PointCategory)) == 1


def test_ten_identical_rule_imports_at_once_make_one_rule_set(app, village, clerk):
    text = "第一条 爱护公物。\n第二条 邻里和睦。\n"
    results = _race(app, "clerk1", lambda c: c.post("/rules/import", data={
        "ruleset_id": "0", "kind": "village_rules", "title": "青山村村规民约", "text": text, "submit": "1"},
        content_type="multipart/form-data"))
    _one_went_through(results, "本村已有同名规约。")
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RuleSet)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RuleVersion)) == 1


def test_ten_imports_into_one_rule_set_at_once_number_their_versions(app, village, clerk):
    with write_transaction():
        rs = rules.create_ruleset(village, "village_rules", "章程")
    rs_id = rs.id
    results = _race(app, "clerk1", lambda c: c.post("/rules/import", data={
        "ruleset_id": str(rs_id), "kind": "village_rules", "text": "第一条 爱护公物。\n", "submit": "1"},
        content_type="multipart/form-data"))
    assert sorted(code for code, _p in results) == [302] * RACERS
    db.session.rollback()
    assert sorted(db.session.scalars(sa.select(RuleVersion.version_no))) == list(range(1, RACERS + 1))


def test_ten_identical_entries_under_one_form_key_record_one(app, village, clerk, make_household):
    make_household(village, "0101", "张三丰")
    with write_transaction():
        scheme = pts.create_scheme(village, "积分细则")
        item = pts.create_item(pts.create_category(scheme, "热心公益", "add"),
                               pts.ItemData(code="A01", text="参加清洁日", points=2, applies_to="household"))
    data = {"household_number": "0101", "person_id": "0", "item_id": str(item.id),
            "occurred_on": local_today().isoformat(), "idempotency_key": "race-key-0123456789", "submit": "1"}
    results = _race(app, "clerk1", lambda c: c.post("/points/entries/new", data=data))
    assert sorted(code for code, _p in results) == [302] * RACERS  # each is told it is recorded, none a 500
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PointEntry)) == 1


def test_a_write_reads_again_what_the_request_read_but_not_the_signed_in_user(app, client, auth, village,
                                                                               make_user, make_household):
    """What a view read before its write transaction is read again inside it (a change committed meanwhile
    is seen, under the write lock); the signed-in user, their roles and village, on which the request was
    authorised, are not read again (two statements on every write)."""
    from flask import g
    from flask_login import current_user

    make_user("wenshu", ("clerk", village))
    h = make_household(village, "0101", "张三")
    seen: dict = {}

    def view():
        household = db.session.get(Household, h.id)
        assert household.address != "村东头"
        # another clerk's change, committed between the read and the write
        with db.engine.begin() as other:
            other.execute(sa.update(Household).where(Household.id == h.id).values(address="村东头"))
        sent: list[str] = []

        def on_execute(conn, cursor, statement, *args):
            sent.append(statement)

        sa.event.listen(db.engine, "before_cursor_execute", on_execute)
        def action():
            seen["actor"] = (current_user.username, g.village.code, sorted(g.roles))
            seen["address"] = household.address

        try:
            run_write(action)
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", on_execute)
        seen["users read"] = [s for s in sent if "FROM users" in s]
        seen["villages read"] = [s for s in sent if "FROM villages" in s]
        seen["households read"] = [s for s in sent if "FROM households" in s]
        return "ok"

    app.add_url_rule("/_write_reads", "write_reads", view)
    auth.login("wenshu")
    assert client.get("/_write_reads").get_data(as_text=True) == "ok"
    assert seen["address"] == "村东头" and len(seen["households read"]) == 1
    assert seen["actor"] == ("wenshu", village.code, ["clerk"])
    assert seen["users read"] == [] and seen["villages read"] == []
