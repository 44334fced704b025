"""Points forms. Numbers go through parse_small_int: full-width digits yes, anything exotic no."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, SelectField, SelectMultipleField, SubmitField
from wtforms.validators import DataRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, HiddenInput, ListWidget

from ..forms import (
    CleanStringField,
    CleanTextAreaField,
    Form,
    IdempotentForm,
    LooseDateField,
    PhotoField,
    WholeNumberField,
    options,
)
from ..tabular.export import FORMAT_CHOICES
from .models import MAX_ITEM_POINTS
from .services import ItemData

UNITS = {"per_event": _l("per event"), "per_month": _l("per month"), "per_quarter": _l("per quarter"),
         "tiered": _l("tiered (thresholds)"), "per_amount": _l("per amount band")}
CAP_PERIODS = {"none": _l("no cap"), "month": _l("per month"), "quarter": _l("per quarter"), "year": _l("per year")}
LEVELS = {"village": _l("village"), "shared": _l("shared"), "upper": _l("upper level")}
#: a category's direction, as its name on the item form's category list shows it: 热心公益（加分）
DIRECTIONS = {"add": _l("adds points"), "deduct": _l("deducts points")}
APPLIES = {"person": _l("a person"), "household": _l("the household (charged to the head)")}


class SchemeForm(Form):
    name = CleanStringField(_l("Scheme name"), validators=[DataRequired(), Length(max=100)])
    year_policy = SelectField(_l("At year end"), choices=lambda: options([
        ("carry_over", _l("carry the balance over")), ("expire", _l("clear (expire) the balance"))]))
    posting_days = WholeNumberField(_l("Posting period (days)"), validators=[DataRequired()], lo=1, hi=60)
    appeal_working_days = WholeNumberField(_l("Objections decided within (working days)"),
                                           validators=[DataRequired()], lo=1, hi=60)
    star_bands = CleanStringField(_l("Star bands (score:stars, …)"), validators=[Optional(), Length(max=200)],
                                  description=_l("For example 30:1,60:2,100:3,150:4,200:5"))
    spendable_from = SelectField(_l("Awarded points can be spent"), default="approval", choices=lambda: options([
        ("approval", _l("as soon as they are approved")),
        ("posting_end", _l("once their posting has ended without an objection"))]))
    submit = SubmitField(_l("Save"))

    def validate_star_bands(self, field):
        # Chinese keyboards type full-width ：and ，
        field.data = (field.data or "").replace("：", ":").replace("，", ",").replace("、", ",").replace(" ", "")
        for band in (field.data or "").split(","):
            if not band.strip():
                continue
            lo, sep, n = band.partition(":")
            if not sep or not lo.strip().lstrip("-").isdigit() or not n.strip().isdigit() or not 0 <= int(n) <= 9:
                raise ValidationError(_l("Write bands as score:stars separated by commas, e.g. 30:1,60:2."))


class CategoryForm(Form):
    name = CleanStringField(_l("Category"), validators=[DataRequired(), Length(max=64)])
    direction = SelectField(_l("Adds or deducts"), choices=lambda: options(DIRECTIONS.items()))
    submit = SubmitField(_l("Add category"))


class ItemForm(Form):
    category_id = SelectField(_l("Category"), coerce=int)
    code = CleanStringField(_l("Code"), validators=[DataRequired(), Length(max=32)])
    text = CleanTextAreaField(_l("What earns or costs the points"), validators=[DataRequired(), Length(max=500)])
    points = WholeNumberField(_l("Points (negative deducts)"), validators=[DataRequired()],
                              lo=-MAX_ITEM_POINTS, hi=MAX_ITEM_POINTS, signed=True)
    unit = SelectField(_l("Unit"), choices=lambda: options(UNITS.items()))
    cap_period = SelectField(_l("Cap period"), choices=lambda: options(CAP_PERIODS.items()))
    cap_points = WholeNumberField(_l("Most points per cap period"), validators=[Optional()], lo=1,
                                  hi=MAX_ITEM_POINTS * 100)
    level = SelectField(_l("Level"), choices=lambda: options(LEVELS.items()))
    applies_to = SelectField(_l("Applies to"), choices=lambda: options(APPLIES.items()))
    evidence_required = BooleanField(_l("Needs an evidence photo"))
    article_ref = CleanStringField(_l("Rule article that authorises it"), validators=[Optional(), Length(max=200)],
                                   description=_l("For example 村规民约第十二条"))
    #: choices set by the view: articles of the village's adopted rules (app.rules)
    article_ids = SelectMultipleField(_l("Rule articles that authorise it"), coerce=int, validators=[Optional()],
                                      description=_l("Hold Ctrl to pick several; the article pages list the items "
                                                     "that cite them."))
    active = BooleanField(_l("In use"), default=True)
    submit = SubmitField(_l("Save item"))

    #: what an import reads that this form does not show: an edit keeps it as it is
    KEPT = ("points_min", "points_max", "judgement", "effect", "cap_group", "note", "amount_per",
            "amount_unit")

    def export(self, item=None):
        data = ItemData(code=self.code.data, text=self.text.data, points=self.points.data,
                        unit=self.unit.data, cap_period=self.cap_period.data, cap_points=self.cap_points.data, level=self.level.data,
                        applies_to=self.applies_to.data, evidence_required=bool(self.evidence_required.data),
                        article_ref=self.article_ref.data or None, active=bool(self.active.data))
        for name in self.KEPT if item is not None else ():
            setattr(data, name, getattr(item, name))
        return data


class EntryForm(IdempotentForm):
    household_number = CleanStringField(_l("Household number (户号)"), validators=[DataRequired(), Length(max=32)])
    person_id = SelectField(_l("Person"), coerce=int, validate_choice=False)
    item_id = SelectField(_l("Item"), coerce=int)
    occurred_on = LooseDateField(_l("Date"), validators=[DataRequired()])
    #: for an item whose points lie in a range (+1至+10): the points within it
    points = WholeNumberField(_l("Points (for an item with a range)"), validators=[Optional()],
                              lo=-MAX_ITEM_POINTS, hi=MAX_ITEM_POINTS, signed=True,
                              description=_l("Only for an item marked with a range: the points within it."))
    #: for an item priced per amount (每100元加1分): the amount or quantity; the points follow the rule
    amount = WholeNumberField(_l("Amount or quantity (for an item per amount)"), validators=[Optional()],
                              lo=1, hi=100_000_000,
                              description=_l("Only for an item with a rule such as 每100元加1分: the amount, "
                                             "from which the points are computed by the rule."))
    note = CleanStringField(_l("Note"), validators=[Optional(), Length(max=500)])
    evidence = PhotoField(_l("Evidence photo"))
    submit = SubmitField(_l("Record entry"))


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class BatchForm(IdempotentForm):
    item_id = SelectField(_l("Item"), coerce=int)
    occurred_on = LooseDateField(_l("Date"), validators=[DataRequired()])
    note = CleanStringField(_l("Note"), validators=[Optional(), Length(max=500)])
    person_ids = MultiCheckboxField(_l("People"), coerce=int)
    submit = SubmitField(_l("Record for everyone ticked"))


class ReviewForm(Form):
    note = CleanStringField(_l("Reason or note"), validators=[Optional(), Length(max=500)])
    approve = SubmitField(_l("Approve"))
    reject = SubmitField(_l("Reject"))


class BulkReviewForm(Form):
    """The entries list's review bar: the entries ticked (entry_ids, read by the view) approved or rejected
    at once, with one note or reason for all."""

    note = CleanStringField(_l("Reason or note"), validators=[Optional(), Length(max=500)])
    approve = SubmitField(_l("Approve the ticked entries"))
    reject = SubmitField(_l("Reject the ticked entries"))


class ObjectionForm(Form):
    objector_name = CleanStringField(_l("Who objects"), validators=[Optional(), Length(max=64)])
    channel = SelectField(_l("How it came in"), choices=lambda: options([
        ("clerk", _l("in person, filed by the clerk")), ("oral", _l("orally")), ("written", _l("in writing"))]))
    reason = CleanTextAreaField(_l("What the objection is about"), validators=[DataRequired(), Length(max=1000)])
    submit = SubmitField(_l("File objection"))


class DecisionForm(IdempotentForm):
    decision = SelectField(_l("Decision"), choices=lambda: options([
        ("upheld", _l("uphold the entry")), ("corrected", _l("correct the entry"))]))
    corrected_points = WholeNumberField(_l("Correct points (leave empty to cancel the entry)"),
                                        validators=[Optional()], lo=-MAX_ITEM_POINTS, hi=MAX_ITEM_POINTS, signed=True)
    reply_text = CleanTextAreaField(_l("Written reply to the villager"), validators=[DataRequired(), Length(max=2000)])
    submit = SubmitField(_l("Decide"))


class YearCloseForm(Form):
    year = WholeNumberField(_l("Year"), validators=[DataRequired()], lo=2000, hi=2200)
    confirm = BooleanField(_l("I understand that this keeps the year's scores and applies the year-end policy"),
                           validators=[DataRequired()])
    submit = SubmitField(_l("Close the year"))


class LedgerExportForm(Form):
    """The ledger export's small GET form: the day the balances are taken at, and the file type."""

    class Meta:
        csrf = False  # a GET that reads; nothing is written but the audit row

    on = LooseDateField(_l("Balances at the end of"), validators=[DataRequired()])
    fmt = SelectField(_l("File type"), choices=lambda: options(FORMAT_CHOICES), default="xlsx")
    submit = SubmitField(_l("Download"))


def _id_or_none(value) -> int | None:
    """A posted id, or None for an empty or mangled one (the view then asks for an article)."""
    text = str(value if value is not None else "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


class RepointForm(Form):
    """Re-point one item's citation of an article of a superseded version: to an article of the published
    rules, or drop it. The ids are checked by the service (village, published, still cited)."""

    item_id = WholeNumberField(validators=[DataRequired()], lo=1, hi=2**62, widget=HiddenInput())
    article_id = WholeNumberField(validators=[DataRequired()], lo=1, hi=2**62, widget=HiddenInput())
    new_article_id = SelectField(_l("Cite instead"), coerce=_id_or_none, validate_choice=False)
    submit = SubmitField(_l("Re-point"))
    remove = SubmitField(_l("Remove the citation"))
