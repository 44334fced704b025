"""The clerk's grid pages: the grid tree, one grid's workers and households (placed by 户号 or by group, with
history), and the village's visit schedule; reviewers read, grid workers cannot manage, hostile posts refused."""
from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.grid import services as gs
from app.grid.models import Grid, GridMembership, GridWorker, VisitRule
from tests.grid_helpers import counts


def _page(r) -> str:
    return r.get_data(as_text=True)


def _current(household_id: int) -> int | None:
    return db.session.scalar(sa.select(GridMembership.grid_id).where(GridMembership.household_id == household_id,
                                                                     GridMembership.ended_on.is_(None)))


# --- the tree -------------------------------------------------------------------------------------

def test_the_grid_list_is_a_tree_with_counts_chiefs_and_workers(clerk_client, world):
    page = _page(clerk_client.get("/grid/grids"))
    assert page.index("第一网格") < page.index("第一微网格（1组）") < page.index("第二网格")
    assert "王书记" in page and "wgy1" in page and "微网格" in page
    # 第一网格 counts its micro-grids' four households; each micro-grid its own two
    row = page[page.index(">第一网格<"):page.index("第一微网格（1组）")]
    assert "<td>4</td>" in row
    assert "外村网格" not in page


def test_a_clerk_draws_a_grid_and_a_micro_grid_inside_it(clerk_client, world):
    r = clerk_client.post("/grid/grids", data={"name": "第三网格", "parent_id": "0", "chief_name": "刘主任",
                                               "submit": "1"})
    assert r.status_code == 302
    new = db.session.scalar(sa.select(Grid).where(Grid.name == "第三网格"))
    assert new.parent_id is None and new.chief_name == "刘主任"
    r = clerk_client.post("/grid/grids", data={"name": "第三微网格（3组）", "parent_id": str(new.id), "submit": "1"})
    assert r.status_code == 302
    assert db.session.scalar(sa.select(Grid.parent_id).where(Grid.name == "第三微网格（3组）")) == new.id


def test_hostile_grid_forms_get_a_message_and_write_nothing(clerk_client, world):
    before = counts(Grid)
    for data, message in [
        ({"name": "", "parent_id": "0"}, "必填"),
        ({"name": "网" * 65, "parent_id": "0"}, "64"),
        ({"name": "第一网格", "parent_id": "0"}, "已有名为“第一网格”的网格"),
        ({"name": "孙网格", "parent_id": str(world.m1)}, ""),  # a micro-grid inside a micro-grid
        ({"name": "外挂", "parent_id": str(world.far)}, ""),  # another village's grid
        ({"name": "外挂", "parent_id": "abc"}, ""),
        ({"name": "外挂", "parent_id": "99999999999999999999"}, ""),
        ({"name": "外挂", "parent_id": "0", "chief_phone": "1" * 21}, ""),
    ]:
        r = clerk_client.post("/grid/grids", data={**data, "submit": "1"})
        assert r.status_code == 400, data
        assert 'class="field-error"' in _page(r), data
        assert message in _page(r) or not message
    assert counts(Grid) == before


def test_a_grid_with_micro_grids_cannot_become_a_micro_grid(clerk_client, world):
    r = clerk_client.post(f"/grid/grids/{world.one}", data={
        "grid-name": "第一网格", "grid-parent_id": str(world.two), "grid-active": "y", "grid-submit": "1"})
    assert r.status_code == 400 and "已划分微网格的网格不能再作为微网格" in _page(r)
    assert db.session.get(Grid, world.one).parent_id is None


def test_editing_a_grid_saves_and_can_retire_it(clerk_client, world):
    r = clerk_client.post(f"/grid/grids/{world.two}", data={
        "grid-name": "第二网格（北片）", "grid-parent_id": "0", "grid-chief_name": "马书记", "grid-note": "北片",
        "grid-submit": "1"})
    assert r.status_code == 302
    grid = db.session.get(Grid, world.two)
    assert grid.name == "第二网格（北片）" and grid.chief_name == "马书记" and grid.active is False
    assert "已停用" in _page(clerk_client.get("/grid/grids"))


def test_another_villages_grid_or_household_is_not_found(clerk_client, world):
    assert clerk_client.get(f"/grid/grids/{world.far}").status_code == 404
    assert clerk_client.post(f"/grid/grids/{world.far}", data={"grid-name": "x", "grid-submit": "1"}).status_code \
        == 404
    assert clerk_client.get(f"/grid/grids/households/{world.far_household}/history").status_code == 404
    assert clerk_client.get("/grid/grids/99999999999999999999").status_code == 404


# --- workers --------------------------------------------------------------------------------------

def test_assign_a_grid_worker_and_end_the_assignment(clerk_client, world):
    r = clerk_client.post(f"/grid/grids/{world.two}", data={"worker-user_id": str(world.worker.id),
                                                            "worker-started_on": "2026-02-01",
                                                            "worker-submit": "1"})
    assert r.status_code == 302
    row = db.session.scalar(sa.select(GridWorker).where(GridWorker.grid_id == world.two,
                                                        GridWorker.user_id == world.worker.id))
    assert str(row.started_on) == "2026-02-01"
    page = _page(clerk_client.get(f"/grid/grids/{world.two}"))
    assert "wgy1" in page and "wgy2" in page
    r = clerk_client.post(f"/grid/grids/{world.two}", data={"end-row_id": str(row.id), "end-submit": "1"})
    assert r.status_code == 302
    db.session.expire_all()
    assert db.session.get(GridWorker, row.id).ended_on is not None
    assert "曾任网格员" in _page(clerk_client.get(f"/grid/grids/{world.two}"))


def test_hostile_worker_posts_write_nothing(clerk_client, world, clerk):
    before = counts(GridWorker)
    for data in [{"worker-user_id": "0"}, {"worker-user_id": str(clerk.id)},  # a clerk is no grid worker
                 {"worker-user_id": str(world.worker2.id)},  # already works 第二网格
                 {"worker-user_id": "abc"}, {"worker-user_id": str(world.worker.id), "worker-started_on": "明天"}]:
        r = clerk_client.post(f"/grid/grids/{world.two}", data={**data, "worker-submit": "1"})
        assert r.status_code == 400 and 'field-error' in _page(r), data
    assert counts(GridWorker) == before
    other_row = db.session.scalar(sa.select(GridWorker.id).where(GridWorker.grid_id == world.one))
    for row_id in (str(other_row), "", "abc", "99999999"):  # another grid's worker, nothing, junk
        r = clerk_client.post(f"/grid/grids/{world.two}", data={"end-row_id": row_id, "end-submit": "1"})
        assert r.status_code == 400 and "请从列表中选择" in _page(r), row_id
    assert db.session.scalar(sa.select(sa.func.count()).select_from(GridWorker)
                             .where(GridWorker.ended_on.is_not(None))) == 0


# --- households -----------------------------------------------------------------------------------

def test_place_households_by_number_in_several_spellings(clerk_client, world):
    r = clerk_client.post(f"/grid/grids/{world.two}", data={"place-numbers": "0302，0101、 0102",
                                                            "place-submit": "1"})
    assert r.status_code == 302
    assert "已将3户划入第二网格" in _page(clerk_client.get(r.headers["Location"]))
    for n in ("0302", "0101", "0102"):
        assert _current(world.households[n]) == world.two
    # 0101 moved: its history keeps the micro-grid it left
    page = _page(clerk_client.get(f"/grid/grids/households/{world.households['0101']}/history"))
    assert "第一微网格（1组）" in page and "第二网格" in page and "至今" in page


def test_place_a_whole_villager_group(clerk_client, world):
    r = clerk_client.post(f"/grid/grids/{world.two}", data={"place-group_id": str(world.groups["1组"]),
                                                            "place-submit": "1"})
    assert r.status_code == 302
    assert _current(world.households["0101"]) == world.two and _current(world.households["0102"]) == world.two
    page = _page(clerk_client.get(f"/grid/grids/{world.two}"))
    assert "赵一平" in page and "低保户" in page


def test_hostile_placements_are_refused_and_nothing_moves(clerk_client, world):
    before = counts(GridMembership)
    for grid_id, data, message in [
        (world.two, {"place-numbers": "0302 9999"}, "本村没有户号为9999的户"),
        (world.two, {"place-numbers": ""}, "二者选其一"),
        (world.two, {"place-numbers": "0302", "place-group_id": str(world.groups["3组"])}, "二者选其一"),
        (world.two, {"place-numbers": "0" * 33}, "32"),
        (world.two, {"place-numbers": " ".join(str(n) for n in range(201))}, "200"),
        (world.two, {"place-group_id": "987654"}, ""),
        (world.two, {"place-numbers": "0302", "place-on": "2026-13-40"}, "2026-11-25"),
        (world.one, {"place-numbers": "0302"}, "已划分微网格"),  # a divided grid takes no household
        (world.two, {"place-numbers": "0101", "place-on": "2025-01-01"}, "不能早于这一天"),
    ]:
        r = clerk_client.post(f"/grid/grids/{grid_id}", data={**data, "place-submit": "1"})
        assert r.status_code == 400, data
        assert message in _page(r), (data, message)
    # another village's household number is simply not in this village: 0101 there is not 0101 here
    assert counts(GridMembership) == before
    assert _current(world.households["0302"]) is None


def test_take_a_household_out_of_the_grid(clerk_client, world):
    hid = world.households["0101"]
    r = clerk_client.post(f"/grid/grids/{world.m1}", data={"remove-row_id": str(hid), "remove-submit": "1"})
    assert r.status_code == 302
    assert _current(hid) is None
    # not in this grid (any more), another village's household, junk: a message, nothing written
    for row_id in (str(hid), str(world.households["0201"]), str(world.far_household), "x"):
        r = clerk_client.post(f"/grid/grids/{world.m1}", data={"remove-row_id": row_id, "remove-submit": "1"})
        assert r.status_code == 400, row_id
        assert "该户不在本网格" in _page(r) or "请从列表中选择" in _page(r), row_id
    assert _current(world.households["0201"]) == world.m2


# --- who may -------------------------------------------------------------------------------------

def test_a_reviewer_reads_but_cannot_post(client, auth, world):
    assert auth.login("shenhe").status_code == 302
    for url in ("/grid/grids", f"/grid/grids/{world.one}", "/grid/schedule",
                f"/grid/grids/households/{world.households['0101']}/history"):
        r = client.get(url)
        assert r.status_code == 200, url
        page = _page(r)
        assert all(name not in page for name in ('name="submit"', '-submit"', 'type="file"')), url
    before = counts(Grid)
    assert client.post("/grid/grids", data={"name": "偷偷", "parent_id": "0", "submit": "1"}).status_code == 403
    assert client.post(f"/grid/grids/{world.two}", data={"place-numbers": "0302", "place-submit": "1"}) \
        .status_code == 403
    assert client.post("/grid/schedule", data={"every_ordinary": "1", "unit_ordinary": "week",
                                               "submit": "1"}).status_code == 403
    assert counts(Grid) == before and counts(VisitRule) == 0
    assert _current(world.households["0302"]) is None


def test_a_grid_worker_cannot_manage(client, auth, world):
    assert auth.login("wgy1").status_code == 302
    assert client.get("/grid/grids").status_code == 200
    assert client.post("/grid/grids", data={"name": "偷偷", "parent_id": "0", "submit": "1"}).status_code == 403
    assert client.post(f"/grid/grids/{world.one}", data={"grid-name": "改名", "grid-submit": "1"}).status_code \
        == 403
    assert client.get("/grid/grids/import").status_code == 403
    assert db.session.get(Grid, world.one).name == "第一网格"


# --- the schedule ---------------------------------------------------------------------------------

def _rules_form(**changes) -> dict:
    data = {"every_ordinary": "6", "unit_ordinary": "month", "submit": "1"}
    for tag in gs.RULE_TAGS[1:]:
        data[f"every_{tag}"], data[f"unit_{tag}"] = "", "none"
    data.update(changes)
    return data


def test_the_schedule_shows_the_defaults_and_saves_the_villages_own(clerk_client, world):
    page = _page(clerk_client.get("/grid/schedule"))
    assert "三必访" in page and "一般户" in page and "特殊人员" in page
    assert 'name="every_special" type="text" value="1"' in page or 'value="1"' in page
    r = clerk_client.post("/grid/schedule", data=_rules_form(every_dibao="2", unit_dibao="week",
                                                             every_ordinary="3"))
    assert r.status_code == 302
    assert gs.village_rules(world.village.id) == {"ordinary": (3, "month"), "dibao": (2, "week")}
    page = _page(clerk_client.get("/grid/schedule"))
    assert page.count('<option selected value="none">') == len(gs.RULE_TAGS) - 2


def test_hostile_schedules_are_refused_and_the_defaults_stay(clerk_client, world):
    for changes, message in [
        ({"every_ordinary": ""}, "1至366"),
        ({"unit_ordinary": "none"}, ""),  # ordinary households always have a rhythm
        ({"every_ordinary": "0"}, "1"),
        ({"every_ordinary": "367"}, "366"),
        ({"every_ordinary": "abc"}, ""),
        ({"every_dibao": "", "unit_dibao": "week"}, "1至366"),
        ({"unit_dibao": "fortnight"}, ""),
        ({"every_ordinary": "9" * 30}, ""),
    ]:
        r = clerk_client.post("/grid/schedule", data=_rules_form(**changes))
        assert r.status_code == 400, changes
        assert "field-error" in _page(r) and message in _page(r), changes
    assert counts(VisitRule) == 0
