"""Patrol forms. Times are typed as 23:00 (a full-width colon too); ids come through choices the view sets."""
from __future__ import annotations

import datetime as dt

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, SelectField, SelectMultipleField, SubmitField
from wtforms.validators import DataRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from ..forms import (
    CleanStringField,
    CleanTextAreaField,
    ClockField,
    Form,
    LooseDateField,
    PhotoField,
    WholeNumberField,
    options,
)
from .models import Attendance, FindingAction, FindingKind, TeamKind, TeamLevel

LEVELS = {TeamLevel.VILLAGE.value: _l("village team"), TeamLevel.GROUP.value: _l("villager-group team"),
          TeamLevel.TOWNSHIP.value: _l("township team")}
KINDS = {TeamKind.VOLUNTEER.value: _l("volunteer (义务)"), TeamKind.PAID.value: _l("paid (专职)"),
         TeamKind.JOINT.value: _l("joint defence (联防)")}
ATTENDANCE = {Attendance.PRESENT.value: _l("present"), Attendance.LATE.value: _l("late"),
              Attendance.ABSENT.value: _l("absent"), Attendance.LEAVE.value: _l("on leave"),
              Attendance.SUBSTITUTE.value: _l("substitute"), Attendance.PLANNED.value: _l("not marked yet")}
FINDINGS = {FindingKind.HAZARD.value: _l("safety hazard (安全隐患)"),
            FindingKind.SUSPICIOUS.value: _l("suspicious person (可疑人员)"),
            FindingKind.DISPUTE.value: _l("dispute (纠纷)"), FindingKind.FIRE.value: _l("fire (火情)"),
            FindingKind.OTHER.value: _l("other (其他)")}
ACTIONS = {FindingAction.ON_THE_SPOT.value: _l("handled on the spot"),
           FindingAction.TO_COMMITTEE.value: _l("reported to the village committee"),
           FindingAction.TO_POLICE.value: _l("handed to the police station"),
           FindingAction.TO_MEDIATION.value: _l("turned over to mediation"),
           FindingAction.TO_GRID.value: _l("turned over as a grid event")}
MEMBER_ACTIONS = {"suspend": _l("Suspend"), "restore": _l("Restore"), "leave": _l("Left the team"),
                  "rejoin": _l("Rejoin")}
WEEKDAYS = [(0, _l("Mon")), (1, _l("Tue")), (2, _l("Wed")), (3, _l("Thu")), (4, _l("Fri")), (5, _l("Sat")),
            (6, _l("Sun"))]


class TeamForm(Form):
    name = CleanStringField(_l("Team name"), validators=[DataRequired(), Length(max=64)])
    level = SelectField(_l("Level"), choices=lambda: options(LEVELS.items()))
    kind = SelectField(_l("Kind"), choices=lambda: options(KINDS.items()))
    group_id = SelectField(_l("Villager group (for a group team)"), coerce=int, validators=[Optional()])
    #: choices: the team's active members (a new team has none yet: its leader is chosen once they are added)
    leader_id = SelectField(_l("Team leader"), coerce=int, validators=[Optional()])
    police_liaison = CleanStringField(_l("Police liaison (name and phone)"), validators=[Optional(), Length(max=100)])
    monthly_minimum = WholeNumberField(_l("Shifts each member should walk a month"), validators=[DataRequired()],
                                       lo=0, hi=31, default=8)
    shift_item_id = SelectField(_l("Points item for a shift walked"), coerce=int, validators=[Optional()])
    night_item_id = SelectField(_l("Points item for a night shift (if different)"), coerce=int,
                                validators=[Optional()])
    absence_item_id = SelectField(_l("Deduction item for an absence without leave"), coerce=int,
                                  validators=[Optional()])
    submit = SubmitField(_l("Save team"))


class MemberForm(Form):
    person_id = HiddenField()
    joined_on = LooseDateField(_l("Joined on"), validators=[DataRequired()])
    badge_no = CleanStringField(_l("Duty badge number"), validators=[Optional(), Length(max=32)])
    username = CleanStringField(_l("Phone log-in (user name), for check-ins"), validators=[Optional(), Length(max=64)])
    submit = SubmitField(_l("Add to the team"))

    def validate_person_id(self, field):
        if not (field.data or "").isascii() or not (field.data or "").isdigit() or len(field.data) > 9:
            raise ValidationError(_l("Choose a person from the search results."))


class MemberChangeForm(Form):
    action = SelectField(_l("Change"), choices=lambda: options(MEMBER_ACTIONS.items()))
    on = LooseDateField(_l("From"), validators=[DataRequired()])
    note = CleanStringField(_l("Note"), validators=[Optional(), Length(max=200)])
    submit = SubmitField(_l("Save"))


class LeaveForm(Form):
    starts_on = LooseDateField(_l("Leave from"), validators=[DataRequired()])
    ends_on = LooseDateField(_l("Leave until"), validators=[DataRequired()])
    reason = CleanStringField(_l("Reason"), validators=[Optional(), Length(max=200)])
    submit = SubmitField(_l("Record leave"))


class NameForm(Form):
    name = CleanStringField(_l("Name"), validators=[DataRequired(), Length(max=64)])
    submit = SubmitField(_l("Add"))


class ShiftsForm(Form):
    first_day = LooseDateField(_l("From"), validators=[DataRequired()])
    last_day = LooseDateField(_l("Until"), validators=[DataRequired()])
    weekdays = SelectMultipleField(_l("On"), coerce=int, choices=lambda: options(WEEKDAYS), default=[0, 1, 2, 3, 4, 5, 6],
                                   option_widget=CheckboxInput(), widget=ListWidget(prefix_label=False))
    start = ClockField(_l("Starts at"), validators=[DataRequired()], default=dt.time(20, 0))
    end = ClockField(_l("Ends at (next morning if earlier)"), validators=[DataRequired()], default=dt.time(22, 0))
    route_id = SelectField(_l("Route"), coerce=int, validators=[Optional()])
    needed = WholeNumberField(_l("Members per shift"), validators=[DataRequired()], lo=1, hi=50, default=2)
    submit = SubmitField(_l("Add shifts"))

    def validate_weekdays(self, field):
        if not field.data:
            raise ValidationError(_l("Tick at least one day of the week."))


class ButtonForm(Form):
    """A form that is only a button (fill the roster, confirm a shift, check in): CSRF and nothing else."""

    submit = SubmitField(_l("Go"))


class BookForm(Form):
    member_id = SelectField(_l("Member"), coerce=int)
    submit = SubmitField(_l("Add to the shift"))


class MarkForm(Form):
    attendance = SelectField(_l("Attendance"), choices=lambda: options(
        (k, v) for k, v in ATTENDANCE.items() if k not in ("planned", "substitute")))
    submit = SubmitField(_l("Mark"))


class TimesForm(Form):
    """Sign-in and sign-out times the leader enters for a member without a phone (from the paper sheet)."""

    signed_in = ClockField(_l("Signed in at"), validators=[Optional()])
    signed_out = ClockField(_l("Signed out at"), validators=[Optional()])
    submit = SubmitField(_l("Save the times"))


class CorrectForm(Form):
    attendance = SelectField(_l("Attendance"), choices=lambda: options(
        (k, v) for k, v in ATTENDANCE.items() if k != "planned"))
    reason = CleanStringField(_l("Why it is corrected"), validators=[DataRequired(), Length(max=200)])
    submit = SubmitField(_l("Correct"))


class FindingForm(Form):
    kind = SelectField(_l("Found"), choices=lambda: options(FINDINGS.items()))
    text = CleanTextAreaField(_l("What, where"), validators=[DataRequired(), Length(max=1000)])
    action = SelectField(_l("Done"), choices=lambda: options(ACTIONS.items()))
    photo = PhotoField(_l("Photo"))
    submit = SubmitField(_l("Add to the patrol log"))


class SwapForm(Form):
    to_member_id = SelectField(_l("Hand the place to"), coerce=int)
    note = CleanStringField(_l("Note"), validators=[Optional(), Length(max=200)])
    submit = SubmitField(_l("Swap"))


class SubstituteForm(Form):
    member_id = SelectField(_l("Substitute"), coerce=int)
    submit = SubmitField(_l("Walks in this place"))


class InspectionForm(Form):
    inspector = CleanStringField(_l("Inspected by"), validators=[DataRequired(), Length(max=64)])
    at = ClockField(_l("At"), validators=[DataRequired()])
    result = CleanStringField(_l("Result"), validators=[DataRequired(), Length(max=500)])
    submit = SubmitField(_l("Record the spot-check"))


class CancelForm(Form):
    reason = CleanStringField(_l("Why"), validators=[DataRequired(), Length(max=200)])
    submit = SubmitField(_l("Cancel the shift"))
