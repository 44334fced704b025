"""The benchmark data generator at tiny scale: a clean ledger, plausible activity, and resumable runs."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.ledger import services as ledger
from app.ledger.models import Account, Transfer
from app.points.models import PointEntry, YearScore
from app.registry.models import Household, Village
from app.shop import services as shop
from app.shop.models import Redemption
from bench import generate as gen

TODAY = dt.date(2026, 3, 15)
TINY = gen.SCALES["tiny"]  # 5 households, 15 people, 2 years


@pytest.fixture(autouse=True)
def _fresh_progress(app):
    """bench_progress is not an app table, so the PostgreSQL fixture does not empty it between tests."""
    gen.progress.drop(db.engine, checkfirst=True)
    yield
    db.session.remove()  # a test's open read transaction would hold the table's lock on PostgreSQL
    gen.progress.drop(db.engine, checkfirst=True)


def _counts() -> dict[str, int]:
    db.session.rollback()  # end this session's read transaction: the generator committed in its own
    return {name: db.session.scalar(sa.select(sa.func.count()).select_from(model))
            for name, model in (("households", Household), ("entries", PointEntry), ("transfers", Transfer),
                                ("redemptions", Redemption), ("year_scores", YearScore))}


def _steps() -> list[str]:
    db.session.rollback()
    return sorted(db.session.scalars(sa.select(gen.progress.c.step)))


def test_tiny_village_has_two_years_of_activity_and_a_clean_ledger(app, runner):
    ran = gen.generate(app, TINY, today=TODAY)
    assert ran == 5  # setup, register, 2025, 2026, the rule set
    db.session.rollback()
    c = _counts()
    assert c["households"] == 5
    assert c["entries"] > 100 and c["transfers"] > 100 and c["redemptions"] > 0
    # both years have entries; only the closed year has final scores
    years = dict(db.session.execute(sa.select(PointEntry.year, sa.func.count()).group_by(PointEntry.year)).all())
    assert set(years) == {2025, 2026}
    assert {y for (y,) in db.session.execute(sa.select(YearScore.year).distinct())} == {2025}
    # a published rule set of the scale's size, for the booklet figure
    from app.rules.models import RuleArticle, RuleVersion

    published = db.session.scalar(sa.select(RuleVersion).where(RuleVersion.status == "published"))
    assert published is not None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RuleArticle)
                             .where(RuleArticle.version_id == published.id)) == TINY.articles
    # nothing happened after "today"
    assert db.session.scalar(sa.select(sa.func.max(PointEntry.occurred_on))) < TODAY
    # the invariants `flask ledger check` proves, through the command itself
    result = runner.invoke(args=["ledger", "check"])
    assert result.exit_code == 0, result.output
    assert "ledger check clean" in result.output
    assert shop.check_stock() == []
    # every approved entry that moved points names its transfer, and that transfer names it back
    moved = db.session.execute(sa.select(PointEntry.id, PointEntry.transfer_id, PointEntry.applied_points)
                               .where(PointEntry.applied_points != 0)).all()
    assert moved and all(t is not None for _e, t, _a in moved)
    back = dict(db.session.execute(sa.select(Transfer.id, Transfer.entry_id)
                                   .where(Transfer.id.in_([t for _e, t, _a in moved]))).all())
    assert all(back[t] == e for e, t, _a in moved)
    # a household's balance is its earnings minus deductions, redemptions and expiries, never below 0
    balances = list(db.session.scalars(sa.select(Account.balance).where(Account.household_id.is_not(None))))
    assert len(balances) == 5 and min(balances) >= 0 and sum(balances) > 0


def test_second_run_adds_nothing(app):
    gen.generate(app, TINY, today=TODAY)
    before, steps = _counts(), _steps()
    assert gen.generate(app, TINY, today=TODAY) == 0
    assert _counts() == before
    assert _steps() == steps


def test_an_interrupted_year_is_rolled_back_and_done_on_the_next_run(app, monkeypatch):
    real_year = gen._year

    def failing(st, year, *args, **kwargs):
        counts = real_year(st, year, *args, **kwargs)  # rows written, then the run dies before the checkpoint
        if year == 2026:
            raise KeyboardInterrupt
        return counts

    monkeypatch.setattr(gen, "_year", failing)
    with pytest.raises(KeyboardInterrupt):
        gen.generate(app, TINY, today=TODAY)
    db.session.rollback()
    assert [s for s in _steps() if ":year:" in s] == ["bench:year:2025"]
    assert db.session.scalar(sa.select(sa.func.count()).where(PointEntry.year == 2026)) == 0
    assert ledger.check() == []

    monkeypatch.setattr(gen, "_year", real_year)
    assert gen.generate(app, TINY, today=TODAY) == 2  # only 2026 was left, and the rule set after it
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).where(PointEntry.year == 2026)) > 0
    assert ledger.check() == []
    assert shop.check_stock() == []


def test_county_villages_each_get_a_year_and_keep_their_ledgers_apart(app):
    gen.generate(app, TINY, county=True, today=TODAY)
    db.session.rollback()
    codes = sorted(db.session.scalars(sa.select(Village.code)))
    assert codes == ["bench", "c001", "c002"]
    for code in ("c001", "c002"):
        vid = db.session.scalar(sa.select(Village.id).where(Village.code == code))
        assert db.session.scalar(sa.select(sa.func.count()).where(Household.village_id == vid)) == 3
        assert db.session.scalar(sa.select(sa.func.count()).where(Transfer.village_id == vid)) > 0
        assert ledger.check(vid) == []
    assert ledger.check() == []


def test_household_points_page_shows_the_history_one_page_at_a_time(app, client):
    """Bench figure 2: the page must not grow with the years of history (it used to list up to 500 rows)."""
    import re

    from bench.common import BENCH_PASSWORD

    gen.generate(app, TINY, today=TODAY)
    db.session.rollback()
    hid, n = db.session.execute(sa.select(PointEntry.household_id, sa.func.count()).group_by(PointEntry.household_id)
                                .order_by(sa.func.count().desc()).limit(1)).one()
    per_page = app.config["PER_PAGE"]
    assert n > per_page
    r = client.post("/login", data={"username": "bench-clerk", "password": BENCH_PASSWORD})
    assert r.status_code == 302
    seen = []
    pages = -(-n // per_page)
    for page in range(1, pages + 1):
        html = client.get(f"/points/households/{hid}?page={page}").get_data(as_text=True)
        ids = re.findall(r'href="/points/entries/(\d+)"', html)
        assert len(ids) == (per_page if page < pages else n - per_page * (pages - 1))
        seen += ids
        if page < pages:  # the pager links to the next page of the same household
            assert f'href="/points/households/{hid}?page={page + 1}"' in html
    assert len(set(seen)) == n  # every entry once, none skipped or repeated
