"""Mediation papers and numbers: the agreement and the dossier read back, the statistics on a seeded set with
known answers, points proposed on closing, and no case data anywhere else."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.mediation import queries as mq
from app.mediation import services as ms
from app.mediation.models import MediationCase
from app.points import services as pts
from app.points.models import PointEntry
from app.submission import write_transaction
from tests.test_printing import fonts, pdf_text, squash


@pytest.fixture
def desk(client, auth, village, make_user, make_household):
    me = make_user("tiaojie", ("mediator", village))
    make_household(village, "0901", "孙有田")
    make_household(village, "0902", "钱老汉")
    assert auth.login("tiaojie").status_code == 302
    return type("D", (), {"village": village, "me": me})


def _case(d, *, day, kind="neighbour", end="closed", level="village_committee", performed="yes", close_after=10):
    """A case received on `day`, taken to `end` (closed, failed, not_accepted, escalated, or agreed)."""
    with write_transaction():
        c = ms.register_case(db.session.merge(d.village), ms.CaseData(
            received_on=day, intake="desk", dispute_type=kind, summary="排水沟堵塞", level=level),
            [ms.PartyData(role="applicant", name="孙有田", sex="男", ethnicity="汉族", age=58, phone="13800000001"),
             ms.PartyData(role="respondent", name="周满仓")], mediators=[db.session.merge(d.me)],
            today=dt.date(2026, 12, 31))
        if end == "not_accepted":
            ms.move(c, "refuse", note="不属于调解范围")
            return c
        ms.move(c, "mediate")
        if end in ("failed", "escalated"):
            ms.move(c, "fail" if end == "failed" else "escalate", note="已告知可向法院起诉")
            return c
        ms.add_session(c, kind="desk", at=dt.datetime.combine(day, dt.time(2)), place="村委会",
                       attendees="双方、调解员", text="双方陈述。")
        ms.record_agreement(c, facts="排水沟堵塞致积水", terms="双方各出一人清理排水沟", performance="十二月一日前清理",
                            signed_on=day, copies=3, recorder="李会计", today=dt.date(2026, 12, 31))
        if end == "agreed":
            return c
        ms.record_follow_up(c, visited_on=day + dt.timedelta(days=close_after), visited="周满仓", performed=performed,
                            findings="已清理", today=dt.date(2026, 12, 31))
        ms.move(c, "close", today=day + dt.timedelta(days=close_after))
        return c


def test_the_agreement_prints_the_standard_form(desk, client):
    case = _case(desk, day=dt.date(2026, 11, 3), end="agreed")
    r = client.get(f"/mediation/cases/{case.id}/agreement.pdf")
    assert r.status_code == 200
    text = squash("".join(pdf_text(r.data)))
    for piece in ("人民调解协议书", "编号：2026-调-001", "孙有田", "汉族", "13800000001", "周满仓",
                  "纠纷主要事实、争议事项", "经调解，自愿达成如下协议", "双方各出一人清理排水沟", "履行方式、时限",
                  "本协议一式3份", "签名盖章或按指印", "调解员（签名）", "记录人（签名）：李会计", "人民调解委员会（盖章）",
                  "三十日内共同向人民法院申请司法确认"):
        assert piece in text, piece
    assert all(embedded and "CJK" in name for name, embedded in fonts(r.data))


def test_the_dossier_is_in_order_with_a_contents_page(desk, client):
    case = _case(desk, day=dt.date(2026, 11, 3))
    r = client.get(f"/mediation/cases/{case.id}/dossier.pdf")
    pages = [squash(p) for p in pdf_text(r.data)]
    assert "人民调解卷宗" in pages[0] and "2026-调-001" in pages[0]
    assert "目录" in pages[1]
    order = ["人民调解受理登记表", "调查及调解笔录", "人民调解协议书", "回访记录", "卷宗情况说明"]
    starts = [next(i for i, p in enumerate(pages) if p.startswith(("一号村", "")) and title in p and i > 1)
              for title in order]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)  # each part on its own page, in order


def test_statistics_on_a_seeded_set(desk, client):
    day = dt.date(2026, 10, 1)
    _case(desk, day=day, close_after=10)                                    # settled, carried out, 10 days
    _case(desk, day=day, kind="homestead", close_after=30)                  # settled, carried out, 30 days
    _case(desk, day=day, performed="partly", close_after=20)                # settled, not carried out, 20 days
    _case(desk, day=day, level="police_station")                            # settled at the police station
    _case(desk, day=day, end="failed")
    _case(desk, day=day, end="not_accepted")
    _case(desk, day=dt.date(2026, 11, 2))                                   # another month
    total, by_type = mq.figures(desk.village.id, *mq.month_bounds(2026, 10))
    assert (total.received, total.settled, total.carried_out, total.failed, total.not_accepted) == (6, 4, 3, 1, 1)
    assert total.inside_village == 3 and total.inside_rate == 0.5
    assert total.median_days == 15  # 10, 10 (police station case), 20, 30
    assert (by_type["homestead"].received, by_type["homestead"].settled) == (1, 1)
    page = client.get("/mediation/statistics?year=2026").get_data(as_text=True)
    assert "50%" in page and "矛盾不出村率＝" in page
    r = client.get("/mediation/report/2026-10.pdf")
    text = squash("".join(pdf_text(r.data)))
    assert "2026年10月人民调解工作统计" in text and "50%" in text and "孙有田" not in text


def test_points_for_a_helper_are_proposed_on_closing_and_wait_for_review(desk, client):
    with write_transaction():
        scheme = pts.create_scheme(db.session.merge(desk.village), "积分细则")
        cat = pts.create_category(scheme, "公益", "add")
        item = pts.create_item(cat, pts.ItemData(code="M01", text="协助调解邻里纠纷", points=3))
    open_case = _case(desk, day=dt.date(2026, 11, 3), end="agreed")
    data = {"points-number": "0902", "points-name": "钱老汉", "points-item_id": str(item.id),
            "points-submit": "1"}
    r = client.post(f"/mediation/cases/{open_case.id}/points", data=data, follow_redirects=True)
    assert "结案后才能提出积分" in r.get_data(as_text=True)
    closed = _case(desk, day=dt.date(2026, 11, 4))
    r = client.post(f"/mediation/cases/{closed.id}/points", data=data, follow_redirects=True)
    assert "积分已提出，等待审核" in r.get_data(as_text=True)
    entry = db.session.scalars(sa.select(PointEntry)).one()
    assert (entry.item_code, entry.status, entry.source, entry.source_ref) == (
        "M01", "pending", "mediation", f"mediation-case:{closed.id}")
    assert entry.note is None  # nothing of the case shows on the household's page or statement


def test_no_case_data_on_the_township_view_kiosk_or_posting(desk, client, auth, make_user):
    _case(desk, day=dt.date(2026, 11, 3))
    from app.registry.services import create_township

    with write_transaction():
        town = create_township("t1", "一号镇")
        db.session.merge(desk.village).township_id = town.id
    make_user("xiangzhen", ("township", town))
    auth.logout()
    auth.login("xiangzhen")
    page = client.get("/township").get_data(as_text=True)
    assert "孙有田" not in page and "排水沟" not in page
    assert client.get("/mediation/").status_code in (302, 403)  # no village role: no mediation pages
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MediationCase)) == 1
