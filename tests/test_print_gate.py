"""The print gate: every printable the app produces, printed from a seeded demo village and checked.

One row of PRINTABLES per printable: the view's endpoint, how to fetch its PDF, and the strings from the database
it must carry. For each row and each database:

1. read back with pypdf, the figures, names and codes of the database are on it;
2. no box of the layout leaves its page (WeasyPrint's layout tree), no word leaves the sheet (poppler's word boxes);
3. no glyph is missing (the embedded fonts have every character of its text);
4. the 第 x 页 / 共 y 页 footers count the real pages;
5. its pages at 30 dpi look like the committed references in tests/data/print_refs/ (`make print-refs`
   regenerates them; look at them before committing).

A view that prints but has no row fails `test_every_printing_view_has_a_row`. The village is seeded once per
database on a frozen clock (2026-11-18 10:00 in the village) with seeded random codes, so the pages are the same
on every run; each PDF is printed once per database and shared by the checks.
"""
from __future__ import annotations

import datetime as dt
import functools
import inspect
import os
import random
import re
import shutil
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa

from app import create_app, printing
from app.extensions import db
from tests import print_checks as pc
from tests.conftest import BACKENDS, BASE_CONFIG, FreshContextClient, _empty_pg

#: the frozen "now": a Wednesday in the village, late in the year (statements of 2026 are as of today)
NOW_UTC = dt.datetime(2026, 11, 18, 2, 0, 0, tzinfo=dt.UTC)
TODAY = dt.date(2026, 11, 18)
HOUSEHOLDS = 48
DEMO_PASSWORD = "demo1234"
#: printables being redesigned for issue 20 (paper-statements, paper-rules, paper-misc) whose today's layout
#: fails the gate; strict: the row fails once the redesign passes, and its mark must go
REDESIGN = "issue 20: being redesigned"


# --- a frozen clock and seeded codes ---------------------------------------------------------------

class _FrozenDateTime(dt.datetime):
    """A clock that starts at NOW_UTC and moves 0.1 ms a reading: the same times on every run, and what is
    recorded comes before what is printed after it (a statement's cut-off follows its entries)."""

    ticks = 0

    @classmethod
    def now(cls, tz=None):
        _FrozenDateTime.ticks += 1
        moment = NOW_UTC + dt.timedelta(microseconds=100 * _FrozenDateTime.ticks)
        return moment.astimezone(tz) if tz is not None else moment.replace(tzinfo=None)


class _SeededSecrets:
    """Stands in for `secrets` in the modules that make printed codes (cards, statements, checkpoint QR)."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)

    def choice(self, seq):
        return self.rng.choice(seq)

    def token_bytes(self, n: int = 32) -> bytes:
        return self.rng.randbytes(n)

    def token_hex(self, n: int = 32) -> str:
        return self.rng.randbytes(n).hex()

    def token_urlsafe(self, n: int = 32) -> str:
        import base64

        return base64.urlsafe_b64encode(self.rng.randbytes(n)).rstrip(b"=").decode()


def _freeze(mp: pytest.MonkeyPatch) -> None:
    import importlib

    appdb = importlib.import_module("app.db")  # the module, not the `db` extension app/__init__ exports
    clock = types.SimpleNamespace(**{k: getattr(dt, k) for k in dir(dt) if not k.startswith("__")})
    clock.datetime = _FrozenDateTime
    mp.setattr(appdb, "dt", clock)  # utcnow() and local_today() read the clock there
    for i, name in enumerate(("app.kiosk.services", "app.statements.services", "app.patrol.services")):
        mp.setattr(importlib.import_module(name), "secrets", _SeededSecrets(2026 + i))


# --- the seeded village, once per database ----------------------------------------------------------

@dataclass
class Village:
    app: object
    client: FreshContextClient
    ids: dict = field(default_factory=dict)
    pdfs: dict = field(default_factory=dict)
    layouts: dict = field(default_factory=dict)
    user: str | None = None

    def login(self, username: str) -> None:
        if self.user != username:
            self.client.post("/logout")
            r = self.client.post("/login", data={"username": username, "password": DEMO_PASSWORD})
            assert r.status_code == 302, r.get_data(as_text=True)[:300]
            self.user = username

    def get(self, username: str, url: str, **kw) -> bytes:
        self.login(username)
        with self.client.get(url, **kw) as r:
            assert r.status_code == 200 and r.mimetype == "application/pdf", (url, r.status_code,
                                                                               r.get_data(as_text=True)[:300])
            return r.get_data()

    def post(self, username: str, url: str, data: dict) -> bytes:
        self.login(username)
        r = self.client.post(url, data=data)
        assert r.status_code == 200 and r.mimetype == "application/pdf", (url, r.status_code,
                                                                           r.get_data(as_text=True)[:300])
        return r.data


def _seed(ids: dict) -> None:
    """The demo village, plus what the demo has not: an answered objection and mediation cases."""
    from app.auth.models import User
    from app.demo import seed_demo
    from app.grid.models import Grid
    from app.mediation import services as ms
    from app.patrol.models import PatrolRoute, PatrolTeam
    from app.points import services as pts
    from app.points.models import PointEntry
    from app.registry.models import Household, VillagerGroup
    from app.registry.models import Village as VillageRow
    from app.rules.models import RuleVersion
    from app.shop.models import Donation, Redemption
    from app.submission import write_transaction

    assert seed_demo(households=HOUSEHOLDS)
    village = db.session.scalar(sa.select(VillageRow).where(VillageRow.code == "demo"))
    user = {u.username: u for u in db.session.scalars(sa.select(User))}
    with write_transaction():
        entry = db.session.scalars(sa.select(PointEntry).where(
            PointEntry.village_id == village.id, PointEntry.status == "posted").order_by(PointEntry.id)).first()
        obj = pts.file_objection(entry, reason="当天下雨，他只去了半天。", objector_name="户主本人",
                                 actor=user["clerk"])
        pts.decide_objection(obj, user["reviewer"], decision="upheld",
                             reply_text="经核实，该户当天按时参加清洁日，维持原积分。")
        cases = []
        for day, kind in ((dt.date(2026, 11, 3), "neighbour"), (dt.date(2026, 11, 10), "homestead")):
            case = ms.register_case(village, ms.CaseData(
                received_on=day, intake="desk", dispute_type=kind, summary="排水沟堵塞致邻家院内积水", level="village_committee"),
                [ms.PartyData(role="applicant", name="孙有田", sex="男", ethnicity="汉族", age=58, phone="13800000001"),
                 ms.PartyData(role="respondent", name="周满仓", sex="男", ethnicity="汉族", age=61)],
                mediators=[user["mediator"]], today=TODAY)
            ms.move(case, "mediate")
            ms.add_session(case, kind="desk", at=dt.datetime.combine(day, dt.time(2)), place="村委会调解室",
                           attendees="双方当事人、调解员", text="双方陈述了积水的经过，同意共同清理排水沟。")
            ms.record_agreement(case, facts="排水沟堵塞致积水", terms="双方各出一人清理排水沟，费用各半",
                                performance="十二月一日前清理完毕", signed_on=day, copies=3, recorder="李会计",
                                today=TODAY)
            cases.append(case)
        ms.record_follow_up(cases[0], visited_on=dt.date(2026, 11, 13), visited="周满仓", performed="yes",
                            findings="排水沟已清理，院内不再积水", today=TODAY)
        ms.move(cases[0], "close", today=dt.date(2026, 11, 13))
    first = lambda model, *where: db.session.scalars(sa.select(model).where(*where).order_by(model.id)).first()
    group = first(VillagerGroup, VillagerGroup.village_id == village.id, VillagerGroup.name == "第二村民小组")
    ids.update(
        village=village.id, objection=obj.id, dossier=cases[0].id, agreement=cases[1].id, group=group.id,
        household=first(Household, Household.village_id == village.id, Household.group_id == group.id).id,
        team=first(PatrolTeam).id, route=first(PatrolRoute).id, grid=first(Grid).id,
        rules=first(RuleVersion, RuleVersion.status == "published").id,
        redemption=first(Redemption, Redemption.status == "completed").id, donation=first(Donation).id)


@pytest.fixture(scope="module", params=BACKENDS)
def seeded(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"print-gate-{request.param}")
    if request.param == "sqlite":
        path = folder / "gate.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        uri = f"sqlite:///{path}"
    else:
        uri, tables = request.getfixturevalue("pg_database")
        _empty_pg(uri, tables)
    app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": uri, "INSTANCE_PATH": str(folder / "instance"),
                      "STATEMENT_JOBS_INLINE": True, "STATEMENT_WORKERS": 1})
    app.test_client_class = FreshContextClient
    with pytest.MonkeyPatch.context() as mp:
        _FrozenDateTime.ticks = 0
        _freeze(mp)
        village = Village(app, app.test_client())
        with app.app_context():
            _seed(village.ids)
            db.session.remove()
        yield village
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def printed(v: Village, row: Printable) -> bytes:
    """The row's PDF, printed once per database, with the layouts WeasyPrint made of it."""
    if row.name not in v.pdfs:
        with pc.observe_layouts() as seen:
            v.pdfs[row.name] = row.fetch(v)
        v.layouts[row.name] = [doc for _, doc in seen]
        if os.environ.get("PRINT_GATE_DUMP"):  # to look at them: PRINT_GATE_DUMP=/tmp/gate pytest …
            folder = Path(os.environ["PRINT_GATE_DUMP"])
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{row.name}.pdf").write_bytes(v.pdfs[row.name])
    return v.pdfs[row.name]


def query(v: Village, fn: Callable):
    with v.app.app_context():
        try:
            return fn()
        finally:
            db.session.remove()


# --- what each printable must carry, from the database ---------------------------------------------

def _mask(name: str) -> str:
    from app.text import mask_name

    return mask_name(name)


def _household(v, hid=None):
    from app.registry.models import Household

    h = db.session.get(Household, hid or v.ids["household"])
    return h


def expect_card(v):
    h = _household(v)
    return ["户卡", h.number, _mask(h.head.name), h.group.name]


def expect_cards(v):
    from app.registry.models import Household

    rows = db.session.scalars(sa.select(Household).where(Household.group_id == v.ids["group"])).all()
    return [x for h in rows for x in (h.number, _mask(h.head.name))]


def _team_members(v) -> list[str]:
    from app.patrol.models import PatrolMember

    return [m.person.name for m in db.session.scalars(sa.select(PatrolMember).where(
        PatrolMember.team_id == v.ids["team"], PatrolMember.status == "active"))]


def expect_roster(v):
    from app.patrol.models import PatrolTeam

    return [db.session.get(PatrolTeam, v.ids["team"]).name, "2026年11月巡逻排班表"] + _team_members(v)


def expect_signin(v):
    from app.patrol.models import PatrolTeam

    return [db.session.get(PatrolTeam, v.ids["team"]).name, "巡逻签到表", "2026-11-30"] + _team_members(v)


def expect_stickers(v):
    from app.patrol.models import PatrolRoute

    route = db.session.get(PatrolRoute, v.ids["route"])
    return [route.team.name, route.name] + [c.name for c in route.checkpoints if c.active]


def _signed(points: int) -> str:
    return f"{points:+d}".replace("-", "\u2212")


def expect_posting(v):
    from app.points import queries as pq

    rows = pq.entries_on_posting(v.ids["village"], TODAY)
    assert rows, "the demo has nothing on posting"
    return ["乡约示范村积分公示", f"共{len(rows)}条"] + [
        x for e in rows for x in (e.household.number, _signed(e.points), e.occurred_on.isoformat())]


def expect_objection(v):
    from app.points.models import Objection

    obj = db.session.get(Objection, v.ids["objection"])
    entry = obj.entry
    return ["积分异议处理答复书", entry.household.number, _mask(entry.household.head.name), entry.item_code,
            entry.item_text, _signed(entry.points), obj.reason, obj.reply_text]


def _version(v):
    from app.rules.models import RuleVersion

    return db.session.get(RuleVersion, v.ids["rules"])


def expect_rules(v):
    version = _version(v)
    assert version.articles
    return [version.title] + [x for a in version.articles for x in (a.label, a.text[:12])]


def expect_digest(v):
    version = _version(v)
    assert version.digest_items
    return [version.title, "要点"] + [x for item in version.digest_items
                                     for x in [item.text] + [a.label for a in item.articles]]


def expect_week_plan(v):
    from app.grid.models import Grid

    grid = db.session.get(Grid, v.ids["grid"])
    return [grid.name, "走访计划表（2026-11-16至2026-11-22）"]


def expect_scheme(v):
    from app.points import queries as pq
    from app.points.models import PointItem

    scheme = pq.village_scheme(v.ids["village"])
    items = db.session.scalars(sa.select(PointItem).where(PointItem.scheme_id == scheme.id,
                                                          PointItem.active == sa.true())).all()
    assert items, "the demo scheme has no items"
    return ["积分细则"] + [it.code for it in items] + [cat.name for cat in scheme.categories
                                                     if any(it.category_id == cat.id for it in items)]


def expect_honour_roll(v):
    from app.points import queries as pq

    rows = [r for r in pq.household_ranking(v.ids["village"], 2026) if r[1] > 0][:3]
    assert rows, "nobody scored in the demo year"
    return ["红榜"] + [x for h, _score, _rank in rows for x in (h.number, _mask(h.head.name))]


def expect_stocktake_sheet(v):
    from app.shop.models import Product

    names = db.session.scalars(sa.select(Product.name).where(Product.village_id == v.ids["village"],
                                                             Product.active == sa.true())).all()
    assert names, "the demo shop sells nothing"
    return ["盘点人", "监盘人"] + list(names)


def _redemptions_in_november(v):
    from app.shop.models import Redemption

    start, end = dt.datetime(2026, 10, 31, 16), dt.datetime(2026, 11, 30, 16)  # the month in the village, in UTC
    return db.session.scalars(sa.select(Redemption).where(
        Redemption.village_id == v.ids["village"], Redemption.status == "completed",
        Redemption.created_at >= start, Redemption.created_at < end)).all()


def expect_disclosure(v):
    from app.shop.models import Donation

    reds = _redemptions_in_november(v)
    donors = [d.donor_name for d in db.session.scalars(sa.select(Donation))]
    return ["幸福超市村务公开（2026年11月）", f"本月兑换{len(reds)}笔",
            f"共兑换积分{sum(r.total_points for r in reds)}分"] + donors


def expect_receipt(v):
    from app.shop.models import Redemption

    red = db.session.get(Redemption, v.ids["redemption"])
    return [red.receipt_no, red.household.number, _mask(red.household.head.name), "合计积分", str(red.total_points)] \
        + [line.name for line in red.lines]


def expect_donation(v):
    from app.shop.models import Donation

    don = db.session.get(Donation, v.ids["donation"])
    return [don.receipt_no, don.donor_name] + [x for line in don.lines for x in (line.product.name, str(line.qty))]


def expect_report_month(v):
    from app.registry.models import Household

    reds = _redemptions_in_november(v)
    households = db.session.scalar(sa.select(sa.func.count()).select_from(Household).where(
        Household.village_id == v.ids["village"]))
    return ["乡约示范村村务月报（2026年11月）", f"{sum(r.total_points for r in reds)}", f"{len(reds)}张小票",
            f"/{households}（"]


def expect_agreement(v):
    from app.mediation.models import MediationCase

    case = db.session.get(MediationCase, v.ids["agreement"])
    return [case.number, "人民调解协议书", "孙有田", "周满仓", "双方各出一人清理排水沟，费用各半"]


def expect_dossier(v):
    from app.mediation.models import MediationCase

    case = db.session.get(MediationCase, v.ids["dossier"])
    return [case.number, "人民调解卷宗", "孙有田", "周满仓", "排水沟已清理，院内不再积水"]


def expect_mediation_month(v):
    from app.mediation.models import MediationCase

    received = db.session.scalar(sa.select(sa.func.count()).select_from(MediationCase).where(
        MediationCase.village_id == v.ids["village"]))
    return ["2026年11月人民调解工作统计", f"合计{received}"]


def _statement_strings(v, issued) -> list[str]:
    from app.ledger.queries import balance_of
    from app.statements.services import format_code

    h = _household(v, issued.household_id)
    closing = balance_of(h)
    assert issued.closing_balance == closing
    day = lambda d: f"{d.year}年{d.month}月{d.day}日"
    return [h.number, _mask(h.head.name), format_code(issued.code), str(closing), str(issued.opening_balance),
            day(issued.period_start), day(issued.period_end), day(TODAY)]


def _latest_statement(v, paper):
    from app.statements.models import IssuedStatement

    return db.session.scalars(sa.select(IssuedStatement).where(
        IssuedStatement.household_id == v.ids["household"], IssuedStatement.paper == paper)
        .order_by(IssuedStatement.id.desc())).first()


def expect_statement_a4(v):
    return _statement_strings(v, _latest_statement(v, "a4"))


def expect_statement_a5(v):
    return _statement_strings(v, _latest_statement(v, "a5"))


def expect_batch(v):
    from app.statements.models import IssuedStatement, StatementJob

    job = db.session.scalars(sa.select(StatementJob).order_by(StatementJob.id.desc())).first()
    issued = db.session.scalars(sa.select(IssuedStatement).where(IssuedStatement.job_id == job.id)).all()
    assert len(issued) > 1
    return [s for one in issued for s in _statement_strings(v, one)]


# --- how each printable is fetched -------------------------------------------------------------------

def fetch_batch(v: Village) -> bytes:
    from app.statements.models import StatementJob

    v.login("clerk")
    r = v.client.post("/statements/batch", data={"kind": "year", "year": "2026", "quarter": "1", "month": "1",
                                                 "paper": "a4", "group_id": str(v.ids["group"]),
                                                 "idempotency_key": "print-gate-batch"})
    assert r.status_code == 302, r.get_data(as_text=True)[:300]
    job_id = query(v, lambda: db.session.scalars(sa.select(StatementJob.id).order_by(StatementJob.id.desc())).first())
    return v.get("clerk", f"/statements/jobs/{job_id}/download")


def statement_form(paper: str) -> dict:
    return {"kind": "year", "year": "2026", "quarter": "1", "month": "1", "paper": paper}


@dataclass(frozen=True)
class Printable:
    name: str
    #: the view that prints it (blueprint.function)
    endpoint: str
    fetch: Callable[[Village], bytes]
    expect: Callable[[Village], list[str]]
    #: its 第 x 页 / 共 y 页 footers: on "every" page, on every page but the "cover", "none" (a slip), or two on
    #: each side of an "imposed" booklet (saddle stitch: the two add up to the page count + 1)
    footer: str = "every"
    #: other views that reach the same printing (a look at a batch's page starts its queue's next runner)
    also: tuple[str, ...] = ()
    #: which checks are known to fail today, for a printable being redesigned: {"boxes", "glyphs", "footer"}
    redesign: frozenset = frozenset()


PRINTABLES = [
    Printable("household_card", "kiosk_admin.household_card",
              lambda v: v.post("clerk", f"/kiosk-admin/households/{v.ids['household']}/card", {}), expect_card),
    Printable("household_cards", "kiosk_admin.cards",
              lambda v: v.post("clerk", "/kiosk-admin/cards", {"group_id": str(v.ids["group"]), "mode": "all"}),
              expect_cards),
    Printable("patrol_roster", "patrol.roster_pdf",
              lambda v: v.get("clerk", f"/patrol/teams/{v.ids['team']}/roster/2026-11.pdf"), expect_roster),
    Printable("patrol_signin", "patrol.signin_pdf",
              lambda v: v.get("clerk", f"/patrol/teams/{v.ids['team']}/signin/2026-11.pdf"), expect_signin),
    Printable("patrol_stickers", "patrol.stickers_pdf",
              lambda v: v.get("patrol", f"/patrol/routes/{v.ids['route']}/stickers.pdf"), expect_stickers),
    Printable("posting_sheet", "points.posting_pdf", lambda v: v.get("reviewer", "/points/posting.pdf"),
              expect_posting),
    Printable("objection_reply", "points.objection_reply_pdf",
              lambda v: v.get("reviewer", f"/points/objections/{v.ids['objection']}/reply.pdf"), expect_objection),
    Printable("points_scheme", "points.scheme_pdf", lambda v: v.get("clerk", "/points/scheme.pdf"),
              expect_scheme),
    Printable("points_honour_roll", "points.honour_roll_pdf",
              lambda v: v.get("clerk", "/points/honour-roll.pdf?year=2026"), expect_honour_roll),
    Printable("shop_stocktake_sheet", "shop.stocktake_sheet_pdf",
              lambda v: v.get("cashier", "/shop/stocktake/sheet.pdf"), expect_stocktake_sheet),
    Printable("rules_booklet_a5", "rules.booklet",
              lambda v: v.get("clerk", f"/rules/versions/{v.ids['rules']}/booklet.pdf"), expect_rules,
              footer="cover"),
    Printable("rules_booklet_imposed", "rules.booklet",
              lambda v: v.get("clerk", f"/rules/versions/{v.ids['rules']}/booklet.pdf?paper=imposed"), expect_rules,
              footer="imposed"),
    Printable("rules_notice_a4", "rules.booklet",
              lambda v: v.get("clerk", f"/rules/versions/{v.ids['rules']}/booklet.pdf?paper=a4"), expect_rules),
    Printable("rules_digest", "rules.digest_pdf",
              lambda v: v.get("clerk", f"/rules/versions/{v.ids['rules']}/digest.pdf"), expect_digest),
    Printable("rules_digest_cards", "rules.digest_pdf",
              lambda v: v.get("clerk", f"/rules/versions/{v.ids['rules']}/digest.pdf?layout=cards"), expect_digest),
    Printable("grid_week_plan", "grid.week_plan",
              lambda v: v.get("clerk", f"/grid/grids/{v.ids['grid']}/plan.pdf"), expect_week_plan),
    Printable("shop_disclosure", "shop.disclosure_pdf",
              lambda v: v.get("clerk", "/shop/reports/disclosure.pdf?year=2026&month=11"), expect_disclosure),
    Printable("shop_receipt_58mm", "shop.redemption_pdf",
              lambda v: v.get("cashier", f"/shop/redemptions/{v.ids['redemption']}/receipt.pdf"), expect_receipt,
              footer="none"),
    Printable("shop_receipt_a4", "shop.redemption_pdf_a4",
              lambda v: v.get("cashier", f"/shop/redemptions/{v.ids['redemption']}/receipt-a4.pdf"),
              expect_receipt),
    Printable("shop_donation", "shop.donation_pdf",
              lambda v: v.get("cashier", f"/shop/donations/{v.ids['donation']}/receipt.pdf"), expect_donation),
    Printable("report_month", "reports.month_pdf", lambda v: v.get("clerk", "/reports/month.pdf?month=2026-11"),
              expect_report_month),
    Printable("mediation_agreement", "mediation.agreement_pdf",
              lambda v: v.get("mediator", f"/mediation/cases/{v.ids['agreement']}/agreement.pdf"), expect_agreement),
    Printable("mediation_dossier", "mediation.dossier_pdf",
              lambda v: v.get("mediator", f"/mediation/cases/{v.ids['dossier']}/dossier.pdf"), expect_dossier),
    Printable("mediation_month", "mediation.month_report_pdf",
              lambda v: v.get("mediator", "/mediation/report/2026-11.pdf"), expect_mediation_month),
    Printable("statement_a4", "statements.household",
              lambda v: v.post("clerk", f"/statements/households/{v.ids['household']}", statement_form("a4")),
              expect_statement_a4),
    Printable("statement_a5", "statements.household",
              lambda v: v.post("clerk", f"/statements/households/{v.ids['household']}", statement_form("a5")),
              expect_statement_a5),
    Printable("statement_batch", "statements.batch_new", fetch_batch, expect_batch,
              also=("statements.job", "statements.job_progress")),
]
ROWS = {row.name: row for row in PRINTABLES}


def _marks(row: Printable, check: str):
    if check in row.redesign:
        return [pytest.mark.xfail(strict=True, reason=f"{REDESIGN}: {row.name} fails the {check} check")]
    return []


def rows_for(check: str):
    return [pytest.param(row, id=row.name, marks=_marks(row, check)) for row in PRINTABLES]


# --- the gate ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("row", rows_for("text"))
def test_carries_the_databases_figures_names_and_codes(seeded, row):
    pdf = printed(seeded, row)
    text = pc.squash("".join(pc.pdf_pages_text(pdf)))
    wanted = query(seeded, lambda: row.expect(seeded))
    missing = [s for s in wanted if pc.squash(s) not in text]
    assert not missing, f"{row.name} lacks {missing}"


@pytest.mark.parametrize("row", rows_for("breaks"))
def test_no_figure_date_or_code_breaks_across_lines(seeded, row):
    pdf = printed(seeded, row)
    wanted = query(seeded, lambda: row.expect(seeded))
    broken = pc.broken_strings(pdf, wanted)
    assert not broken, f"{row.name}: {broken} break across lines"


@pytest.mark.parametrize("row", rows_for("boxes"))
def test_no_box_outside_its_page(seeded, row):
    pdf = printed(seeded, row)
    layouts = seeded.layouts[row.name]
    assert layouts, "the print was not observed: does its view print through app/printing.py?"
    problems = [(f"document {i}, " if len(layouts) > 1 else "") + p
                for i, doc in enumerate(layouts, start=1) for p in pc.boxes_outside_page(doc)]
    problems += pc.words_outside_page(pdf)
    assert not problems, f"{row.name}:\n" + "\n".join(problems[:20])


@pytest.mark.parametrize("row", rows_for("glyphs"))
def test_no_glyph_missing(seeded, row):
    pdf = printed(seeded, row)
    problems = pc.missing_glyphs(pdf)
    unknown = [t for doc in seeded.layouts[row.name] for t in pc.unknown_glyphs(doc)]
    assert not problems and not unknown, f"{row.name}: {problems[:10]} {unknown[:10]}"


@pytest.mark.parametrize("row", rows_for("footer"))
def test_page_numbers_count_the_real_pages(seeded, row):
    pdf = printed(seeded, row)
    pages = pc.pdf_pages_text(pdf)
    if row.footer == "none":
        assert not any(pc.page_numbers(pages)), f"{row.name} is marked as having no page numbers, but has some"
        return
    if row.footer == "imposed":
        problems = pc.imposed_page_number_errors(pages)
        assert not problems, f"{row.name}:\n" + "\n".join(problems)
        return
    documents = [len(doc.pages) for doc in seeded.layouts[row.name]]
    problems = pc.page_number_errors(pages, documents, cover=row.footer == "cover")
    assert not problems, f"{row.name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("row", rows_for("image"))
def test_pages_look_like_the_references(seeded, row, tmp_path):
    pdf = printed(seeded, row)
    problems = pc.compare_with_refs(row.name, pdf, tmp_path)
    assert not problems, f"{row.name}:\n" + "\n".join(problems)


# --- the table covers every printing view ------------------------------------------------------------

PRINT_HELPERS = (printing.render_pdf, printing.html_documents_to_pdf, printing.pdf_response)


def _prints(fn, seen: set) -> bool:
    """Whether calling `fn` can reach one of the printing helpers: follows the names its code uses (and the
    functions it defines inside) through its module's globals and the modules it names, into app/ only."""
    fn = inspect.unwrap(fn)
    code = getattr(fn, "__code__", None)
    if code is None or id(fn) in seen:
        return False
    seen.add(id(fn))
    glb = getattr(fn, "__globals__", {})
    codes, names = [code], []
    while codes:
        c = codes.pop()
        names.extend(c.co_names)
        codes.extend(k for k in c.co_consts if isinstance(k, types.CodeType))
    modules = [glb[n] for n in names if isinstance(glb.get(n), types.ModuleType)]
    for name in names:
        for target in [glb.get(name)] + [getattr(m, name, None) for m in modules]:
            if isinstance(target, functools.partial):  # a pool's job is a helper with its arguments bound
                target = target.func
            if any(target is helper for helper in PRINT_HELPERS):
                return True
            if inspect.isfunction(target) and target.__module__.startswith("app.") and _prints(target, seen):
                return True
    return False


def test_every_printing_view_has_a_row(tmp_path):
    """A printable added later without a row here fails: the views that reach the printing helpers are the
    endpoints of the table, no more and no fewer."""
    app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}",
                      "INSTANCE_PATH": str(tmp_path)})
    printing_views = {endpoint for endpoint, view in app.view_functions.items() if _prints(view, set())}
    assert {e for row in PRINTABLES for e in (row.endpoint, *row.also)} == printing_views


def test_the_reach_finds_a_view_that_prints_through_a_helper():
    """The scan follows helpers of other modules (statements.household → batch.statement_pdf → render_pdf) and
    does not flag a view that never prints."""
    from app.statements import views as sv

    assert _prints(sv.household, set())
    assert not _prints(sv.verify_form, set())


# --- the checks catch what they are for ------------------------------------------------------------------

def _render(html: str):
    with pc.observe_layouts() as seen:
        wp = printing._weasyprint()
        document = wp["HTML"](string=html).render(font_config=wp["font_config"])
        for observe in printing.RENDER_OBSERVERS:
            observe("probe.html", document)
    return seen[0][1], document.write_pdf()


def test_a_character_no_font_has_is_caught():
    """U+E000 (private use) is in no installed font: both glyph checks name it; the same page without it passes."""
    page = "<style>@page {{ size: A5; margin: 15mm }}</style><p>积分明细单 {}</p>"
    document, pdf = _render(page.format("\ue000"))
    assert any("U+E000" in p for p in pc.missing_glyphs(pdf))
    assert any("\ue000" in t for t in pc.unknown_glyphs(document))
    document, pdf = _render(page.format("ABC-123"))
    assert pc.missing_glyphs(pdf) == [] and pc.unknown_glyphs(document) == []


def test_a_table_into_the_margin_is_caught():
    """A table 20 mm (and its cells' padding) wider than the A5 content area: the box check names it and by
    how much."""
    html = ("<style>@page { size: A5; margin: 15mm } table { width: 138mm; border-collapse: collapse }</style>"
            "<table><tr><td>期初</td><td>本期</td><td>期末</td></tr></table>")
    document, _pdf = _render(html)
    problems = pc.boxes_outside_page(document)
    overflow = [float(m) for p in problems if p.startswith("page 1: table ")
                for m in re.findall(r"right ([0-9.]+) mm", p)]
    assert overflow and 20 <= overflow[0] < 25, problems
    document, _pdf = _render(html.replace("138mm", "100mm"))
    assert pc.boxes_outside_page(document) == []


def test_a_word_off_the_sheet_is_caught():
    """A code running over the sheet's right edge (poppler drops the letters past it, keeps the word's box)."""
    _document, pdf = _render("<style>@page { size: A5; margin: 0 } p { margin-left: 100mm; white-space: nowrap; "
                            "font-size: 30pt }</style><p>HAZMTRY056</p>")
    assert any("HAZMTR" in p for p in pc.words_outside_page(pdf))


def test_wrong_page_numbers_are_caught():
    assert pc.page_number_errors(["第 1 页 / 共 2 页", "第 2 页 / 共 2 页"]) == []
    assert pc.page_number_errors(["第 1 页 / 共 1 页", "第 1 页 / 共 1 页"], [1, 1]) == []
    assert pc.page_number_errors(["第 1 页 / 共 3 页", "第 2 页 / 共 3 页"]) != []
    assert pc.page_number_errors(["第 1 页 / 共 2 页", "no footer"]) != []
    assert pc.page_number_errors(["封面", "第 2 页 / 共 2 页"], cover=True) == []
    assert pc.page_number_errors(["封面", "第 1 页 / 共 1 页"], cover=True) != []


def test_every_reference_belongs_to_a_row():
    """A reference left behind by a row renamed or removed would never be compared: `make print-refs` cleans."""
    names = {p.name.rsplit("-p", 1)[0] for p in pc.REFS_DIR.glob("*.png")}
    assert names == set(ROWS), f"no row: {sorted(names - set(ROWS))}, no reference: {sorted(set(ROWS) - names)}"


def test_a_changed_page_is_caught(tmp_path):
    """A reference written, the same PDF passes; a page with a box moved fails and leaves actual and diff images."""
    page = ("<style>@page {{ size: A5; margin: 15mm }} div {{ margin-left: {}mm; width: 60mm; height: 30mm; "
            "background: black }}</style><div></div>")
    _, before = _render(page.format(0))
    _, after = _render(page.format(40))
    refs = tmp_path / "refs"
    assert pc.compare_with_refs("probe", before, tmp_path / "out", refs_dir=refs, update=True) == []
    assert pc.compare_with_refs("probe", before, tmp_path / "out", refs_dir=refs, update=False) == []
    problems = pc.compare_with_refs("probe", after, tmp_path / "out", refs_dir=refs, update=False)
    assert len(problems) == 1 and "probe-p01-diff.png" in problems[0]
    assert (tmp_path / "out" / "probe-p01-actual.png").exists()
