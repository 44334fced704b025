"""Rankings: ranked in SQL (RANK() over the scores), ties share a rank, and the page costs a handful of
statements however many households the village has."""
from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.points import queries as pq
from app.points import services as pts
from app.points.models import PointEntry
from app.registry.models import Household, Person
from app.registry.services import create_group, move_out, set_household_status
from app.submission import write_transaction
from tests.conftest import PASSWORD, FreshContextClient

TODAY = dt.date(2026, 11, 25)
YEAR = TODAY.year


@pytest.fixture
def village_points(app, village, make_user, make_household):
    """A scheme with a person item (5), a household item (10, counted to the head in the people's ranking) and
    a deduction (-8); a clerk and a reviewer."""
    clerk = make_user("lu", ("clerk", village))
    reviewer = make_user("shen", ("reviewer", village))
    with write_transaction():
        scheme = pts.create_scheme(village, "积分细则", star_bands="10:1,20:2")
        add = pts.create_category(scheme, "热心公益", "add")
        ded = pts.create_category(scheme, "综合扣分", "deduct")
        items = {
            "help": pts.create_item(add, pts.ItemData(code="A02", text="帮扶独居老人", points=5)),
            "yard": pts.create_item(add, pts.ItemData(code="A03", text="美丽庭院", points=10,
                                                      applies_to="household")),
            "burn": pts.create_item(ded, pts.ItemData(code="D01", text="焚烧秸秆", points=-8)),
        }
    s = type("S", (), dict(scheme=scheme, items=items, clerk=clerk, reviewer=reviewer, village=village))

    def give(key, household, person=None, day=TODAY, approve=True):
        with write_transaction():
            e = pts.record_entry(s.scheme, s.items[key], household, person=person, occurred_on=day,
                                 actor=s.clerk, today=TODAY)
        if approve:
            with write_transaction():
                pts.approve(db.session.get(PointEntry, e.id), s.reviewer, today=day)

    s.give = give
    return s


def _head(h: Household) -> Person:
    return db.session.get(Household, h.id).head


def _reference_households(village_id: int, year: int, group_id=None) -> list[tuple[str, int, int]]:
    """The ranking as the page computed it before (everything loaded, ranked in Python): (number, score, rank)."""
    households = db.session.scalars(sa.select(Household).where(Household.village_id == village_id,
                                                               Household.status == "active")).all()
    if group_id:
        households = [h for h in households if h.group_id == group_id]
    entries = db.session.scalars(sa.select(PointEntry).where(PointEntry.year == year,
                                                             PointEntry.status.in_(pq.COUNTED))).all()
    scores = {h.id: sum(e.points for e in entries if e.household_id == h.id) for h in households}
    ordered = sorted(households, key=lambda h: (-scores[h.id], h.number))
    return _competition([(h.number, scores[h.id]) for h in ordered])


def _reference_people(village_id: int, year: int) -> list[tuple[int, int, int]]:
    entries = db.session.scalars(sa.select(PointEntry).where(PointEntry.year == year, PointEntry.person_id.is_not(None),
                                                             PointEntry.status.in_(pq.COUNTED))).all()
    scores: dict[int, int] = {}
    for e in entries:
        person = db.session.get(Person, e.person_id)
        if person.status == "alive" and person.household.status == "active" and person.village_id == village_id:
            scores[e.person_id] = scores.get(e.person_id, 0) + e.points
    ordered = sorted(scores, key=lambda pid: (-scores[pid], pid))
    return _competition([(pid, scores[pid]) for pid in ordered])


def _competition(rows):
    out, rank, last = [], 0, None
    for i, (subject, score) in enumerate(rows, start=1):
        if score != last:
            rank, last = i, score
        out.append((subject, score, rank))
    return out


@pytest.fixture
def mixed(village_points, make_household):
    """Ties, a deduction below zero, a household with nothing, a pending entry, last year's points, a moved
    household, a dead person, two groups."""
    s = village_points
    with write_transaction():
        east = create_group(s.village, "一组")
        west = create_group(s.village, "二组")
    hs = {n: make_household(s.village, n, head, members=[(f"{head}子", "child")], group=grp)
          for n, head, grp in [("0101", "张三", east), ("0102", "李四", east), ("0103", "王五", west),
                               ("0104", "赵六", west), ("0105", "钱七", east), ("0106", "孙八", west),
                               ("0107", "周九", None)]}
    s.give("yard", hs["0101"])                                   # 10
    s.give("help", hs["0102"], _head(hs["0102"]))
    s.give("help", hs["0102"], _head(hs["0102"]))                # 10: tie with 0101
    s.give("help", hs["0103"], _head(hs["0103"]))                # 5
    s.give("burn", hs["0104"], _head(hs["0104"]))                # -8
    s.give("yard", hs["0105"], approve=False)                    # pending: 0
    s.give("yard", hs["0105"], day=dt.date(YEAR - 1, 6, 1))      # last year: 0 this year
    s.give("yard", hs["0106"])
    s.give("yard", hs["0106"])                                   # 20, then moved away
    s.give("help", hs["0107"], _head(hs["0107"]))                # 5: tie with 0103
    son = db.session.scalar(sa.select(Person).where(Person.name == "周九子"))
    s.give("help", hs["0107"], son)
    s.give("help", hs["0107"], son)                              # 0107: 15, its son 10 then dead
    with write_transaction():
        set_household_status(db.session.get(Household, hs["0106"].id), "moved_away")
        move_out(db.session.get(Person, son.id), status="deceased")
    s.households, s.groups = hs, (east, west)
    return s


def test_ties_share_a_rank_and_the_next_rank_skips(mixed):
    ranking = pq.household_ranking(mixed.village.id, YEAR)
    assert [(h.number, score, rank) for h, score, rank in ranking] == [
        ("0107", 15, 1), ("0101", 10, 2), ("0102", 10, 2), ("0103", 5, 4), ("0105", 0, 5), ("0104", -8, 6)]
    people = pq.person_ranking(mixed.village.id, YEAR)
    assert [(p.name, score, rank) for p, score, rank in people] == [
        ("张三", 10, 1), ("李四", 10, 1), ("王五", 5, 3), ("周九", 5, 3), ("赵六", -8, 5)]


def test_the_ranking_is_the_same_as_ranking_everything_in_python(mixed):
    vid = mixed.village.id
    assert [(h.number, score, rank) for h, score, rank in pq.household_ranking(vid, YEAR)] \
        == _reference_households(vid, YEAR)
    for group in mixed.groups:
        assert [(h.number, score, rank) for h, score, rank in pq.household_ranking(vid, YEAR, group_id=group.id)] \
            == _reference_households(vid, YEAR, group.id)
    assert [(p.id, score, rank) for p, score, rank in pq.person_ranking(vid, YEAR)] == _reference_people(vid, YEAR)
    # last year: only 0105's household item
    assert [(h.number, s, r) for h, s, r in pq.household_ranking(vid, YEAR - 1)][:2] == [("0105", 10, 1), ("0101", 0, 2)]


def test_a_limit_keeps_the_first_rows_ranked_among_all(mixed):
    vid = mixed.village.id
    full = pq.household_ranking(vid, YEAR)
    assert pq.household_ranking(vid, YEAR, limit=3) == full[:3]
    assert pq.person_ranking(vid, YEAR, limit=2) == pq.person_ranking(vid, YEAR)[:2]


def test_the_pages_rows_are_the_rankings_read_as_columns(mixed):
    """The rankings page reads its rows as plain columns: the same subjects, scores, ranks and order as the
    rankings of objects, with the head's name (or none) and the person's 户号."""
    vid = mixed.village.id
    for group_id in (None, *(g.id for g in mixed.groups)):
        for limit in (None, 1, 2, 3):
            assert [(r.id, r.number, r.name, r.score, r.rank)
                    for r in pq.household_ranking_rows(vid, YEAR, group_id=group_id, limit=limit)] == \
                [(h.id, h.number, h.head.name if h.head else "", s, r)
                 for h, s, r in pq.household_ranking(vid, YEAR, group_id=group_id, limit=limit)]
            assert [(r.id, r.name, r.number, r.score, r.rank)
                    for r in pq.person_ranking_rows(vid, YEAR, group_id=group_id, limit=limit)] == \
                [(p.id, p.name, p.household.number, s, r)
                 for p, s, r in pq.person_ranking(vid, YEAR, group_id=group_id, limit=limit)]


def _rows(html: str, section: int) -> list[list[list[str]]]:
    """The cells (split into words) of each row of the page's first (households) or second (people) table."""
    body = html.split("<tbody>")[1 + section].split("</tbody>", 1)[0]
    return [[re.sub(r"<[^>]+>", " ", cell).split() for cell in re.findall(r"<td>(.*?)</td>", row)]
            for row in re.findall(r"<tr><td>.*?</tr>", body)]


def test_the_rankings_page_costs_at_most_five_statements(app, mixed, make_household):
    # enough households that one statement per row would show
    for i in range(30):
        make_household(mixed.village, f"09{i:02d}", f"户主{i}")
    app.test_client_class = FreshContextClient  # each request in its own context, as in a worker
    client = app.test_client()
    assert client.post("/login", data={"username": "lu", "password": PASSWORD}).status_code == 302
    assert client.get(f"/points/rankings?year={YEAR}").status_code == 200  # a warm worker
    statements: list[str] = []

    def count(conn, cursor, statement, params, context, executemany):
        if statement.strip().upper() not in ("BEGIN", "COMMIT", "ROLLBACK"):  # SQLite's explicit BEGIN
            statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        r = client.get(f"/points/rankings?year={YEAR}")
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    assert r.status_code == 200
    assert len(statements) <= 5, "\n\n".join(statements)
    html = r.get_data(as_text=True)
    households = _rows(html, 0)
    assert households[0][:3] == [["1"], ["0107", "周九"], ["+15"]]
    assert len(households) == 6 + 30
    assert [row[1] for row in households[1:3]] == [["0101", "张三"], ["0102", "李四"]]
    assert [row[0] for row in households[:4]] == [["1"], ["2"], ["2"], ["4"]]
    people = _rows(html, 1)
    assert [row[1] for row in people] == [["张三", "0101"], ["李四", "0102"], ["王五", "0103"], ["周九", "0107"],
                                          ["赵六", "0104"]]
    assert [row[0] for row in people] == [["1"], ["1"], ["3"], ["3"], ["5"]]


def test_the_rankings_rows_escape_names_link_each_household_and_show_its_stars(app, mixed, make_household):
    """The rows are drawn in Python: a name or 户号 with markup in it is shown as text, each 户号 opens that
    household's points page, and the score is signed with its stars under the scheme's bands (10:1, 20:2)."""
    s = mixed
    odd = make_household(s.village, "09<1>", '<img src=x onerror="alert(1)">&王')
    s.give("burn", odd, _head(odd))                              # -8
    client = app.test_client()
    assert client.post("/login", data={"username": "lu", "password": PASSWORD}).status_code == 302
    html = client.get(f"/points/rankings?year={YEAR}").get_data(as_text=True)
    assert "<img src=x" not in html
    assert '09&lt;1&gt;</a> &lt;img src=x onerror=&#34;alert(1)&#34;&gt;&amp;王' in html
    households = _rows(html, 0)
    first = s.households["0107"]
    assert f'<a href="/points/households/{first.id}">0107</a>' in html
    assert client.get(f"/points/households/{first.id}").status_code == 200
    assert households[0][2:] == [["+15"], ["★☆☆☆☆"]]             # 15: one star (10 ≤ 15 < 20)
    assert [row[2:] for row in households if row[1][0] == "0104"] == [[["−8"], ["☆☆☆☆☆"]]]
    people = _rows(html, 1)
    assert people[0] == [["1"], ["张三", "0101"], ["+10"]]
