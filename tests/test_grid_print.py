"""A grid's visit plan for a week, printed: the households due or overdue by the week's end, by villager group,
overdue first; not the ones not yet due nor another grid's; bad weeks get a message."""
from __future__ import annotations

import datetime as dt

from app.extensions import db
from app.grid import services as gs
from app.registry.models import Household
from app.submission import write_transaction
from tests.test_printing import fonts, pdf_text, squash

D = dt.date


def _visit(world, number: str, on: dt.date, actor=None, follow_up_on=None):
    with write_transaction():
        gs.record_visit(db.session.get(Household, world.households[number]), visited_on=on, findings="一切正常",
                        actor=actor, today=on, follow_up_on=follow_up_on)


def test_the_week_plan_lists_the_due_and_overdue_households_by_group(clerk_client, world):
    _visit(world, "0101", D(2026, 1, 10))  # ordinary: next due 2026-07-10, not this week
    _visit(world, "0102", D(2026, 1, 20))  # 低保: due 2026-02-20, overdue
    _visit(world, "0201", D(2026, 2, 26))  # special: due 2026-03-05, in the week
    _visit(world, "0201", D(2026, 3, 3))  # … and visited in the week: the plan shows the visit's day
    # 0202 never visited: due on the day it joined (2026-01-05), overdue; 0301 is 第二网格's
    with clerk_client.get(f"/grid/grids/{world.one}/plan.pdf?week=2026-03-04") as r:
        assert r.status_code == 200 and r.mimetype == "application/pdf"
        data = r.data
    text = squash("".join(pdf_text(data)))
    assert "2026-03-02至2026-03-08" in text
    assert "第一网格" in text and "王书记" in text and "wgy1" in text
    for name in ("钱二低", "孙三特", "李四普"):
        assert name in text, name
    for name in ("赵一平", "周五老", "吴六新"):
        assert name not in text, name
    # by villager group: 1组 before 2组; inside 2组 the overdue 0202 before 0201 due on Thursday
    assert text.index("钱二低") < text.index("李四普") < text.index("孙三特")
    assert "2026-03-03" in text and "已超期" in text and "低保户" in text and "特殊人员" in text
    assert "走访日期" in text and "签名" in text and "应访或逾期未访共3户" in text
    assert fonts(data) and all(embedded and "CJK" in name for name, embedded in fonts(data))


def test_a_micro_grids_plan_has_only_its_own_households(clerk_client, world):
    with clerk_client.get(f"/grid/grids/{world.m1}/plan.pdf?week=2026年3月4日") as r:
        text = squash("".join(pdf_text(r.data)))
    assert "钱二低" in text and "赵一平" in text  # neither visited yet: both due since joining
    assert "孙三特" not in text and "李四普" not in text
    assert "陈组长" in text and "wgy1" in text  # the micro-grid's person in charge; the grid's worker


def test_a_week_with_nothing_due_says_so(clerk_client, world):
    with clerk_client.get(f"/grid/grids/{world.two}/plan.pdf?week=2025-12-01") as r:
        text = squash("".join(pdf_text(r.data)))
    assert "本周没有应访的户" in text and "周五老" not in text


def test_bad_weeks_and_other_villages_grids(clerk_client, world):
    for week in ("next week", "2026-02-30", "2026-13-01", "1899-01-01", "9" * 50, "２０２６年３月４日x"):
        r = clerk_client.get(f"/grid/grids/{world.one}/plan.pdf", query_string={"week": week})
        assert r.status_code == 302, week
        page = clerk_client.get(r.headers["Location"]).get_data(as_text=True)
        assert "请填写该周中的任一天" in page, week
    assert clerk_client.get(f"/grid/grids/{world.far}/plan.pdf").status_code == 404
    with clerk_client.get(f"/grid/grids/{world.one}/plan.pdf") as r:  # this week
        assert r.status_code == 200


def test_grid_workers_and_reviewers_print_it_too(client, auth, world):
    for user in ("wgy1", "shenhe"):
        assert auth.login(user).status_code == 302
        with client.get(f"/grid/grids/{world.one}/plan.pdf?week=2026-03-04") as r:
            assert r.status_code == 200, user
        auth.logout()
