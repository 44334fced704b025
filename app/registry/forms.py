"""Register forms; each translates to and from the service layer's data."""
from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, HiddenField, SelectField, SelectMultipleField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from ..filters import LABELS
from ..forms import CleanStringField, CleanTextAreaField, Form, LooseDateField, options
from ..text import FULLWIDTH_DIGITS
from .identity import IdNumberInvalid, birth_date_from_id, normalize_id_number, sex_from_id
from .models import HOUSEHOLD_TAGS, Relation
from .services import PersonData

PHONE_RE = re.compile(r"\+?[0-9][0-9 -]{4,19}")
NUMBER_RE = re.compile(r"[0-9A-Za-z\u4e00-\u9fff][0-9A-Za-z\u4e00-\u9fff_-]{0,31}")


def relation_choices(include_head: bool = False):
    return options((r.value, LABELS["relation"][r.value]) for r in Relation if include_head or r != Relation.HEAD)


def sex_choices():
    return options([("", "—"), ("male", LABELS["sex"]["male"]), ("female", LABELS["sex"]["female"])])


def _phone(form, field):
    if field.data:
        field.data = field.data.translate(FULLWIDTH_DIGITS).strip()
        if not PHONE_RE.fullmatch(field.data):
            raise ValidationError(_l("Please enter a phone number of digits only, e.g. 13800138000."))


def _household_number(form, field):
    field.data = (field.data or "").translate(FULLWIDTH_DIGITS).strip()
    if not NUMBER_RE.fullmatch(field.data):
        raise ValidationError(_l("A household number is 1 to 32 letters, digits, - or _."))


class IdNumberField(StringField):
    """Takes a 身份证号 and never writes it back into the page."""

    def _value(self):
        return ""

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        # only spaces typed is no number typed: Optional() would let "   " through to the service unchecked
        self.data = (self.data or "").strip(" \t\r\n\u3000")

    def pre_validate(self, form):
        if self.data:
            try:
                self.data = normalize_id_number(self.data)
            except IdNumberInvalid as e:
                raise ValidationError(str(e)) from None


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class PersonFieldsMixin:
    """Fields describing one person; shared by the new-household and person forms."""

    name = CleanStringField(_l("Name"), validators=[DataRequired(), Length(max=64)])
    # "" (unknown) is a choice of its own; Optional would also pass " " and clear the choice's error
    sex = SelectField(_l("Sex"), choices=sex_choices, validators=[Optional(strip_whitespace=False)])
    birth_date = LooseDateField(_l("Birth date"), validators=[Optional()])
    phone = CleanStringField(_l("Phone"), validators=[Optional(), Length(max=20), _phone])
    id_number = IdNumberField(_l("ID number (身份证号)"), validators=[Optional(), Length(max=24)],
                              description=_l("Stored only as a keyed hash and a masked copy."))

    def person_data(self, relation: str) -> PersonData:
        birth = self.birth_date.data
        sex = self.sex.data or None
        idn = self.id_number.data or None
        if idn and birth is None:
            birth = birth_date_from_id(idn)
        if idn and sex is None:
            sex = sex_from_id(idn)
        return PersonData(name=self.name.data, relation=relation, sex=sex, birth_date=birth,
                          phone=self.phone.data or None, id_number=idn)


class HouseholdForm(Form):
    number = CleanStringField(_l("Household number (户号)"), validators=[DataRequired(), _household_number])
    group_id = SelectField(_l("Group / grid"), coerce=int, validators=[Optional()])
    address = CleanStringField(_l("Address"), validators=[Optional(), Length(max=200)])
    tags = MultiCheckboxField(_l("Tags"), choices=lambda: options((k, LABELS["tag"][k]) for k in HOUSEHOLD_TAGS))
    note = CleanTextAreaField(_l("Note"), validators=[Optional(), Length(max=500)])
    submit = SubmitField(_l("Save"))


class NewHouseholdForm(PersonFieldsMixin, HouseholdForm):
    """A household with its head, entered in one go."""

    effective_date = LooseDateField(_l("Registered on"), validators=[Optional()])


class PersonForm(PersonFieldsMixin, Form):
    relation = SelectField(_l("Relation to the head"), choices=relation_choices)
    effective_date = LooseDateField(_l("Date moved in / born"), validators=[Optional()])
    born_here = BooleanField(_l("Born into this household (not moved in)"))
    note = CleanStringField(_l("Note"), validators=[Optional(), Length(max=500)])
    submit = SubmitField(_l("Save"))


class EditPersonForm(PersonFieldsMixin, Form):
    relation = SelectField(_l("Relation to the head"), choices=lambda: relation_choices(True))
    clear_id = BooleanField(_l("Remove the stored ID number"))
    submit = SubmitField(_l("Save"))


class MoveOutForm(Form):
    status = SelectField(_l("What happened"), choices=lambda: options([("moved", _l("Moved away")), ("deceased", _l("Died"))]))
    effective_date = LooseDateField(_l("Date"), validators=[Optional()])
    note = CleanStringField(_l("Note"), validators=[Optional(), Length(max=500)])
    submit = SubmitField(_l("Record"))


class ChangeHeadForm(Form):
    new_head_id = SelectField(_l("New head"), coerce=int)
    old_head_relation = SelectField(_l("Old head's relation to the new head"), choices=relation_choices)
    effective_date = LooseDateField(_l("Date"), validators=[Optional()])
    note = CleanStringField(_l("Note"), validators=[Optional(), Length(max=500)])
    submit = SubmitField(_l("Change head"))


class SplitForm(Form):
    person_ids = MultiCheckboxField(_l("People who form the new household"), coerce=int)
    new_head_id = SelectField(_l("Head of the new household"), coerce=int)
    new_number = CleanStringField(_l("New household number"), validators=[DataRequired(), _household_number])
    group_id = SelectField(_l("Group / grid"), coerce=int, validators=[Optional()])
    address = CleanStringField(_l("Address of the new household"), validators=[Optional(), Length(max=200)])
    effective_date = LooseDateField(_l("Date"), validators=[Optional()])
    note = CleanStringField(_l("Note"), validators=[Optional(), Length(max=500)])
    submit = SubmitField(_l("Split household"))


class MergeForm(Form):
    target_number = CleanStringField(_l("Merge into household number"), validators=[DataRequired(),
                                                                                   Length(max=32)])
    effective_date = LooseDateField(_l("Date"), validators=[Optional()])
    note = CleanStringField(_l("Note"), validators=[Optional(), Length(max=500)])
    confirm = BooleanField(_l("I have checked: every member moves to the other household"),
                           validators=[DataRequired()])
    submit = SubmitField(_l("Merge"))


class StatusForm(Form):
    status = SelectField(_l("Status"), choices=lambda: options([("active", _l("Active")), ("moved_away", _l("Moved away"))]))
    effective_date = LooseDateField(_l("Date"), validators=[Optional()])
    note = CleanStringField(_l("Note"), validators=[Optional(), Length(max=500)])
    submit = SubmitField(_l("Save"))


class GroupForm(Form):
    name = CleanStringField(_l("Group name"), validators=[DataRequired(), Length(max=64)])
    kind = SelectField(_l("Kind"), choices=lambda: options([("group", _l("Villager group")), ("grid", _l("Grid"))]))
    leader = CleanStringField(_l("Leader / person in charge"), validators=[Optional(), Length(max=64)])
    active = BooleanField(_l("In use"), default=True)
    submit = SubmitField(_l("Save"))


class ConfirmForm(Form):
    token = HiddenField()
    submit = SubmitField(_l("Confirm"))
