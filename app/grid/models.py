"""Grids (网格) and micro-grids (微网格), who works them, which household is in which grid (with history), the
visit schedule per household tag, visits (走访) and events (六必到 / 六必报).

A household is in one grid at a time: the finest one drawn over it (a micro-grid when the grid has them). A
membership row is never edited but ended (`ended_on`) when the household moves to another grid, so "which grid
was this household in last spring" has an answer.

Times are stored in UTC (`UTCDateTime`); days (a visit's day, a membership's start) are village-local days.
"""
from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Day, Flag, Int, Str, UTCDateTime, one_of, utcnow
from ..extensions import Model


class Grid(Model):
    """A grid, or a micro-grid when it has a parent (e.g. 第一微网格（1–3组）inside 第一网格)."""

    __tablename__ = "grids"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("grids.id"), index=True)
    name: Mapped[str] = mapped_column(Str(64))
    #: the grid chief (网格长; often the Party secretary) or the micro-grid's person in charge
    chief_name: Mapped[str | None] = mapped_column(Str(64))
    chief_phone: Mapped[str | None] = mapped_column(Str(20))
    note: Mapped[str | None] = mapped_column(Str(500))
    active: Mapped[bool] = mapped_column(Flag, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    parent: Mapped[Grid | None] = relationship(remote_side="Grid.id", back_populates="children")
    children: Mapped[list[Grid]] = relationship(back_populates="parent", order_by="Grid.name")
    workers: Mapped[list[GridWorker]] = relationship(back_populates="grid", order_by="GridWorker.id")

    __table_args__ = (
        sa.UniqueConstraint("village_id", "name", name="uq_grids_village_name"),
        sa.CheckConstraint("parent_id IS NULL OR parent_id <> id", name="not_own_parent"),
        {"sqlite_strict": True},
    )

    @property
    def level(self) -> str:
        return "micro_grid" if self.parent_id else "grid"


class GridWorker(Model):
    """A grid worker (网格员) assigned to a grid from a day; `ended_on` set when they stop."""

    __tablename__ = "grid_workers"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"), index=True)
    grid_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("grids.id"), index=True)
    user_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("users.id"), index=True)
    started_on: Mapped[dt.date] = mapped_column(Day)
    ended_on: Mapped[dt.date | None] = mapped_column(Day)

    grid: Mapped[Grid] = relationship(back_populates="workers")
    user = relationship("User")

    __table_args__ = (
        sa.Index("uq_grid_workers_current", "grid_id", "user_id", unique=True,
                 sqlite_where=sa.text("ended_on IS NULL"), postgresql_where=sa.text("ended_on IS NULL")),
        sa.CheckConstraint("ended_on IS NULL OR ended_on >= started_on", name="ends_after_start"),
        {"sqlite_strict": True},
    )


class GridMembership(Model):
    """Household H is in grid G from `started_on` until `ended_on` (open while current)."""

    __tablename__ = "grid_memberships"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"), index=True)
    household_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("households.id"), index=True)
    grid_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("grids.id"), index=True)
    started_on: Mapped[dt.date] = mapped_column(Day)
    ended_on: Mapped[dt.date | None] = mapped_column(Day)
    set_by_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    grid: Mapped[Grid] = relationship()
    household = relationship("Household")

    __table_args__ = (
        # one current grid per household, whatever two clerks do at once
        sa.Index("uq_grid_memberships_current", "household_id", unique=True,
                 sqlite_where=sa.text("ended_on IS NULL"), postgresql_where=sa.text("ended_on IS NULL")),
        sa.CheckConstraint("ended_on IS NULL OR ended_on >= started_on", name="ends_after_start"),
        {"sqlite_strict": True},
    )


class IntervalUnit(str, enum.Enum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


class VisitRule(Model):
    """How often a household with `tag` is visited in this village; `tag` "ordinary" is everyone else.

    A village without rows uses the 三必访 defaults (app.grid.schedule.DEFAULT_RULES)."""

    __tablename__ = "grid_visit_rules"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"), index=True)
    tag: Mapped[str] = mapped_column(Str(32))
    every: Mapped[int] = mapped_column(Int)
    unit: Mapped[str] = mapped_column(Str(8))

    __table_args__ = (
        sa.UniqueConstraint("village_id", "tag", name="uq_grid_visit_rules_tag"),
        sa.CheckConstraint("every BETWEEN 1 AND 366", name="every_bounded"),
        one_of("unit", IntervalUnit, "unit_known"),
        {"sqlite_strict": True},
    )


class VisitPurpose(str, enum.Enum):
    ROUTINE = "routine"  # 例行走访
    MUST_VISIT = "must_visit"  # 六必到
    SECOND_VISIT = "second_visit"  # 回访 / 二次走访


class Visit(Model):
    """A household visit (入户走访), as the grid worker's work log (网格员工作日志) records it."""

    __tablename__ = "grid_visits"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"), index=True)
    grid_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("grids.id"), index=True)
    household_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("households.id"), index=True)
    worker_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("users.id"), index=True)
    visited_on: Mapped[dt.date] = mapped_column(Day)
    purpose: Mapped[str] = mapped_column(Str(14), default=VisitPurpose.ROUTINE.value)
    findings: Mapped[str] = mapped_column(Str(2000))
    #: what the household asked for (群众诉求), if anything
    requests: Mapped[str | None] = mapped_column(Str(1000))
    photo_file: Mapped[str | None] = mapped_column(Str(64))
    #: a second visit is needed by this day (it moves the household's next due date forward)
    follow_up_on: Mapped[dt.date | None] = mapped_column(Day)
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    grid: Mapped[Grid] = relationship()
    household = relationship("Household")
    worker = relationship("User")

    __table_args__ = (
        one_of("purpose", VisitPurpose, "purpose_known"),
        sa.CheckConstraint("follow_up_on IS NULL OR follow_up_on >= visited_on", name="follow_up_after_visit"),
        sa.Index("ix_grid_visits_household_day", "household_id", "visited_on"),
        {"sqlite_strict": True},
    )


class EventKind(str, enum.Enum):
    """What a grid event is about: 六必报 (must report) and 六必到 (must go) with the everyday requests."""

    FACILITY = "facility"  # 公共设施损坏
    MOVED_IN = "moved_in"  # 人员流入
    HOUSE_LET = "house_let"  # 房屋出租
    HAZARD = "hazard"  # 安全隐患
    INSTABILITY = "instability"  # 不稳定因素
    CRIME_LEAD = "crime_lead"  # 涉黑涉恶线索
    HARDSHIP = "hardship"  # 家庭突发变故或困难
    EMERGENCY = "emergency"  # 突发事件
    DISPUTE = "dispute"  # 矛盾纠纷
    PUBLIC_ORDER = "public_order"  # 治安案件
    ENVIRONMENT = "environment"  # 环境卫生
    REQUEST = "request"  # 民生诉求
    OTHER = "other"  # 其他


class Priority(str, enum.Enum):
    URGENT = "urgent"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


#: days from the report to the due date, by priority (the page states them)
DUE_DAYS = {Priority.URGENT.value: 1, Priority.HIGH.value: 3, Priority.NORMAL.value: 7, Priority.LOW.value: 15}


class EventStatus(str, enum.Enum):
    REPORTED = "reported"  # 已上报
    ACCEPTED = "accepted"  # 已受理
    ASSIGNED = "assigned"  # 已交办
    IN_PROGRESS = "in_progress"  # 处理中
    RESOLVED = "resolved"  # 已办结，待回访
    CLOSED = "closed"  # 已回访结案
    REJECTED = "rejected"  # 不予受理
    ESCALATED = "escalated"  # 上报乡镇/部门
    CONVERTED = "converted"  # 转调解 / 转巡逻


class Handover(str, enum.Enum):
    MEDIATION = "mediation_case"
    PATROL = "patrol"


class GridEvent(Model):
    """An event reported in a grid, numbered per village and year (2026-网-0012)."""

    __tablename__ = "grid_events"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"), index=True)
    year: Mapped[int] = mapped_column(Int)
    seq: Mapped[int] = mapped_column(Int)
    grid_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("grids.id"), index=True)
    household_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("households.id"), index=True)
    kind: Mapped[str] = mapped_column(Str(14))
    text: Mapped[str] = mapped_column(Str(2000))
    place: Mapped[str | None] = mapped_column(Str(200))
    photo_file: Mapped[str | None] = mapped_column(Str(64))
    priority: Mapped[str] = mapped_column(Str(8), default=Priority.NORMAL.value)
    status: Mapped[str] = mapped_column(Str(12), default=EventStatus.REPORTED.value)
    reporter_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("users.id"), index=True)
    reported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    assignee_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("users.id"), index=True)
    #: why rejected; to whom escalated; what was done (resolution)
    reason: Mapped[str | None] = mapped_column(Str(1000))
    escalated_to: Mapped[str | None] = mapped_column(Str(100))
    resolution: Mapped[str | None] = mapped_column(Str(2000))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: the resident's feedback at the return visit (回访) that closes the event
    feedback: Mapped[str | None] = mapped_column(Str(1000))
    satisfied: Mapped[bool | None] = mapped_column(Flag)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: an event reported from a patrol finding stays linked to it
    source_kind: Mapped[str | None] = mapped_column(Str(16))
    source_id: Mapped[int | None] = mapped_column(Int)
    #: turned over to a mediation case (its id once opened) or to the patrol team for a follow-up
    handed_to: Mapped[str | None] = mapped_column(Str(16))
    handed_id: Mapped[int | None] = mapped_column(Int)

    grid: Mapped[Grid | None] = relationship()
    household = relationship("Household")
    reporter = relationship("User", foreign_keys=[reporter_id])
    assignee = relationship("User", foreign_keys=[assignee_id])
    steps: Mapped[list[EventStep]] = relationship(back_populates="event", order_by="EventStep.id")

    __table_args__ = (
        sa.UniqueConstraint("village_id", "year", "seq", name="uq_grid_events_number"),
        sa.UniqueConstraint("source_kind", "source_id", name="uq_grid_events_source"),
        one_of("kind", EventKind, "kind_known"),
        one_of("priority", Priority, "priority_known"),
        one_of("status", EventStatus, "status_known"),
        sa.CheckConstraint("handed_to IS NULL OR handed_to IN ('mediation_case','patrol')", name="handed_known"),
        sa.CheckConstraint("seq BETWEEN 1 AND 999999", name="seq_bounded"),
        sa.Index("ix_grid_events_village_status", "village_id", "status"),
        {"sqlite_strict": True},
    )

    @property
    def number(self) -> str:
        return f"{self.year}-网-{self.seq:04d}"


class EventStep(Model):
    """One move of an event (reported, accepted, assigned …) with who and when: the event's history."""

    __tablename__ = "grid_event_steps"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"), index=True)
    event_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("grid_events.id"), index=True)
    action: Mapped[str] = mapped_column(Str(16))
    status: Mapped[str] = mapped_column(Str(12))
    note: Mapped[str | None] = mapped_column(Str(1000))
    actor_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("users.id"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    event: Mapped[GridEvent] = relationship(back_populates="steps")
    actor = relationship("User")

    __table_args__ = (one_of("status", EventStatus, "status_known"), {"sqlite_strict": True})
