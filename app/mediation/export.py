"""Mediation statistics for .xlsx / .csv (app.tabular.export): counts only, from app.mediation.queries,
by kind of dispute, by month and by status, with the 矛盾不出村率. Never a case, a name or a party: the
sheets are built from the counting queries alone, and nothing here reads a case's row."""
from __future__ import annotations

import datetime as dt

from flask_babel import gettext as _

from ..tabular.export import Sheet
from . import queries as mq
from .forms import STATUSES, TYPES


def _percent(x: float | None) -> float | None:
    return round(x * 100, 1) if x is not None else None


def _figures(f: mq.Figures) -> list:
    return [f.received, f.settled, f.carried_out, f.inside_village, f.not_accepted, f.failed, f.escalated,
            _percent(f.inside_rate), f.median_days]


def statistics_sheets(village_id: int, year: int) -> list[Sheet]:
    first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
    total, by_type = mq.figures(village_id, first, last)
    months = [(m, mq.figures(village_id, *mq.month_bounds(year, m))[0]) for m in range(1, 13)]
    statuses = mq.status_counts(village_id, first, last)
    counts = [_("Received"), _("Settled"), _("Carried out"), _("Settled inside the village (cases)"), _("Not accepted"),
              _("No agreement"), _("Handed up"), _("Settled in the village (%)"), _("Median days to close")]
    widths = [24] + [12] * len(counts)
    type_rows = [[str(label), *_figures(by_type[key])] for key, label in TYPES.items() if key in by_type]
    type_rows.append([_("Total"), *_figures(total)])
    return [
        Sheet(_("By kind of dispute %(year)s", year=year), [_("Kind of dispute"), *counts], type_rows,
              widths=widths),
        Sheet(_("By month %(year)s", year=year), [_("Year"), _("Month"), *counts],
              [[year, m, *_figures(f)] for m, f in months], widths=[6, 6] + [12] * len(counts)),
        Sheet(_("By status %(year)s", year=year), [_("Status"), _("Cases")],
              [[str(label), statuses.get(key, 0)] for key, label in STATUSES.items()], widths=[24, 10]),
    ]
