"""Patrol duty: teams and their members, routes with checkpoints, shifts with attendance, check-ins, logs.

Every row carries the village it belongs to. A team is kept by one village: a township's professional team is
kept by the village the township records it under (its level says "township") and may take members from any
village of the township; its shifts and points still run through that village's books, while each member's
points go to the member's own household (in the member's village) through the points services.

Times are stored in UTC (`UTCDateTime`); a shift's day and window are shown in the village's zone. A night
shift from 23:00 to 06:00 is one row whose end is the next morning.
"""
from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Day, Flag, Int, Str, UTCDateTime, one_of, utcnow
from ..extensions import Model


class TeamLevel(str, enum.Enum):
    TOWNSHIP = "township"  # 乡镇巡逻队
    VILLAGE = "village"  # 村巡逻队
    GROUP = "group"  # 村民小组巡逻队


class TeamKind(str, enum.Enum):
    VOLUNTEER = "volunteer"  # 义务巡逻队
    PAID = "paid"  # 专职/治安巡逻队
    JOINT = "joint"  # 联防队


class MemberStatus(str, enum.Enum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    LEFT = "left"


class ShiftStatus(str, enum.Enum):
    PLANNED = "planned"
    CONFIRMED = "confirmed"  # the leader closed it: attendance final, points recorded
    CANCELLED = "cancelled"


class Attendance(str, enum.Enum):
    PLANNED = "planned"
    PRESENT = "present"
    LATE = "late"
    ABSENT = "absent"
    LEAVE = "leave"
    SUBSTITUTE = "substitute"  # walked in another member's place


class FindingKind(str, enum.Enum):
    HAZARD = "hazard"  # 安全隐患
    SUSPICIOUS = "suspicious"  # 可疑人员
    DISPUTE = "dispute"  # 纠纷
    FIRE = "fire"  # 火情
    OTHER = "other"  # 其他


class FindingAction(str, enum.Enum):
    ON_THE_SPOT = "on_the_spot"  # 当场处置
    TO_COMMITTEE = "to_committee"  # 上报村委
    TO_POLICE = "to_police"  # 移交派出所
    TO_MEDIATION = "to_mediation"  # 转调解
    TO_GRID = "to_grid"  # 转网格事件



class PatrolTeam(Model):
    __tablename__ = "patrol_teams"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"), index=True)
    name: Mapped[str] = mapped_column(Str(64))
    level: Mapped[str] = mapped_column(Str(10), default=TeamLevel.VILLAGE.value)
    kind: Mapped[str] = mapped_column(Str(10), default=TeamKind.VOLUNTEER.value)
    #: the villager group a group-level team patrols
    group_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("villager_groups.id"))
    leader_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("people.id"))
    #: the police station's community officer (社区民警) who guides the team: name and phone as written
    police_liaison: Mapped[str | None] = mapped_column(Str(100))
    #: shifts each member should walk a month (county rule: 每月不少于8次)
    monthly_minimum: Mapped[int] = mapped_column(Int, default=8)
    #: the scheme's items a confirmed shift records: one per member present (a night shift takes the night
    #: item when there is one, which is how a scheme weights nights), and the deduction for an absence
    #: without leave; caps are the items' own, enforced at review like any entry's
    shift_item_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("point_items.id"))
    night_item_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("point_items.id"))
    absence_item_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("point_items.id"))
    active: Mapped[bool] = mapped_column(Flag, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    members: Mapped[list[PatrolMember]] = relationship(back_populates="team", order_by="PatrolMember.id")
    routes: Mapped[list[PatrolRoute]] = relationship(back_populates="team", order_by="PatrolRoute.name")
    leader = relationship("Person", foreign_keys=[leader_id])
    group = relationship("VillagerGroup")
    shift_item = relationship("PointItem", foreign_keys=[shift_item_id])
    night_item = relationship("PointItem", foreign_keys=[night_item_id])
    absence_item = relationship("PointItem", foreign_keys=[absence_item_id])

    __table_args__ = (
        sa.UniqueConstraint("village_id", "name", name="uq_patrol_teams_village_name"),
        one_of("level", TeamLevel, "level_known"),
        one_of("kind", TeamKind, "kind_known"),
        sa.CheckConstraint("monthly_minimum BETWEEN 0 AND 31", name="minimum_bounded"),
        {"sqlite_strict": True},
    )


class PatrolMember(Model):
    """A person's place in a team; the status history is in PatrolMemberEvent."""

    __tablename__ = "patrol_members"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"), index=True)
    team_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("patrol_teams.id"), index=True)
    person_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("people.id"), index=True)
    #: the member's own log-in on the phone (check-ins), when they have one
    user_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(Str(10), default=MemberStatus.ACTIVE.value)
    joined_on: Mapped[dt.date] = mapped_column(Day)
    left_on: Mapped[dt.date | None] = mapped_column(Day)
    #: 佩证上岗: the number on the duty badge
    badge_no: Mapped[str | None] = mapped_column(Str(32))

    team: Mapped[PatrolTeam] = relationship(back_populates="members")
    person = relationship("Person")
    events: Mapped[list[PatrolMemberEvent]] = relationship(back_populates="member",
                                                           order_by="PatrolMemberEvent.id")

    __table_args__ = (
        sa.UniqueConstraint("team_id", "person_id", name="uq_patrol_members_team_person"),
        one_of("status", MemberStatus, "status_known"),
        {"sqlite_strict": True},
    )


class PatrolMemberEvent(Model):
    """One change of a member's status (joined, suspended, back, left), kept for the history page."""

    __tablename__ = "patrol_member_events"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"), index=True)
    member_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("patrol_members.id"), index=True)
    status: Mapped[str] = mapped_column(Str(10))
    on: Mapped[dt.date] = mapped_column(Day)
    note: Mapped[str | None] = mapped_column(Str(200))
    recorded_by_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("users.id"))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    member: Mapped[PatrolMember] = relationship(back_populates="events")

    __table_args__ = (one_of("status", MemberStatus, "status_known"), {"sqlite_strict": True})


class PatrolLeave(Model):
    """Days a member cannot patrol (请假 or otherwise unavailable); the roster keeps them free."""

    __tablename__ = "patrol_leaves"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"), index=True)
    member_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("patrol_members.id"), index=True)
    starts_on: Mapped[dt.date] = mapped_column(Day)
    ends_on: Mapped[dt.date] = mapped_column(Day)
    reason: Mapped[str | None] = mapped_column(Str(200))
    recorded_by_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("users.id"))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (sa.CheckConstraint("ends_on >= starts_on", name="days_ordered"), {"sqlite_strict": True})


class PatrolRoute(Model):
    __tablename__ = "patrol_routes"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"), index=True)
    team_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("patrol_teams.id"), index=True)
    name: Mapped[str] = mapped_column(Str(64))
    active: Mapped[bool] = mapped_column(Flag, default=True)

    team: Mapped[PatrolTeam] = relationship(back_populates="routes")
    checkpoints: Mapped[list[PatrolCheckpoint]] = relationship(back_populates="route",
                                                               order_by="PatrolCheckpoint.sort")

    __table_args__ = (sa.UniqueConstraint("team_id", "name", name="uq_patrol_routes_team_name"),
                      {"sqlite_strict": True})


class PatrolCheckpoint(Model):
    """A named point on a route with a QR sticker; the sticker holds a random token, never the id."""

    __tablename__ = "patrol_checkpoints"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"), index=True)
    route_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("patrol_routes.id"), index=True)
    name: Mapped[str] = mapped_column(Str(64))
    sort: Mapped[int] = mapped_column(Int, default=0)
    #: random, in the sticker's URL; a reprinted sticker gets a new one and the old stops working
    token: Mapped[str] = mapped_column(Str(32))
    active: Mapped[bool] = mapped_column(Flag, default=True)

    route: Mapped[PatrolRoute] = relationship(back_populates="checkpoints")

    __table_args__ = (
        sa.UniqueConstraint("token", name="uq_patrol_checkpoints_token"),
        sa.UniqueConstraint("route_id", "name", name="uq_patrol_checkpoints_route_name"),
        {"sqlite_strict": True},
    )


class PatrolShift(Model):
    __tablename__ = "patrol_shifts"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"), index=True)
    team_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("patrol_teams.id"))
    route_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("patrol_routes.id"))
    #: the village-local day the shift belongs to (a night shift's evening), for rosters and month reports
    day: Mapped[dt.date] = mapped_column(Day)
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    needed: Mapped[int] = mapped_column(Int, default=1)
    status: Mapped[str] = mapped_column(Str(10), default=ShiftStatus.PLANNED.value)
    weather: Mapped[str | None] = mapped_column(Str(32))
    confirmed_by_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("users.id"))
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    team: Mapped[PatrolTeam] = relationship()
    route: Mapped[PatrolRoute | None] = relationship()
    places: Mapped[list[PatrolPlace]] = relationship(back_populates="shift", order_by="PatrolPlace.id")

    __table_args__ = (
        sa.Index("ix_patrol_shifts_team_day", "team_id", "day"),
        sa.CheckConstraint("ends_at > starts_at", name="times_ordered"),
        sa.CheckConstraint("needed BETWEEN 1 AND 50", name="needed_bounded"),
        one_of("status", ShiftStatus, "status_known"),
        {"sqlite_strict": True},
    )


class PatrolPlace(Model):
    """A member booked on a shift, and what happened: attendance, sign-in and -out, the points entry."""

    __tablename__ = "patrol_places"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"), index=True)
    shift_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("patrol_shifts.id"))
    member_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("patrol_members.id"), index=True)
    attendance: Mapped[str] = mapped_column(Str(10), default=Attendance.PLANNED.value)
    #: for a substitute: the member whose place was taken
    instead_of_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("patrol_members.id"))
    signed_in_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    signed_out_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: the points entry this place earned or drew (reversed and replaced when attendance is corrected)
    entry_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("point_entries.id"))

    shift: Mapped[PatrolShift] = relationship(back_populates="places")
    member: Mapped[PatrolMember] = relationship(foreign_keys=[member_id])
    instead_of: Mapped[PatrolMember | None] = relationship(foreign_keys=[instead_of_id])

    __table_args__ = (
        sa.UniqueConstraint("shift_id", "member_id", name="uq_patrol_places_shift_member"),
        one_of("attendance", Attendance, "attendance_known"),
        {"sqlite_strict": True},
    )


class PatrolSwap(Model):
    """A place handed from one member to another after the roster was made (换班), kept for the record."""

    __tablename__ = "patrol_swaps"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"), index=True)
    shift_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("patrol_shifts.id"), index=True)
    from_member_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("patrol_members.id"))
    to_member_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("patrol_members.id"))
    note: Mapped[str | None] = mapped_column(Str(200))
    recorded_by_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("users.id"))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (sa.CheckConstraint("from_member_id <> to_member_id", name="two_members"),
                      {"sqlite_strict": True})


class PatrolCheckIn(Model):
    """A member reached a checkpoint during their shift (scanned its sticker); one per member and point."""

    __tablename__ = "patrol_check_ins"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"), index=True)
    shift_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("patrol_shifts.id"), index=True)
    checkpoint_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("patrol_checkpoints.id"))
    member_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("patrol_members.id"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("shift_id", "checkpoint_id", "member_id", name="uq_patrol_check_ins_once"),
        {"sqlite_strict": True},
    )


class PatrolInspection(Model):
    """A cadre's or police officer's spot-check (抽查) of a shift."""

    __tablename__ = "patrol_inspections"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"), index=True)
    shift_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("patrol_shifts.id"), index=True)
    inspector: Mapped[str] = mapped_column(Str(64))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    result: Mapped[str] = mapped_column(Str(500))
    recorded_by_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("users.id"))

    __table_args__ = ({"sqlite_strict": True},)


class PatrolFinding(Model):
    """One line of the patrol log (巡逻台账): what was found and what was done about it.

    `ref_kind`/`ref_id` point at the mediation case or grid event a finding was turned over to, once those
    features record it; until then they stay empty and the action alone says where it went.
    """

    __tablename__ = "patrol_findings"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"), index=True)
    shift_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("patrol_shifts.id"), index=True)
    kind: Mapped[str] = mapped_column(Str(12))
    text: Mapped[str] = mapped_column(Str(1000))
    #: generated file name under instance/, never the uploaded name
    photo_file: Mapped[str | None] = mapped_column(Str(80))
    action: Mapped[str] = mapped_column(Str(14))
    ref_kind: Mapped[str | None] = mapped_column(Str(16))
    ref_id: Mapped[int | None] = mapped_column(Int)
    recorded_by_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("users.id"))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        one_of("kind", FindingKind, "kind_known"),
        one_of("action", FindingAction, "action_known"),
        {"sqlite_strict": True},
    )
