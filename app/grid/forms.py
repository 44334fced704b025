"""Grid forms for the worker's phone and the clerk's event desk. Ids come through choices the view sets."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import RadioField, SelectField, SubmitField
from wtforms.validators import DataRequired, Length, Optional

from ..forms import CleanStringField, CleanTextAreaField, Form, LooseDateField, PhotoField, options
from .models import EventKind, EventStatus, Priority, VisitPurpose

PURPOSES = {VisitPurpose.ROUTINE.value: _l("routine visit (例行走访)"),
            VisitPurpose.MUST_VISIT.value: _l("must-go visit (六必到)"),
            VisitPurpose.SECOND_VISIT.value: _l("second visit (回访)")}
KINDS = {
    EventKind.FACILITY.value: _l("damaged public facility (公共设施损坏)"),
    EventKind.MOVED_IN.value: _l("people moving in (人员流入)"),
    EventKind.HOUSE_LET.value: _l("house let (房屋出租)"),
    EventKind.HAZARD.value: _l("safety hazard (安全隐患)"),
    EventKind.INSTABILITY.value: _l("sign of instability (不稳定因素)"),
    EventKind.CRIME_LEAD.value: _l("gang-crime lead (涉黑涉恶线索)"),
    EventKind.HARDSHIP.value: _l("family hardship or sudden change (困难或突发变故)"),
    EventKind.EMERGENCY.value: _l("emergency (突发事件)"),
    EventKind.DISPUTE.value: _l("dispute (矛盾纠纷)"),
    EventKind.PUBLIC_ORDER.value: _l("public-order case (治安案件)"),
    EventKind.ENVIRONMENT.value: _l("environment and sanitation (环境卫生)"),
    EventKind.REQUEST.value: _l("request from residents (民生诉求)"),
    EventKind.OTHER.value: _l("other (其他)"),
}
PRIORITIES = {Priority.URGENT.value: _l("urgent: within 1 day"), Priority.HIGH.value: _l("high: within 3 days"),
              Priority.NORMAL.value: _l("normal: within 7 days"), Priority.LOW.value: _l("low: within 15 days")}
STATUSES = {EventStatus.REPORTED.value: _l("reported"), EventStatus.ACCEPTED.value: _l("accepted"),
            EventStatus.ASSIGNED.value: _l("assigned"), EventStatus.IN_PROGRESS.value: _l("being handled"),
            EventStatus.RESOLVED.value: _l("resolved, awaiting the return visit"),
            EventStatus.CLOSED.value: _l("closed"), EventStatus.REJECTED.value: _l("not accepted"),
            EventStatus.ESCALATED.value: _l("escalated"), EventStatus.CONVERTED.value: _l("turned over")}
ACTIONS = {"report": _l("Reported"), "accept": _l("Accepted"), "reject": _l("Not accepted"),
           "assign": _l("Assigned"), "start": _l("Work started"), "resolve": _l("Resolved"),
           "close": _l("Closed after the return visit"), "reopen": _l("Reopened after the return visit"),
           "escalate": _l("Escalated"), "convert": _l("Turned over"),
           "case": _l("Mediation case opened")}
STANDINGS = {"overdue": _l("overdue"), "today": _l("due today"), "upcoming": _l("coming up")}

PHOTO_ACCEPT = "image/jpeg,image/png,image/heic,image/heif"


class VisitForm(Form):
    visited_on = LooseDateField(_l("Date of the visit"), validators=[DataRequired()])
    purpose = SelectField(_l("Kind of visit"), choices=lambda: options(PURPOSES.items()))
    findings = CleanTextAreaField(_l("What you found"), validators=[DataRequired(), Length(max=2000)])
    requests = CleanTextAreaField(_l("What the household asked for (if anything)"),
                                  validators=[Optional(), Length(max=1000)])
    photo = PhotoField(_l("Photo (optional)"))
    follow_up_on = LooseDateField(_l("A second visit is needed by (leave empty if not)"), validators=[Optional()])
    submit = SubmitField(_l("Save the visit"))


class EventForm(Form):
    kind = SelectField(_l("What is it about"), choices=lambda: options(KINDS.items()))
    text = CleanTextAreaField(_l("Event description"), validators=[DataRequired(), Length(max=2000)])
    place = CleanStringField(_l("Where"), validators=[Optional(), Length(max=200)])
    number = CleanStringField(_l("Household number (if it concerns a household)"),
                              validators=[Optional(), Length(max=32)])
    priority = SelectField(_l("How urgent"), choices=lambda: options(PRIORITIES.items()), default="normal")
    photo = PhotoField(_l("Photo (optional)"))
    submit = SubmitField(_l("Report the event"))


class AcceptForm(Form):
    priority = SelectField(_l("How urgent"), choices=lambda: options(PRIORITIES.items()))
    submit = SubmitField(_l("Accept"))


class ReasonForm(Form):
    reason = CleanTextAreaField(_l("Why it is not accepted"), validators=[DataRequired(), Length(max=1000)])
    submit = SubmitField(_l("Do not accept"))


class AssignForm(Form):
    assignee_id = SelectField(_l("Assign to"), coerce=int)
    note = CleanStringField(_l("Note for them"), validators=[Optional(), Length(max=1000)])
    submit = SubmitField(_l("Assign"))


class StartForm(Form):
    submit = SubmitField(_l("Start work"))


class ResolveForm(Form):
    resolution = CleanTextAreaField(_l("What was done"), validators=[DataRequired(), Length(max=2000)])
    submit = SubmitField(_l("Mark resolved"))


class ReturnVisitForm(Form):
    feedback = CleanTextAreaField(_l("What the resident said"), validators=[DataRequired(), Length(max=1000)])
    satisfied = RadioField(_l("Is the resident satisfied?"),
                           choices=lambda: options([("yes", _l("yes: close the event")), ("no", _l("no: back to work"))]),
                           validators=[DataRequired()])
    submit = SubmitField(_l("Save the return visit"))


class EscalateForm(Form):
    to = CleanStringField(_l("To whom (township, department)"), validators=[DataRequired(), Length(max=100)])
    reason = CleanTextAreaField(_l("Why"), validators=[Optional(), Length(max=1000)])
    submit = SubmitField(_l("Escalate"))


class PatrolHandoverForm(Form):
    note = CleanStringField(_l("What the patrol should look at"), validators=[DataRequired(), Length(max=1000)])
    submit = SubmitField(_l("Turn over to the patrol"))


class DeedForm(Form):
    """A good deed a grid worker saw: proposed for points through the scheme's items, reviewed like any entry."""

    number = CleanStringField(_l("Household number"), validators=[DataRequired(), Length(max=32)])
    name = CleanStringField(_l("Name"), validators=[DataRequired(), Length(max=64)])
    item_id = SelectField(_l("Points item"), coerce=int)
    occurred_on = LooseDateField(_l("Done on"), validators=[DataRequired()])
    note = CleanStringField(_l("What was done"), validators=[Optional(), Length(max=200)])
    submit = SubmitField(_l("Propose the points"))


class PlaceForm(Form):
    """Where the worker stands now: the list starts from this villager group."""

    group_id = SelectField(_l("I am at"), coerce=int, validators=[Optional()])
    submit = SubmitField(_l("Show nearest first"))

