"""A household → grid list imported from the village's own table, through the shared check → confirm flow."""
from __future__ import annotations

import io
import re

import openpyxl
import sqlalchemy as sa

from app.extensions import db
from app.grid.models import GridMembership
from tests.grid_helpers import counts


def _xlsx(rows) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["网格户籍对照表"])  # a title row above the header, as village sheets have
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _check(client, data: bytes, name="名单.xlsx"):
    return client.post("/grid/grids/import", data={"file": (io.BytesIO(data), name), "submit": "1"},
                       content_type="multipart/form-data")


def _paste(client, text: str):
    return client.post("/grid/grids/import", data={"text": text, "submit": "1"})


def _confirm(client, page: str, **extra):
    token = re.search(r'name="token" type="hidden" value="([^"]+)"', page).group(1)
    digest = re.search(r'name="digest" type="hidden" value="([^"]+)"', page).group(1)
    return client.post("/grid/grids/import/confirm", data={"token": token, "digest": digest, "submit": "1", **extra},
                       follow_redirects=True)


def _grid_of(world, number: str) -> int | None:
    return db.session.scalar(sa.select(GridMembership.grid_id).where(
        GridMembership.household_id == world.households[number], GridMembership.ended_on.is_(None)))


def test_a_clean_list_is_checked_then_confirmed(clerk_client, world):
    r = _check(clerk_client, _xlsx([["户号", "所属网格"], ["0302", "第二网格"], ["0101", "第二网格"],
                                    ["0102", "第一微网格（1组）"]]))
    page = r.get_data(as_text=True)
    assert r.status_code == 200
    assert "没有发现问题：2户可以划入网格，其中1户从其他网格转入" in page
    assert "已在所列网格、保持不变：0102" in page
    before = counts(GridMembership)
    assert before == 5  # a dry run writes nothing
    r = _confirm(clerk_client, page)
    assert "已将2户划入各自网格" in r.get_data(as_text=True)
    assert _grid_of(world, "0302") == world.two and _grid_of(world, "0101") == world.two
    assert counts(GridMembership) == 7  # 0101's old membership ended, kept as history


def test_pasted_lines_work_too(clerk_client, world):
    r = _paste(clerk_client, "户号\t网格\n0302\t第二微网格（2组）\n")
    page = r.get_data(as_text=True)
    assert "1户可以划入网格" in page
    _confirm(clerk_client, page)
    assert _grid_of(world, "0302") == world.m2


def test_every_problem_is_reported_by_row_and_nothing_is_placed(clerk_client, world):
    r = _check(clerk_client, _xlsx([["户号", "网格"],
                                    ["9999", "第二网格"],  # unknown household
                                    ["0302", "第九网格"],  # unknown grid
                                    ["0302", "第一网格"],  # divided into micro-grids
                                    ["0302", "外村网格"],  # another village's grid
                                    ["0201", None],  # empty cell
                                    ["0202", "第二网格"],
                                    ["0202", "第二网格"],  # twice
                                    ["=A1", "第二网格"]]))  # a formula
    page = r.get_data(as_text=True)
    assert r.status_code == 200
    assert "名单有7个问题，没有划入任何户" in page
    for text in ("本村没有户号为9999的家庭", "本村没有名为“第九网格”的网格", "“第一网格”已划分微网格（第一微网格（1组）、第二微网格（2组））",
                 "本村没有名为“外村网格”的网格", "该户已在第8行列出", "公式"):
        assert text in page, text
    assert 'id="import-confirm"' not in page
    assert counts(GridMembership) == 5 and _grid_of(world, "0302") is None


def test_another_villages_household_number_is_this_villages(client, auth, world):
    """户号 0101 exists in both villages: the list of 二号村's clerk reaches only 二号村's households."""
    assert auth.login("clerk2").status_code == 302
    page = _paste(client, "户号\t网格\n0101\t第二网格\n0302\t外村网格\n").get_data(as_text=True)
    assert "本村没有名为“第二网格”的网格" in page and "本村没有户号为0302的家庭" in page
    page = _paste(client, "户号\t网格\n0101\t外村网格\n").get_data(as_text=True)
    _confirm(client, page)
    assert _grid_of(world, "0101") == world.m1  # 一号村's 0101 did not move
    assert db.session.scalar(sa.select(GridMembership.grid_id).where(
        GridMembership.household_id == world.far_household)) == world.far


def test_hostile_uploads_get_a_message(clerk_client, world):
    for r, message in [
        (clerk_client.post("/grid/grids/import", data={"text": "", "submit": "1"}), "二者选其一"),
        (_check(clerk_client, b"MZ\x90\x00 not a sheet", "名单.exe"), ".xlsx"),
        (_check(clerk_client, b"\x00\x01garbage", "名单.xlsx"), "Excel"),
        (_paste(clerk_client, "姓名\t地址\n张三\t村东\n"), "没有找到表头行"),
        (_paste(clerk_client, "户号\n0302\n"), "网格"),
        (_paste(clerk_client, "户号\t网格\n" + "0302\t" + "网" * 300 + "\n"), ""),
        (clerk_client.post("/grid/grids/import", data={"text": "x" * 200_001, "submit": "1"}), ""),
    ]:
        assert r.status_code in (200, 400), message
        page = r.get_data(as_text=True)
        assert message in page and 'id="import-confirm"' not in page, message
    assert counts(GridMembership) == 5


def test_a_stale_or_forged_confirmation_writes_nothing(clerk_client, world):
    r = clerk_client.post("/grid/grids/import/confirm", data={"token": "x" * 40, "digest": "0" * 64, "submit": "1"})
    assert r.status_code == 400 and "不再可用" in r.get_data(as_text=True) or "重新检查" in r.get_data(as_text=True)
    page = _paste(clerk_client, "户号\t网格\n0302\t第二网格\n").get_data(as_text=True)
    r = _confirm(clerk_client, page, cancel="1")
    assert _grid_of(world, "0302") is None
    r = _confirm(clerk_client, page)  # the cancelled list is gone
    assert r.status_code == 400 and _grid_of(world, "0302") is None


def test_the_template_names_the_columns_and_the_grids(clerk_client, world):
    with clerk_client.get("/grid/grids/import/template.xlsx") as r:
        assert r.status_code == 200
        wb = openpyxl.load_workbook(io.BytesIO(r.data))
    assert [c.value for c in wb.worksheets[0][1]] == ["户号", "网格"]
    listed = [row[0].value for row in wb["说明"].iter_rows()]
    assert "第一微网格（1组）" in listed and "第二网格" in listed
    assert "第一网格" not in listed and "外村网格" not in listed  # divided, or another village's


def test_only_a_clerk_imports(client, auth, world):
    assert auth.login("shenhe").status_code == 302
    assert client.get("/grid/grids/import").status_code == 403
    assert _paste(client, "户号\t网格\n0302\t第二网格\n").status_code == 403
    assert client.get("/grid/grids/import/template.xlsx").status_code == 403
