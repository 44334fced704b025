"""Every state machine's whole (state × action) table, and refused verbs that leave the row as it was.

Each expected table below is written out by hand: a row per state, a column per action, the cell the
state the action leads to, or ``-`` where the move is refused. Changing a machine (a new move, a new
action, a new state) fails these tests until the table here is changed to match.
"""
from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from app.db import utcnow
from app.errors import DomainError
from app.extensions import db
from app.ledger import services as ledger
from app.ledger.models import AccountKind
from app.ledger.queries import balance_of
from app.mediation.errors import MediationError
from app.grid.errors import GridError
from app.grid.states import EVENT
from app.mediation.states import CASE
from app.patrol.errors import PatrolError
from app.patrol.states import MEMBER, SHIFT
from app.points import services as pts
from app.points.errors import PointsError
from app.points.models import PointEntry
from app.points.states import ENTRY, OBJECTION
from app.rules import services as rules
from app.rules.errors import RulesError
from app.rules.models import RuleVersion
from app.rules.parser import parse_rules
from app.rules.states import VERSION
from app.shop import services as shop
from app.shop.errors import ShopError
from app.shop.models import Product, Redemption
from app.shop.states import REDEMPTION
from app.statements import batch
from app.statements.errors import StatementError
from app.statements.models import StatementJob
from app.statements.states import JOB
from app.states import Machine
from app.submission import write_transaction

ENTRY_TABLE = """
              approve  reject    object    finalize  uphold  uphold_after_posting  correct    withdraw
pending       posted   rejected  -         -         -       -                     -          rejected
rejected      -        -         -         -         -       -                     -          -
posted        -        -         disputed  final     -       -                     -          corrected
disputed      -        -         -         -         posted  final                 corrected  -
final         -        -         -         -         -       -                     -          corrected
corrected     -        -         -         -         -       -                     -          -
"""

OBJECTION_TABLE = """
              uphold   correct
open          upheld   corrected
upheld        -        -
corrected     -        -
"""

REDEMPTION_TABLE = """
              cancel     return_line
completed     cancelled  completed
cancelled     -          -
"""

# the rule version's table in two halves (it is too wide for one): moving forward, and the rest
VERSION_FORWARD_TABLE = """
              propose   deliberate   review    adopt    file    publish
draft         proposed  deliberated  reviewed  adopted  filed   published
proposed      -         deliberated  reviewed  adopted  filed   published
deliberated   -         -            reviewed  adopted  filed   published
reviewed      -         -            -         adopted  filed   published
adopted       -         -            -         -        filed   published
filed         -         -            -         -        -       published
published     -         -            -         -        -       -
superseded    -         -            -         -        -       -
withdrawn     -         -            -         -        -       -
"""

VERSION_OTHER_TABLE = """
              withdraw   supersede   edit   record_step  record_adoption_step
draft         withdrawn  -           draft  draft        draft
proposed      withdrawn  -           -      proposed     proposed
deliberated   withdrawn  -           -      deliberated  deliberated
reviewed      withdrawn  -           -      reviewed     reviewed
adopted       -          superseded  -      adopted      -
filed         -          superseded  -      filed        -
published     -          superseded  -      published    -
superseded    -          -           -      -            -
withdrawn     -          -           -      -            -
"""

JOB_TABLE = """
              start    finish  fail    download
queued        running  -       failed  -
running       -        done    failed  -
done          -        -       -       done
failed        -        -       -       -
"""

PATROL_SHIFT_TABLE = """
              book     check_in  mark     confirm    cancel     correct
planned       planned  planned   planned  confirmed  cancelled  -
confirmed     -        -         -        -          -          confirmed
cancelled     -        -         -        -          -          -
"""

PATROL_MEMBER_TABLE = """
              suspend    leave  restore  rejoin
active        suspended  left   -        -
suspended     -          left   active   -
left          -          -      -        active
"""

# the mediation case's table in two halves: the way in (and out without agreement), and the way to closing
MEDIATION_IN_TABLE = """
               investigate    mediate    refuse        escalate   fail     record_session
registered     investigating  mediating  not_accepted  escalated  -        registered
investigating  -              mediating  -             escalated  failed   investigating
mediating      -              -          -             escalated  failed   mediating
agreed         -              -          -             -          -        -
performing     -              -          -             -          -        -
followed_up    -              -          -             -          -        -
closed         -              -          -             -          -        -
not_accepted   -              -          -             -          -        -
failed         -              -          -             -          -        -
escalated      -              -          -             -          -        -
"""

MEDIATION_OUT_TABLE = """
               agree   perform     follow_up    close
registered     -       -           -            -
investigating  -       -           -            -
mediating      agreed  -           -            -
agreed         -       performing  followed_up  -
performing     -       -           followed_up  -
followed_up    -       -           followed_up  closed
closed         -       -           -            -
not_accepted   -       -           -            -
failed         -       -           -            -
escalated      -       -           -            -
"""

GRID_EVENT_WORK_TABLE = """
             accept    reject    assign    start        resolve   close   reopen
reported     accepted  rejected  assigned  -            -         -       -
accepted     -         -         assigned  -            resolved  -       -
assigned     -         -         assigned  in_progress  resolved  -       -
in_progress  -         -         assigned  -            resolved  -       -
resolved     -         -         -         -            -         closed  in_progress
closed       -         -         -         -            -         -       -
rejected     -         -         -         -            -         -       -
escalated    -         -         -         -            -         closed  -
converted    -         -         -         -            -         -       -
"""

GRID_EVENT_EXIT_TABLE = """
             escalate   convert
reported     escalated  converted
accepted     escalated  converted
assigned     escalated  converted
in_progress  escalated  converted
resolved     -          -
closed       -          -
rejected     -          -
escalated    -          -
converted    -          -
"""


def parse(*tables: str) -> dict[tuple[str, str], str | None]:
    """{(state, action): new state or None} from aligned tables (several tables: the same rows, more columns)."""
    out: dict[tuple[str, str], str | None] = {}
    for table in tables:
        header, *rows = [line.split() for line in table.strip().splitlines()]
        for state, *cells in rows:
            assert len(cells) == len(header), f"row {state} has {len(cells)} cells for {len(header)} actions"
            for action, cell in zip(header, cells):
                out[state, action] = None if cell == "-" else cell
    return out


# guards are checked separately: the table test asks the table alone, with a subject every guard lets by
MACHINES = {
    "entry": (ENTRY, PointsError, parse(ENTRY_TABLE)),
    "objection": (OBJECTION, PointsError, parse(OBJECTION_TABLE)),
    "redemption": (REDEMPTION, ShopError, parse(REDEMPTION_TABLE)),
    "rule version": (VERSION, RulesError, parse(VERSION_FORWARD_TABLE, VERSION_OTHER_TABLE)),
    "statement job": (JOB, StatementError, parse(JOB_TABLE)),
    "patrol shift": (SHIFT, PatrolError, parse(PATROL_SHIFT_TABLE)),
    "patrol member": (MEMBER, PatrolError, parse(PATROL_MEMBER_TABLE)),
    "mediation case": (CASE, MediationError, parse(MEDIATION_IN_TABLE, MEDIATION_OUT_TABLE)),
    "grid event": (EVENT, GridError, parse(GRID_EVENT_WORK_TABLE, GRID_EVENT_EXIT_TABLE)),
}
PASSING_GUARDS = {"subject": SimpleNamespace(recorded_by_id=1, created_at=None), "reviewer": SimpleNamespace(id=2),
                  "made_on": dt.date(2026, 1, 1), "today": dt.date(2026, 1, 1), "is_reviewer": False}

CASES = [pytest.param(name, state, action, new, id=f"{name}:{state}:{action}")
         for name, (_m, _e, table) in MACHINES.items() for (state, action), new in table.items()]


@pytest.mark.parametrize("name, state, action, new", CASES)
def test_every_state_and_action(name, state, action, new):
    machine, error, _table = MACHINES[name]
    if new is None:
        assert not machine.can(state, action)
        with pytest.raises(error) as refused:
            machine.move(state, action, **PASSING_GUARDS)
        assert str(refused.value).strip(), "a refused move must tell the person why"
    else:
        assert machine.can(state, action)
        assert machine.move(state, action, **PASSING_GUARDS) == new


@pytest.mark.parametrize("name", MACHINES)
def test_the_tables_name_every_state_and_action(name):
    """A state or action the expected table does not know fails here, not silently."""
    machine, error, table = MACHINES[name]
    assert set(machine.states) == {s for s, _a in table}
    assert set(machine.actions) == {a for _s, a in table}
    assert machine.table == {k: v for k, v in table.items() if v is not None}
    assert issubclass(error, DomainError) and machine.error is error


def test_sources_and_target_serve_a_conditional_update():
    assert REDEMPTION.sources("cancel") == ("completed",) and REDEMPTION.target("cancel") == "cancelled"
    assert JOB.sources("start") == ("queued",) and JOB.target("start") == "running"
    assert set(JOB.sources("fail")) == {"queued", "running"}
    assert set(VERSION.sources("supersede")) == {"adopted", "filed", "published"}
    assert ENTRY.allowed("disputed") == ("uphold", "uphold_after_posting", "correct")
    with pytest.raises(ValueError):
        ENTRY.target("nonsense")


def test_a_machine_refuses_to_be_built_without_a_message_or_with_an_unknown_state():
    with pytest.raises(ValueError, match="no refusal message"):
        Machine("x", ("a", "b"), DomainError, {("a", "go"): "b"}, refusals={})
    with pytest.raises(ValueError, match="unknown states"):
        Machine("x", ("a",), DomainError, {("a", "go"): "b"}, refusals={"go": "no"})


def test_guards_refuse_what_depends_on_more_than_the_state(app):
    recorder = SimpleNamespace(id=7)
    entry = SimpleNamespace(recorded_by_id=7)
    for action in ("approve", "reject"):
        with pytest.raises(PointsError, match="另一位审核员"):
            ENTRY.move("pending", action, subject=entry, reviewer=recorder)
    with pytest.raises(PointsError, match="另一位审核员"):
        ENTRY.move("disputed", "correct", subject=entry, reviewer=recorder)
    # the state is checked first: a decided entry says so, whoever asks
    with pytest.raises(PointsError, match="已经审核过"):
        ENTRY.move("posted", "approve", subject=entry, reviewer=recorder)
    red = SimpleNamespace()
    with pytest.raises(ShopError, match="往日的兑换"):
        REDEMPTION.move("completed", "cancel", subject=red, made_on=dt.date(2026, 1, 1),
                        today=dt.date(2026, 1, 2))
    assert REDEMPTION.move("completed", "cancel", subject=red, made_on=dt.date(2026, 1, 1),
                           today=dt.date(2026, 1, 2), is_reviewer=True) == "cancelled"


def test_refusals_keep_their_messages_in_chinese(app):
    """The messages are the ones the pages showed before the tables (same catalog entries)."""
    for machine, state, action, text in (
            (ENTRY, "posted", "approve", "这条记录已经审核过了。"),
            (ENTRY, "final", "object", "只有在公示期内才能提出异议。"),
            (OBJECTION, "upheld", "correct", "这条异议已经处理过了。"),
            (REDEMPTION, "cancelled", "cancel", "该兑换已撤销过。"),
            (VERSION, "adopted", "withdraw", "只有尚未通过的版本可以撤回。"),
            (VERSION, "filed", "propose", "版本只能按程序向前推进。"),
            (VERSION, "adopted", "record_adoption_step", "该版本已通过，通过前的程序记录不能再改。"),
            (VERSION, "withdrawn", "record_adoption_step", "该版本已关闭。"),
            (VERSION, "published", "edit", "只有草案可以修改；如需改动请开始修订。"),
            (JOB, "done", "start", "这条信息刚刚被其他人改过，请刷新页面后再试。")):
        with pytest.raises(DomainError) as refused:
            machine.move(state, action, **PASSING_GUARDS)
        assert str(refused.value) == text, (machine, state, action)


# --- refused verbs leave the row as it was -------------------------------------------------------------

def test_a_decided_entry_cannot_be_decided_again(app, village, make_user, make_household):
    clerk = make_user("lu", ("clerk", village))
    reviewer = make_user("shen", ("reviewer", village))
    h = make_household(village, "0101", "张三")
    today = dt.date(2026, 11, 25)
    with write_transaction():
        scheme = pts.create_scheme(village, "积分细则")
        item = pts.create_item(pts.create_category(scheme, "热心公益", "add"),
                               pts.ItemData(code="A02", text="帮扶独居老人", points=5))
        entry_id = pts.record_entry(scheme, item, h, occurred_on=today, actor=clerk, today=today).id
    with write_transaction():
        pts.approve(db.session.get(PointEntry, entry_id), reviewer, today=today)
    before = db.session.execute(sa.select(PointEntry.status, PointEntry.reviewed_at, PointEntry.review_note)
                                .where(PointEntry.id == entry_id)).one()
    for verb in (lambda e: pts.approve(e, reviewer, today=today),
                 lambda e: pts.reject(e, reviewer, reason="重复")):
        with pytest.raises(PointsError, match="已经审核过"), write_transaction():
            verb(db.session.get(PointEntry, entry_id))
        db.session.expire_all()
        assert db.session.execute(sa.select(PointEntry.status, PointEntry.reviewed_at, PointEntry.review_note)
                                  .where(PointEntry.id == entry_id)).one() == before
    assert balance_of(h) == 5
    # after the posting period it is final: no objection is taken, and nothing is written
    later = today + dt.timedelta(days=30)
    with pytest.raises(PointsError, match="公示期"), write_transaction():
        pts.file_objection(db.session.get(PointEntry, entry_id), reason="不服", today=later)
    db.session.expire_all()
    assert db.session.get(PointEntry, entry_id).status == "posted"
    assert not db.session.get(PointEntry, entry_id).objections


def test_a_withdrawn_rule_version_stays_withdrawn(app, make_village):
    village = make_village("qs", "青山村")
    with write_transaction():
        rs = rules.create_ruleset(village, "village_rules", "青山村村规民约")
        text = "第一条 村民应当爱护公共环境。\n第二条 村民应当孝敬老人。\n"
        version_id = rules.import_version(rs, parse_rules(text), text).id
    with write_transaction():
        rules.withdraw(db.session.get(RuleVersion, version_id))
    for verb, message in ((lambda v: rules.withdraw(v), "尚未通过"),
                          (lambda v: rules.advance(v, "proposed"), "向前推进"),
                          (lambda v: rules.advance(v, "superseded"), "向前推进"),
                          (lambda v: rules.record_step(v, "proposal", held_on=dt.date(2024, 3, 1)), "已关闭"),
                          (lambda v: rules.record_step(v, "filing", held_on=dt.date(2024, 3, 1)), "已关闭"),
                          (lambda v: rules.update_version(v, title="新标题", preamble="", closing="",
                                                          effective_on=None, note=""), "只有草案")):
        with pytest.raises(RulesError, match=message), write_transaction():
            verb(db.session.get(RuleVersion, version_id))
        db.session.expire_all()
        v = db.session.get(RuleVersion, version_id)
        assert (v.status, v.title, len(v.steps)) == ("withdrawn", "青山村村规民约", 0)


def test_a_finished_job_is_not_run_again(app, village, make_user):
    with write_transaction():
        job = StatementJob(village_id=village.id, period_kind="year", period_start=dt.date(2025, 1, 1),
                           period_end=dt.date(2025, 12, 31), status="done", base_url="http://x/", total=3, done=3,
                           result_file="statements-1-abc.pdf")
        db.session.add(job)
    with pytest.raises(LookupError):
        batch.run_job(job.id)
    db.session.expire_all()
    row = db.session.get(StatementJob, job.id)
    assert (row.status, row.result_file, row.done, row.started_at) == ("done", "statements-1-abc.pdf", 3, None)


def test_a_cancel_that_lost_the_race_is_refused_and_moves_nothing(app, village, make_household, make_user):
    """Two cashiers cancel one receipt: the second one's row still says completed in its session, but the
    conditional UPDATE finds it cancelled, so the table's refusal is raised and no points or goods move."""
    cashier = make_user("cashier1", ("cashier", village))
    h = make_household(village, "0101", "张三")
    with write_transaction():
        ledger.post_transfer(debit=ledger.system_account(village.id, AccountKind.ISSUANCE),
                             credit=ledger.household_account(h), amount=100, code="opening", key="open-1")
        rice = shop.create_product(village, name="大米", spec="5kg", unit="袋", price_points=10, actor=cashier)
        shop.receive_purchase(rice, 5, "采购", actor=cashier)
        red = shop.redeem(h, [(rice, 2)], key="k1", actor=cashier)
    with write_transaction():
        stale = db.session.get(Redemption, red.id)
        assert stale.status == "completed"
        # the other cashier's cancel lands between this session's read and its update
        db.session.execute(sa.update(Redemption).where(Redemption.id == red.id).values(status="cancelled", cancelled_at=utcnow(), cancel_reason="重复")
                           .execution_options(synchronize_session=False))
        with pytest.raises(ShopError) as refused:
            shop.cancel_redemption(stale, actor=cashier, reason="拿错了")
        assert str(refused.value) == "该兑换已撤销过。"
    assert balance_of(h) == 80
    assert db.session.scalar(sa.select(Product.stock).where(Product.id == rice.id)) == 3
