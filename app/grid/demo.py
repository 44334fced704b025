"""Demo data for grid work: two grids over the demo village's villager groups (the first divided into two
micro-grids), the demo grid worker on the first and a second worker on the other, every active household placed,
a year of visits leaving a few households overdue and a couple due today, and events in every state of their
machine, reported over the last two months. All through app.grid.services, dated relative to today, seeded once.
"""
from __future__ import annotations

import datetime as dt
import random

import sqlalchemy as sa

from ..auth.models import User
from ..auth.services import create_user, grant
from ..db import local_today, utcnow
from ..extensions import db
from ..registry.models import Household, HouseholdStatus
from . import queries as gq
from . import schedule
from . import services as gs
from .models import EventStep, Grid

#: the second grid's worker (the demo's "grid" login works the first grid)
DEMO_SECOND_WORKER = "grid2"
#: the grids were drawn this many days ago; most households joined then
SETUP_DAYS_AGO = 400
#: how far back the visits of monthly (or closer) households go: half a year of reports, a quick seeding
HISTORY_DAYS = 200

ROUTINE_FINDINGS = [
    "家中一切正常，宣传了村规民约和积分制。",
    "了解家庭收入和务工情况，无特殊困难。",
    "检查了用电、用气安全，提醒冬季取暖注意通风。",
    "宣传防范电信诈骗，留下了网格员联系方式。",
    "家庭和睦，院落整洁，无矛盾纠纷。",
]
CARE_FINDINGS = [
    "老人身体尚可，药品充足，叮嘱按时服药。",
    "核实低保家庭人口和收入，无变化。",
    "孩子在校情况良好，与在外务工的父母视频通话。",
    "帮助整理了医保报销材料。",
    "屋内取暖设施正常，送去米面油。",
]
REQUESTS = ["希望帮忙咨询医保报销流程。", "门前路灯不亮，希望村里修一下。", "想报名参加村里的技能培训。"]


def seed_grid_demo(village, clerk, password: str, seed: int = 20261205) -> bool:
    """Add the demo grids, visits and events once; False when the village has grids already."""
    if db.session.scalar(sa.select(Grid.id).where(Grid.village_id == village.id).limit(1)):
        return False
    worker = db.session.scalar(sa.select(User).where(User.username == "grid"))
    if worker is None:
        return False
    rng = random.Random(seed)
    today = local_today()
    setup = today - dt.timedelta(days=SETUP_DAYS_AGO)
    second = db.session.scalar(sa.select(User).where(User.username == DEMO_SECOND_WORKER)) \
        or create_user(DEMO_SECOND_WORKER, password, "网格员（第二网格）")
    if not gs.is_grid_worker(village.id, second):
        grant(second, "grid_worker", village=village)

    groups = gq.village_groups(village.id)
    if not groups:
        return False
    half = max(1, (len(groups) + 1) // 2)
    first_groups, other_groups = groups[:half], groups[half:]
    first = gs.create_grid(village, name=f"第一网格（{_span(first_groups)}）", chief_name="王建国",
                           chief_phone="13800000001", note="网格长由村党支部书记担任", actor=clerk)
    # the finest grid each group's households go into
    cells = {}
    if len(first_groups) >= 2:
        cut = (len(first_groups) + 1) // 2
        for n, part in enumerate((first_groups[:cut], first_groups[cut:]), start=1):
            micro = gs.create_grid(village, name=f"{'第一' if n == 1 else '第二'}微网格（{_span(part)}）", parent=first,
                                   chief_name=part[0].leader, actor=clerk)
            cells.update({vg.id: micro for vg in part})
    else:
        cells.update({vg.id: first for vg in first_groups})
    if other_groups:
        other = gs.create_grid(village, name=f"第二网格（{_span(other_groups)}）", chief_name=other_groups[0].leader,
                               actor=clerk)
        cells.update({vg.id: other for vg in other_groups})
    else:
        other = None
    gs.assign_worker(first, worker, started_on=setup, actor=clerk)
    if other is not None:
        gs.assign_worker(other, second, started_on=setup, actor=clerk)

    rules = gs.village_rules(village.id)
    households = db.session.scalars(sa.select(Household).where(
        Household.village_id == village.id, Household.status == HouseholdStatus.ACTIVE.value)
        .order_by(Household.number)).all()
    by_worker: dict[int, list[Household]] = {worker.id: [], second.id: []}
    for household in households:
        cell = cells.get(household.group_id) or (other or first)
        by_worker[worker.id if cell.id == first.id or cell.parent_id == first.id else second.id].append(household)
    for user, mine in ((worker, by_worker[worker.id]), (second, by_worker[second.id])):
        _place_and_visit(mine, cells, other or first, user, clerk, rules, rng, today, setup)
    _events(village, clerk, worker, by_worker[worker.id], rng)
    return True


def _span(groups) -> str:
    """第一村民小组 … 第三村民小组 → 第一至第三村民小组."""
    if len(groups) == 1:
        return groups[0].name
    a, b = groups[0].name, groups[-1].name
    return f"{a.removesuffix('村民小组')}至{b}" if a.endswith("村民小组") else f"{a}至{b}"


def _latest_before(today: dt.date, interval: tuple[int, str]) -> dt.date | None:
    """The latest day whose next regular visit falls due exactly today (none in some month ends)."""
    for back in range(1, 370):
        day = today - dt.timedelta(days=back)
        if schedule.add_interval(day, *interval) == today:
            return day
    return None


def _place_and_visit(households: list[Household], cells: dict, fallback: Grid, user, clerk, rules: dict,
                     rng: random.Random, today: dt.date, setup: dt.date) -> None:
    """Place one worker's households and record a year of their visits, so that their today page shows a few
    overdue, a couple due today and the rest done (some coming up within the week)."""
    order = households[:]
    rng.shuffle(order)
    monthly = [h for h in order if schedule.approx_days(*schedule.interval_for(h.tag_list, rules)) < 60]
    ordinary = [h for h in order if h not in monthly]
    # the roles that leave something on the worker's list today
    roles: dict[int, str] = {}
    for role, pool in (("new", ordinary), ("late_ordinary", ordinary), ("late_monthly", monthly),
                       ("missed_follow_up", ordinary), ("due_regular", ordinary), ("due_follow_up", order),
                       ("joined_lately", ordinary)):
        free = [h for h in pool if h.id not in roles]
        if free:
            roles[free[0].id] = role
    back = dt.timedelta
    for household in households:
        role = roles.get(household.id, "done")
        joined = {"new": today - back(days=4), "joined_lately": today - back(days=75)}.get(role, setup)
        gs.place_household(household, cells.get(household.group_id) or fallback, on=joined, actor=clerk)
        if role == "new":
            continue  # moved in this week: due on the day it joined, not visited yet
        interval = schedule.interval_for(household.tag_list, rules)
        follow_up = None
        if role == "late_ordinary":
            last = today - back(days=200 + rng.randint(0, 20))
        elif role == "late_monthly":
            last = today - back(days=45 + rng.randint(0, 10))
        elif role == "missed_follow_up":
            last, follow_up = today - back(days=20), today - back(days=2)
        elif role == "due_regular":
            last = _latest_before(today, interval)
            if last is None:
                last, follow_up = today - back(days=9), today
        elif role == "due_follow_up":
            last, follow_up = today - back(days=6), today
        elif role == "joined_lately":
            last = today - back(days=70)
        elif schedule.approx_days(*interval) < 60:
            # a household visited monthly (or closer): seen within the interval, a few days to spare
            last = today - back(days=rng.randint(0, max(0, min(25, int(schedule.approx_days(*interval)) - 4))))
        else:
            last = today - back(days=rng.randint(0, 175))
        # earlier visits one interval apart, as far back as the grid and the demo's history go
        days = [last]
        since = max(joined, today - back(days=HISTORY_DAYS if schedule.approx_days(*interval) < 60 else 360))
        while True:
            earlier = schedule.add_interval(days[-1], -interval[0], interval[1]) - back(days=rng.randint(0, 3))
            if earlier < since:
                break
            days.append(earlier)
        for n, day in enumerate(reversed(days)):
            latest = n == len(days) - 1
            care = interval != schedule.DEFAULT_RULES[schedule.ORDINARY]
            gs.record_visit(
                household, visited_on=day, actor=user, today=today,
                findings=rng.choice(CARE_FINDINGS if care else ROUTINE_FINDINGS),
                requests=rng.choice(REQUESTS) if rng.random() < 0.1 else None,
                follow_up_on=follow_up if latest else None)


def _when(days: float) -> dt.datetime:
    return utcnow() - dt.timedelta(days=days)


def _dated(event, days: float) -> None:
    """The demo backdates the step just taken (the services stamp a step with the time it is recorded)."""
    step = db.session.scalar(sa.select(EventStep).where(EventStep.event_id == event.id)
                             .order_by(EventStep.id.desc()).limit(1))
    step.at = _when(days)
    db.session.flush()


def _events(village, clerk, worker, households: list[Household], rng: random.Random) -> None:
    """Events in every state, reported by the worker (one by the clerk) over the last two months, oldest first so
    their numbers follow the calendar."""
    pick = households[:]
    rng.shuffle(pick)
    pick = (pick * 8)[:8] if pick else [None] * 8

    def report(days: float, kind: str, text: str, *, priority: str = "normal", household=None, place=None,
               reporter=worker):
        event = gs.report_event(village, kind=kind, text=text, priority=priority, household=household,
                                grid=None, place=place, reporter=reporter, now=_when(days))
        _dated(event, days)
        return event

    def work(event, assigned: float, started: float | None = None):
        gs.assign(event, worker, note="请尽快上门核实处理。", actor=clerk)
        _dated(event, assigned)
        if started is not None:
            gs.start(event, actor=worker)
            _dated(event, started)

    closed = report(55, "environment", "村口排水沟堵塞，雨后积水漫到路面。", place="村口排水沟")
    work(closed, 54.8, 54)
    gs.resolve(closed, resolution="组织保洁员清淤疏通排水沟，已恢复畅通。", actor=worker, now=_when(53))
    _dated(closed, 53)
    gs.return_visit(closed, feedback="水沟通了，下雨不再积水，很满意。", satisfied=True, actor=clerk, now=_when(50))
    _dated(closed, 50)

    rejected = report(40, "request", "要求村里出钱修缮自家院墙。", household=pick[0])
    gs.reject(rejected, reason="属个人房屋修缮，不属村集体公共事务；已告知可按程序申请农村危房改造。", actor=clerk)
    _dated(rejected, 39.5)

    hardship = report(32, "hardship", "户主务工时摔伤住院，家中老人无人照料。", priority="high", household=pick[1])
    gs.accept(hardship, actor=clerk)
    _dated(hardship, 31.9)
    gs.resolve(hardship, resolution="联系镇民政办申请临时救助，组织邻居轮流照看老人。", actor=clerk, now=_when(30))
    _dated(hardship, 30)
    gs.return_visit(hardship, feedback="救助金已到账，感谢村里。", satisfied=True, actor=worker, now=_when(25))
    _dated(hardship, 25)

    dispute = report(18, "dispute", "两户因宅基地界址发生争吵，双方情绪激动。", priority="high", household=pick[2])
    gs.accept(dispute, actor=clerk)
    _dated(dispute, 17.9)
    gs.hand_over(dispute, "mediation_case", note="转村调委会调解。", actor=clerk)
    _dated(dispute, 17.8)

    resolved = report(14, "facility", "三组路口的自来水管冻裂漏水。", place="三组路口")
    work(resolved, 13.8, 13.5)
    gs.resolve(resolved, resolution="更换了破损水管并加装保温层。", actor=worker, now=_when(12))
    _dated(resolved, 12)

    hazard = report(7, "hazard", "一户老旧土坯房后墙开裂，雨季有倒塌风险。", priority="high", household=pick[3])
    work(hazard, 6.5)  # assigned, not started: due three days after the report, so overdue now

    in_progress = report(5, "environment", "河道边有人倾倒建筑垃圾。", priority="low", place="村西河道")
    work(in_progress, 4.8, 4)

    accepted = report(3, "facility", "村委会门前两盏路灯不亮。", place="村委会门前", reporter=clerk)
    gs.accept(accepted, actor=clerk)
    _dated(accepted, 2.9)

    report(0.5, "request", "独居老人希望帮忙代购常用药。", household=pick[4])
