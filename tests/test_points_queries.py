"""The points read model: one "on posting" for the points pages and the kiosk, one scheme per village,
one household overview for the points household page, the statements and the kiosk."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from app.db import local_today
from app.extensions import begin_write, db
from app.points import queries as pq
from app.points import services as pts
from app.points.models import EntryStatus, PointEntry, PointItem, PointScheme
from app.registry.models import Household
from app.submission import write_transaction
from tests.conftest import FreshContextClient
from tests.kiosk_helpers import PIN, enable_client, seed


@pytest.fixture
def seeded(village, make_user, make_household):
    from tests.conftest import valid_id

    return seed(village, make_user, make_household, valid_id)


@pytest.fixture
def kiosk(app, village, seeded):
    app.test_client_class = FreshContextClient
    c = app.test_client()
    enable_client(c, app, village)
    return c


def _text(resp) -> str:
    assert resp.status_code == 200
    return resp.get_data(as_text=True)


def _open(kiosk, number="0501"):
    kiosk.post("/kiosk/number", data={"number": number})
    assert kiosk.post("/kiosk/pin", data={"pin": PIN}).status_code == 302


def _user(name):
    from app.auth.models import User

    return db.session.scalar(sa.select(User).where(User.username == name))


@pytest.fixture
def disputed_late(seeded):
    """An entry of household 0501 objected to during its posting, whose posting period has since ended
    while the objection is still undecided."""
    today = local_today()
    with write_transaction():
        scheme = db.session.scalar(sa.select(PointScheme))
        item = pts.create_item(db.session.scalars(sa.select(PointItem)).first().category,
                               pts.ItemData(code="A09", text="调解邻里纠纷", points=4))
        h1 = db.session.get(Household, seeded["households"]["0501"])
        entry = pts.record_entry(scheme, item, h1, occurred_on=today - dt.timedelta(days=12),
                                 actor=_user("wenshu"))
        pts.approve(entry, _user("jiandu"), today=today - dt.timedelta(days=10))
        obj = pts.file_objection(entry, reason="不是我家", today=today - dt.timedelta(days=9))
    assert entry.status == EntryStatus.DISPUTED.value and entry.posting_until < today
    return entry.id, obj.id


def _points_posting_ids(client) -> set[int]:
    page = _text(client.get("/points/posting"))
    return {e.id for e in db.session.scalars(sa.select(PointEntry)) if f'/points/entries/{e.id}"' in page}


def _kiosk_posting_texts(kiosk) -> str:
    return _text(kiosk.get("/kiosk/posting"))


def test_an_undecided_objection_keeps_the_entry_on_posting_on_every_page(client, auth, kiosk, seeded,
                                                                         disputed_late):
    entry_id, objection_id = disputed_late
    auth.login("wenshu")
    _open(kiosk)
    # the points posting page, the notice-board query, the kiosk's list and its count agree
    on_points_page = _points_posting_ids(client)
    assert entry_id in on_points_page and seeded["entry_on_posting"] in on_points_page
    assert seeded["entry_final"] not in on_points_page
    kiosk_page = _kiosk_posting_texts(kiosk)
    assert "调解邻里纠纷" in kiosk_page and "照料独居老人" in kiosk_page and "参加村庄清洁日" not in kiosk_page
    h1 = db.session.get(Household, seeded["households"]["0501"])
    mine = {e.id for e in pq.household_on_posting(h1)}
    assert mine == {e for e in on_points_page if db.session.get(PointEntry, e).household_id == h1.id}
    assert pq.household_overview(h1).posting_count == len(mine) == 2
    home = _text(kiosk.get("/kiosk/home"))
    assert '<p class="k-number">2</p>' in home
    # once the objection is decided (upheld after the posting period: final), it leaves every list
    from app.points.models import Objection

    with write_transaction():
        pts.decide_objection(db.session.get(Objection, objection_id), _user("jiandu"), decision="upheld",
                             reply_text="经核实无误")
    assert db.session.get(PointEntry, entry_id).status == EntryStatus.FINAL.value
    assert entry_id not in _points_posting_ids(client)
    assert "调解邻里纠纷" not in _kiosk_posting_texts(kiosk)
    assert '<p class="k-number">1</p>' in _text(kiosk.get("/kiosk/home"))


def test_is_on_posting_matches_the_query(seeded, disputed_late):
    today = local_today()
    village_id = seeded["village_id"]
    listed = {e.id for e in pq.entries_on_posting(village_id, today)}
    for e in db.session.scalars(sa.select(PointEntry)):
        assert pq.is_on_posting(e, today) == (e.id in listed), e.status


def test_one_scheme_per_village_the_one_in_use(village, make_village):
    # before the transaction below: make_village commits, which would end it half-way
    empty = make_village("v9", "九号村")
    # begin_write, not write_transaction: the test looks at flushed, uncommitted states and rolls them back
    begin_write()
    old = pts.create_scheme(village, "旧细则")
    assert pq.village_scheme(village.id).id == old.id
    new = pts.create_scheme(village, "新细则", star_bands="10:1")
    old.active = False
    db.session.flush()
    # the scheme in use, not the oldest: its star bands give the stars on every page
    assert pq.village_scheme(village.id).id == new.id
    new.active = False
    db.session.flush()
    # a village whose schemes are all retired still shows its first one's settings
    assert pq.village_scheme(village.id).id == old.id
    assert pq.village_scheme(empty.id) is None
    db.session.rollback()


def test_household_overview_is_what_the_three_pages_show(client, auth, kiosk, seeded):
    from app.statements.services import build_statement, resolve_period

    h1 = db.session.get(Household, seeded["households"]["0501"])
    today = local_today()
    ov = pq.household_overview(h1)
    # 5 (清洁日, 40 days ago: last year early in January) + 3 (照料独居老人, today)
    assert ov.balance == 8 and ov.year == today.year and ov.posting_count == 1
    assert ov.score == (8 if (today - dt.timedelta(days=40)).year == today.year else 3)
    assert ov.stars == ov.scheme.stars_for(ov.score)
    auth.login("wenshu")
    page = _text(client.get(f"/points/households/{h1.id}"))
    assert f'<strong class="big">{ov.balance}</strong>' in page and f'aria-label="{ov.stars}"' in page
    _open(kiosk)
    home = _text(kiosk.get("/kiosk/home"))
    assert f"data-balance>{ov.balance}<" in home and f"data-score>{ov.score}<" in home
    data = build_statement(h1, resolve_period("year", year=today.year))
    assert (data.score, data.stars, data.closing) == (ov.score, ov.stars, ov.balance)


def test_the_kiosk_lists_the_newest_twenty_entries_with_who_earned_them(kiosk, seeded):
    """A long history: the records page shows its twenty newest entries, newest first, entries of the same day
    in the order they were recorded (the later first), each with who earned it."""
    from app.registry.models import Person

    today = local_today()
    with write_transaction():
        scheme = db.session.scalar(sa.select(PointScheme))
        category = db.session.scalars(sa.select(PointItem)).first().category
        h1 = db.session.get(Household, seeded["households"]["0501"])
        spouse = db.session.scalar(sa.select(Person).where(Person.name == "孙秀兰"))
        for n in range(1, 25):
            item = pts.create_item(category, pts.ItemData(code=f"B{n:02d}", text=f"第{n:02d}件好事", points=1))
            # two a day, from 11 days ago to today: B01 and B02 oldest, B23 and B24 today, B24 recorded last
            pts.record_entry(scheme, item, h1, person=spouse if n % 2 else None,
                             occurred_on=today - dt.timedelta(days=11 - (n - 1) // 2), actor=_user("wenshu"))
    _open(kiosk)
    page = _text(kiosk.get("/kiosk/entries"))
    shown = [n for n in range(1, 25) if f"第{n:02d}件好事" in page]
    # the seeded entries of today (照料独居老人) and 40 days ago (清洁日) make 26; the newest twenty are
    # 照料独居老人 (today, recorded first) and B24 … B06
    assert shown == list(range(6, 25))
    assert "照料独居老人" in page and "参加村庄清洁日" not in page
    positions = [page.index(f"第{n:02d}件好事") for n in range(24, 5, -1)]
    assert positions == sorted(positions)
    assert page.index("第23件好事") < page.index("照料独居老人") < page.index("第22件好事")
    # who earned it, masked as the kiosk shows names
    card = page[page.index("第23件好事"):page.index("第22件好事")]
    assert "孙*兰" in card
