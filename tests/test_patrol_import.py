"""A team's members imported from the village's own table, through the shared check → confirm flow."""
from __future__ import annotations

import io
import re

import openpyxl
import pytest
import sqlalchemy as sa

from app.extensions import db
from app.patrol import services as ps
from app.patrol.models import PatrolMember, PatrolTeam
from app.submission import write_transaction


@pytest.fixture
def team(client, auth, village, make_user, make_household):
    make_user("duizhang", ("patrol_leader", village))
    make_user("wangyi")
    make_household(village, "0701", "王一", members=[("王小一", "child")])
    make_household(village, "0702", "李二")
    make_household(village, "0703", "张三")
    with write_transaction():
        ps.create_team(village, name="村义务巡逻队")
    assert auth.login("duizhang").status_code == 302
    return db.session.scalars(sa.select(PatrolTeam)).one()


def _xlsx(rows) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["巡逻队员名册"])  # a title row above the header, as village sheets have
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _check(client, team, data: bytes, name="名册.xlsx"):
    return client.post(f"/patrol/teams/{team.id}/import", data={"file": (io.BytesIO(data), name), "submit": "1"},
                       content_type="multipart/form-data")


def _confirm(client, team, page: str, **extra):
    token = re.search(r'name="token" type="hidden" value="([^"]+)"', page).group(1)
    digest = re.search(r'name="digest" type="hidden" value="([^"]+)"', page).group(1)
    return client.post(f"/patrol/teams/{team.id}/import/confirm",
                       data={"token": token, "digest": digest, "submit": "1", **extra}, follow_redirects=True)


def test_a_clean_sheet_is_checked_then_confirmed_and_a_second_import_adds_only_the_new(client, team):
    r = _check(client, team, _xlsx([["姓名", "户号", "入队日期", "执勤证号", "登录名"],
                                    ["王一", "0701", "2026年3月1日", "XL001", "wangyi"],
                                    ["李二", "0702", None, None, None]]))
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "没有发现问题：2名队员可以加入村义务巡逻队" in page
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PatrolMember)) == 0  # a dry run
    r = _confirm(client, team, page)
    assert "已有2名队员加入巡逻队" in r.get_data(as_text=True)
    members = {m.person.name: m for m in db.session.scalars(sa.select(PatrolMember))}
    assert members["王一"].badge_no == "XL001" and members["王一"].user_id is not None
    assert str(members["王一"].joined_on) == "2026-03-01"
    # the same list with one more: only the new one is added, the others are named as already in
    r = _check(client, team, _xlsx([["姓名", "户号"], ["王一", "0701"], ["李二", "0702"], ["张三", "0703"]]))
    page = r.get_data(as_text=True)
    assert "已在队中、保持不变：王一、李二" in page
    _confirm(client, team, page)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PatrolMember)) == 3


def test_every_problem_is_listed_by_row_and_nothing_is_added(client, team):
    r = _check(client, team, _xlsx([["姓名", "户号", "入队日期", "登录名"],
                                    ["王一", "0799", None, None],
                                    ["赵六", "0702", None, None],
                                    ["李二", "0702", "明年", None],
                                    ["张三", "0703", None, "nobody"],
                                    ["王小一", "0701", None, None],
                                    ["王小一", "0701", None, None],
                                    ["", "0701", None, None],
                                    ["=HYPERLINK(\"x\")", "0701", None, None]]))
    page = r.get_data(as_text=True)
    for message in ("本村没有户号为0799的家庭", "户号0702中没有名叫赵六的在世成员", "日期请写成2026-01-01的格式",
                    "没有名为nobody的用户", "此人已在第7行列出", "这一列必须填写", "此单元格是公式"):
        assert message in page, message
    assert 'id="import-confirm"' not in page
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PatrolMember)) == 0


def test_pasted_lines_and_a_sheet_without_the_columns(client, team):
    r = client.post(f"/patrol/teams/{team.id}/import", data={"text": "姓名\t户号\n张三\t0703\n", "submit": "1"})
    assert "1名队员可以加入" in r.get_data(as_text=True)
    r = _check(client, team, _xlsx([["名字不对", "号码"], ["王一", "0701"]]))
    assert "没有找到表头行" in r.get_data(as_text=True)
    r = client.post(f"/patrol/teams/{team.id}/import", data={"submit": "1"})
    assert r.status_code == 400 and "二选一" in r.get_data(as_text=True)


def test_cancel_deletes_the_checked_list_and_a_list_checked_for_one_team_cannot_go_into_another(
        client, team, village, app):
    from pathlib import Path

    page = _check(client, team, _xlsx([["姓名", "户号"], ["王一", "0701"]])).get_data(as_text=True)
    with write_transaction():
        other = ps.create_team(db.session.merge(village), name="第二巡逻队")
    token = re.search(r'name="token" type="hidden" value="([^"]+)"', page).group(1)
    digest = re.search(r'name="digest" type="hidden" value="([^"]+)"', page).group(1)
    r = client.post(f"/patrol/teams/{other.id}/import/confirm", data={"token": token, "digest": digest,
                                                                       "submit": "1"})
    assert r.status_code == 400
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PatrolMember)) == 0
    r = _confirm(client, team, page, cancel="1")
    assert "已取消导入" in r.get_data(as_text=True)
    staged = Path(app.instance_path) / "imports"
    assert not staged.exists() or not any(staged.iterdir())
    r = _confirm(client, team, page)
    assert r.status_code == 400 and db.session.scalar(sa.select(sa.func.count()).select_from(PatrolMember)) == 0
