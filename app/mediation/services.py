"""Mediation verbs: register a case, assign mediators, move it on the ladder and through its states, record
sessions, the agreement and follow-up visits, close it.

Every verb flushes and writes its audit row (ids and codes only: names, statements and terms never enter the
chain); the caller's transaction commits. Reading a case is audited too (`read`), by the views.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import gettext as _

from ..audit.services import record
from ..db import local_today
from ..extensions import db
from ..registry.models import Person, Village
from .errors import MediationError
from .models import (
    Agreement,
    CaseLevelChange,
    CaseMediator,
    CaseParty,
    CaseSession,
    CaseStatus,
    DisputeType,
    FollowUp,
    Intake,
    Level,
    MediationCase,
    MediationHead,
    PartyRole,
    Performed,
    Risk,
    SessionKind,
)
from .states import CASE

#: the sources a case may be opened from (patrol findings now, grid events when that feature exists)
SOURCES = ("patrol_finding", "grid_event")


@dataclass
class PartyData:
    role: str
    name: str
    sex: str | None = None
    ethnicity: str | None = None
    age: int | None = None
    occupation: str | None = None
    phone: str | None = None
    address: str | None = None
    agent: str | None = None
    person_id: int | None = None


@dataclass
class CaseData:
    received_on: dt.date
    intake: str
    dispute_type: str
    summary: str
    amount: int | None = None
    risk: str = Risk.NORMAL.value
    level: str = Level.VILLAGE_COMMITTEE.value


def _text(value: str | None, field: str, message: str) -> str:
    value = (value or "").strip()
    if not value:
        raise MediationError(message, field)
    return value


def _check_case(data: CaseData, today: dt.date) -> None:
    if data.intake not in {i.value for i in Intake}:
        raise MediationError(_("Choose how the case came in from the list."), "intake")
    if data.dispute_type not in {t.value for t in DisputeType}:
        raise MediationError(_("Choose the kind of dispute from the list."), "dispute_type")
    if data.level not in {lv.value for lv in Level}:
        raise MediationError(_("Choose the level from the list."), "level")
    if data.risk not in {r.value for r in Risk}:
        raise MediationError(_("Choose the risk from the list."), "risk")
    if data.received_on > today:
        raise MediationError(_("The date cannot be in the future."), "received_on")
    if data.amount is not None and not 0 <= data.amount <= 1_000_000_000:
        raise MediationError(_("The amount in dispute is in whole yuan, at most 1,000,000,000."), "amount")
    _text(data.summary, "summary", _("Please write what the dispute is about."))


def _check_party(village: Village, p: PartyData) -> None:
    if p.role not in {r.value for r in PartyRole}:
        raise MediationError(_("Each party is an applicant or a respondent."), "parties")
    _text(p.name, "parties", _("Each party needs a name."))
    if p.age is not None and not 0 <= p.age <= 130:
        raise MediationError(_("An age is between 0 and 130."), "parties")
    if p.person_id is not None:
        person = db.session.get(Person, p.person_id)
        if person is None or person.village_id != village.id:
            raise MediationError(_("Choose the person from this village's register."), "parties")


def register_case(village: Village, data: CaseData, parties: list[PartyData], *, mediators=(), actor=None,
                  source: tuple[str, int] | None = None, today: dt.date | None = None) -> MediationCase:
    """受理: number the case per village and year (2026-调-017), with its parties and mediators."""
    today = today or local_today()
    _check_case(data, today)
    if not any(p.role == PartyRole.APPLICANT.value for p in parties) or \
            not any(p.role == PartyRole.RESPONDENT.value for p in parties):
        raise MediationError(_("A dispute has at least one applicant and one respondent."), "parties")
    for p in parties:
        _check_party(village, p)
    if source is not None:
        if source[0] not in SOURCES:
            raise MediationError(_("Unknown source."))
        if db.session.scalar(sa.select(MediationCase.id).where(MediationCase.source_kind == source[0],
                                                               MediationCase.source_id == source[1])):
            raise MediationError(_("A case has already been opened from this report."))
    year = data.received_on.year
    # the next number of the year; two clerks at once collide on the unique number and the second is
    # tried again by app.submission (a unique violation reruns the action)
    seq = (db.session.scalar(sa.select(sa.func.max(MediationCase.seq)).where(
        MediationCase.village_id == village.id, MediationCase.year == year)) or 0) + 1
    case = MediationCase(village_id=village.id, year=year, seq=seq, received_on=data.received_on,
                         intake=data.intake, dispute_type=data.dispute_type, summary=data.summary.strip(),
                         amount=data.amount, risk=data.risk, level=data.level,
                         source_kind=source[0] if source else None, source_id=source[1] if source else None,
                         created_by_id=actor.id if actor is not None else None)
    db.session.add(case)
    db.session.flush()
    for p in parties:
        db.session.add(CaseParty(village_id=village.id, case_id=case.id, **{
            k: (v.strip() or None) if isinstance(v, str) else v for k, v in p.__dict__.items()}))
    db.session.add(CaseLevelChange(village_id=village.id, case_id=case.id, from_level=None, to_level=data.level,
                                   on=data.received_on, recorded_by_id=actor.id if actor else None))
    for user in mediators:
        assign(case, user)
    db.session.flush()
    record("mediation.register", case, details={"number": case.number, "kind": data.dispute_type,
                                                "source": source[0] if source else None},
           changed=["parties", "summary"])
    return case


def is_head(village_id: int, user) -> bool:
    return db.session.scalar(sa.select(MediationHead.id).where(MediationHead.village_id == village_id,
                                                               MediationHead.user_id == user.id)) is not None


def set_head(village: Village, user) -> None:
    if not is_head(village.id, user):
        db.session.add(MediationHead(village_id=village.id, user_id=user.id))
        db.session.flush()
        record("mediation.head", village_id=village.id, details={"by": user.id})


def can_read(case: MediationCase, user) -> bool:
    """Only the case's mediators and the village's mediation head read a case's details."""
    return any(m.user_id == user.id for m in case.mediators) or is_head(case.village_id, user)


def assign(case: MediationCase, user) -> CaseMediator:
    if any(m.user_id == user.id for m in case.mediators):
        raise MediationError(_("This mediator is already on the case."), "mediator")
    link = CaseMediator(village_id=case.village_id, case_id=case.id, user_id=user.id)
    db.session.add(link)
    case.mediators.append(link)
    db.session.flush()
    record("mediation.assign", case, details={"by": user.id})
    return link


def read(case: MediationCase, user) -> None:
    """Every read of a case's details is audited (who read which case, when)."""
    record("mediation.read", case, details={"by": user.id})


def move_level(case: MediationCase, to_level: str, *, on: dt.date, note: str | None = None,
               actor=None) -> CaseLevelChange:
    """The case is handled at another level of the ladder (群众 → … → 派出所); the history is kept."""
    if to_level not in {lv.value for lv in Level}:
        raise MediationError(_("Choose the level from the list."), "level")
    if to_level == case.level:
        raise MediationError(_("The case is already handled at this level."), "level")
    change = CaseLevelChange(village_id=case.village_id, case_id=case.id, from_level=case.level, to_level=to_level,
                             on=on, note=(note or "").strip() or None, recorded_by_id=actor.id if actor else None)
    db.session.add(change)
    case.level = to_level
    db.session.flush()
    record("mediation.level", case, details={"from": change.from_level, "to": to_level})
    return change


def move(case: MediationCase, action: str, *, note: str | None = None, actor=None,
         today: dt.date | None = None) -> MediationCase:
    """investigate, mediate, refuse (reason), fail (routes told), escalate (to whom), perform, close."""
    status = CASE.move(case.status, action)
    note = (note or "").strip() or None
    if action in ("refuse", "fail", "escalate") and not note:
        raise MediationError({
            "refuse": _("Please write why the case is not accepted."),
            "fail": _("Please write which routes the parties were told of (arbitration, administrative bodies, "
                      "court)."),
            "escalate": _("Please write to whom the case was handed."),
        }[action], "note")
    case.status = status
    if note:
        case.outcome_note = note
    if status in (CaseStatus.CLOSED.value, CaseStatus.NOT_ACCEPTED.value, CaseStatus.FAILED.value,
                  CaseStatus.ESCALATED.value):
        case.closed_on = today or local_today()
    db.session.flush()
    record("mediation." + action, case, details={"status": status}, changed=["outcome_note"] if note else None)
    return case


def add_session(case: MediationCase, *, kind: str, at: dt.datetime, place: str, attendees: str, text: str,
                actor=None) -> CaseSession:
    if kind not in {k.value for k in SessionKind} or kind == SessionKind.FOLLOW_UP.value:
        raise MediationError(_("Choose the kind of session from the list."), "kind")
    CASE.move(case.status, "record_session")
    session = CaseSession(village_id=case.village_id, case_id=case.id, kind=kind, at=at,
                          place=_text(place, "place", _("Please write where the session was held.")),
                          attendees=_text(attendees, "attendees", _("Please write who attended.")),
                          record=_text(text, "record", _("Please write the record of the session.")),
                          recorded_by_id=actor.id if actor else None)
    db.session.add(session)
    db.session.flush()
    record("mediation.session", case, details={"kind": kind})
    return session


def record_agreement(case: MediationCase, *, facts: str, terms: str, performance: str, signed_on: dt.date,
                     perform_by: dt.date | None = None, copies: int = 3, oral: bool = False,
                     recorder: str | None = None, actor=None, today: dt.date | None = None) -> Agreement:
    """经调解，自愿达成如下协议: the case moves to agreed."""
    status = CASE.move(case.status, "agree")
    today = today or local_today()
    if signed_on > today:
        raise MediationError(_("The date cannot be in the future."), "signed_on")
    if perform_by is not None and perform_by < signed_on:
        raise MediationError(_("The agreement cannot be due before it is signed."), "perform_by")
    if not 1 <= copies <= 20:
        raise MediationError(_("Between 1 and 20 copies."), "copies")
    agreement = Agreement(village_id=case.village_id, case_id=case.id, oral=oral,
                          facts=_text(facts, "facts", _("Please write the facts and the matters in dispute.")),
                          terms=_text(terms, "terms", _("Please write the terms agreed.")),
                          performance=_text(performance, "performance",
                                            _("Please write how, where and by when the terms are carried out.")),
                          perform_by=perform_by, copies=copies, signed_on=signed_on,
                          recorder=(recorder or "").strip() or None, recorded_by_id=actor.id if actor else None)
    db.session.add(agreement)
    case.status = status
    db.session.flush()
    record("mediation.agree", case, details={"status": status}, changed=["facts", "terms", "performance"])
    return agreement


def record_follow_up(case: MediationCase, *, visited_on: dt.date, visited: str, performed: str, findings: str,
                     actor=None, today: dt.date | None = None) -> FollowUp:
    """回访: was the agreement carried out."""
    status = CASE.move(case.status, "follow_up")
    if performed not in {p.value for p in Performed}:
        raise MediationError(_("Choose whether the agreement was carried out."), "performed")
    if visited_on > (today or local_today()):
        raise MediationError(_("The date cannot be in the future."), "visited_on")
    if case.agreement is not None and visited_on < case.agreement.signed_on:
        raise MediationError(_("A follow-up visit comes after the agreement."), "visited_on")
    visit = FollowUp(village_id=case.village_id, case_id=case.id, visited_on=visited_on,
                     visited=_text(visited, "visited", _("Please write whom you visited.")), performed=performed,
                     findings=_text(findings, "findings", _("Please write what the visit found.")),
                     visitor_id=actor.id if actor else None)
    db.session.add(visit)
    case.follow_ups.append(visit)
    case.status = status
    db.session.flush()
    record("mediation.follow_up", case, details={"status": status})
    return visit


def follow_ups_due(village_id: int, today: dt.date | None = None, *, after_days: int = 30) -> list[MediationCase]:
    """Agreed or performing cases without a follow-up visit: due from the agreement's date (or its deadline)
    plus `after_days`; overdue ones first."""
    today = today or local_today()
    cases = db.session.scalars(sa.select(MediationCase).where(
        MediationCase.village_id == village_id,
        MediationCase.status.in_((CaseStatus.AGREED.value, CaseStatus.PERFORMING.value)))).all()
    return sorted(cases, key=lambda c: due_on(c, after_days))


def due_on(case: MediationCase, after_days: int = 30) -> dt.date:
    agreement = case.agreement
    base = (agreement.perform_by or agreement.signed_on) if agreement else case.received_on
    return base + dt.timedelta(days=after_days)
