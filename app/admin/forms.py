from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, PasswordField, SelectField, SubmitField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from ..auth.models import Role
from ..filters import LABELS
from ..forms import CleanStringField, Form, options

CODE_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")


def _code(form, field):
    field.data = (field.data or "").strip().lower()
    if not CODE_RE.fullmatch(field.data):
        raise ValidationError(_l("Use 1 to 32 lower-case letters, digits, - or _."))


class TownshipForm(Form):
    code = CleanStringField(_l("Code"), validators=[DataRequired(), _code])
    name = CleanStringField(_l("Township name"), validators=[DataRequired(), Length(max=64)])
    submit = SubmitField(_l("Save"))


class VillageForm(Form):
    code = CleanStringField(_l("Code"), validators=[DataRequired(), _code],
                            description=_l("Short code used on the command line, e.g. demo."))
    name = CleanStringField(_l("Village name"), validators=[DataRequired(), Length(max=64)])
    township_id = SelectField(_l("Township"), coerce=int, validators=[Optional()])
    keep_photo_location = BooleanField(
        _l("Keep the location in photos"),
        description=_l("Off (recommended): photos are stored without the place where they were taken. On: "
                       "evidence, patrol and grid photos keep their GPS position."))
    posting_names = SelectField(
        _l("Names on the posting sheet"),
        choices=lambda: options([("masked", _l("Masked (张*丰)")), ("full", _l("Full name (张三丰)"))]),
        description=_l("How the points posting sheet (公示表) for the notice board names each member."))
    submit = SubmitField(_l("Save"))


class UserForm(Form):
    username = CleanStringField(_l("User name"), validators=[DataRequired(), Length(max=64)])
    display_name = CleanStringField(_l("Name shown"), validators=[Optional(), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(min=8, max=200)])
    submit = SubmitField(_l("Create user"))


class GrantForm(Form):
    role = SelectField(_l("Role"), choices=lambda: options((r.value, LABELS["role"][r.value]) for r in Role))
    village_id = SelectField(_l("Village"), coerce=int, validators=[Optional()])
    township_id = SelectField(_l("Township"), coerce=int, validators=[Optional()])
    submit = SubmitField(_l("Grant role"))


class ResetPasswordForm(Form):
    password = PasswordField(_l("New password"), validators=[DataRequired(), Length(min=8, max=200)])
    submit = SubmitField(_l("Set password"))


class ActiveForm(Form):
    active = BooleanField(_l("Active"))
    submit = SubmitField(_l("Save"))
