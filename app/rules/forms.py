"""Rules forms. The rule text itself is taken as typed (only line endings unified): it is stored as given."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from wtforms import HiddenField, SelectField, SelectMultipleField, SubmitField, TextAreaField
from wtforms.widgets import CheckboxInput, ListWidget
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from ..forms import CleanStringField, CleanTextAreaField, Form, LooseDateField, options
from ..forms import WholeNumberField
from .labels import RULE_LABELS
from .models import MAX_COUNT, MAX_TEXT

#: the most characters a pasted or uploaded text may have (a 300-article charter is about 40,000)
MAX_IMPORT = 150_000


class RawTextAreaField(TextAreaField):
    """A text area whose text is kept exactly (line endings unified to \\n); NUL is refused."""

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        if self.data:
            self.data = self.data.replace("\r\n", "\n").replace("\r", "\n")

    def pre_validate(self, form):
        if self.data and "\x00" in self.data:
            raise ValidationError(_l("The text contains a NUL character; is it really a text file?"))


class ImportForm(Form):
    ruleset_id = SelectField(_l("Rule set"), coerce=int)
    kind = SelectField(_l("Kind of rules (for a new rule set)"),
                       choices=lambda: options(RULE_LABELS["rule_kind"].items()))
    title = CleanStringField(_l("Title (for a new rule set)"), validators=[Optional(), Length(max=100)])
    text = RawTextAreaField(_l("Text of the rules"), validators=[Optional(), Length(max=MAX_IMPORT)],
                            description=_l("Paste the whole text, or choose a file below."))
    file = FileField(_l("Or a file (.txt in UTF-8, or Word .docx)"))
    preview = SubmitField(_l("Check the text"))
    submit = SubmitField(_l("Save as a draft"))


class TextEditForm(Form):
    text = RawTextAreaField(_l("Text of the rules"), validators=[DataRequired(), Length(max=MAX_IMPORT)])
    preview = SubmitField(_l("Check the text"))
    submit = SubmitField(_l("Save the text"))


class VersionForm(Form):
    title = CleanStringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    preamble = CleanTextAreaField(_l("Preamble"), validators=[Optional(), Length(max=MAX_TEXT)])
    closing = CleanTextAreaField(_l("Closing (adoption and effective dates)"),
                                 validators=[Optional(), Length(max=MAX_TEXT)])
    effective_on = LooseDateField(_l("Effective from"), validators=[Optional()])
    note = CleanStringField(_l("Note"), validators=[Optional(), Length(max=500)])
    submit = SubmitField(_l("Save"))


class ArticleForm(Form):
    label = CleanStringField(_l("Numbering as written"), validators=[DataRequired(), Length(max=40)],
                             description=_l("For example 第十二条, 12. or 十二、"))
    text = CleanTextAreaField(_l("Text"), validators=[DataRequired(), Length(max=MAX_TEXT)])
    submit = SubmitField(_l("Save article"))


class StepForm(Form):
    held_on = LooseDateField(_l("Date"), validators=[DataRequired()])
    body = CleanStringField(_l("Body (who met or decided)"), validators=[Optional(), Length(max=100)],
                            description=_l("For example 村党支部委员会, 青山镇人民政府"))
    assembly_kind = SelectField(_l("Adopting body"), choices=lambda: options(RULE_LABELS["assembly_kind"].items()))
    eligible = WholeNumberField(_l("Number eligible (members / adult villagers)"), validators=[Optional()],
                                hi=MAX_COUNT)
    present = WholeNumberField(_l("Number present"), validators=[Optional()], hi=MAX_COUNT)
    women_present = WholeNumberField(_l("Women present"), validators=[Optional()], hi=MAX_COUNT)
    households_total = WholeNumberField(_l("Households in the village"), validators=[Optional()], hi=MAX_COUNT,
                                        description=_l("Villager assembly only: the quorum may be met by "
                                                       "households' representatives instead."))
    households_present = WholeNumberField(_l("Households represented"), validators=[Optional()], hi=MAX_COUNT)
    votes_yes = WholeNumberField(_l("In favour"), validators=[Optional()], hi=MAX_COUNT)
    votes_no = WholeNumberField(_l("Against"), validators=[Optional()], hi=MAX_COUNT)
    votes_abstain = WholeNumberField(_l("Abstaining"), validators=[Optional()], hi=MAX_COUNT)
    approved = SelectField(_l("Outcome of the review"),
                           choices=lambda: options([("yes", _l("Lawful: approved")),
                                                    ("no", _l("Not approved: to be revised"))]))
    minutes = CleanTextAreaField(_l("Minutes / opinion"), validators=[Optional(), Length(max=20_000)])
    submit = SubmitField(_l("Save step"))


class StatusForm(Form):
    target = HiddenField()
    submit = SubmitField(_l("Move on"))


class SettingsForm(Form):
    assembly_num = WholeNumberField(_l("Villager assembly: more than … of adult villagers present (numerator)"),
                                    validators=[DataRequired()], lo=0, hi=100)
    assembly_den = WholeNumberField(_l("(denominator)"), validators=[DataRequired()], lo=1, hi=100)
    households_num = WholeNumberField(_l("… or at least … of households represented (numerator)"),
                                      validators=[DataRequired()], lo=0, hi=100)
    households_den = WholeNumberField(_l("(denominator)"), validators=[DataRequired()], lo=1, hi=100)
    representatives_num = WholeNumberField(_l("Representatives' assembly: at least … present (numerator)"),
                                           validators=[DataRequired()], lo=0, hi=100)
    representatives_den = WholeNumberField(_l("(denominator)"), validators=[DataRequired()], lo=1, hi=100)
    party_num = WholeNumberField(_l("Party members' meeting: at least … present (numerator)"),
                                 validators=[DataRequired()], lo=0, hi=100)
    party_den = WholeNumberField(_l("(denominator)"), validators=[DataRequired()], lo=1, hi=100)
    majority_num = WholeNumberField(_l("Carried by more than … of those present (numerator)"),
                                    validators=[DataRequired()], lo=0, hi=100)
    majority_den = WholeNumberField(_l("(denominator)"), validators=[DataRequired()], lo=1, hi=100)
    women_min = WholeNumberField(_l("Women who must attend the adopting assembly (0 = not checked)"),
                                 validators=[Optional()], lo=0, hi=10_000)
    submit = SubmitField(_l("Save thresholds"))


class ArticleChecklistField(SelectMultipleField):
    """The articles as a list of check boxes (the page renders it with its search box)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class DigestForm(Form):
    text = CleanStringField(_l("Key rule in short words"), validators=[DataRequired(), Length(max=300)])
    article_ids = ArticleChecklistField(_l("Source articles"), coerce=int, validators=[DataRequired()])
    submit = SubmitField(_l("Add to the digest"))


class DigestOrderForm(Form):
    """The digest's order: one number field per point (pos-<item id>), read by the view; CSRF here."""

    submit = SubmitField(_l("Save the order"))


class ConfirmForm(Form):
    """A bare POST form (CSRF only) for buttons: amend, withdraw, remove."""

    submit = SubmitField(_l("Confirm"))
