"""Happiness supermarket reports: stock, redemptions per month, most redeemed goods, the 村务公开 sheet, and
the goods-and-stock export."""
from __future__ import annotations

from flask import g, render_template, request
from flask_babel import gettext as _

from ..access import require
from ..db import local_today
from ..printing import pdf_response, render_pdf
from ..tabular.export import table_response
from . import bp
from . import services as shop
from .export import stock_sheets
from .forms import DONOR_KINDS
from .views import village_products


def _year_month() -> tuple[int, int]:
    """?year=&month= from the query string, clamped; this month by default."""
    today = local_today()
    try:
        year = int(request.args.get("year", today.year))
        month = int(request.args.get("month", today.month))
    except ValueError:
        return today.year, today.month
    return min(max(year, 2000), 2200), min(max(month, 1), 12)


@bp.route("/reports")
@require("shop.view")
def reports():
    """Stock (low rows marked), redemptions per month of the year, and the most redeemed goods."""
    year, month = _year_month()
    start, _e = shop.month_bounds(year, 1)
    _s, end = shop.month_bounds(year, 12)
    months = shop.redemptions_by_month(g.village.id, year)
    return render_template("shop/reports.html", year=year, month=month, products=village_products(),
                           months=months,
                           top=shop.top_goods(g.village.id, start, end),
                           totals={k: sum(m[k] for m in months) for k in ("count", "points", "qty")})


@bp.route("/reports/disclosure")
@require("shop.view")
def disclosure():
    """The month's 村务公开 figures on screen, with the A4 print link."""
    year, month = _year_month()
    return render_template("shop/disclosure.html", d=shop.disclosure(g.village.id, year, month), kinds=DONOR_KINDS)


@bp.route("/reports/disclosure.pdf")
@require("shop.view")
def disclosure_pdf():
    """The 村务公开 sheet of a month (A4) for the notice board."""
    year, month = _year_month()
    d = shop.disclosure(g.village.id, year, month)
    pdf = render_pdf("shop_disclosure.html", village=g.village, d=d, kinds=DONOR_KINDS, printed_on=local_today())
    return pdf_response(pdf, _("Happiness supermarket disclosure %(year)s-%(month)02d", year=year, month=month)
                        + ".pdf", ascii_name=f"shop-disclosure-{year}-{month:02d}.pdf")


@bp.route("/reports/stock.<any(xlsx, csv):fmt>")
@require("shop.view")
def stock_export(fmt: str):
    """Every product with its price and stock on hand, and every stock movement, as .xlsx or .csv."""
    return table_response(stock_sheets(g.village.id), fmt,
                          _("%(village)s goods and stock %(date)s", village=g.village.name,
                            date=local_today().isoformat()),
                          ascii_name=f"stock-{g.village.code}-{local_today():%Y%m%d}")
