"""Statement pages: print one household's, print a village's in the background, and the public check."""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, current_app, g, redirect, render_template, request, send_from_directory, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from ..access import get_in_village_or_404, require
from ..budgets import take
from ..db import local_today
from ..extensions import db, limiter
from ..filters import LABELS
from ..forms import flash_recorded, options, refuse
from ..idempotency import mark_replayed
from ..printing import pdf_response
from ..registry.models import Household, VillagerGroup
from ..submission import submit
from ..text import group_key
from . import batch, bp
from . import services as svc
from .forms import BatchForm, PeriodForm
from .models import StatementJob
from .states import JOB

LABELS["job_status"] = {"queued": _l("Waiting to start"), "running": _l("Printing"), "done": _l("Done"),
                        "failed": _l("Failed")}


def _base_url() -> str:
    """Where printed QR codes point: the configured public address, else the one the clerk used."""
    return current_app.config.get("STATEMENT_BASE_URL") or request.url_root


def _resolve(form: PeriodForm) -> svc.Period | None:
    try:
        return svc.resolve_period(form.kind.data, **form.period_args(), today=local_today())
    except svc.StatementError as e:
        refuse(form, "year", e)
        return None


# Clerk and reviewer: one household

@bp.route("/statements/households/<int:household_id>", methods=["GET", "POST"])
@require("statements.print")
def household(household_id: int):
    """Print a household's points statement for a period (the PDF), after issuing its code."""
    household = get_in_village_or_404(Household, household_id)
    form = PeriodForm()
    if request.method == "GET":
        form.year.data = local_today().year
    if form.validate_on_submit():
        period = _resolve(form)

        def issue():
            data = svc.build_statement(get_in_village_or_404(Household, household_id), period,
                                       detailed=form.detailed.data)
            return data, svc.issue_statement(data, actor=current_user, paper=form.paper.data)

        done = submit(form, issue, field="year") if period is not None else None
        if done:
            data, issued = done.value
            pdf = batch.statement_pdf(data, issued, _base_url())
            return pdf_response(pdf, _("Points statement %(number)s %(period)s", number=household.number,
                                       period=period.label) + ".pdf",
                                ascii_name=f"statement-{household.number}-{period.start.isoformat()}.pdf")
    status = 422 if request.method == "POST" else 200
    return render_template("statements/household.html", household=household, form=form), status


# Clerk and reviewer: a whole village or group, in the background

def _groups() -> list[VillagerGroup]:
    return sorted(db.session.scalars(sa.select(VillagerGroup).where(VillagerGroup.village_id == g.village.id)),
                  key=lambda gr: group_key(gr.name))


def _recent_jobs() -> list[StatementJob]:
    return list(db.session.scalars(sa.select(StatementJob).where(StatementJob.village_id == g.village.id)
                                   .order_by(StatementJob.id.desc()).limit(10)))


@bp.route("/statements/batch", methods=["GET", "POST"])
@require("statements.print")
def batch_new():
    """Start printing statements for every household of the village (or one group); list recent batches,
    the queue, and the statements whose batch stopped before printing them."""
    batch.refresh(g.village.id)
    form = BatchForm()
    form.ensure_key()
    groups = _groups()
    form.group_id.choices = options([(0, _("All households of the village"))]
                                    + [(x.id, x.name) for x in groups])
    if request.method == "GET":
        form.year.data = local_today().year
    if form.validate_on_submit():
        period = _resolve(form)
        group_id = form.group_id.data or None
        if period is not None and not svc.batch_households(g.village.id, group_id):
            refuse(form, "group_id", svc.StatementError(_("There are no active households to print.")))
        elif period is not None:
            def queue():
                return batch.queue_job(g.village.id, period, group_id=group_id, paper=form.paper.data,
                                       base_url=_base_url(), actor=current_user, key=form.idempotency_key.data,
                                       detailed=form.detailed.data)

            try:
                done = submit(form, queue, field="group_id")
            except IntegrityError:
                # the same form posted twice at once: the other request queued the batch
                job = db.session.scalar(sa.select(StatementJob).where(
                    StatementJob.village_id == g.village.id,
                    StatementJob.idempotency_key == form.idempotency_key.data))
                if job is None:
                    raise
                flash_recorded(mark_replayed(job), "")
                return redirect(url_for("statements.job", job_id=job.id))
            if done:
                job_id = done.value.id
                flash_recorded(done.value, _("Batch #%(id)s added.", id=job_id))
                if not done.replayed:
                    batch.start_job(job_id)
                return redirect(url_for("statements.job", job_id=job_id))
    status = 422 if request.method == "POST" else 200
    return render_template("statements/batch.html", form=form, jobs=_recent_jobs(),
                           places=batch.queue_places(g.village.id),
                           unprinted=batch.unprinted_statements(g.village.id)), status


def _period_of(job: StatementJob) -> svc.Period:
    return svc.Period(job.period_kind, job.period_start, job.period_end)


def _looked_at(job_id: int) -> tuple[StatementJob, tuple[int, int] | None]:
    """The job after the village's batches were looked at (a dead one failed), and its place in line."""
    job = get_in_village_or_404(StatementJob, job_id)
    batch.refresh(job.village_id)
    job = get_in_village_or_404(StatementJob, job_id)
    return job, batch.queue_places(job.village_id).get(job.id)


@bp.route("/statements/jobs/<int:job_id>")
@require("statements.print")
def job(job_id: int):
    """A batch's progress (refreshed by htmx) and, when done, its download."""
    job, place = _looked_at(job_id)
    return render_template("statements/job.html", job=job, period=_period_of(job), place=place)


@bp.route("/statements/jobs/<int:job_id>/progress")
@require("statements.print")
def job_progress(job_id: int):
    """The progress fragment; htmx polls it until the job is done or failed."""
    job, place = _looked_at(job_id)
    return render_template("statements/_job_progress.html", job=job, place=place)


@bp.route("/statements/jobs/<int:job_id>/download")
@require("statements.print")
def job_download(job_id: int):
    """The batch's PDF."""
    job = get_in_village_or_404(StatementJob, job_id)
    if not JOB.can(job.status, "download") or not job.result_file:
        abort(404)
    resp = send_from_directory(batch.jobs_dir(), job.result_file, mimetype="application/pdf",
                               as_attachment=True, download_name=f"statements-{job.id}.pdf", max_age=0)
    resp.headers["Cache-Control"] = "no-store"
    return resp


# Public: anyone holding the paper (the QR code points here); no login, nothing but the verdict

@bp.route("/verify")
@limiter.limit("30 per minute")  # only a redirect: the check itself spends the shared budget below
def verify_form():
    """Type a verification code from a printed statement."""
    code = request.args.get("code", "")
    if code:
        normalized = svc.normalize_code(code)
        return redirect(url_for("statements.verify", code=normalized or "-"))
    return render_template("statements/verify.html", verdict=None)


@bp.route("/verify/<code>")
def verify(code: str):
    """Whether the statement with this code still matches the ledger."""
    # codes are unguessable only at a bounded rate: a budget per address, shared by every worker
    take(f"verify:{request.remote_addr}", current_app.config["VERIFY_RATE"])
    verdict = svc.verify(code)
    status = 404 if verdict.status == "not_found" else 200
    return render_template("statements/verify.html", verdict=verdict), status
