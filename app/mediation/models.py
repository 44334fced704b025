"""Mediation cases (矛盾纠纷调解): the case with its parties, mediators and level history, sessions (调解笔录),
the agreement (调解协议书) and follow-up visits (回访).

Mediation records are sensitive personal information: only the case's mediators and the village's mediation
head read a case (app/mediation/access.py); everyone else with mediation access sees counts. Every read of a
case writes an audit row.
"""
from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Day, Flag, Int, Str, UTCDateTime, one_of, utcnow
from ..extensions import Model


class CaseStatus(str, enum.Enum):
    REGISTERED = "registered"  # 受理
    INVESTIGATING = "investigating"  # 调查
    MEDIATING = "mediating"  # 调解中
    AGREED = "agreed"  # 达成协议 (written or oral)
    PERFORMING = "performing"  # 履行中
    FOLLOWED_UP = "followed_up"  # 已回访
    CLOSED = "closed"  # 结案归档
    NOT_ACCEPTED = "not_accepted"  # 不予受理
    FAILED = "failed"  # 调解不成 (the other routes told)
    ESCALATED = "escalated"  # 移交上级 / 派出所


class Intake(str, enum.Enum):
    DESK = "desk"  # 坐班门诊
    VILLAGE_VISIT = "village_visit"  # 进村出诊
    GRID_REPORT = "grid_report"  # 网格员上报
    PATROL_REPORT = "patrol_report"  # 巡逻发现
    REFERRAL = "referral"  # 移送/转交
    SELF_INITIATED = "self_initiated"  # 主动排查


class DisputeType(str, enum.Enum):
    FAMILY = "family"  # 婚姻家庭
    NEIGHBOUR = "neighbour"  # 邻里
    HOMESTEAD = "homestead"  # 宅基地
    LAND_CONTRACT = "land_contract"  # 土地承包
    SUPPORT = "support"  # 赡养
    DEBT = "debt"  # 债务
    DAMAGES = "damages"  # 损害赔偿
    FOREST = "forest"  # 山林
    OTHER = "other"  # 其他


class Level(str, enum.Enum):
    """The five-level ladder where a dispute is handled (and the township above it, for escalations)."""

    MASSES = "masses"  # 群众
    JOINT_DEFENCE = "joint_defence"  # 治安联防队
    VILLAGER_GROUP = "villager_group"  # 村民小组
    VILLAGE_COMMITTEE = "village_committee"  # 村委会
    POLICE_STATION = "police_station"  # 派出所
    TOWNSHIP = "township"  # 乡镇 (司法所等)


#: levels that count as "inside the village" for 矛盾不出村
INSIDE_VILLAGE = (Level.MASSES.value, Level.JOINT_DEFENCE.value, Level.VILLAGER_GROUP.value,
                  Level.VILLAGE_COMMITTEE.value)


class Risk(str, enum.Enum):
    NORMAL = "normal"
    MAY_ESCALATE = "may_escalate"  # 可能激化


class PartyRole(str, enum.Enum):
    APPLICANT = "applicant"  # 申请人
    RESPONDENT = "respondent"  # 被申请人


class SessionKind(str, enum.Enum):
    DESK = "desk"  # 坐班门诊
    VISIT = "visit"  # 进村出诊
    JOINT = "joint"  # 集体会诊
    FOLLOW_UP = "follow_up"  # 上门复诊


class Performed(str, enum.Enum):
    YES = "yes"
    PARTLY = "partly"
    NO = "no"



class MediationCase(Model):
    __tablename__ = "mediation_cases"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"), index=True)
    #: the case number's parts: 2026-调-017 is year 2026, seq 17, numbered per village and year
    year: Mapped[int] = mapped_column(Int)
    seq: Mapped[int] = mapped_column(Int)
    received_on: Mapped[dt.date] = mapped_column(Day)
    intake: Mapped[str] = mapped_column(Str(16))
    dispute_type: Mapped[str] = mapped_column(Str(16))
    summary: Mapped[str] = mapped_column(Str(2000))
    #: in yuan, whole; None when the dispute is not about money
    amount: Mapped[int | None] = mapped_column(Int)
    risk: Mapped[str] = mapped_column(Str(14), default=Risk.NORMAL.value)
    level: Mapped[str] = mapped_column(Str(18), default=Level.VILLAGE_COMMITTEE.value)
    status: Mapped[str] = mapped_column(Str(14), default=CaseStatus.REGISTERED.value)
    #: why not accepted, the routes told when failed, to whom escalated; the closing note
    outcome_note: Mapped[str | None] = mapped_column(Str(1000))
    #: a case opened from a patrol finding or a grid event stays linked to it
    source_kind: Mapped[str | None] = mapped_column(Str(16))
    source_id: Mapped[int | None] = mapped_column(Int)
    closed_on: Mapped[dt.date | None] = mapped_column(Day)
    created_by_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    parties: Mapped[list[CaseParty]] = relationship(back_populates="case", order_by="CaseParty.id")
    mediators: Mapped[list[CaseMediator]] = relationship(back_populates="case", order_by="CaseMediator.id")
    levels: Mapped[list[CaseLevelChange]] = relationship(order_by="CaseLevelChange.id")
    sessions: Mapped[list[CaseSession]] = relationship(back_populates="case", order_by="CaseSession.at")
    agreement: Mapped[Agreement | None] = relationship(back_populates="case", uselist=False)
    follow_ups: Mapped[list[FollowUp]] = relationship(back_populates="case", order_by="FollowUp.visited_on")

    __table_args__ = (
        sa.UniqueConstraint("village_id", "year", "seq", name="uq_mediation_cases_number"),
        sa.UniqueConstraint("source_kind", "source_id", name="uq_mediation_cases_source"),
        one_of("status", CaseStatus, "status_known"),
        one_of("intake", Intake, "intake_known"),
        one_of("dispute_type", DisputeType, "type_known"),
        one_of("level", Level, "level_known"),
        one_of("risk", Risk, "risk_known"),
        sa.CheckConstraint("amount IS NULL OR amount BETWEEN 0 AND 1000000000", name="amount_bounded"),
        sa.CheckConstraint("seq BETWEEN 1 AND 99999", name="seq_bounded"),
        {"sqlite_strict": True},
    )

    @property
    def number(self) -> str:
        return f"{self.year}-调-{self.seq:03d}"


class CaseParty(Model):
    """A party as the agreement prints them; linked to the register when the person is in it."""

    __tablename__ = "mediation_parties"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"), index=True)
    case_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("mediation_cases.id"), index=True)
    role: Mapped[str] = mapped_column(Str(12))
    name: Mapped[str] = mapped_column(Str(64))
    sex: Mapped[str | None] = mapped_column(Str(8))
    ethnicity: Mapped[str | None] = mapped_column(Str(16))
    age: Mapped[int | None] = mapped_column(Int)
    occupation: Mapped[str | None] = mapped_column(Str(64))
    phone: Mapped[str | None] = mapped_column(Str(20))
    address: Mapped[str | None] = mapped_column(Str(200))
    agent: Mapped[str | None] = mapped_column(Str(64))
    person_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("people.id"))

    case: Mapped[MediationCase] = relationship(back_populates="parties")

    __table_args__ = (
        one_of("role", PartyRole, "role_known"),
        sa.CheckConstraint("age IS NULL OR age BETWEEN 0 AND 130", name="age_bounded"),
        {"sqlite_strict": True},
    )


class CaseMediator(Model):
    __tablename__ = "mediation_case_mediators"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"), index=True)
    case_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("mediation_cases.id"), index=True)
    user_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("users.id"), index=True)

    case: Mapped[MediationCase] = relationship(back_populates="mediators")
    user = relationship("User")

    __table_args__ = (sa.UniqueConstraint("case_id", "user_id", name="uq_mediation_case_mediators_once"),
                      {"sqlite_strict": True})


class MediationHead(Model):
    """The village's mediation committee head (人民调解委员会主任): reads every case of the village."""

    __tablename__ = "mediation_heads"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"), index=True)
    user_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("users.id"))

    __table_args__ = (sa.UniqueConstraint("village_id", "user_id", name="uq_mediation_heads_once"),
                      {"sqlite_strict": True})


class CaseLevelChange(Model):
    """Where the case moved on the ladder, and why (the escalation history)."""

    __tablename__ = "mediation_level_changes"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"), index=True)
    case_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("mediation_cases.id"), index=True)
    from_level: Mapped[str | None] = mapped_column(Str(18))
    to_level: Mapped[str] = mapped_column(Str(18))
    on: Mapped[dt.date] = mapped_column(Day)
    note: Mapped[str | None] = mapped_column(Str(500))
    recorded_by_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("users.id"))

    __table_args__ = (one_of("to_level", Level, "to_level_known"), {"sqlite_strict": True})


class CaseSession(Model):
    """A session record (调解笔录): desk, village visit, joint consultation or follow-up home visit."""

    __tablename__ = "mediation_sessions"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"), index=True)
    case_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("mediation_cases.id"), index=True)
    kind: Mapped[str] = mapped_column(Str(10))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    place: Mapped[str] = mapped_column(Str(100))
    attendees: Mapped[str] = mapped_column(Str(500))
    record: Mapped[str] = mapped_column(Str(10000))
    recorded_by_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("users.id"))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[MediationCase] = relationship(back_populates="sessions")

    __table_args__ = (one_of("kind", SessionKind, "kind_known"), {"sqlite_strict": True})


class Agreement(Model):
    """The agreement (调解协议书) in the standard form; an oral agreement is recorded with `oral` set."""

    __tablename__ = "mediation_agreements"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"), index=True)
    case_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("mediation_cases.id"))
    oral: Mapped[bool] = mapped_column(Flag, default=False)
    facts: Mapped[str] = mapped_column(Str(5000))  # 纠纷主要事实、争议事项
    terms: Mapped[str] = mapped_column(Str(5000))  # 经调解，自愿达成如下协议
    performance: Mapped[str] = mapped_column(Str(1000))  # 履行方式、时限
    perform_by: Mapped[dt.date | None] = mapped_column(Day)
    copies: Mapped[int] = mapped_column(Int, default=3)
    signed_on: Mapped[dt.date] = mapped_column(Day)
    recorder: Mapped[str | None] = mapped_column(Str(64))
    recorded_by_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("users.id"))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[MediationCase] = relationship(back_populates="agreement")

    __table_args__ = (
        sa.UniqueConstraint("case_id", name="uq_mediation_agreements_case"),
        sa.CheckConstraint("copies BETWEEN 1 AND 20", name="copies_bounded"),
        {"sqlite_strict": True},
    )

    @property
    def confirmation_deadline(self) -> dt.date:
        """Parties may jointly apply for judicial confirmation (司法确认) within 30 days of the agreement."""
        return self.signed_on + dt.timedelta(days=30)


class FollowUp(Model):
    """A follow-up visit (回访) after an agreement: is it being carried out."""

    __tablename__ = "mediation_follow_ups"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"), index=True)
    case_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("mediation_cases.id"), index=True)
    visited_on: Mapped[dt.date] = mapped_column(Day)
    visited: Mapped[str] = mapped_column(Str(100))  # the person visited
    performed: Mapped[str] = mapped_column(Str(8))
    findings: Mapped[str] = mapped_column(Str(2000))
    visitor_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("users.id"))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[MediationCase] = relationship(back_populates="follow_ups")

    __table_args__ = (one_of("performed", Performed, "performed_known"), {"sqlite_strict": True})
