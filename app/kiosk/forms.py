"""Kiosk forms (all carry the CSRF token) and the clerk's forms for devices, PINs and cards."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, PasswordField, RadioField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, Optional

from ..forms import CleanStringField, CleanTextAreaField, Form, options

# --- the touch screen -------------------------------------------------------------------------------


class KioskForm(Form):
    """A form with nothing but its CSRF token (finish, enrol, choose)."""


class CardForm(Form):
    code = StringField(_l("Card code"), validators=[Optional(), Length(max=60)])


class NumberForm(Form):
    # cleaned like every typed text: a control character (a NUL, which PostgreSQL cannot even compare) is
    # refused with a message before the number is looked up
    number = CleanStringField(_l("Household number"), validators=[Optional(), Length(max=32)])


class LettersForm(Form):
    letters = StringField(_l("Pinyin initials"), validators=[Optional(), Length(max=8)])


class ChooseForm(Form):
    household = HiddenField()


class PinForm(Form):
    pin = PasswordField(_l("PIN"), validators=[Optional(), Length(max=12)])


#: objection reasons offered as big buttons (code → label); "other" needs typed words
OBJECTION_REASONS = [
    ("points", _l("The points are wrong")),
    ("not_us", _l("Our household did not do this")),
    ("date", _l("The date is wrong")),
    ("other", _l("Something else")),
]


class ObjectionForm(Form):
    reason = RadioField(_l("What is wrong?"), choices=options(OBJECTION_REASONS),
                        validators=[DataRequired(message=_l("Please tap one of the reasons."))])
    text = CleanTextAreaField(_l("Anything to add (optional)"), validators=[Optional(), Length(max=300)])


# --- the clerk's side -------------------------------------------------------------------------------


class DeviceForm(Form):
    name = CleanStringField(_l("Name of the kiosk"), validators=[DataRequired(), Length(max=64)],
                            description=_l("Where it stands, e.g. 村委会大厅"))
    submit = SubmitField(_l("Create enrolment link"))


class PinSetForm(Form):
    pin = PasswordField(_l("New PIN (4 to 6 digits)"), validators=[DataRequired()])
    pin2 = PasswordField(_l("The same PIN again"), validators=[DataRequired()])
    submit = SubmitField(_l("Save PIN"))


class CardsForm(Form):
    group_id = SelectField(_l("Households"), validators=[Optional()])
    mode = RadioField(_l("Which cards"), default="missing", choices=options([
        ("missing", _l("Only households that have no card yet")),
        ("all", _l("Every household: new cards, the old cards stop working")),
    ]))
    submit = SubmitField(_l("Print the card sheet"))
