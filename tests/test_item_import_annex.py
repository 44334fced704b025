"""Importing a county's scoring annex as the village has it (issue 19): the shapes real annexes come in.

Every table here is written for the tests (not copied from a real annex); each test states the exact
items expected. Service calls run under force_locale("en"); cells and category names are Chinese data.
"""
from __future__ import annotations

import io

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from app.db import local_today
from app.extensions import db
from app.points import item_import as imp
from app.points import services as pts
from app.points.export import item_row
from app.points.models import PointItem
from app.submission import write_transaction
from app.tabular.export import Sheet, table_bytes



def got(result: imp.ItemImportResult) -> set[tuple]:
    """(category, code, text, points, unit, cap, cap group, level, note) of the ready items; points are the
    number, "lo..hi" for a range or the effect of a judgement item; the cap is "period points"."""
    def points(d):
        if d.judgement:
            return d.effect
        return f"{d.points_min}..{d.points_max}" if d.points_min is not None else d.points

    return {(i.category, i.data.code, i.data.text, points(i.data), i.data.unit,
             f"{i.data.cap_period} {i.data.cap_points}" if i.data.cap_points else None, i.data.cap_group,
             i.data.level, i.data.note) for i in result.items}


def where(result: imp.ItemImportResult) -> set[tuple]:
    return {(p.row, p.column) for p in result.problems}


def xlsx(rows: list[list], merges: list[str]) -> bytes:
    wb = Workbook()
    ws = wb.active
    for row in rows:
        ws.append(row)
    for ref in merges:
        ws.merge_cells(ref)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# --- the shapes ------------------------------------------------------------------------------------

def test_merged_cells_xlsx_with_a_title_and_the_header_further_down(app, english, village):
    rows = [
        ["某某区农村居民信用积分评价指标"],
        ["说明：本表适用于全体村民"],
        ["序号", "信息属性", "信息类别", "信息层级", "评价标准", "信用赋分", "备注"],
        [1, "守信信息", "志愿服务", "区村级", "参加志愿服务活动", "+1", "每次；每年最多加3分"],
        [2, None, None, "村级", "参加村庄清洁日", "1分", "每月最多1分"],
        [3, None, "公益捐赠", "区级", "通过区级平台捐款", "每100元加1分", "每年最多加40分"],
        [4, None, None, "区级", "通过区级平台捐物", "+2", None],
        [5, "失信信息", "村居管理", "村级", "乱堆乱放", "-2分/次", None],
        [6, None, None, "区级", "违法建设", "降B级", None],
    ]
    data = xlsx(rows, ["A1:G1", "A2:G2", "B4:B7", "C4:C5", "C6:C7", "G6:G7", "B8:B9", "C8:C9"])
    result = imp.check_items(village, data, "xlsx")
    assert result.ok, [(p.row, p.text) for p in result.problems]
    group = "每年最多加40分"
    assert got(result) == {
        ("志愿服务", "A01", "参加志愿服务活动", 1, "per_event", "year 3", None, "shared", None),
        ("志愿服务", "A02", "参加村庄清洁日", 1, "per_event", "month 1", None, "village", None),
        ("公益捐赠", "B01", "通过区级平台捐款", 1, "per_amount", "year 40", group, "upper", None),
        ("公益捐赠", "B02", "通过区级平台捐物", 2, "per_event", "year 40", group, "upper", None),
        ("村居管理", "K01", "乱堆乱放", -2, "per_event", None, None, "village", None),
        ("村居管理", "K02", "违法建设", "降B级", "per_event", None, None, "upper", None),
    }
    assert [i.data.code for i in result.numbered] == ["A01", "A02", "B01", "B02", "K01", "K02"]
    assert list(result.cap_groups) == [group]
    rules = [(i.data.amount_per, i.data.amount_unit) for i in result.items if i.data.amount_per]
    assert rules == [(100, "元")]


def test_rowspan_style_short_pasted_rows_with_bar_separators(app, english, village):
    text = "\n".join([
        "某镇村民积分评分细则",
        "信息属性 | 信息类别 | 信息层级 | 评价标准 | 信用赋分 | 备注",
        "守信信息 | 孝老爱亲 | 村级 | 照顾孤寡老人 | +5 | 每季度",
        "区村级 | 被评为好婆媳 | +10 | 每年最多加10分",
        "见义勇为 | 区级 | 见义勇为受到表彰 | +20 |",
        "失信信息 | 村居管理 | 村级 | 占道经营 | 扣5分 | 每次",
        "村级 | 焚烧秸秆 | -10 |",
    ])
    result = imp.check_items(village, text, "text")
    assert result.ok, [(p.row, p.text) for p in result.problems]
    assert got(result) == {
        ("孝老爱亲", "A01", "照顾孤寡老人", 5, "per_quarter", None, None, "village", None),
        ("孝老爱亲", "A02", "被评为好婆媳", 10, "per_event", "year 10", None, "shared", None),
        ("见义勇为", "B01", "见义勇为受到表彰", 20, "per_event", None, None, "upper", None),
        ("村居管理", "K01", "占道经营", -5, "per_event", None, None, "village", None),
        ("村居管理", "K02", "焚烧秸秆", -10, "per_event", None, None, "village", None),
    }


def test_gbk_csv_with_section_rows_and_a_category_on_both_sides(app, english, village):
    rows = [
        "序号,项目类别,具体内容,加减分,说明",
        "一、加分项,,,,",
        "1,环境卫生,庭院整洁被评为美丽庭院,加5分,每年最多加5分",
        "2,,主动清理公共区域垃圾,＋2,每次",
        "3,移风易俗,婚事新办简办,5分,",
        "二、扣分项,,,,",
        "4,环境卫生,乱倒垃圾,扣10分,",
        "5,,家禽散养,-2分/次,每月最多扣4分",
    ]
    data = "\r\n".join(rows).encode("gbk")
    result = imp.check_items(village, data, "csv")
    assert result.ok, [(p.row, p.text) for p in result.problems]
    add, deduct = "环境卫生（加分）", "环境卫生（扣分）"
    assert got(result) == {
        (add, "A01", "庭院整洁被评为美丽庭院", 5, "per_event", "year 5", None, "village", None),
        (add, "A02", "主动清理公共区域垃圾", 2, "per_event", None, None, "village", None),
        ("移风易俗", "B01", "婚事新办简办", 5, "per_event", None, None, "village", None),
        (deduct, "K01", "乱倒垃圾", -10, "per_event", None, None, "village", None),
        (deduct, "K02", "家禽散养", -2, "per_event", "month 4", None, "village", None),
    }
    split = {(c.name, c.split_from) for c in result.split_categories}
    assert split == {(add, "环境卫生"), (deduct, "环境卫生")}
    assert [h.row for h in result.headings] == [2, 6]


def test_a_second_header_mid_sheet(app, english, village):
    text = "\n".join([
        "一、守信信息",
        "类别\t评分标准\t分值\t备注",
        "志愿服务\t参加义务巡逻\t2\t每次",
        "志愿服务\t参加防汛抢险\t5\t",
        "二、失信信息",
        "类别\t评分标准\t分值\t备注",
        "治安管理\t参与赌博\t10\t",
        "治安管理\t打架斗殴\t一票否决\t",
    ])
    result = imp.check_items(village, text, "text")
    assert result.ok, [(p.row, p.text) for p in result.problems]
    assert got(result) == {
        ("志愿服务", "A01", "参加义务巡逻", 2, "per_event", None, None, "village", None),
        ("志愿服务", "A02", "参加防汛抢险", 5, "per_event", None, None, "village", None),
        ("治安管理", "K01", "参与赌博", -10, "per_event", None, None, "village", None),
        ("治安管理", "K02", "打架斗殴", "一票否决", "per_event", None, None, "village", None),
    }
    assert [h.row for h in result.headings] == [5, 6]


RANGES = "\n".join([
    "信息属性\t信息类别\t评价标准\t信用赋分\t备注",
    "守信信息\t荣誉表彰\t获得县级以上表彰\t+1至+10\t",
    "守信信息\t荣誉表彰\t获得村级表彰\t+0.5\t",
    "守信信息\t公益服务\t参加公益活动\t+0.1至+0.9\t",
    "失信信息\t违法违规\t受到行政处罚\t-1至-5\t",
    "失信信息\t违法违规\t被判处刑罚\t直接判为零星\t",
    "失信信息\t违法违规\t严重失信行为\t降B级\t",
])


def test_ranges_decimals_and_penalties_that_are_not_numbers(app, english, village):
    result = imp.check_items(village, RANGES, "text", partial=True)
    assert got(result) == {
        ("荣誉表彰", "A01", "获得县级以上表彰", "1..10", "per_event", None, None, "village", None),
        ("违法违规", "K01", "受到行政处罚", "-5..-1", "per_event", None, None, "village", None),
        ("违法违规", "K02", "被判处刑罚", "直接判为零星", "per_event", None, None, "village", None),
        ("违法违规", "K03", "严重失信行为", "降B级", "per_event", None, None, "village", None),
    }
    # tenths: the scheme counts whole points, the village must round; the rows are listed, not dropped
    assert where(result) == {(3, "分值"), (4, "分值")}
    assert all("the village must round" in p.text for p in result.problems)
    assert result.ok and not imp.check_items(village, RANGES, "text").ok  # all or none: not yet


CAPS = "\n".join([
    "信息属性\t信息类别\t评价标准\t信用赋分\t备注",
    "守信信息\t志愿服务\t参加志愿服务\t+1\t每次；每年最多加3分",
    "守信信息\t志愿服务\t参加应急救援\t+2\t每月最多2分",
    "守信信息\t家庭建设\t家庭成员参加技能培训\t+1\t家庭成员每季度",
    "守信信息\t公益捐赠\t区级平台捐款\t每100元加1分\t区级平台捐款每年最多加40分",
    "守信信息\t公益捐赠\t区级平台捐物折价\t每100元加1分\t区级平台捐款每年最多加40分",
    "守信信息\t村级自定\t参加村民议事\t+3\t每项分值不超过2分",
    "守信信息\t村级自定\t清扫门前\t+1\t每项分值不超过2分；经村民代表会议认定",
])


def test_caps_and_units_in_notes_a_shared_cap_and_a_note_kept_as_text(app, english, village):
    result = imp.check_items(village, CAPS, "text", partial=True)
    group = "区级平台捐款"
    assert got(result) == {
        ("志愿服务", "A01", "参加志愿服务", 1, "per_event", "year 3", None, "village", None),
        ("志愿服务", "A02", "参加应急救援", 2, "per_event", "month 2", None, "village", None),
        ("家庭建设", "B01", "家庭成员参加技能培训", 1, "per_quarter", None, None, "village", None),
        ("公益捐赠", "C01", "区级平台捐款", 1, "per_amount", "year 40", group, "village", None),
        ("公益捐赠", "C02", "区级平台捐物折价", 1, "per_amount", "year 40", group, "village", None),
        ("村级自定", "D01", "清扫门前", 1, "per_event", None, None, "village", "经村民代表会议认定"),
    }
    assert where(result) == {(7, "备注")}
    assert "each item gives at most 2 points, but this item gives +3" in result.problems[0].text
    read = {i.data.text: i.read for i in result.items}
    assert read["参加志愿服务"] == ["每次", "每年最多加3分"]
    assert read["区级平台捐款"] == ["每100元加1分", "区级平台捐款每年最多加40分"]
    assert [i.row for i in result.kept_notes] == [8]
    assert {i.data.amount_per for i in result.items if i.category == "公益捐赠"} == {100}


def test_a_category_with_both_directions_is_split(app, english, village):
    text = ("类别\t内容\t分值\n村居管理\t主动维护村内公共设施\t+2\n村居管理\t损坏公共设施\t-5\n"
            "村居管理\t提出合理化建议被采纳\t+1\n")
    result = imp.check_items(village, text, "text")
    assert result.ok
    assert {(i.category, i.data.code, i.data.points) for i in result.items} == {
        ("村居管理（加分）", "A01", 2), ("村居管理（加分）", "A02", 1), ("村居管理（扣分）", "K01", -5)}


@pytest.mark.parametrize("word,level", [("区级", "upper"), ("县级", "upper"), ("市级", "upper"),
                                        ("区村级", "shared"), ("县村级", "shared"), ("村级", "village")])
def test_level_words(app, english, village, word, level):
    result = imp.check_items(village, f"层级\t内容\t分值\n{word}\t事项\t+1\n", "text")
    assert [i.data.level for i in result.items] == [level]


@pytest.mark.parametrize("heading,direction", [("守信信息", "add"), ("失信信息", "deduct"), ("加分项", "add"),
                                               ("扣分项", "deduct"), ("奖励类", "add"), ("惩戒类", "deduct")])
def test_direction_words(app, english, village, heading, direction):
    result = imp.check_items(village, f"类别\t内容\t分值\n{heading}\t事项\t3\n", "text")
    assert [(i.category, i.direction, i.data.points) for i in result.items] == [
        (heading, direction, 3 if direction == "add" else -3)]


def test_a_data_row_with_header_words_is_not_a_header(app, english, village):
    text = "类别\t加扣\t内容\t分值\n公益服务\t加分\t项目\t2\n公益服务\t加分\t事项\t积分\n"
    result = imp.check_items(village, text, "text")
    assert [i.data.text for i in result.items] == ["项目"] and where(result) == {(3, "分值")}


# --- the page: ready items now, the rest after editing ---------------------------------------------

@pytest.fixture
def en(app, clerk_client):
    clerk_client.get("/lang/en")
    return clerk_client


def _hidden(html: str, name: str) -> str:
    import re

    m = re.search(rf'name="{name}"[^>]*value="([^"]*)"', html) or re.search(
        rf'value="([^"]*)"[^>]*name="{name}"', html)
    assert m
    return m.group(1)


def _rows() -> set[tuple]:
    db.session.rollback()
    return set(db.session.execute(sa.select(PointItem.code, PointItem.text, PointItem.points)).all())


def test_import_the_ready_items_now_and_the_rest_after_editing(app, en, village):
    body = en.post("/points/items/import", data={"text": RANGES, "submit": "1"}).get_data(as_text=True)
    assert "2 rows need a decision" in body and "Import the 4 ready items now" in body
    assert "all or nothing" in body and "2 items give points within a range" in body
    assert "2 items have an effect that is not points" in body
    # all or none: the confirmation without "ready" imports nothing
    r = en.post("/points/items/import/confirm", data={"token": _hidden(body, "token"),
                                                      "digest": _hidden(body, "digest")})
    assert r.status_code == 200 and _rows() == set()
    body = en.post("/points/items/import", data={"text": RANGES, "submit": "1"}).get_data(as_text=True)
    r = en.post("/points/items/import/confirm", data={"token": _hidden(body, "token"),
                                                      "digest": _hidden(body, "digest"), "ready": "1"})
    assert r.status_code == 302
    assert _rows() == {("A01", "获得县级以上表彰", 10), ("K01", "受到行政处罚", -5), ("K02", "被判处刑罚", 0),
                       ("K03", "严重失信行为", 0)}
    # the corrected table again: what is there is skipped, the rest numbered after it
    fixed = RANGES.replace("+0.5", "+1").replace("+0.1至+0.9", "+1至+9")
    body = en.post("/points/items/import", data={"text": fixed, "submit": "1"}).get_data(as_text=True)
    assert "Already in the scheme, left out (rows 2、5、6、7)" in body
    r = en.post("/points/items/import/confirm", data={"token": _hidden(body, "token"),
                                                      "digest": _hidden(body, "digest")})
    assert r.status_code == 302
    assert {c for c, *_ in _rows()} == {"A01", "A02", "B01", "K01", "K02", "K03"}


# --- recording: ranges, judgement items, a shared cap -----------------------------------------------

def test_range_items_take_the_recorded_points_and_judgement_items_give_none(app, english, village,
                                                                           make_household):

    with write_transaction():
        scheme = pts.create_scheme(village, "细则")
        add = pts.create_category(scheme, "荣誉表彰", "add")
        ranged = pts.create_item(add, pts.ItemData(code="A01", text="表彰", points=0, points_min=1,
                                                   points_max=10))
        judged = pts.create_item(add, pts.ItemData(code="A02", text="评优", points=0, judgement=True,
                                                   effect="取消评优资格"))
    assert ranged.points == 10
    hh = make_household(village, "001")
    day = local_today()
    with write_transaction():
        entry = pts.record_entry(scheme, ranged, hh, occurred_on=day, points=4)
    assert entry.points == 4
    for points in (None, 0, 11):
        with pytest.raises(pts.PointsError, match="from 1 to 10 points"), write_transaction():
            pts.record_entry(scheme, ranged, hh, occurred_on=day, points=points)
    with pytest.raises(pts.PointsError, match="judgement"), write_transaction():
        pts.record_entry(scheme, judged, hh, occurred_on=day)


def test_a_shared_cap_counts_every_item_of_its_group(app, english, village, make_household, make_user):

    reviewer = make_user("rev1", ("reviewer", village))
    with write_transaction():
        scheme = pts.create_scheme(village, "细则")
        add = pts.create_category(scheme, "公益捐赠", "add")
        a = pts.create_item(add, pts.ItemData(code="C01", text="捐款", points=30, cap_period="year",
                                              cap_points=40,
                                              cap_group="区级平台捐款"))
        b = pts.create_item(add, pts.ItemData(code="C02", text="捐物", points=20, cap_period="year",
                                              cap_points=40,
                                              cap_group="区级平台捐款"))
    hh = make_household(village, "001")
    day = local_today()
    with write_transaction():
        first = pts.record_entry(scheme, a, hh, occurred_on=day)
        second = pts.record_entry(scheme, b, hh, occurred_on=day)
    with write_transaction():
        pts.approve(first, reviewer)
    with pytest.raises(pts.PointsError, match="Cap reached"), write_transaction():
        pts.approve(db.session.get(type(second), second.id), reviewer)


# --- the exporter's table imports back to the same items --------------------------------------------

_TEXT = st.text(alphabet="村民参加清洁日活动志愿服务孝老爱亲环境整治邻里互助", min_size=1, max_size=30)
_EFFECTS = ("降B级", "一票否决", "直接判为零星", "取消评优资格")
_NOTES = (None, "经村民代表会议认定", "以村委会记录为准")


@st.composite
def _items(draw):
    names = st.sampled_from(["公益服务", "不良行为", "孝老爱亲", "环境卫生", "移风易俗"])
    categories = draw(st.lists(st.tuples(names,
                                         st.sampled_from(["add", "deduct"])),
                               min_size=1, max_size=3, unique_by=lambda c: c[0]))
    out = []
    for n in range(draw(st.integers(1, 8))):
        name, direction = draw(st.sampled_from(categories))
        sign = 1 if direction == "add" else -1
        kind = draw(st.sampled_from(["fixed", "fixed", "range", "judgement", "amount"]))
        data = pts.ItemData(code=f"X{n + 1:02d}", text=draw(_TEXT), points=0,
                            unit=draw(st.sampled_from(list(imp.UNIT_LABELS))),
                            level=draw(st.sampled_from(list(imp.LEVEL_LABELS))),
                            applies_to=draw(st.sampled_from(list(imp.APPLIES_LABELS))),
                            evidence_required=draw(st.booleans()),
                            article_ref=draw(st.sampled_from([None, "村规民约第五条"])),
                            note=draw(st.sampled_from(_NOTES)))
        if kind in ("fixed", "amount"):
            data.points = sign * draw(st.integers(1, 1000))
        if kind == "amount":
            data.amount_per = draw(st.integers(1, 10_000))
            data.amount_unit = draw(st.sampled_from(["元", "小时"]))
            data.unit = "per_amount"
        elif kind == "fixed":
            pass
        elif kind == "range":
            lo = draw(st.integers(1, 999))
            hi = draw(st.integers(lo + 1, 1000))
            data.points_min, data.points_max = (lo, hi) if sign > 0 else (-hi, -lo)
            data.points = data.points_max if sign > 0 else data.points_min
        else:
            data.judgement, data.effect = True, draw(st.sampled_from(_EFFECTS))
        if draw(st.booleans()):
            data.cap_period = draw(st.sampled_from(["month", "quarter", "year"]))
            data.cap_points = draw(st.integers(1, 100_000))
            data.cap_group = draw(st.sampled_from([None, "捐款上限"]))
        out.append((name, direction, data))
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(items=_items(), fmt=st.sampled_from(["xlsx", "csv"]))
def test_an_exported_table_imports_back_to_the_same_items(app, english, village, items, fmt):
    sheet = Sheet("积分细则", list(imp.COLUMNS), [item_row(name, d, data) for name, d, data in items])
    result = imp.check_items(village, table_bytes([sheet], fmt), fmt)
    assert result.ok, [(p.row, p.column, p.text) for p in result.problems]
    assert [(i.category, i.direction, i.data) for i in result.items] == items


# --- the entry form: points within a range, an amount for a per-amount item --------------------------

def test_the_entry_form_asks_for_points_in_a_range_or_an_amount(app, en, village, make_household):
    import re

    from app.points.models import PointEntry

    make_household(village, "0101", "张三丰")
    text = ("类别\t内容\t分值\n荣誉表彰\t获得表彰\t+1至+10\n公益捐赠\t区级平台捐款\t每100元加1分\n"
            "违法违规\t严重失信\t降B级\n")
    body = en.post("/points/items/import", data={"text": text, "submit": "1"}).get_data(as_text=True)
    r = en.post("/points/items/import/confirm", data={"token": _hidden(body, "token"),
                                                      "digest": _hidden(body, "digest")})
    assert r.status_code == 302
    db.session.rollback()
    ids = dict(db.session.execute(sa.select(PointItem.code, PointItem.id)).all())
    page = en.get("/points/entries/new").get_data(as_text=True)
    assert "获得表彰（+1至+10）" in page and "区级平台捐款（每100元加1分）" in page and "严重失信" not in page
    batch = en.get("/points/entries/batch").get_data(as_text=True)
    assert "获得表彰" not in batch and "区级平台捐款" not in batch  # no field there for points or an amount

    def record(code: str, **extra):
        key = re.search(r'name="idempotency_key" type="hidden" value="([^"]+)"',
                        en.get("/points/entries/new").get_data(as_text=True)).group(1)
        return en.post("/points/entries/new", data={"idempotency_key": key, "household_number": "0101",
                                                    "person_id": "0", "item_id": ids[code],
                                                    "occurred_on": local_today().isoformat(), **extra})

    r = record("A01")
    assert r.status_code == 200 and "gives from 1 to 10 points" in r.get_data(as_text=True)
    assert record("A01", points="7").status_code == 302
    r = record("B01", amount="50")
    assert r.status_code == 200 and "50 is less than one step of 每100元加1分" in r.get_data(as_text=True)
    assert record("B01", amount="250").status_code == 302
    db.session.rollback()
    assert sorted(db.session.scalars(sa.select(PointEntry.points))) == [2, 7]


def test_huge_overlapping_merged_ranges_are_refused_not_expanded(app, english, village):
    import zipfile

    from app.tabular import ImportFileError

    plain = xlsx([["类别", "内容", "分值"]] + [["公益服务", f"事项{n}", 1] for n in range(300)], [])
    src, out = zipfile.ZipFile(io.BytesIO(plain)), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            part = src.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                merges = "".join('<mergeCell ref="A1:BL301"/>' for _ in range(100))
                tail = f'</sheetData><mergeCells count="100">{merges}</mergeCells>'.encode()
                part = part.replace(b"</sheetData>", tail)
            dst.writestr(info, part)
    with pytest.raises(ImportFileError, match="too large"):
        imp.check_items(village, out.getvalue(), "xlsx")
