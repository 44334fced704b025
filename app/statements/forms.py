"""Statement forms: which period, which paper, and for a batch which villager group."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, SelectField, SubmitField

from ..forms import Form, IdempotentForm, LooseDateField, WholeNumberField, options
from .services import MAX_YEAR, MIN_YEAR

KINDS = {"year": _l("Year"), "quarter": _l("Quarter"), "month": _l("Month"), "range": _l("Dates")}
PAPERS = {"a4": "A4", "a5": "A5"}


class PeriodForm(Form):
    kind = SelectField(_l("Period"), choices=lambda: options(KINDS.items()), default="year")
    year = WholeNumberField(_l("Year"), lo=MIN_YEAR, hi=MAX_YEAR)
    quarter = SelectField(_l("Quarter"), choices=lambda: options((str(q), str(q)) for q in range(1, 5)),
                          default="1")
    month = SelectField(_l("Month"), choices=lambda: options((str(m), str(m)) for m in range(1, 13)),
                        default="1")
    start = LooseDateField(_l("First day"))
    end = LooseDateField(_l("Last day"))
    paper = SelectField(_l("Paper"), choices=lambda: options(PAPERS.items()), default="a4")
    detailed = BooleanField(_l("Detailed statement: every entry with the family member who earned it "
                               "(a year's statement is otherwise one page of totals by category)"))
    submit = SubmitField(_l("Print statement"))

    def period_args(self) -> dict:
        return {"year": self.year.data, "quarter": int(self.quarter.data), "month": int(self.month.data),
                "start": self.start.data, "end": self.end.data}


class BatchForm(PeriodForm, IdempotentForm):
    """The batch carries a form key: posted twice (a double click, a resent page) it makes one job."""

    group_id = SelectField(_l("Villager group"), coerce=int, default=0)
    submit = SubmitField(_l("Print statements for all households"))
