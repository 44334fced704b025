"""The year totals the rankings read (point_year_totals, point_person_year_totals): kept by the points services
through every change of what counts, filled by their migration, proved by `flask ledger check` (I15)."""
from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import re

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.points import queries as pq
from app.points import services as pts
from app.points.models import PointEntry, PointPersonYearTotal, PointYearTotal
from app.registry.models import Household, Person
from app.registry.services import move_out
from app.submission import write_transaction
from tests.ledger_workers import approve_worker

TODAY = dt.date(2026, 11, 25)
YEAR = TODAY.year


@pytest.fixture
def setup(app, village, make_user, make_household):
    """A scheme with a person item (5), a household item (10, charged to the head) and a deduction (−8);
    household 0101 (张三 and his son 张小), household 0102 (李四)."""
    clerk = make_user("lu", ("clerk", village))
    reviewer = make_user("shen", ("reviewer", village))
    h1 = make_household(village, "0101", "张三", members=[("张小", "child")])
    h2 = make_household(village, "0102", "李四")
    with write_transaction():
        scheme = pts.create_scheme(village, "积分细则")
        add = pts.create_category(scheme, "热心公益", "add")
        ded = pts.create_category(scheme, "综合扣分", "deduct")
        items = {
            "help": pts.create_item(add, pts.ItemData(code="A02", text="帮扶独居老人", points=5)),
            "yard": pts.create_item(add, pts.ItemData(code="A03", text="美丽庭院", points=10, applies_to="household")),
            "burn": pts.create_item(ded, pts.ItemData(code="D01", text="焚烧秸秆", points=-8)),
        }
    son = db.session.scalar(sa.select(Person).where(Person.name == "张小"))
    head = db.session.get(Household, h1.id).head
    return type("S", (), dict(scheme=scheme, items=items, h1=h1, h2=h2, son=son, head=head, clerk=clerk,
                              reviewer=reviewer, village=village))


def _record(s, key, household, person=None, day=TODAY) -> int:
    with write_transaction():
        return pts.record_entry(s.scheme, s.items[key], db.session.get(Household, household.id),
                                person=db.session.get(Person, person.id) if person else None, occurred_on=day,
                                actor=s.clerk, today=TODAY).id


def _approve(s, entry_id: int, day=TODAY) -> None:
    with write_transaction():
        pts.approve(db.session.get(PointEntry, entry_id), s.reviewer, today=day)


def _kept() -> dict:
    """Every stored total: {("household" | "person", id, year): (score, entries)}."""
    db.session.expire_all()
    out = {}
    for model, key, name in ((PointYearTotal, PointYearTotal.household_id, "household"),
                             (PointPersonYearTotal, PointPersonYearTotal.person_id, "person")):
        for subject, year, score, entries in db.session.execute(sa.select(key, model.year, model.score,
                                                                          model.entries)):
            out[(name, subject, year)] = (score, entries)
    return out


def _summed() -> dict:
    """The same figures summed from the counted entries, as the ranking summed them before the totals."""
    out: dict = {}
    for e in db.session.scalars(sa.select(PointEntry).where(PointEntry.status.in_(pq.COUNTED))):
        for name, subject in (("household", e.household_id), ("person", e.person_id)):
            if subject is not None:
                score, n = out.get((name, subject, e.year), (0, 0))
                out[(name, subject, e.year)] = (score + e.points, n + 1)
    return out


def _assert_kept(expected: dict) -> None:
    """The stored totals are `expected` (rows left at (0, 0) by a correction included), equal the sums of the
    entries, and the ledger check finds nothing."""
    kept = _kept()
    assert kept == expected
    assert {k: v for k, v in kept.items() if v != (0, 0)} == _summed()
    assert pts.check_year_totals() == []


def test_totals_follow_every_transition(setup):
    s = setup
    h1, h2, head, son = s.h1.id, s.h2.id, s.head.id, s.son.id
    help_son = _record(s, "help", s.h1, s.son)
    reject = _record(s, "help", s.h2)
    _assert_kept({})  # pending entries count nowhere
    with write_transaction():
        pts.reject(db.session.get(PointEntry, reject), s.reviewer, reason="证据不足")
    _approve(s, help_son)
    _assert_kept({("household", h1, YEAR): (5, 1), ("person", son, YEAR): (5, 1)})
    # a household item counts for the head; a deduction counts in full though the balance had nothing to take
    _approve(s, _record(s, "yard", s.h1))
    burn = _record(s, "burn", s.h2)
    _approve(s, burn)
    assert db.session.get(PointEntry, burn).applied_points == 0
    li = db.session.get(Household, h2).head_id
    _assert_kept({("household", h1, YEAR): (15, 2), ("person", son, YEAR): (5, 1), ("person", head, YEAR): (10, 1),
                  ("household", h2, YEAR): (-8, 1), ("person", li, YEAR): (-8, 1)})
    assert pq.year_score(h2, YEAR) == -8
    # an objection, upheld, then the posting ends: the entry counts throughout
    with write_transaction():
        obj = pts.file_objection(db.session.get(PointEntry, burn), reason="不是他烧的", today=TODAY)
    with write_transaction():
        pts.decide_objection(obj, s.reviewer, decision="upheld", reply_text="经核实属实。", today=TODAY)
    with write_transaction():
        assert pts.finalize_due(s.village.id, today=TODAY + dt.timedelta(days=30)) == 3
    _assert_kept({("household", h1, YEAR): (15, 2), ("person", son, YEAR): (5, 1), ("person", head, YEAR): (10, 1),
                  ("household", h2, YEAR): (-8, 1), ("person", li, YEAR): (-8, 1)})
    # a final entry taken back by the feature that recorded it stops counting
    with write_transaction():
        pts.withdraw(db.session.get(PointEntry, help_son), s.reviewer, reason="考勤更正")
    _assert_kept({("household", h1, YEAR): (10, 1), ("person", son, YEAR): (0, 0), ("person", head, YEAR): (10, 1),
                  ("household", h2, YEAR): (-8, 1), ("person", li, YEAR): (-8, 1)})


def test_a_correction_takes_the_entry_out_and_counts_its_replacement(setup):
    s = setup
    e = _record(s, "help", s.h1, s.son)
    _approve(s, e)
    with write_transaction():
        obj = pts.file_objection(db.session.get(PointEntry, e), reason="只帮了一次", today=TODAY)
    _assert_kept({("household", s.h1.id, YEAR): (5, 1), ("person", s.son.id, YEAR): (5, 1)})
    with write_transaction():
        pts.decide_objection(obj, s.reviewer, decision="corrected", reply_text="改为3分。", corrected_points=3,
                             today=TODAY)
    _assert_kept({("household", s.h1.id, YEAR): (3, 1), ("person", s.son.id, YEAR): (3, 1)})
    # corrected without a replacement: nothing is left counting, and the person leaves the people's ranking
    e2 = _record(s, "help", s.h2)
    _approve(s, e2)
    with write_transaction():
        obj = pts.file_objection(db.session.get(PointEntry, e2), reason="没有这回事", today=TODAY)
    with write_transaction():
        pts.decide_objection(obj, s.reviewer, decision="corrected", reply_text="撤销。", today=TODAY)
    li = db.session.get(Household, s.h2.id).head_id
    assert _kept()[("person", li, YEAR)] == (0, 0)
    assert pts.check_year_totals() == []
    assert [(p.name, score, rank) for p, score, rank in pq.person_ranking(s.village.id, YEAR)] == [("张小", 3, 1)]
    assert [(h.number, score) for h, score, _r in pq.household_ranking(s.village.id, YEAR)] == [
        ("0101", 3), ("0102", 0)]


def test_a_person_whose_entries_cancel_out_is_ranked_at_zero(setup):
    s = setup
    _approve(s, _record(s, "help", s.h1, s.son))
    _approve(s, _record(s, "help", s.h1, s.son))
    _approve(s, _record(s, "help", s.h1, s.head))
    with write_transaction():  # a deduction of 10 cancels the son's two awards of 5
        ded = pts.create_category(s.scheme, "其他扣分", "deduct")
        s.items["litter"] = pts.create_item(ded, pts.ItemData(code="D02", text="乱倒垃圾", points=-10))
    _approve(s, _record(s, "litter", s.h1, s.son))
    assert [(p.name, score, rank) for p, score, rank in pq.person_ranking(s.village.id, YEAR)] == [
        ("张三", 5, 1), ("张小", 0, 2)]


def test_totals_are_per_year(setup):
    s = setup
    _approve(s, _record(s, "help", s.h1, s.son, day=dt.date(YEAR - 1, 6, 1)), day=dt.date(YEAR - 1, 6, 2))
    _approve(s, _record(s, "yard", s.h1))
    assert pq.year_score(s.h1.id, YEAR - 1) == 5 and pq.year_score(s.h1.id, YEAR) == 10
    assert pq.year_score(s.h1.id, YEAR, s.scheme.id) == 10 and pq.year_score(s.h2.id, YEAR) == 0
    assert [(h.number, score) for h, score, _r in pq.household_ranking(s.village.id, YEAR - 1)] == [
        ("0101", 5), ("0102", 0)]
    assert pts.check_year_totals() == []


def test_the_honour_roll_ranking_leaves_out_households_without_a_living_member_before_ranking(
        setup, make_household):
    s = setup
    alone = make_household(s.village, "0103", "王五")
    _approve(s, _record(s, "yard", s.h1))           # 0101: 10
    _approve(s, _record(s, "yard", alone))          # 0103: 20, then its only member dies
    _approve(s, _record(s, "yard", alone))
    _approve(s, _record(s, "help", s.h2))           # 0102: 5
    with write_transaction():
        move_out(db.session.get(Household, alone.id).head, status="deceased")
    vid = s.village.id
    assert [(h.number, score, rank) for h, score, rank in pq.household_ranking(vid, YEAR)] == [
        ("0103", 20, 1), ("0101", 10, 2), ("0102", 5, 3)]
    assert [(h.number, score, rank) for h, score, rank in pq.household_ranking(vid, YEAR, with_living_member=True)] \
        == [("0101", 10, 1), ("0102", 5, 2)]
    assert pq.household_ranking(vid, YEAR, with_living_member=True, limit=1) == \
        pq.household_ranking(vid, YEAR, with_living_member=True)[:1]


def test_every_limit_keeps_the_first_rows_with_their_ranks_among_all(setup, make_household):
    """The first rows are ranked among themselves (_ranked); cut inside a tie or after it, each keeps the rank
    it has among all."""
    s = setup
    more = [make_household(s.village, f"01{n:02d}", f"户主{n}") for n in range(3, 8)]
    for h, key in [(s.h1, "yard"), (s.h2, "yard"), (more[0], "help"), (more[1], "help"), (more[2], "help"),
                   (more[3], "burn")]:
        _approve(s, _record(s, key, h))
    vid = s.village.id
    full = pq.household_ranking(vid, YEAR)
    assert [(h.number, score, rank) for h, score, rank in full] == [
        ("0101", 10, 1), ("0102", 10, 1), ("0103", 5, 3), ("0104", 5, 3), ("0105", 5, 3), ("0107", 0, 6),
        ("0106", -8, 7)]
    for k in range(1, len(full) + 1):
        assert pq.household_ranking(vid, YEAR, limit=k) == full[:k]
    people = pq.person_ranking(vid, YEAR)
    assert [(score, rank) for _p, score, rank in people] == [(10, 1), (10, 1), (5, 3), (5, 3), (5, 3), (-8, 6)]
    for k in range(1, len(people) + 1):
        assert pq.person_ranking(vid, YEAR, limit=k) == people[:k]


def test_ledger_check_finds_a_tampered_total(setup, runner, make_village):
    s = setup
    _approve(s, _record(s, "help", s.h1, s.son))
    _approve(s, _record(s, "yard", s.h2))
    assert runner.invoke(args=["ledger", "check"]).exit_code == 0
    with write_transaction():
        db.session.execute(sa.update(PointYearTotal).where(PointYearTotal.household_id == s.h1.id)
                           .values(score=PointYearTotal.score + 1))
        db.session.execute(sa.delete(PointPersonYearTotal).where(PointPersonYearTotal.person_id == s.son.id))
    result = runner.invoke(args=["ledger", "check"])
    assert result.exit_code == 1
    assert re.search(rf"I15 household {s.h1.id} year {YEAR} scheme {s.scheme.id}: total 6 of 1 entries, but its "
                     r"entries give 5 of 1", result.output), result.output
    assert f"I15 person {s.son.id} year {YEAR} scheme {s.scheme.id}: no total, but its entries give 5 of 1" \
        in result.output
    assert "2 problem(s)" in result.output
    # another village's check does not see them
    other = make_village("v2", "二号村")
    assert runner.invoke(args=["ledger", "check", "--village", other.code]).exit_code == 0
    # the bulk path (bench data) sets them from the entries again
    with write_transaction():
        pts.rebuild_year_totals(s.village.id, YEAR)
    assert runner.invoke(args=["ledger", "check", "--village", s.village.code]).exit_code == 0
    assert pq.year_score(s.h1.id, YEAR) == 5


def test_the_migration_fills_the_totals_from_the_entries(app, setup):
    """Downgraded to before the totals and upgraded again, the totals are filled from the entries that count."""
    from flask_migrate import downgrade, upgrade

    s = setup
    _approve(s, _record(s, "help", s.h1, s.son))
    _approve(s, _record(s, "yard", s.h1))
    _approve(s, _record(s, "burn", s.h2))
    _approve(s, _record(s, "help", s.h1, s.son, day=dt.date(YEAR - 1, 3, 1)), day=dt.date(YEAR - 1, 3, 2))
    withdrawn = _record(s, "help", s.h2)
    _approve(s, withdrawn)
    with write_transaction():
        pts.withdraw(db.session.get(PointEntry, withdrawn), s.reviewer, reason="考勤更正")
    _record(s, "yard", s.h2)  # pending
    expected = {k: v for k, v in _kept().items() if v != (0, 0)}
    assert len(expected) == 7
    village_id = s.village.id
    db.session.remove()
    try:
        downgrade(revision="a7d4e2f91c36")
        with db.engine.connect() as conn:
            assert "point_year_totals" not in sa.inspect(conn).get_table_names()
    finally:
        upgrade()
    db.session.remove()
    assert _kept() == expected
    assert pts.check_year_totals() == []
    assert [(h.number, score) for h, score, _r in pq.household_ranking(village_id, YEAR)] == [
        ("0101", 15), ("0102", -8)]


def test_concurrent_approvals_add_up(app, setup, tmp_path):
    """3 processes approve 30 awards of one person at once: the totals hold every one of them."""
    s = setup
    # the households' accounts exist before the race (two first approvals at once sharing one new account is
    # tests/test_ledger.py's test)
    _approve(s, _record(s, "yard", s.h2))
    _approve(s, _record(s, "yard", s.h1))
    pending = [_record(s, "help", s.h1, s.son) for _ in range(30)]
    reviewer_id, h1, son = s.reviewer.id, s.h1.id, s.son.id
    h2, li, head = s.h2.id, db.session.get(Household, s.h2.id).head_id, s.head.id
    db.session.commit()
    db.session.remove()
    db.engine.dispose()
    ctx = mp.get_context("fork")
    # the race starts when every worker has built its app (an Event set at once let the first run alone
    # while the others were still starting on the same 2 cores)
    workers = 3
    start, out = ctx.Barrier(workers + 1), ctx.Queue()
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    procs = [ctx.Process(target=approve_worker, args=(uri, str(tmp_path / f"a{w}"), pending[w::workers],
                                                      reviewer_id, start, out, TODAY)) for w in range(workers)]
    for p in procs:
        p.start()
    start.wait(timeout=120)
    results = [out.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert results == [("approve", 10, [])] * 3
    assert _kept() == {("household", h1, YEAR): (160, 31), ("person", son, YEAR): (150, 30),
                       ("person", head, YEAR): (10, 1), ("household", h2, YEAR): (10, 1), ("person", li, YEAR): (10, 1)}
    assert pts.check_year_totals() == []


def test_no_code_path_gives_an_entry_a_status_but_the_one_that_moves_the_totals():
    """An entry's status is assigned in services._set_status only: no status in a PointEntry(...) made by the
    app, no UPDATE of point_entries, no other `.status =` in the points package (whose only objects with a
    status are entries)."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "app"
    found = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        where = str(path.relative_to(root.parent))
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}

        def function_of(node):
            while node in parents:
                node = parents[node]
                if isinstance(node, ast.FunctionDef):
                    return node.name
            return None

        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = ast.unparse(node.func)
                if name.endswith("PointEntry") and any(k.arg == "status" for k in node.keywords):
                    found.append(f"{where}:{node.lineno} PointEntry(status=…)")
                if name.endswith("update") and node.args and ast.unparse(node.args[0]).startswith("PointEntry"):
                    found.append(f"{where}:{node.lineno} UPDATE point_entries")
            if where.startswith("app/points/") and isinstance(node, (ast.Assign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for t in targets:
                    if isinstance(t, ast.Attribute) and t.attr == "status" and function_of(node) != "_set_status":
                        found.append(f"{where}:{node.lineno} {ast.unparse(t)} =")
    assert found == []
