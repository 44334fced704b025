"""Mediation statistics: counts only, never a name or a case's text (the township and the judicial office get
these). Definitions, printed on the page and the monthly report:

- received: cases registered with a receipt date in the period;
- settled: of those, the ones that reached an agreement (agreed, being carried out, followed up, closed);
- carried out: settled cases whose latest follow-up visit found the agreement carried out;
- 矛盾不出村率 (settled inside the village): settled cases handled at a village level (群众, 治安联防队,
  村民小组, 村委会) ÷ cases received;
- median days to close: closed cases of the period, from receipt to closing.
"""
from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from ..db import month_bucket
from ..extensions import db
from .models import INSIDE_VILLAGE, Agreement, CaseMediator, CaseStatus, MediationCase, MediationHead

SETTLED = (CaseStatus.AGREED.value, CaseStatus.PERFORMING.value, CaseStatus.FOLLOWED_UP.value,
           CaseStatus.CLOSED.value)


@dataclass
class Figures:
    received: int = 0
    settled: int = 0
    carried_out: int = 0
    inside_village: int = 0
    not_accepted: int = 0
    failed: int = 0
    escalated: int = 0
    days_to_close: list[int] | None = None

    @property
    def inside_rate(self) -> float | None:
        return self.inside_village / self.received if self.received else None

    @property
    def median_days(self) -> float | None:
        return statistics.median(self.days_to_close) if self.days_to_close else None


def figures(village_id: int, first: dt.date, last: dt.date) -> tuple[Figures, dict[str, Figures]]:
    """The period's figures in all, and by kind of dispute."""
    cases = db.session.scalars(sa.select(MediationCase).where(
        MediationCase.village_id == village_id, MediationCase.received_on >= first,
        MediationCase.received_on <= last).options(selectinload(MediationCase.follow_ups))).all()
    total, by_type = Figures(days_to_close=[]), {}
    for c in cases:
        for f in (total, by_type.setdefault(c.dispute_type, Figures(days_to_close=[]))):
            f.received += 1
            if c.status in SETTLED:
                f.settled += 1
                if c.level in INSIDE_VILLAGE:
                    f.inside_village += 1
                if c.follow_ups and c.follow_ups[-1].performed == "yes":
                    f.carried_out += 1
            f.not_accepted += c.status == CaseStatus.NOT_ACCEPTED.value
            f.failed += c.status == CaseStatus.FAILED.value
            f.escalated += c.status == CaseStatus.ESCALATED.value
            if c.status == CaseStatus.CLOSED.value and c.closed_on:
                f.days_to_close.append((c.closed_on - c.received_on).days)
    return total, by_type


def month_bounds(year: int, month: int) -> tuple[dt.date, dt.date]:
    first = dt.date(year, month, 1)
    return first, (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)


def status_counts(village_id: int, first: dt.date, last: dt.date) -> dict[str, int]:
    """{status: cases} of the cases received in the period, by where they stand now."""
    return dict(db.session.execute(sa.select(MediationCase.status, sa.func.count()).where(
        MediationCase.village_id == village_id, MediationCase.received_on >= first,
        MediationCase.received_on <= last).group_by(MediationCase.status)).all())


# --- what waits today (the home page) -------------------------------------------------------------
# A follow-up visit is due `FOLLOW_UP_DAYS` after the agreement's deadline (else the day it was signed, else
# the day the case was received): app.mediation.services.due_on says the same for one case. The parties may
# ask the court to confirm a written agreement within JUDICIAL_DAYS of its signing (人民调解法 第三十三条).

FOLLOW_UP_DAYS = 30
JUDICIAL_DAYS = 30
#: how far ahead the home page looks for follow-ups coming due and confirmation windows closing
AHEAD_DAYS = 7
WAITING_FOLLOW_UP = (CaseStatus.AGREED.value, CaseStatus.PERFORMING.value)


def readable_filter(village_id: int, user_id: int) -> tuple:
    """The village's cases `user_id` may read (app.mediation.services.can_read): all of them for the
    mediation committee's head, else those the user mediates."""
    head = sa.exists().where(MediationHead.village_id == village_id, MediationHead.user_id == user_id)
    mine = MediationCase.id.in_(sa.select(CaseMediator.case_id).where(CaseMediator.user_id == user_id))
    return MediationCase.village_id == village_id, sa.or_(head, mine)


def _follow_up_base():
    return sa.func.coalesce(Agreement.perform_by, Agreement.signed_on, MediationCase.received_on)


def follow_ups_filter(today: dt.date, which: str) -> tuple:
    """Cases waiting for their follow-up visit that are overdue ("overdue") or come due within AHEAD_DAYS
    ("due"), as WHERE clauses over MediationCase outer-joined to its Agreement."""
    base = _follow_up_base()
    cut = today - dt.timedelta(days=FOLLOW_UP_DAYS)
    where = (MediationCase.status.in_(WAITING_FOLLOW_UP),)
    if which == "overdue":
        return where + (base < cut,)
    return where + (base >= cut, base <= cut + dt.timedelta(days=AHEAD_DAYS))


def window_filter(today: dt.date) -> tuple:
    """Written agreements whose judicial-confirmation window closes within AHEAD_DAYS (today included)."""
    first = today - dt.timedelta(days=JUDICIAL_DAYS)
    return (Agreement.oral == False, Agreement.signed_on >= first,  # noqa: E712
            Agreement.signed_on <= first + dt.timedelta(days=AHEAD_DAYS))


def today_counts(village_id: int, *, user_id: int, today: dt.date) -> dict:
    """The mediator's counts: cases by status (the village's: counts are not private), and over the cases
    the user may read, follow-up visits overdue (with the earliest base day) and coming due, and agreements
    whose judicial-confirmation window is closing. One statement."""
    def over(*where, what=None):
        return (sa.select(what if what is not None else sa.func.count()).select_from(MediationCase)
                .outerjoin(Agreement, Agreement.case_id == MediationCase.id)
                .where(*readable_filter(village_id, user_id), *where).scalar_subquery())

    open_statuses = (CaseStatus.REGISTERED.value, CaseStatus.INVESTIGATING.value, CaseStatus.MEDIATING.value)
    row = db.session.execute(sa.select(
        sa.select(sa.func.count()).where(MediationCase.village_id == village_id,
                                         MediationCase.status.in_(open_statuses)).scalar_subquery(),
        over(*follow_ups_filter(today, "overdue")),
        over(*follow_ups_filter(today, "overdue"), what=sa.func.min(_follow_up_base())),
        over(*follow_ups_filter(today, "due")),
        over(*window_filter(today)))).one()
    base = row[2]
    if isinstance(base, str):  # a scalar subquery's MIN comes back untyped from SQLite
        base = dt.date.fromisoformat(base)
    oldest_due = base + dt.timedelta(days=FOLLOW_UP_DAYS) if base else None
    return {"open": row[0], "follow_ups_overdue": row[1], "oldest_follow_up_due": oldest_due,
            "follow_ups_due": row[3], "window_closing": row[4]}


def villages_today(village_ids: list[int], today: dt.date) -> dict[int, int]:
    """Per village: cases whose follow-up visit is overdue (counts only: the township's home page)."""
    return dict(db.session.execute(
        sa.select(MediationCase.village_id, sa.func.count()).select_from(MediationCase)
        .outerjoin(Agreement, Agreement.case_id == MediationCase.id)
        .where(MediationCase.village_id.in_(village_ids or [-1]), *follow_ups_filter(today, "overdue"))
        .group_by(MediationCase.village_id)).all())


def figures_by_month(village_ids: list[int], year: int, months=range(1, 13)) -> dict[tuple[int, int], Figures]:
    """{(village id, month): Figures with received, settled and inside_village} by the month received, counted
    in SQL (the dashboard and the township roll-up: counts only); the definitions are this module's."""
    c = MediationCase
    month, lo, hi = month_bucket(c.received_on, year, months)
    settled = c.status.in_(SETTLED)
    rows = db.session.execute(
        sa.select(c.village_id, month, sa.func.count(), sa.func.count().filter(settled),
                  sa.func.count().filter(settled, c.level.in_(INSIDE_VILLAGE)))
        .where(c.village_id.in_(village_ids), c.received_on >= lo, c.received_on < hi)
        .group_by(c.village_id, month))
    return {(v, int(m)): Figures(received=int(n), settled=int(s), inside_village=int(i)) for v, m, n, s, i in rows}
