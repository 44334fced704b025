"""Mediation pages. A case's details are for its mediators and the village's mediation head only: anyone else
gets "not found" (404, the case's existence is not confirmed), and the list shows them counts. Every view of a
case's details writes an audit row."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..access import require
from ..auth.models import Membership, User
from ..db import local_today, utc_from_local
from ..errors import DomainError
from ..extensions import db
from ..forms import options
from ..grid import queries as gq
from ..grid import services as grid
from ..grid.models import GridEvent
from ..patrol import services as patrol
from ..patrol.models import PatrolFinding
from ..points import services as points
from ..points.models import PointEntry, PointItem
from ..points.queries import village_scheme
from ..registry.models import Household, Person, PersonStatus
from ..submission import run_write, submit
from ..tabular.export import table_response
from ..urls import as_id
from . import bp
from . import queries as mq
from . import services as ms
from .export import statistics_sheets
from .forms import (
    ACTIONS,
    INTAKES,
    LEVELS,
    PERFORMED,
    SESSION_KINDS,
    STATUSES,
    TYPES,
    AgreementForm,
    AssignForm,
    CaseForm,
    FollowUpForm,
    LevelForm,
    MoveForm,
    ProposalForm,
    SessionForm,
)
from .models import Agreement, CaseMediator, MediationCase, MediationHead, PartyRole
from .states import CASE


def _readable_or_404(case_id: int) -> MediationCase:
    """The case, if this user may read it: one of its mediators or the village's head; else 404 (audited as a
    refused read by the access layer's cross-village rule only when it is another village's)."""
    case = db.session.get(MediationCase, case_id)
    if case is None or g.village is None or case.village_id != g.village.id or not ms.can_read(case, current_user):
        abort(404)
    return case


def _mine_query():
    head = ms.is_head(g.village.id, current_user)
    stmt = sa.select(MediationCase).where(MediationCase.village_id == g.village.id)
    if not head:
        stmt = stmt.where(MediationCase.id.in_(sa.select(CaseMediator.case_id)
                                               .where(CaseMediator.user_id == current_user.id)))
    return stmt.order_by(MediationCase.year.desc(), MediationCase.seq.desc())


@bp.post("/head")
@require("mediation.appoint")
def appoint_head():
    """The village committee names the mediation committee's head, who reads every case."""
    form = AssignForm(prefix="head")
    form.user_id.choices = options((u.id, u.id) for u in _village_mediators())
    if not form.validate_on_submit():
        flash(_("Choose a mediator from the list."), "error")
    else:
        run_write(lambda: ms.set_head(g.village, db.session.get(User, form.user_id.data)))
        flash(_("The mediation committee's head is appointed."), "success")
    return redirect(url_for("mediation.index"))


@bp.route("/")
@require("mediation.view")
def index():
    """Counts for everyone with mediation access; the cases themselves for their mediators and the head."""
    counts = dict(db.session.execute(sa.select(MediationCase.status, sa.func.count()).where(
        MediationCase.village_id == g.village.id).group_by(MediationCase.status)).all())
    cases = db.session.scalars(_mine_query().limit(200)).all() if g.roles & {"mediator"} else []
    today = local_today()
    due = [c for c in ms.follow_ups_due(g.village.id) if ms.can_read(c, current_user)]
    # the home page's links: ?due=overdue or soon narrows the follow-ups, ?window=closing lists the agreements
    # whose judicial-confirmation window is closing (both over the cases this user may read)
    due_filter = request.args.get("due")
    if due_filter == "overdue":
        due = [c for c in due if ms.due_on(c) < today]
    elif due_filter == "soon":
        due = [c for c in due if today <= ms.due_on(c) <= today + dt.timedelta(days=mq.AHEAD_DAYS)]
    else:
        due_filter = None
    closing = None
    if request.args.get("window") == "closing":
        closing = db.session.scalars(sa.select(MediationCase).join(Agreement, Agreement.case_id == MediationCase.id)
                                     .where(*mq.readable_filter(g.village.id, current_user.id),
                                            *mq.window_filter(today)).order_by(Agreement.signed_on)).all()
        closing = [(c, c.agreement.signed_on + dt.timedelta(days=mq.JUDICIAL_DAYS)) for c in closing]
    head = AssignForm(prefix="head")
    head.user_id.choices = options((u.id, u.display_name) for u in _village_mediators())
    heads = [db.session.get(User, h.user_id) for h in db.session.scalars(
        sa.select(MediationHead).where(MediationHead.village_id == g.village.id))]
    awaiting = gq.awaiting_mediation(g.village.id) if g.roles & {"mediator"} else []
    return render_template("mediation/index.html", counts=counts, cases=cases, statuses=STATUSES, types=TYPES,
                           due=due, due_on=ms.due_on, today=today, head=head, heads=heads,
                           awaiting=awaiting, due_filter=due_filter, closing=closing)


def _person_for(number: str | None, name: str | None, field: str) -> int | None:
    if not number:
        return None
    household = db.session.scalar(sa.select(Household).where(Household.village_id == g.village.id,
                                                              Household.number == number))
    people = [p for p in (household.members if household else []) if p.name == name
              and p.status == PersonStatus.ALIVE.value]
    if len(people) != 1:
        raise ms.MediationError(_("Household %(number)s has no living member named %(name)s.", number=number,
                                  name=name), field)
    return people[0].id


@bp.route("/new", methods=["GET", "POST"])
@require("mediation.manage")
def case_new():
    """受理登记; `?finding=<id>` opens the case from a patrol finding turned over to mediation, `?event=<id>` from a
    grid event a clerk turned over to mediation (either stays linked to the case)."""
    finding = None
    event = None
    if "event" in request.args:
        event_id = as_id(request.args.get("event"))
        event = db.session.get(GridEvent, event_id) if event_id is not None else None
        if event is None or event.village_id != g.village.id or event.handed_to != "mediation_case" \
                or event.handed_id is not None:
            abort(404)
    if "finding" in request.args:
        finding_id = as_id(request.args.get("finding"))
        finding = db.session.get(PatrolFinding, finding_id) if finding_id is not None else None
        if finding is None or finding.village_id != g.village.id or finding.action != "to_mediation":
            abort(404)
    form = CaseForm()
    form.ensure_key()
    if request.method == "GET":
        form.received_on.data = local_today()
        if finding is not None:
            form.intake.data = "patrol_report"
            form.summary.data = finding.text
        if event is not None:
            form.intake.data = "grid_report"
            form.summary.data = event.text
    if form.validate_on_submit():
        def register():
            parties = [form.party("a_", PartyRole.APPLICANT.value, _person_for(form.a_number.data, form.a_name.data,
                                                                               "a_number")),
                       form.party("r_", PartyRole.RESPONDENT.value, _person_for(form.r_number.data, form.r_name.data,
                                                                                "r_number"))]
            source = ("patrol_finding", finding.id) if finding else ("grid_event", event.id) if event else None
            case = ms.register_case(g.village, form.case_data(), parties, mediators=[db.session.merge(current_user)],
                                    actor=current_user, source=source)
            if finding is not None:
                patrol.link_finding(db.session.merge(finding), "mediation_case", case.id)
            if event is not None:
                grid.attach_case(db.session.get(GridEvent, event.id), case.id, actor=current_user)
            return case

        done = submit(form, register, field="summary")
        if done:
            flash(_("Case %(number)s registered.", number=done.value.number), "success")
            return redirect(url_for("mediation.case", case_id=done.value.id))
    return render_template("mediation/case_form.html", form=form, finding=finding, event=event)


@bp.route("/cases/<int:case_id>")
@require("mediation.view")
def case(case_id: int):
    case = _readable_or_404(case_id)
    run_write(lambda: ms.read(db.session.merge(case), current_user))
    move = MoveForm(prefix="move")
    move.action.choices = options((a, ACTIONS[a]) for a in CASE.allowed(case.status) if a in ACTIONS)
    level = LevelForm(prefix="level", formdata=None, level=case.level, on=local_today())
    assign = AssignForm(prefix="assign")
    on_case = {m.user_id for m in case.mediators}
    assign.user_id.choices = options((u.id, u.display_name) for u in _village_mediators() if u.id not in on_case)
    proposal = ProposalForm(prefix="points")
    proposal.item_id.choices = _award_items()
    proposed = _proposed(case)
    return render_template("mediation/case.html", case=case, move=move, level=level, assign=assign,
                           proposal=proposal, proposed=proposed,
                           session=SessionForm(prefix="session", formdata=None, day=local_today()),
                           agreement=AgreementForm(prefix="agreement", formdata=None, signed_on=local_today()),
                           follow_up=FollowUpForm(prefix="follow", formdata=None, visited_on=local_today()),
                           CASE=CASE, statuses=STATUSES, types=TYPES, intakes=INTAKES, levels=LEVELS,
                           kinds=SESSION_KINDS, performed=PERFORMED, due_on=ms.due_on)


def _village_mediators() -> list[User]:
    return list(db.session.scalars(sa.select(User).join(Membership).where(
        Membership.village_id == g.village.id, Membership.role == "mediator").order_by(User.username)))


def _post(case_id: int, form, action, done: str):
    """A case-page form: validate, run the service, say what happened, back to the case."""
    case = _readable_or_404(case_id)
    if form.validate_on_submit():
        try:
            run_write(lambda: action(db.session.merge(case), form))
        except DomainError as e:
            flash(str(e), "error")
        else:
            flash(done, "success")
    else:
        flash("；".join(str(e) for errs in form.errors.values() for e in errs), "error")
    return redirect(url_for("mediation.case", case_id=case.id))


@bp.post("/cases/<int:case_id>/move")
@require("mediation.manage")
def case_move(case_id: int):
    form = MoveForm(prefix="move")
    form.action.choices = options(ACTIONS.items())
    return _post(case_id, form, lambda c, f: ms.move(c, f.action.data, note=f.note.data, actor=current_user),
                 _("Saved."))


@bp.post("/cases/<int:case_id>/level")
@require("mediation.manage")
def case_level(case_id: int):
    return _post(case_id, LevelForm(prefix="level"),
                 lambda c, f: ms.move_level(c, f.level.data, on=f.on.data, note=f.note.data, actor=current_user),
                 _("Saved."))


@bp.post("/cases/<int:case_id>/assign")
@require("mediation.manage")
def case_assign(case_id: int):
    form = AssignForm(prefix="assign")
    form.user_id.choices = options((u.id, u.id) for u in _village_mediators())
    return _post(case_id, form, lambda c, f: ms.assign(c, db.session.get(User, f.user_id.data)),
                 _("Mediator added."))


@bp.post("/cases/<int:case_id>/sessions")
@require("mediation.manage")
def case_session(case_id: int):
    return _post(case_id, SessionForm(prefix="session"),
                 lambda c, f: ms.add_session(c, kind=f.kind.data, at=utc_from_local(f.day.data, f.time.data),
                                             place=f.place.data, attendees=f.attendees.data, text=f.record.data,
                                             actor=current_user),
                 _("Session record saved."))


@bp.post("/cases/<int:case_id>/agreement")
@require("mediation.manage")
def case_agreement(case_id: int):
    return _post(case_id, AgreementForm(prefix="agreement"),
                 lambda c, f: ms.record_agreement(c, facts=f.facts.data, terms=f.terms.data,
                                                  performance=f.performance.data, signed_on=f.signed_on.data,
                                                  perform_by=f.perform_by.data, copies=f.copies.data,
                                                  oral=bool(f.oral.data), recorder=f.recorder.data,
                                                  actor=current_user),
                 _("Agreement recorded. The parties may apply together for judicial confirmation (司法确认) "
                   "within 30 days."))


@bp.post("/cases/<int:case_id>/follow-ups")
@require("mediation.manage")
def case_follow_up(case_id: int):
    return _post(case_id, FollowUpForm(prefix="follow"),
                 lambda c, f: ms.record_follow_up(c, visited_on=f.visited_on.data, visited=f.visited.data,
                                                  performed=f.performed.data, findings=f.findings.data,
                                                  actor=current_user),
                 _("Follow-up visit saved."))


def _award_items():
    scheme = village_scheme(g.village.id)
    if scheme is None:
        return []
    return options((i.id, f"{i.code} {i.text[:30]}（{i.points:+d}）") for i in db.session.scalars(
        sa.select(PointItem).where(PointItem.scheme_id == scheme.id, PointItem.points > 0,
                                   PointItem.active == True).order_by(PointItem.code)))


def _proposed(case: MediationCase):
    return db.session.scalars(sa.select(PointEntry).where(PointEntry.village_id == case.village_id,
                                                          PointEntry.source == "mediation",
                                                          PointEntry.source_ref == f"mediation-case:{case.id}")
                              .order_by(PointEntry.id)).all()


@bp.post("/cases/<int:case_id>/points")
@require("mediation.manage")
def case_points(case_id: int):
    """On closing, points for a villager who helped, through the scheme's items; they wait for review."""
    form = ProposalForm(prefix="points")
    form.item_id.choices = _award_items()

    def propose(case: MediationCase, f):
        if case.status != "closed":
            raise ms.MediationError(_("Points are proposed when the case is closed."))
        person_id = _person_for(f.number.data, f.name.data, "number")
        item = db.session.get(PointItem, f.item_id.data)
        person = db.session.get(Person, person_id)
        # no note: an entry's note shows on the household's page and statement, and nothing of a case may
        # (the item says what was done; the source names the case for its mediators)
        return points.record_entry(village_scheme(case.village_id), item, person.household, person=person,
                                   occurred_on=case.closed_on, actor=current_user,
                                   source="mediation", source_ref=f"mediation-case:{case.id}")

    return _post(case_id, form, propose, _("Points proposed; they wait for review."))


@bp.route("/statistics")
@require("mediation.view")
def statistics():
    """The year's and each month's figures, by kind of dispute: counts only."""
    today = local_today()
    year = request.args.get("year", type=int) or today.year
    if not 2000 <= year <= 2100:
        abort(404)
    total, by_type = mq.figures(g.village.id, *((dt.date(year, 1, 1), dt.date(year, 12, 31))))
    months = [(m, mq.figures(g.village.id, *mq.month_bounds(year, m))[0]) for m in range(1, 13)]
    return render_template("mediation/statistics.html", year=year, total=total, by_type=by_type, months=months,
                           types=TYPES, today=today)



@bp.route("/statistics/<int:year>.<any(xlsx, csv):fmt>")
@require("mediation.view")
def statistics_export(year: int, fmt: str):
    """The year's statistics page as .xlsx or .csv: counts by kind, month and status, never a case."""
    if not 2000 <= year <= 2100:
        abort(404)
    return table_response(statistics_sheets(g.village.id, year), fmt,
                          _("%(village)s mediation statistics %(year)s", village=g.village.name, year=year),
                          ascii_name=f"mediation-statistics-{g.village.code}-{year}")

from . import print_views  # noqa: E402,F401  (the printed papers' routes, on the same blueprint)
