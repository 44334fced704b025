"""Command-line commands call the same services as the pages."""
from __future__ import annotations

import sqlalchemy as sa

from app.audit.models import AuditLog
from app.auth.models import Membership, User
from app.db import local_today
from app.extensions import db
from app.registry.models import Household, Person, Township, Village


def test_village_create_with_township(runner):
    r = runner.invoke(args=["village", "create", "dongcun", "东村", "--township", "xz", "--township-name", "新镇"])
    assert r.exit_code == 0, r.output
    v = db.session.scalar(sa.select(Village).where(Village.code == "dongcun"))
    assert v.name == "东村" and v.township.name == "新镇"
    r = runner.invoke(args=["village", "create", "dongcun", "又一个东村"])
    assert r.exit_code == 1 and "dongcun" in r.output
    assert db.session.scalar(sa.select(sa.func.count(Village.id))) == 1
    assert "dongcun" in runner.invoke(args=["village", "list"]).output


def test_user_create_with_roles(runner, make_village):
    make_village("xicun", "西村")
    runner.invoke(args=["village", "create", "beicun", "北村", "--township", "t1"])
    r = runner.invoke(args=["user", "create", "Wenshu", "--password", "long-enough-1", "--role", "clerk@xicun",
                            "--role", "reviewer@beicun", "--role", "township@t1", "--role", "admin"])
    assert r.exit_code == 0, r.output
    user = db.session.scalar(sa.select(User).where(User.username == "wenshu"))
    roles = {(m.role, m.village.code if m.village else m.township.code if m.township else None)
             for m in db.session.scalars(sa.select(Membership).where(Membership.user_id == user.id))}
    assert roles == {("clerk", "xicun"), ("reviewer", "beicun"), ("township", "t1"), ("admin", None)}
    # the folded name collides with a look-alike
    r = runner.invoke(args=["user", "create", "ＷＥＮＳＨＵ", "--password", "long-enough-1"])
    assert r.exit_code == 1
    r = runner.invoke(args=["user", "create", "x2", "--password", "long-enough-1", "--role", "clerk@nowhere"])
    assert r.exit_code == 1 and "nowhere" in r.output
    assert db.session.scalar(sa.select(User).where(User.username == "x2")) is None
    r = runner.invoke(args=["user", "create", "x3", "--password", "short"])
    assert r.exit_code == 1


def test_demo_seeds_once_and_logins_work(runner, client):
    r = runner.invoke(args=["demo"])
    assert r.exit_code == 0, r.output
    households = db.session.scalar(sa.select(sa.func.count(Household.id)))
    people = db.session.scalar(sa.select(sa.func.count(Person.id)))
    assert households == 300 and 800 <= people <= 1300
    assert db.session.scalar(sa.select(sa.func.count(Township.id))) == 1
    audit_rows = db.session.scalar(sa.select(sa.func.count(AuditLog.id)))
    r = runner.invoke(args=["demo"])
    assert r.exit_code == 0 and "nothing changed" in r.output
    assert db.session.scalar(sa.select(sa.func.count(Household.id))) == households
    assert db.session.scalar(sa.select(sa.func.count(AuditLog.id))) == audit_rows
    for username in ("admin", "township", "clerk", "reviewer", "cashier", "patrol", "mediator", "grid"):
        assert username in r.output
    resp = client.post("/login", data={"username": "clerk", "password": "demo1234"})
    assert resp.status_code == 302
    assert "乡约示范村" in client.get("/").get_data(as_text=True)
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0


def test_points_finalize_and_close_year(runner, village, make_user, make_household):
    import datetime as dt

    from app.ledger.queries import balance_of
    from app.points import services as pts
    from app.points.models import PointEntry, YearScore
    from app.submission import write_transaction

    clerk = make_user("c", ("clerk", village))
    reviewer = make_user("r", ("reviewer", village))
    h = make_household(village, "0101", "张三")
    with write_transaction():
        scheme = pts.create_scheme(village, "细则", year_policy="expire")
        cat = pts.create_category(scheme, "公益", "add")
        item = pts.create_item(cat, pts.ItemData(code="A1", text="清洁", points=4))
        last_year = dt.date(local_today().year - 1, 6, 1)
        e = pts.record_entry(scheme, item, h, occurred_on=last_year, actor=clerk)
        pts.approve(e, reviewer, today=last_year)
    r = runner.invoke(args=["points", "finalize", "--village", village.code])
    assert r.exit_code == 0 and r.output.startswith("1 ")
    assert db.session.get(PointEntry, e.id).status == "final"
    r = runner.invoke(args=["points", "close-year", str(last_year.year), "--village", village.code, "--yes"])
    assert r.exit_code == 0, r.output
    assert db.session.scalar(sa.select(YearScore.score)) == 4
    assert balance_of(h) == 0
    r = runner.invoke(args=["points", "close-year", str(last_year.year), "--village", village.code, "--yes"])
    assert "nothing changed" in r.output
    assert runner.invoke(args=["ledger", "check"]).exit_code == 0
