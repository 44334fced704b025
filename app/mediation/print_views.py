"""Printed mediation papers: the agreement, the case dossier, and the monthly report (counts only)."""
from __future__ import annotations

from flask import abort, flash, g, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..access import require
from ..db import local_today
from ..extensions import db
from ..printing import pdf_response, render_pdf
from ..submission import run_write
from . import bp
from . import queries as mq
from . import services as ms
from .forms import INTAKES, LEVELS, PERFORMED, RISKS, SESSION_KINDS, STATUSES, TYPES
from .views import _readable_or_404

LABELS = {"types": TYPES, "statuses": STATUSES, "intakes": INTAKES, "levels": LEVELS, "risks": RISKS,
          "kinds": SESSION_KINDS, "performed": PERFORMED}


def _mediators(case) -> list[str]:
    return [m.user.display_name for m in case.mediators]


@bp.route("/cases/<int:case_id>/agreement.pdf")
@require("mediation.view")
def agreement_pdf(case_id: int):
    case = _readable_or_404(case_id)
    if case.agreement is None or case.agreement.oral:
        flash(_("This case has no written agreement to print."), "info")
        return redirect(url_for("mediation.case", case_id=case.id))
    run_write(lambda: ms.read(db.session.merge(case), current_user))
    pdf = render_pdf("mediation_agreement.html", village=g.village, case=case, agreement=case.agreement,
                     mediators=_mediators(case))
    return pdf_response(pdf, _("Mediation agreement %(number)s", number=case.number) + ".pdf",
                        ascii_name=f"mediation-agreement-{case.year}-{case.seq:03d}.pdf")


@bp.route("/cases/<int:case_id>/dossier.pdf")
@require("mediation.view")
def dossier_pdf(case_id: int):
    case = _readable_or_404(case_id)
    run_write(lambda: ms.read(db.session.merge(case), current_user))
    pdf = render_pdf("mediation_dossier.html", village=g.village, case=case, mediators=_mediators(case),
                     printed_on=local_today(), labels=LABELS)
    return pdf_response(pdf, _("Mediation dossier %(number)s", number=case.number) + ".pdf",
                        ascii_name=f"mediation-dossier-{case.year}-{case.seq:03d}.pdf")


@bp.route("/report/<int:year>-<int:month>.pdf")
@require("mediation.view")
def month_report_pdf(year: int, month: int):
    """The month for the judicial office: counts by kind of dispute, no names."""
    if not (2000 <= year <= 2100 and 1 <= month <= 12):
        abort(404)
    first, last = mq.month_bounds(year, month)
    total, by_type = mq.figures(g.village.id, first, last)
    pdf = render_pdf("mediation_month.html", village=g.village, year=year, month=month, total=total,
                     by_type=by_type, types=TYPES, printed_on=local_today())
    return pdf_response(pdf, _("Mediation in %(year)s-%(month)s", year=year, month=f"{month:02d}") + ".pdf",
                        ascii_name=f"mediation-{year}-{month:02d}.pdf")
