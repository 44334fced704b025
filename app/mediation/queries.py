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

from ..extensions import db
from .models import INSIDE_VILLAGE, CaseStatus, MediationCase

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
