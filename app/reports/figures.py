"""The dashboard's figures: a village's month (with the months of its year for the trends) and the township
roll-up of many villages side by side, assembled from each feature's queries module, never from a query of
their own. Every function over many villages runs one grouped statement per figure (GROUP BY village), so a
county of 200 villages costs the same number of statements as one village.

Definitions (the page and the printed report state them; docs/architecture.md, "Reports"):

- points awarded / deducted: approved entries (posted, disputed, final) by the day they happened
  (app.points.queries.points_by_month); households taking part: active households with at least one such
  entry in the month, against the village's active households (app.registry.queries);
- points redeemed: completed redemptions at the happiness supermarket by the village's calendar day of the sale,
  cancelled ones left out (app.shop.queries.shop_by_month);
- stars: each active household's score of the year through the month's last day, banded by the village's
  scheme (app.points.queries.star_distribution);
- patrol attendance: places on confirmed shifts of the month walked (present, late, substitute) ÷ (walked +
  absent); leave is left out (app.patrol.queries);
- mediation: cases received in the month, settled, and 矛盾不出村率 = settled at a village level ÷ received
  (app.mediation.queries);
- grid visits: households due in the month (by the schedule) and of those visited; closure rate = events
  reported in the month and closed ÷ events reported in the month (app.grid.queries);
- goods in by purchase and donation and handed out against points (units), donations received, and the units on
  the shelves at the month's end (app.shop.queries).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from ..db import local_today
from ..grid import queries as grid_q
from ..mediation import queries as mediation_q
from ..patrol import queries as patrol_q
from ..points import queries as points_q
from ..registry import queries as registry_q
from ..shop import queries as shop_q

STARS = (0, 1, 2, 3, 4, 5)


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass
class MonthFigures:
    """One village's month (or the sum of many villages': rates from the summed terms)."""

    households: int = 0
    taking_part: int = 0
    awarded: int = 0
    deducted: int = 0
    redeemed: int = 0
    redemptions: int = 0
    shifts: int = 0
    walked: int = 0
    absent: int = 0
    on_leave: int = 0
    received: int = 0
    settled: int = 0
    inside_village: int = 0
    visits_due: int = 0
    visited: int = 0
    events: int = 0
    events_closed: int = 0
    purchased: int = 0
    donated: int = 0
    handed_out: int = 0
    donations: int = 0
    stock: int = 0
    low_stock: int = 0
    stars: dict[int, int] = field(default_factory=lambda: dict.fromkeys(STARS, 0))

    @property
    def taking_part_rate(self) -> float | None:
        return _ratio(self.taking_part, self.households)

    @property
    def attendance_rate(self) -> float | None:
        return _ratio(self.walked, self.walked + self.absent)

    @property
    def inside_rate(self) -> float | None:
        return _ratio(self.inside_village, self.received)

    @property
    def visit_rate(self) -> float | None:
        return _ratio(self.visited, self.visits_due)

    @property
    def closure_rate(self) -> float | None:
        return _ratio(self.events_closed, self.events)

    def as_json(self) -> dict:
        return {**{k: getattr(self, k) for k in self.__dataclass_fields__ if k != "stars"},
                "stars": {str(k): n for k, n in self.stars.items()}}

    @classmethod
    def from_json(cls, data: dict) -> MonthFigures:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__ and k != "stars"}
        f = cls(**known)
        f.stars.update({int(k): n for k, n in (data.get("stars") or {}).items()})
        return f

    def add(self, other: MonthFigures) -> None:
        for name in self.__dataclass_fields__:
            if name == "stars":
                for k, n in other.stars.items():
                    self.stars[k] = self.stars.get(k, 0) + n
            else:
                setattr(self, name, getattr(self, name) + getattr(other, name))


def month_last_day(year: int, month: int) -> dt.date:
    return dt.date(year + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)


def _flows(village_ids: list[int], year: int, months) -> dict[tuple[int, int], MonthFigures]:
    """The figures that add up over a month, for each (village, month): one grouped statement per figure."""
    out: dict[tuple[int, int], MonthFigures] = {(v, m): MonthFigures() for v in village_ids for m in months}
    for key, p in points_q.points_by_month(village_ids, year, months).items():
        out[key].awarded, out[key].deducted, out[key].taking_part = p.awarded, p.deducted, p.households
    for key, s in shop_q.shop_by_month(village_ids, year, months).items():
        f = out[key]
        f.redeemed, f.redemptions, f.purchased, f.donated, f.handed_out, f.donations = (
            s.points, s.redemptions, s.purchased, s.donated, s.handed_out, s.donations)
    for key, a in patrol_q.attendance_by_month(village_ids, year, months).items():
        f = out[key]
        f.shifts = a.get("shifts", 0)
        f.walked = sum(a.get(k, 0) for k in patrol_q.WALKED)
        f.absent, f.on_leave = a.get("absent", 0), a.get("leave", 0)
    for key, c in mediation_q.figures_by_month(village_ids, year, months).items():
        out[key].received, out[key].settled, out[key].inside_village = c.received, c.settled, c.inside_village
    for key, (n, closed) in grid_q.events_by_month(village_ids, year, months).items():
        out[key].events, out[key].events_closed = n, closed
    return out


def _month_end(village_ids: list[int], year: int, month: int, figures: dict[int, MonthFigures]) -> None:
    """The figures that are a state at the month's end (or now): households, stars, visits due, stock."""
    last = month_last_day(year, month)
    counts = registry_q.village_counts(village_ids)
    stars = points_q.star_distribution(village_ids, year, last)
    visits = grid_q.visit_totals(village_ids, dt.date(year, month, 1), last)
    stock = shop_q.stock_figures(village_ids, min(last, local_today()))
    for v in village_ids:
        f = figures[v]
        f.households = counts[v]["households"]
        f.stars.update(stars.get(v, {}))
        f.visits_due, f.visited = visits[v].due, visits[v].visited
        f.stock, f.low_stock = stock[v].units, stock[v].low


@dataclass
class VillageDashboard:
    year: int
    month: int
    #: the chosen month
    now: MonthFigures
    #: months 1 … the chosen one of the year, for the trends
    trend: dict[int, MonthFigures]


def village_dashboard(village_id: int, year: int, month: int) -> VillageDashboard:
    """A village's month and the months of its year up to it."""
    months = range(1, month + 1)
    flows = _flows([village_id], year, months)
    trend = {m: flows[(village_id, m)] for m in months}
    now = trend[month]
    _month_end([village_id], year, month, {village_id: now})
    return VillageDashboard(year, month, now, trend)


def compute(village_ids: list[int], year: int, month: int) -> dict[int, MonthFigures]:
    """{village id: its month}, counted now from the features' queries (grouped by village)."""
    if not village_ids:
        return {}
    flows = _flows(village_ids, year, (month,))
    per = {v: flows[(v, month)] for v in village_ids}
    _month_end(village_ids, year, month, per)
    return per


@dataclass
class RollupRow:
    village: object
    figures: MonthFigures
    #: when the stored figures were counted (UTC); None: counted for this page
    as_of: dt.datetime | None = None


def rollup(villages: list, year: int, month: int) -> tuple[list[RollupRow], MonthFigures]:
    """[RollupRow] in the order given and the totals: aggregates only, no name below a village's.

    Stored months (app.reports.models.VillageMonth, `flask reports refresh`) are read as they are; the villages
    without one are counted now, all together."""
    from . import services

    ids = [v.id for v in villages]
    stored = services.stored_months(ids, year, month)
    live = compute([v for v in ids if v not in stored], year, month)
    rows = []
    total = MonthFigures()
    for v in villages:
        if v.id in stored:
            figures, as_of = stored[v.id]
        else:
            figures, as_of = live[v.id], None
        rows.append(RollupRow(v, figures, as_of))
        total.add(figures)
    return rows, total
