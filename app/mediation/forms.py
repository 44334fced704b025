"""Mediation forms: the register form with its two parties, and the forms of the case page."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, SelectField, SubmitField
from wtforms.validators import DataRequired, Length, Optional

from ..forms import (
    CleanStringField,
    CleanTextAreaField,
    ClockField,
    Form,
    IdempotentForm,
    LooseDateField,
    WholeNumberField,
    options,
)
from .models import DisputeType, Intake, Level, Performed, Risk, SessionKind
from .services import CaseData, PartyData

INTAKES = {Intake.DESK.value: _l("desk (坐班门诊)"), Intake.VILLAGE_VISIT.value: _l("village visit (进村出诊)"),
           Intake.GRID_REPORT.value: _l("a grid worker's report"), Intake.PATROL_REPORT.value: _l("a patrol's report"),
           Intake.REFERRAL.value: _l("referral"), Intake.SELF_INITIATED.value: _l("found by the committee (主动排查)")}
TYPES = {DisputeType.FAMILY.value: _l("marriage and family (婚姻家庭)"), DisputeType.NEIGHBOUR.value: _l("neighbours (邻里)"),
         DisputeType.HOMESTEAD.value: _l("homestead (宅基地)"), DisputeType.LAND_CONTRACT.value: _l("land contract (土地承包)"),
         DisputeType.SUPPORT.value: _l("support of parents (赡养)"), DisputeType.DEBT.value: _l("debt (债务)"),
         DisputeType.DAMAGES.value: _l("damages (损害赔偿)"), DisputeType.FOREST.value: _l("hills and forest (山林)"),
         DisputeType.OTHER.value: _l("other (其他)")}
LEVELS = {Level.MASSES.value: _l("the villagers (群众)"), Level.JOINT_DEFENCE.value: _l("joint defence team (治安联防队)"),
          Level.VILLAGER_GROUP.value: _l("villager group (村民小组)"),
          Level.VILLAGE_COMMITTEE.value: _l("village committee (村委会)"),
          Level.POLICE_STATION.value: _l("police station (派出所)"), Level.TOWNSHIP.value: _l("township (乡镇)")}
RISKS = {Risk.NORMAL.value: _l("normal"), Risk.MAY_ESCALATE.value: _l("may escalate (可能激化)")}
SESSION_KINDS = {SessionKind.DESK.value: _l("desk session (坐班门诊)"), SessionKind.VISIT.value: _l("village visit (进村出诊)"),
                 SessionKind.JOINT.value: _l("joint consultation (集体会诊)")}
PERFORMED = {Performed.YES.value: _l("carried out"), Performed.PARTLY.value: _l("partly carried out"),
             Performed.NO.value: _l("not carried out")}
STATUSES = {"registered": _l("registered (受理)"), "investigating": _l("investigating"), "mediating": _l("mediating"),
            "agreed": _l("agreed"), "performing": _l("being carried out"), "followed_up": _l("followed up (回访)"),
            "closed": _l("closed (结案)"), "not_accepted": _l("not accepted"), "failed": _l("no agreement"),
            "escalated": _l("handed up")}
ACTIONS = {"investigate": _l("Start the investigation"), "mediate": _l("Start mediating"),
           "refuse": _l("Not accepted"), "fail": _l("No agreement"), "escalate": _l("Hand up"),
           "perform": _l("Being carried out"), "close": _l("Close the case")}


def _party_fields(prefix: str, label) -> dict:
    return {
        f"{prefix}name": CleanStringField(label, validators=[DataRequired(), Length(max=64)]),
        f"{prefix}sex": SelectField(_l("Sex"), choices=lambda: options([("", "—"), ("男", _l("male")), ("女", _l("female"))]),
                                    validators=[Optional()]),
        f"{prefix}ethnicity": CleanStringField(_l("Ethnicity"), validators=[Optional(), Length(max=16)]),
        f"{prefix}age": WholeNumberField(_l("Age"), validators=[Optional()], lo=0, hi=130),
        f"{prefix}occupation": CleanStringField(_l("Occupation"), validators=[Optional(), Length(max=64)]),
        f"{prefix}phone": CleanStringField(_l("Phone"), validators=[Optional(), Length(max=20)]),
        f"{prefix}address": CleanStringField(_l("Address or employer"), validators=[Optional(), Length(max=200)]),
        f"{prefix}agent": CleanStringField(_l("Agent"), validators=[Optional(), Length(max=64)]),
        f"{prefix}number": CleanStringField(_l("Household number in the register (links the person)"),
                                           validators=[Optional(), Length(max=20)]),
    }


class CaseForm(IdempotentForm):
    received_on = LooseDateField(_l("Received on"), validators=[DataRequired()])
    intake = SelectField(_l("How it came in"), choices=lambda: options(INTAKES.items()))
    dispute_type = SelectField(_l("Kind of dispute"), choices=lambda: options(TYPES.items()))
    summary = CleanTextAreaField(_l("What the dispute is about"), validators=[DataRequired(), Length(max=2000)])
    amount = WholeNumberField(_l("Amount in dispute (yuan)"), validators=[Optional()], lo=0, hi=1_000_000_000)
    risk = SelectField(_l("Risk"), choices=lambda: options(RISKS.items()))
    level = SelectField(_l("Handled at"), choices=lambda: options(LEVELS.items()), default=Level.VILLAGE_COMMITTEE.value)
    submit = SubmitField(_l("Register the case"))

    def case_data(self) -> CaseData:
        return CaseData(received_on=self.received_on.data, intake=self.intake.data,
                        dispute_type=self.dispute_type.data, summary=self.summary.data, amount=self.amount.data,
                        risk=self.risk.data, level=self.level.data)

    def party(self, prefix: str, role: str, person_id: int | None) -> PartyData:
        get = lambda name: getattr(self, prefix + name).data  # noqa: E731
        return PartyData(role=role, name=get("name"), sex=get("sex") or None, ethnicity=get("ethnicity"),
                         age=get("age"), occupation=get("occupation"), phone=get("phone"), address=get("address"),
                         agent=get("agent"), person_id=person_id)


# each party's fields, prefixed a_ (applicant) and r_ (respondent); WTForms' FormMeta takes fields set later
for _prefix, _label in (("a_", _l("Applicant")), ("r_", _l("Respondent"))):
    for _name, _field in _party_fields(_prefix, _label).items():
        setattr(CaseForm, _name, _field)


class MoveForm(Form):
    action = SelectField(_l("Next step"))
    note = CleanTextAreaField(_l("Reason, routes told, or to whom"), validators=[Optional(), Length(max=1000)])
    submit = SubmitField(_l("Save"))


class LevelForm(Form):
    level = SelectField(_l("Now handled at"), choices=lambda: options(LEVELS.items()))
    on = LooseDateField(_l("From"), validators=[DataRequired()])
    note = CleanStringField(_l("Why"), validators=[Optional(), Length(max=500)])
    submit = SubmitField(_l("Move on the ladder"))


class SessionForm(Form):
    kind = SelectField(_l("Kind"), choices=lambda: options(SESSION_KINDS.items()))
    day = LooseDateField(_l("Day"), validators=[DataRequired()])
    time = ClockField(_l("Time"), validators=[DataRequired()])
    place = CleanStringField(_l("Place"), validators=[DataRequired(), Length(max=100)])
    attendees = CleanStringField(_l("Attendees"), validators=[DataRequired(), Length(max=500)])
    record = CleanTextAreaField(_l("Record (调解笔录)"), validators=[DataRequired(), Length(max=10000)])
    submit = SubmitField(_l("Save the record"))


class AgreementForm(Form):
    oral = BooleanField(_l("Oral agreement (口头协议)"))
    facts = CleanTextAreaField(_l("Main facts and matters in dispute"), validators=[DataRequired(), Length(max=5000)])
    terms = CleanTextAreaField(_l("Agreed after mediation"), validators=[DataRequired(), Length(max=5000)])
    performance = CleanTextAreaField(_l("How, where and by when"), validators=[DataRequired(), Length(max=1000)])
    perform_by = LooseDateField(_l("To be carried out by"), validators=[Optional()])
    copies = WholeNumberField(_l("Copies"), validators=[DataRequired()], lo=1, hi=20, default=3)
    signed_on = LooseDateField(_l("Signed on"), validators=[DataRequired()])
    recorder = CleanStringField(_l("Recorder"), validators=[Optional(), Length(max=64)])
    submit = SubmitField(_l("Record the agreement"))


class FollowUpForm(Form):
    visited_on = LooseDateField(_l("Visited on"), validators=[DataRequired()])
    visited = CleanStringField(_l("Person visited"), validators=[DataRequired(), Length(max=100)])
    performed = SelectField(_l("Agreement"), choices=lambda: options(PERFORMED.items()))
    findings = CleanTextAreaField(_l("Findings"), validators=[DataRequired(), Length(max=2000)])
    submit = SubmitField(_l("Save the follow-up visit"))


class AssignForm(Form):
    user_id = SelectField(_l("Mediator"), coerce=int)
    submit = SubmitField(_l("Add to the case"))


class ProposalForm(Form):
    """Points proposed on closing for a villager who helped (an elder, a neighbour): reviewed like any entry."""

    number = CleanStringField(_l("Household number"), validators=[DataRequired(), Length(max=20)])
    name = CleanStringField(_l("Name"), validators=[DataRequired(), Length(max=64)])
    item_id = SelectField(_l("Points item"), coerce=int)
    submit = SubmitField(_l("Propose the points"))
