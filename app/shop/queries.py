"""Shop reads other features show: a household's redemptions, the home page's counts, and the month figures of
the dashboard and the township roll-up (grouped by village, one statement each). Nothing here writes."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from ..db import local_midnight_utc, month_bucket
from ..extensions import db
from ..registry.models import Household
from .models import Donation, MovementKind, Product, Redemption, RedemptionStatus, StockMovement


@dataclass(frozen=True, slots=True)
class ShelfItem:
    """A product as the counter shows and sells it, read as plain columns: the counter draws the whole shelf
    (200 goods) on every view and check, where loading and reading 200 ORM objects was a fifth of a
    redemption's CPU (bench figure 3). Selling reloads the product itself (shop.services.redeem)."""

    id: int
    name: str
    spec: str
    unit: str
    price_points: int
    stock: int
    active: bool

    @property
    def label(self) -> str:
        return f"{self.name} {self.spec}".strip()


_SHELF = (Product.id, Product.name, Product.spec, Product.unit, Product.price_points, Product.stock, Product.active)


def counter_shelf(village_id: int, *, ids=None, in_stock_only: bool = False) -> list[ShelfItem]:
    """The village's goods in shelf order (category, name, spec): all, those of `ids`, or those offered and in
    stock."""
    stmt = sa.select(*_SHELF).where(Product.village_id == village_id)
    if ids is not None:
        stmt = stmt.where(Product.id.in_(ids))
    if in_stock_only:
        stmt = stmt.where(Product.active == True, Product.stock > 0)  # noqa: E712  (Flag binds 1/true per database)
    stmt = stmt.order_by(Product.category, Product.name, Product.spec, Product.id)
    return [ShelfItem(*row) for row in db.session.execute(stmt)]


def recent_redemptions(village_id: int, limit: int = 10) -> list[sa.Row]:
    """The village's latest redemptions as the counter lists them (id, receipt_no, created_at, the household's
    number, total_points, status), as plain rows: the counter draws them on every view, where ten Redemption
    objects each with its Household loaded whole cost more than the list shows (bench figure 3)."""
    return list(db.session.execute(
        sa.select(Redemption.id, Redemption.receipt_no, Redemption.created_at, Household.number,
                  Redemption.total_points, Redemption.status)
        .join(Household, Household.id == Redemption.household_id)
        .where(Redemption.village_id == village_id).order_by(Redemption.id.desc()).limit(limit)))


def household_redemptions_query(household_id: int) -> sa.Select:
    """SELECT of the household's redemptions, newest first, with their lines."""
    return (sa.select(Redemption).where(Redemption.household_id == household_id)
            .options(selectinload(Redemption.lines)).order_by(Redemption.id.desc()))


def redemptions_by_transfer(transfer_ids) -> dict[int, Redemption]:
    """transfer id → the redemption that transfer paid for, with its lines."""
    ids = [i for i in transfer_ids if i]
    if not ids:
        return {}
    return {r.transfer_id: r for r in db.session.scalars(
        sa.select(Redemption).where(Redemption.transfer_id.in_(ids)).options(selectinload(Redemption.lines)))}


# --- what waits today (the home page) -------------------------------------------------------------

def stock_filter(which: str) -> tuple:
    """Offered goods out of stock ("out") or at or below their reorder level but not out ("low"), as WHERE
    clauses: the goods page's filter and the home page's counts say the same."""
    offered = Product.active == True  # noqa: E712  (Flag binds 1/true per database)
    if which == "out":
        return offered, Product.stock == 0
    return offered, Product.stock > 0, Product.stock <= Product.reorder_level


def redemption_filter(village_id: int, *, since: dt.datetime, status: str | None = None) -> tuple:
    """The village's redemptions made (status None or "completed") or cancelled ("cancelled") since `since`
    (naive UTC), as WHERE clauses for the redemptions page and the home page's counts."""
    if status == RedemptionStatus.CANCELLED.value:
        return Redemption.village_id == village_id, Redemption.cancelled_at >= since
    where = (Redemption.village_id == village_id, Redemption.created_at >= since)
    if status == RedemptionStatus.COMPLETED.value:
        where += (Redemption.status == RedemptionStatus.COMPLETED.value,)
    return where


def week_start(today: dt.date) -> dt.date:
    """Monday of `today`'s week."""
    return today - dt.timedelta(days=today.weekday())


def today_counts(village_id: int, *, today: dt.date) -> dict[str, int]:
    """The shop's counts for the home page in one statement: goods out of stock and low, today's
    redemptions and cancellations, and this week's cancellations."""
    def products(which):
        return sa.select(sa.func.count()).select_from(Product).where(
            Product.village_id == village_id, *stock_filter(which)).scalar_subquery()

    def redemptions(since, status=None):
        return sa.select(sa.func.count()).select_from(Redemption).where(
            *redemption_filter(village_id, since=since, status=status)).scalar_subquery()

    midnight, monday = local_midnight_utc(today), local_midnight_utc(week_start(today))
    row = db.session.execute(sa.select(
        products("out"), products("low"), redemptions(midnight),
        redemptions(midnight, RedemptionStatus.CANCELLED.value),
        redemptions(monday, RedemptionStatus.CANCELLED.value))).one()
    return dict(zip(("out_of_stock", "low_stock", "redeemed_today", "cancelled_today", "cancelled_week"),
                    (int(n) for n in row)))


# --- figures for the dashboard and the township roll-up -------------------------------------------

@dataclass
class ShopMonth:
    """A village's month at the happiness supermarket (cancelled redemptions left out)."""

    redemptions: int = 0
    households: int = 0
    points: int = 0
    #: units of goods in by purchase and by donation, out against points (net of cancellations)
    purchased: int = 0
    donated: int = 0
    handed_out: int = 0
    donations: int = 0


def shop_by_month(village_ids: list[int], year: int, months=range(1, 13)) -> dict[tuple[int, int], ShopMonth]:
    """{(village id, month): ShopMonth}: redemptions (count, households, points) by the village's calendar month
    of the sale, goods in and out by the month of the stock movement, donations by the day received."""
    out: dict[tuple[int, int], ShopMonth] = {}

    def at(key) -> ShopMonth:
        return out.setdefault(key, ShopMonth())

    month, lo, hi = month_bucket(Redemption.created_at, year, months, utc=True)
    for v, m, n, h, pts in db.session.execute(
            sa.select(Redemption.village_id, month, sa.func.count(), sa.func.count(sa.distinct(Redemption.household_id)),
                      sa.func.sum(Redemption.total_points))
            .where(Redemption.village_id.in_(village_ids), Redemption.status == RedemptionStatus.COMPLETED.value,
                   Redemption.created_at >= lo, Redemption.created_at < hi)
            .group_by(Redemption.village_id, month)):
        f = at((v, int(m)))
        f.redemptions, f.households, f.points = int(n), int(h), int(pts or 0)
    sm = StockMovement
    month, lo, hi = month_bucket(sm.created_at, year, months, utc=True)
    kinds = {MovementKind.PURCHASE.value: "purchased", MovementKind.DONATION_IN.value: "donated",
             MovementKind.REDEMPTION_OUT.value: "handed_out", MovementKind.REDEMPTION_CANCEL.value: "handed_out"}
    for v, m, kind, qty in db.session.execute(
            sa.select(sm.village_id, month, sm.kind, sa.func.sum(sm.qty))
            .where(sm.village_id.in_(village_ids), sm.kind.in_(list(kinds)), sm.created_at >= lo, sm.created_at < hi)
            .group_by(sm.village_id, month, sm.kind)):
        f = at((v, int(m)))
        attr = kinds[kind]
        setattr(f, attr, getattr(f, attr) + (-int(qty) if attr == "handed_out" else int(qty)))
    month, lo, hi = month_bucket(Donation.received_on, year, months)
    for v, m, n in db.session.execute(
            sa.select(Donation.village_id, month, sa.func.count())
            .where(Donation.village_id.in_(village_ids), Donation.received_on >= lo, Donation.received_on < hi)
            .group_by(Donation.village_id, month)):
        at((v, int(m))).donations = int(n)
    return out


@dataclass
class StockFigures:
    #: units on the shelves at the end of the day asked for
    units: int = 0
    #: active goods, and of those the ones at or below their reorder level now
    products: int = 0
    low: int = 0


def stock_figures(village_ids: list[int], end_of: dt.date) -> dict[int, StockFigures]:
    """{village id: StockFigures}: units in stock when the day `end_of` ended (today's stock less the movements
    since), active goods and goods low now."""
    out = {v: StockFigures() for v in village_ids}
    for v, units, n, low in db.session.execute(
            sa.select(Product.village_id, sa.func.sum(Product.stock),
                      sa.func.count().filter(Product.active == True),  # noqa: E712
                      sa.func.count().filter(Product.active == True, Product.stock <= Product.reorder_level))  # noqa: E712
            .where(Product.village_id.in_(village_ids)).group_by(Product.village_id)):
        out[v] = StockFigures(int(units or 0), int(n), int(low))
    since = local_midnight_utc(end_of + dt.timedelta(days=1))
    for v, qty in db.session.execute(
            sa.select(StockMovement.village_id, sa.func.sum(StockMovement.qty))
            .where(StockMovement.village_id.in_(village_ids), StockMovement.created_at >= since)
            .group_by(StockMovement.village_id)):
        out[v].units -= int(qty or 0)
    return out
