from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import PasswordField, SubmitField
from wtforms.validators import DataRequired, Length

from ..forms import CleanStringField, Form


class LoginForm(Form):
    username = CleanStringField(_l("User name"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])
    submit = SubmitField(_l("Log in"))


class ChangePasswordForm(Form):
    current = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=200)])
    new = PasswordField(_l("New password"), validators=[DataRequired(), Length(min=8, max=200)])
    submit = SubmitField(_l("Change password"))
