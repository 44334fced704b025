"""Shop reads other features show: a household's redemptions, the home page's counts. Nothing here writes."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from ..db import local_midnight_utc
from ..extensions import db
from .models import Product, Redemption, RedemptionStatus


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
