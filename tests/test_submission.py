"""The one write path of every form (app.submission): transaction, field error, busy retry."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import render_template_string
from flask_wtf import FlaskForm
from sqlalchemy.exc import OperationalError
from wtforms import StringField, SubmitField

from app.extensions import db
from app.registry.models import Village
from app.registry.services import RegistryError, create_village
from app.submission import Submitted, is_busy, run_write, submit, write_transaction

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
    state = {"action": None, "calls": 0}

    def view():
        form = _Form()
        if form.validate_on_submit():
            def action():
                state["calls"] += 1
                return state["action"](form)
            done = submit(form, action, field="name")
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
