"""Forms of the clerk's grid pages: drawing grids, their workers and households, and the visit schedule.

Ids come through choices the view sets (a stale or forged id is refused by the choice list or by the view's
village check); household numbers are typed, one or several separated by spaces, commas or 、.
"""
from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, HiddenField, SelectField, SubmitField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from ..forms import CleanStringField, CleanTextAreaField, Form, LooseDateField, WholeNumberField, options
from ..registry.models import HOUSEHOLD_TAGS
from .models import IntervalUnit
from .schedule import ORDINARY
from .services import RULE_TAGS

#: how many household numbers one "place households" form may carry
MAX_NUMBERS = 200

UNITS = {IntervalUnit.DAY.value: _l("days"), IntervalUnit.WEEK.value: _l("weeks"),
         IntervalUnit.MONTH.value: _l("months")}
#: a tag's unit choice that means "no rule of its own: visited as an ordinary household"
NO_RULE = "none"


def tag_label(tag: str) -> str:
    if tag == ORDINARY:
        return str(_l("ordinary households"))
    return HOUSEHOLD_TAGS.get(tag, tag)


class GridForm(Form):
    name = CleanStringField(_l("Grid name"), validators=[DataRequired(), Length(max=64)],
                            description=_l("e.g. 第一网格, or 第一微网格（1–3组） for a micro-grid"))
    #: 0: a grid of its own; else the grid this micro-grid sits in (choices set by the view)
    parent_id = SelectField(_l("Inside grid (for a micro-grid)"), coerce=int, validators=[Optional()])
    chief_name = CleanStringField(_l("Grid chief or person in charge"), validators=[Optional(), Length(max=64)])
    chief_phone = CleanStringField(_l("Their phone"), validators=[Optional(), Length(max=20)])
    note = CleanTextAreaField(_l("Note"), validators=[Optional(), Length(max=500)], render_kw={"rows": 2})
    active = BooleanField(_l("In use"), default=True)
    submit = SubmitField(_l("Save grid"))


class WorkerForm(Form):
    user_id = SelectField(_l("Grid worker"), coerce=int, validators=[Optional()])
    started_on = LooseDateField(_l("From"), validators=[Optional()])
    submit = SubmitField(_l("Assign"))


class RowForm(Form):
    """A button about one row of the page (end an assignment, take a household out of the grid)."""

    row_id = HiddenField()
    submit = SubmitField(_l("Go"))

    def validate_row_id(self, field):
        value = field.data or ""
        if not (value.isascii() and value.isdigit() and 0 < len(value) <= 9):
            raise ValidationError(_l("Choose from the list."))

    @property
    def row(self) -> int:
        return int(self.row_id.data)


_SEPARATORS = re.compile(r"[\s,，、;；]+")


def split_numbers(text: str | None) -> list[str]:
    """Household numbers as typed: separated by spaces, commas (full-width too), 、 or semicolons."""
    seen: list[str] = []
    for part in _SEPARATORS.split(text or ""):
        if part and part not in seen:
            seen.append(part)
    return seen


class PlaceForm(Form):
    numbers = CleanStringField(_l("Household numbers"), validators=[Optional(), Length(max=2000)],
                               description=_l("One or several, separated by spaces, commas or 、"))
    group_id = SelectField(_l("Or a whole villager group"), coerce=int, validators=[Optional()])
    on = LooseDateField(_l("From"), validators=[Optional()])
    submit = SubmitField(_l("Place in this grid"))

    def validate(self, extra_validators=None) -> bool:
        # here, not in validate_numbers: Optional() ends a blank field's checks before an inline validator runs
        ok = super().validate(extra_validators)
        numbers = split_numbers(self.numbers.data)
        message = None
        if len(numbers) > MAX_NUMBERS:
            message = _l("At most %(n)s households at once.", n=MAX_NUMBERS)
        elif any(len(n) > 32 for n in numbers):
            message = _l("A household number has at most 32 characters.")
        elif bool(numbers) == bool(self.group_id.data):
            message = _l("Type household numbers or choose a villager group, one of the two.")
        if message is not None:
            self.numbers.errors = [*self.numbers.errors, str(message)]
            return False
        return ok


def _rules_form_class():
    """One row per tag: every N (blank with "no rule of its own") and the unit."""
    fields = {}
    for tag in RULE_TAGS:
        units = [(u, label) for u, label in UNITS.items()]
        if tag != ORDINARY:
            units.append((NO_RULE, _l("no rule of its own (as ordinary households)")))
        fields[f"every_{tag}"] = WholeNumberField(_l("Every"), validators=[Optional()], lo=1, hi=366)
        fields[f"unit_{tag}"] = SelectField(_l("Days, weeks or months"), choices=lambda units=units: options(units))
    fields["submit"] = SubmitField(_l("Save the schedule"))
    return type("RulesForm", (Form,), fields)


RulesForm = _rules_form_class()


def rules_from_form(form) -> dict[str, tuple[int, str] | None] | None:
    """tag → (every, unit) or None; None as a whole when a row is incomplete (its error set on the form)."""
    rules: dict[str, tuple[int, str] | None] = {}
    bad = False
    for tag in RULE_TAGS:
        every, unit = form[f"every_{tag}"], form[f"unit_{tag}"]
        if unit.data == NO_RULE:
            rules[tag] = None
        elif every.data is None:
            every.errors = [*every.errors, str(_l("How often? Type a number from 1 to 366."))]
            bad = True
        else:
            rules[tag] = (every.data, unit.data)
    return None if bad else rules


def tags_text(tags) -> str:
    """A household's tags as written on a page: 低保户、独居老人."""
    return "、".join(tag_label(t) for t in tags)
