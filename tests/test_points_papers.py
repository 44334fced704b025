"""Points papers for the notice board read back from the PDF: the posting sheet (公示表: names as the village
posts them, each entry's effect on the balance, dates whole), the 积分细则 and the 红黑榜 / 星级文明户 list."""
from __future__ import annotations


import pytest
import sqlalchemy as sa

from app.db import local_today
from app.extensions import db
from app.ledger.models import Account, Transfer
from app.points.models import PointEntry
from app.registry.models import Village
from app.submission import write_transaction
from tests.paper_helpers import broken_dates, look, pdf_text, visual_lines, words_outside
from tests.test_printing import login, posted  # noqa: F401  (fixture re-used)

A4_SIDE = 16  # print.css: A4 side margins, mm


def _ledger_balance_after(entry: PointEntry) -> int:
    """The household's balance right after the entry's transfer, summed from the ledger's transfers."""
    account = db.session.scalar(sa.select(Account).where(Account.household_id == entry.household_id))
    total = 0
    for t in db.session.scalars(sa.select(Transfer).where(Transfer.id <= entry.transfer_id)):
        total += t.amount if t.credit_account_id == account.id else -t.amount if t.debit_account_id == account.id else 0
    return total


def test_posting_sheet_shows_each_entrys_effect_on_the_balance_and_whole_dates(client, posted):
    login(client, "rev1")
    data = client.get("/points/posting.pdf").data
    look(data, "posting-masked")
    lines = visual_lines(data)
    entries = [db.session.get(PointEntry, e.id) for e in posted.entries]
    clean_rows = [line for line in lines if "参加村庄清洁日" in line]
    assert len(clean_rows) == 2, lines
    for e in (x for x in entries if x.item_code == "A01"):
        row = next(line for line in clean_rows if e.household.number in line)
        # points, what it moved on the balance, the balance after, the date: in that order on the row
        after = _ledger_balance_after(e)
        tail = f"+{e.points}+{e.applied_points}{after}{e.occurred_on.isoformat()}"
        assert tail in row, (tail, row)
    burn = next(x for x in entries if x.points < 0)
    row = next(line for line in lines if "焚烧秸秆" in line)
    assert f"−8 0 0 {burn.occurred_on.isoformat()}".replace(" ", "") in row, row  # 扣完为止: nothing to take
    text = pdf_text(data)
    assert "张*丰（子女）" in text and "张小丰" not in text and "张三丰" not in text  # masked by default
    assert broken_dates(data, [e.occurred_on.isoformat() for e in entries]) == []
    assert words_outside(data, left=A4_SIDE, right=A4_SIDE) == []


def test_a_village_that_posts_full_names_gets_them_on_the_sheet(client, posted, make_user):
    """The admin's village page sets it; the sheet then names 张小丰 and 张三丰 in full."""
    make_user("boss", ("admin", None))
    login(client, "boss")
    village = posted.village
    page = client.get(f"/admin/villages/{village.id}").get_data(as_text=True)
    assert 'name="posting_names"' in page and "公示表" in page
    form = {"csrf_token": "", "code": village.code, "name": village.name, "township_id": "0",
            "posting_names": "nonsense"}
    r = client.post(f"/admin/villages/{village.id}", data=form)
    assert r.status_code == 200 and "不是有效的选择" in r.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Village, village.id).posting_names == "masked"
    r = client.post(f"/admin/villages/{village.id}", data={**form, "posting_names": "full"})
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    db.session.expire_all()
    assert db.session.get(Village, village.id).posting_names == "full"
    login(client, "rev1")
    data = client.get("/points/posting.pdf").data
    look(data, "posting-full")
    text = pdf_text(data)
    assert "张小丰" in text and "张三丰" in text and "李四" in text and "张*丰" not in text
    assert words_outside(data, left=A4_SIDE, right=A4_SIDE) == []


# --- 积分细则 and 红黑榜 ----------------------------------------------------------------------------------

@pytest.fixture
def scored(make_village, make_user, make_household):
    """A scheme with every kind of item, and a year of scores: 0101 +120 (3 stars), 0102 and 0103 +65 each
    (2 stars, sharing rank 2), 0104 +10 (no star), 0105 −8 (black list), 0106 +200 but moved away, 0107 +150
    but its only member died."""
    from app.points import services as pts
    from app.registry.services import create_group, move_out, set_household_status

    today = local_today()
    village = make_village("v1", "乡约示范村")
    clerk = make_user("clerk1", ("clerk", village))
    reviewer = make_user("rev1", ("reviewer", village))
    with write_transaction():
        g1 = create_group(village, "1组")
    names = ["张三丰", "李四", "王五", "赵六", "钱七", "孙八", "周九"]
    hs = [make_household(village, f"010{i + 1}", name, group=g1 if i < 3 else None) for i, name in enumerate(names)]
    with write_transaction():
        scheme = pts.create_scheme(village, "乡约示范村积分管理办法")
        add = pts.create_category(scheme, "热心公益", "add")
        ded = pts.create_category(scheme, "综合扣分", "deduct")
        items = {
            "clean": pts.create_item(add, pts.ItemData(code="A01", text="参加村庄清洁日", points=2, cap_period="month",
                                                       cap_points=10, article_ref="村规民约第五条")),
            "range": pts.create_item(add, pts.ItemData(code="A02", text="见义勇为", points=200, points_min=1,
                                                       points_max=200)),
            "money": pts.create_item(add, pts.ItemData(code="A03", text="为村公益事业捐款", points=1, unit="per_amount",
                                                       amount_per=100, amount_unit="元", cap_period="year",
                                                       cap_points=40, cap_group="捐款")),
            "burn": pts.create_item(ded, pts.ItemData(code="D01", text="焚烧秸秆", points=-8)),
            "veto": pts.create_item(ded, pts.ItemData(code="D02", text="违法建房", points=0, judgement=True,
                                                      effect="一票否决")),
        }
        for h, pts_ in zip(hs, (120, 65, 65, 10, None, 200, 150), strict=True):
            if pts_ is None:
                e = pts.record_entry(scheme, items["burn"], h, occurred_on=today, actor=clerk, today=today)
            else:
                e = pts.record_entry(scheme, items["range"], h, occurred_on=today, actor=clerk, today=today,
                                     points=pts_)
            pts.approve(e, reviewer, today=today)
        set_household_status(hs[5], "moved_away")
        move_out(hs[6].head, status="deceased")
    return type("Scored", (), dict(village=village, households=hs, today=today, items=items))


def _year_score(household) -> int:
    return db.session.scalar(sa.select(sa.func.sum(PointEntry.points)).where(PointEntry.household_id == household.id))


def test_scheme_prints_every_item_with_its_points_counting_and_cap(client, scored):
    login(client, "rev1")
    page = client.get("/points/scheme").get_data(as_text=True)
    assert 'href="/points/scheme.pdf"' in page
    r = client.get("/points/scheme.pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    look(r.data, "scheme")
    rows = visual_lines(r.data)
    # code, item, points, how it counts, cap, article: each item's row as the scheme has it
    for expected in ("A01参加村庄清洁日+2每次每月最多10分村规民约第五条", "A02见义勇为+1至+200每次—",
                     "A03为村公益事业捐款每100元 +1分按金额档次每年最多40分".replace(" ", ""),
                     "D01焚烧秸秆−8每次—", "D02违法建房一票否决视情认定—"):
        assert any(line.startswith(expected) for line in rows), (expected, rows)
    text = pdf_text(r.data).replace("\n", "")  # a cap's note wraps inside its cell
    assert "热心公益（加分）" in text and "综合扣分（扣分）" in text and "与“捐款”共用上限" in text
    assert "30分以上1星" in text and "乡约示范村积分管理办法" in text and "乡约示范村村民委员会（盖章）" in text
    assert words_outside(r.data, left=A4_SIDE, right=A4_SIDE) == []
    assert broken_dates(r.data, [f"{scored.today.year}年{scored.today.month}月{scored.today.day}日"]) == []


def test_honour_roll_ranks_and_stars_the_households_and_leaves_out_moved_and_deceased(client, scored):
    login(client, "rev1")
    page = client.get("/points/rankings").get_data(as_text=True)
    year = scored.today.year
    assert f'href="/points/honour-roll.pdf?year={year}"' in page
    r = client.get(f"/points/honour-roll.pdf?year={year}")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    look(r.data, "honour-roll")
    rows = visual_lines(r.data)
    h = scored.households
    # rank, household, head (masked), group, year score, stars; 0102 and 0103 share rank 2, 0104 comes 4th
    expected = [f"10101张*丰1组{_year_score(h[0])}★★★☆☆", f"20102李*1组{_year_score(h[1])}★★☆☆☆",
                f"20103王*1组{_year_score(h[2])}★★☆☆☆", f"40104赵*{_year_score(h[3])}☆☆☆☆☆"]
    for line in expected:
        assert line in rows, (line, rows)
    text = "".join(rows)
    assert "3星级文明户（1户）" in text and "2星级文明户（2户）" in text
    stars3 = text.split("3星级文明户（1户）")[1].split("2星级文明户")[0]
    assert "0101张*丰" in stars3 and "0102" not in stars3
    black = text.split("黑榜")[-1]
    assert "0105钱*−8" in black and "0101" not in black
    for gone in ("0106", "0107", "孙", "周"):
        assert gone not in text, gone  # moved away; its only member died
    assert "张三丰" not in text
    assert words_outside(r.data, left=A4_SIDE, right=A4_SIDE) == []


def test_honour_roll_without_a_scheme_goes_back_to_set_one_up(client, make_village, make_user):
    village = make_village("v9", "九号村")
    make_user("rev9", ("reviewer", village))
    login(client, "rev9")
    for url in ("/points/honour-roll.pdf", "/points/scheme.pdf"):
        r = client.get(url)
        assert r.status_code == 302 and r.headers["Location"].endswith("/points/scheme")
    assert client.get("/points/honour-roll.pdf?year=abc").status_code == 302
