"""Points rules through the service layer: review, caps, posting, objections, scores, year end."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.idempotency import IdempotencyConflict
from app.ledger import services as ledger
from app.ledger.queries import balance_of
from app.ledger.models import Account
from app.points import queries as pq
from app.points import services as pts
from app.points.models import Objection, PointEntry, YearScore
from app.points.workdays import add_working_days
from app.registry.models import Person
from app.submission import write_transaction

TODAY = dt.date(2026, 11, 25)  # a Wednesday


@pytest.fixture
def setup(app, village, make_user, make_household):
    """A scheme with an add item capped at 3 a year, a deduct item and a household item; two households."""
    clerk = make_user("lu", ("clerk", village))
    reviewer = make_user("shen", ("reviewer", village))
    h1 = make_household(village, "0101", "张三", members=[("张小", "child")])
    h2 = make_household(village, "0102", "李四")
    with write_transaction():
        scheme = pts.create_scheme(village, "积分细则", star_bands="10:1,20:2")
        add = pts.create_category(scheme, "热心公益", "add")
        ded = pts.create_category(scheme, "综合扣分", "deduct")
        items = {
            "clean": pts.create_item(add, pts.ItemData(code="A01", text="参加村庄清洁日", points=2,
                                                       cap_period="year", cap_points=3, article_ref="村规民约第五条")),
            "help": pts.create_item(add, pts.ItemData(code="A02", text="帮扶独居老人", points=5)),
            "yard": pts.create_item(add, pts.ItemData(code="A03", text="美丽庭院", points=10, applies_to="household")),
            "burn": pts.create_item(ded, pts.ItemData(code="D01", text="焚烧秸秆", points=-8)),
        }
    return type("S", (), dict(scheme=scheme, items=items, h1=h1, h2=h2, clerk=clerk, reviewer=reviewer,
                              village=village))


def _record(s, key, household=None, person=None, day=TODAY, actor=None):
    with write_transaction():
        e = pts.record_entry(s.scheme, s.items[key], household or s.h1, person=person, occurred_on=day,
                             actor=actor or s.clerk, today=TODAY)
    return e


def _approve(s, entry, day=TODAY):
    with write_transaction():
        pts.approve(db.session.get(PointEntry, entry.id), s.reviewer, today=day)
    return db.session.get(PointEntry, entry.id)


def _balance(h):
    return balance_of(h)


def test_only_approved_entries_move_the_balance(setup):
    s = setup
    e = _record(s, "help")
    assert e.status == "pending" and _balance(s.h1) == 0
    e = _approve(s, e)
    assert e.status == "posted" and _balance(s.h1) == 5
    assert e.posting_until == TODAY + dt.timedelta(days=6)
    assert ledger.check() == []


def test_the_recorder_cannot_approve_or_reject(setup):
    s = setup
    e = _record(s, "help", actor=s.reviewer)
    with pytest.raises(pts.PointsError), write_transaction():
        pts.approve(db.session.get(PointEntry, e.id), s.reviewer, today=TODAY)
    with pytest.raises(pts.PointsError), write_transaction():
        pts.reject(db.session.get(PointEntry, e.id), s.reviewer, reason="不对")
    assert _balance(s.h1) == 0


def test_rejection_needs_a_reason_and_moves_nothing(setup):
    s = setup
    e = _record(s, "help")
    with pytest.raises(pts.PointsError), write_transaction():
        pts.reject(db.session.get(PointEntry, e.id), s.reviewer, reason="  ")
    with write_transaction():
        pts.reject(db.session.get(PointEntry, e.id), s.reviewer, reason="无人证明")
    e = db.session.get(PointEntry, e.id)
    assert e.status == "rejected" and e.review_note == "无人证明" and _balance(s.h1) == 0


def test_cap_is_enforced_at_approval_with_what_is_left(setup):
    s = setup
    zhang = s.h1.head
    first = _approve(s, _record(s, "clean", person=zhang))
    assert first.status == "posted"
    second = _record(s, "clean", person=zhang)
    with pytest.raises(pts.PointsError) as err, write_transaction():
        pts.approve(db.session.get(PointEntry, second.id), s.reviewer, today=TODAY)
    assert "3" in str(err.value) and "1" in str(err.value)  # cap 3 a year, 1 left
    assert _balance(s.h1) == 2
    # the cap is per person: the son may still earn it
    son = db.session.scalar(sa.select(Person).where(Person.name == "张小"))
    assert _approve(s, _record(s, "clean", person=son)).status == "posted"
    # and per year: last year's entry does not count
    assert _approve(s, _record(s, "clean", person=zhang, day=dt.date(2025, 6, 1))).status == "posted"


def test_deduction_takes_at_most_the_balance_but_the_score_takes_it_all(setup):
    s = setup
    _approve(s, _record(s, "help"))  # +5
    d = _approve(s, _record(s, "burn"))  # -8
    assert d.applied_points == -5 and _balance(s.h1) == 0
    assert pq.year_score(s.h1.id, TODAY.year) == -3
    d2 = _approve(s, _record(s, "burn"))
    assert d2.applied_points == 0 and d2.transfer_id is None and _balance(s.h1) == 0
    assert pq.year_score(s.h1.id, TODAY.year) == -11
    assert ledger.check() == []


def test_household_items_are_charged_to_the_head(setup):
    s = setup
    son = db.session.scalar(sa.select(Person).where(Person.name == "张小"))
    e = _record(s, "yard", person=son)
    assert e.person_id == s.h1.head_id


def test_entry_keeps_the_item_text_and_points_in_force_when_recorded(setup):
    s = setup
    e = _record(s, "help")
    with write_transaction():
        item = s.items["help"]
        item = db.session.merge(item)
        pts.update_item(item, item.category, pts.ItemData(code="A02", text="帮扶独居老人（修订）", points=6))
    e = _approve(s, e)
    assert e.item_text == "帮扶独居老人" and e.points == 5 and _balance(s.h1) == 5


def test_recording_is_idempotent_per_key(setup):
    s = setup
    with write_transaction():
        a = pts.record_entry(s.scheme, s.items["help"], s.h1, occurred_on=TODAY, actor=s.clerk, key="form-9",
                             today=TODAY)
        b = pts.record_entry(s.scheme, s.items["help"], s.h1, occurred_on=TODAY, actor=s.clerk, key="form-9",
                             today=TODAY)
        assert a.id == b.id and b.replayed
    with pytest.raises(IdempotencyConflict), write_transaction():
        pts.record_entry(s.scheme, s.items["burn"], s.h1, occurred_on=TODAY, actor=s.clerk, key="form-9",
                         today=TODAY)
    assert db.session.scalar(sa.select(sa.func.count(PointEntry.id))) == 1


def test_batch_records_one_entry_per_person(setup):
    s = setup
    people = list(db.session.scalars(sa.select(Person)))
    with write_transaction():
        entries = pts.record_batch(s.scheme, s.items["help"], people, occurred_on=TODAY, actor=s.clerk,
                                   batch_key="b1", today=TODAY)
    assert not any(getattr(e, "replayed", False) for e in entries)
    with write_transaction():
        again = pts.record_batch(s.scheme, s.items["help"], people, occurred_on=TODAY, actor=s.clerk,
                                 batch_key="b1", today=TODAY)
    assert len(entries) == 3 and {e.id for e in again} == {e.id for e in entries}
    assert all(e.replayed for e in again)
    assert db.session.scalar(sa.select(sa.func.count(PointEntry.id))) == 3


@pytest.mark.parametrize("change", ["fewer people", "other item", "other day", "other note"])
def test_a_batch_changed_under_a_used_key_is_refused_whole(setup, change):
    s = setup
    people = list(db.session.scalars(sa.select(Person).order_by(Person.id)))
    with write_transaction():
        pts.record_batch(s.scheme, s.items["help"], people, occurred_on=TODAY, actor=s.clerk, batch_key="b1",
                         today=TODAY)
    args = {"fewer people": dict(people=people[:2]), "other item": dict(item=s.items["clean"]),
            "other day": dict(occurred_on=TODAY - dt.timedelta(days=1)), "other note": dict(note="补记")}[change]
    args = {"item": s.items["help"], "people": people, "occurred_on": TODAY} | args
    with pytest.raises(IdempotencyConflict), write_transaction():
        pts.record_batch(s.scheme, args.pop("item"), args.pop("people"), actor=s.clerk, batch_key="b1",
                         today=TODAY, **args)
    assert db.session.scalar(sa.select(sa.func.count(PointEntry.id))) == 3


def test_objection_deadline_counts_working_days(setup):
    s = setup
    e = _approve(s, _record(s, "help"))
    with write_transaction():
        obj = pts.file_objection(db.session.get(PointEntry, e.id), reason="不是他做的", objector_name="王五",
                                 actor=s.clerk, today=TODAY)
    # Wednesday + 7 working days = Friday of the following week
    assert obj.due_on == dt.date(2026, 12, 4)
    assert db.session.get(PointEntry, e.id).status == "disputed"
    assert pts.overdue_objections(s.village.id, today=dt.date(2026, 12, 4)) == []
    assert [o.id for o in pts.overdue_objections(s.village.id, today=dt.date(2026, 12, 5))] == [obj.id]


def test_holidays_do_not_count():
    assert add_working_days(dt.date(2026, 9, 30), 2, {dt.date(2026, 10, 1), dt.date(2026, 10, 2)}) \
        == dt.date(2026, 10, 6)


def test_objections_only_during_posting(setup):
    s = setup
    e = _approve(s, _record(s, "help"))
    with pytest.raises(pts.PointsError), write_transaction():
        pts.file_objection(db.session.get(PointEntry, e.id), reason="迟了", today=TODAY + dt.timedelta(days=7))
    assert pq.effective_status(db.session.get(PointEntry, e.id), TODAY + dt.timedelta(days=7)) == "final"


def test_upheld_objection_keeps_the_entry(setup):
    s = setup
    e = _approve(s, _record(s, "help"))
    with write_transaction():
        obj = pts.file_objection(db.session.get(PointEntry, e.id), reason="有疑问", today=TODAY)
    with write_transaction():
        pts.decide_objection(obj, s.reviewer, decision="upheld", reply_text="经核实属实。", today=TODAY)
    assert db.session.get(PointEntry, e.id).status == "posted" and _balance(s.h1) == 5


def test_corrected_objection_reverses_and_replaces(setup):
    s = setup
    e = _approve(s, _record(s, "help"))
    with write_transaction():
        obj = pts.file_objection(db.session.get(PointEntry, e.id), reason="只帮了一次", today=TODAY)
    with write_transaction():
        pts.decide_objection(obj, s.reviewer, decision="corrected", reply_text="改为3分。", corrected_points=3,
                             today=TODAY)
    assert db.session.get(PointEntry, e.id).status == "corrected"
    assert _balance(s.h1) == 3 and pq.year_score(s.h1.id, TODAY.year) == 3
    replacement = db.session.scalar(sa.select(PointEntry).where(PointEntry.corrects_entry_id == e.id))
    assert replacement.points == 3 and replacement.status == "final"
    assert ledger.check() == []
    with pytest.raises(pts.PointsError), write_transaction():
        pts.decide_objection(obj, s.reviewer, decision="upheld", reply_text="再议", today=TODAY)


def test_rankings_leave_out_moved_households_and_dead_people(setup, make_household):
    s = setup
    h3 = make_household(s.village, "0103", "王六")
    _approve(s, _record(s, "help", household=s.h2))
    _approve(s, _record(s, "help", household=s.h2))
    _approve(s, _record(s, "help"))
    _approve(s, _record(s, "help", household=h3))
    _approve(s, _record(s, "help", household=h3))
    _approve(s, _record(s, "help", household=h3))
    with write_transaction():
        from app.registry.services import move_out, set_household_status

        set_household_status(db.session.merge(h3), "moved_away")
        son_id = None
    ranking = pq.household_ranking(s.village.id, TODAY.year)
    assert [(h.number, score, rank) for h, score, rank in ranking] == [("0102", 10, 1), ("0101", 5, 2)]
    son = db.session.scalar(sa.select(Person).where(Person.name == "张小"))
    son_id = son.id
    _approve(s, _record(s, "help", person=son))
    with write_transaction():
        move_out(db.session.get(Person, son_id), status="deceased")
    people = pq.person_ranking(s.village.id, TODAY.year)
    assert son_id not in {p.id for p, _, _ in people}
    assert {p.name for p, _, _ in people} == {"张三", "李四"}


@pytest.mark.parametrize("policy", ["carry_over", "expire"])
def test_year_close_keeps_scores_and_applies_the_policy(setup, policy):
    s = setup
    with write_transaction():
        db.session.merge(s.scheme).year_policy = policy
    last_year = dt.date(2025, 12, 1)
    _approve(s, _record(s, "help", day=last_year), day=last_year)
    _approve(s, _record(s, "yard", day=last_year), day=last_year)
    with write_transaction():
        scheme = db.session.merge(s.scheme)
        assert pts.close_year(scheme, 2025, actor=s.reviewer, today=TODAY) == 2
    scores = {ys.household_id: ys for ys in db.session.scalars(sa.select(YearScore))}
    assert scores[s.h1.id].score == 15 and scores[s.h1.id].stars == 1 and scores[s.h1.id].rank_village == 1
    assert scores[s.h2.id].score == 0 and scores[s.h2.id].stars == 0
    if policy == "expire":
        assert _balance(s.h1) == 0 and scores[s.h1.id].expired_points == 15
        expired = db.session.scalar(sa.select(Account).where(Account.system_key == "expired"))
        assert expired.balance == 15
    else:
        assert _balance(s.h1) == 15
    # next year's score starts fresh; closing again changes nothing
    assert pq.year_score(s.h1.id, 2026) == 0
    with write_transaction():
        assert pts.close_year(db.session.merge(s.scheme), 2025, today=TODAY) == 0
    assert ledger.check() == []


def _close_2025(s):
    with write_transaction():
        return pts.close_year(db.session.merge(s.scheme), 2025, actor=s.reviewer, today=TODAY)


def test_a_year_closes_only_once_its_entries_are_settled(setup, english):
    """An entry waiting for review, on posting or under an objection could still change the year's score (and,
    under the expire policy, a correction would take back points the close had expired): the close waits."""
    s = setup
    with write_transaction():
        db.session.merge(s.scheme).year_policy = "expire"
    december = dt.date(2025, 12, 1)
    settled = _approve(s, _record(s, "yard", day=december), day=december)
    waiting = _record(s, "help", day=december)
    with pytest.raises(pts.PointsError, match="1 entries still wait for review"):
        _close_2025(s)
    posted = _approve(s, waiting)  # approved today: on posting for six more days
    with pytest.raises(pts.PointsError, match="on posting until 2026-12-01 at the latest"):
        _close_2025(s)
    with write_transaction():
        pts.file_objection(db.session.get(PointEntry, posted.id), reason="有疑问", today=TODAY)
    with pytest.raises(pts.PointsError, match="1 entries are under an objection not yet decided"):
        _close_2025(s)
    assert db.session.scalar(sa.select(sa.func.count(YearScore.id))) == 0
    assert _balance(s.h1) == 15  # nothing expired by a refused close
    objection = db.session.scalar(sa.select(Objection))
    with write_transaction():
        pts.decide_objection(db.session.get(Objection, objection.id), s.reviewer, decision="corrected",
                             reply_text="核实后不符合", today=TODAY)
    assert _close_2025(s) == 2
    assert _balance(s.h1) == 0 and settled.points == 10
    assert db.session.scalar(sa.select(YearScore.score).where(YearScore.household_id == s.h1.id)) == 10
    assert ledger.check() == []


def test_a_closed_year_takes_no_more_entries(setup, english):
    s = setup
    _approve(s, _record(s, "yard", day=dt.date(2025, 12, 1)), day=dt.date(2025, 12, 1))
    assert _close_2025(s) == 2
    with pytest.raises(pts.PointsError, match="2025 is closed") as refused:
        _record(s, "help", day=dt.date(2025, 12, 30))
    assert refused.value.field == "occurred_on"
    assert pq.year_score(s.h1.id, 2025) == 10
    # this year's entries go on as before
    assert _record(s, "help", day=TODAY).status == "pending"


def test_item_sign_must_match_its_category(setup):
    s = setup
    cat = s.items["help"].category
    with pytest.raises(pts.PointsError), write_transaction():
        pts.create_item(cat, pts.ItemData(code="A99", text="错误", points=-3))
    with pytest.raises(pts.PointsError), write_transaction():
        pts.create_item(cat, pts.ItemData(code="A98", text="太多", points=5000))


def test_year_close_expires_a_balance_larger_than_one_transfer(setup):
    s = setup
    with write_transaction():
        scheme = db.session.merge(s.scheme)
        scheme.year_policy = "expire"
        acct = ledger.household_account(s.h1)
        issuance = ledger.system_account(s.village.id, "issuance")
        for i in range(3):
            ledger.post_transfer(debit=issuance, credit=acct, amount=100_000, code="opening", key=f"big-{i}")
    with write_transaction():
        pts.close_year(db.session.merge(s.scheme), 2025, today=TODAY)
    assert _balance(s.h1) == 0
    ys = db.session.scalar(sa.select(YearScore).where(YearScore.household_id == s.h1.id))
    assert ys.expired_points == 300_000 and ys.balance_at_close == 300_000
    assert ledger.check() == []
