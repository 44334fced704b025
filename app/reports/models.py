"""The township roll-up's stored month figures: one row per village and month, counts only."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Int, UTCDateTime, utcnow
from ..extensions import Model


class VillageMonth(Model):
    """A village's month as app.reports.figures counts it (MonthFigures as JSON: numbers only, never a name),
    written by `flask reports refresh` (nightly) and read by the township roll-up, so that a county of 200
    villages reads 200 small rows instead of a year of entries. A figure worked out again replaces the row."""

    __tablename__ = "report_village_months"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"))
    year: Mapped[int] = mapped_column(Int)
    month: Mapped[int] = mapped_column(Int)
    figures: Mapped[dict] = mapped_column(sa.JSON)
    computed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("village_id", "year", "month", name="uq_report_village_months_village_month"),
        sa.CheckConstraint("month BETWEEN 1 AND 12", name="month_known"),
    )
