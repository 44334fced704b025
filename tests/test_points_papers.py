"""Points papers for the notice board read back from the PDF: the posting sheet (公示表: names as the village
posts them, each entry's effect on the balance, dates whole), the 积分细则 and the 红黑榜 / 星级文明户 list."""
from __future__ import annotations

import sqlalchemy as sa

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
