"""Points pages: scheme set-up, recording, review, posting, objections, household points, rankings."""
from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa
from flask import (abort, current_app, flash, g, redirect, render_template, request, send_from_directory,
                   url_for)
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup, escape
from pypinyin import Style, lazy_pinyin
from werkzeug.exceptions import NotFound
from wtforms.fields.choices import SelectChoice

from ..access import can, deny, get_in_village_or_404, require
from ..db import local_today
from ..errors import Busy, DomainError
from ..extensions import db
from ..filters import signed, stars
from ..forms import flash_recorded, options, page_number
from ..idempotency import new_key, usable_key
from ..ledger.models import Transfer
from ..ledger.queries import reversed_ids
from ..photos import save_photo
from ..registry.models import Household, HouseholdStatus, Person, PersonStatus, VillagerGroup
from ..registry.services import person_search_query
from ..rules.services import (article_ids_for_item, citable_articles, count_citations_to_repoint,
                              set_item_articles)
from ..shop.queries import household_redemptions_query
from ..submission import run_write, submit
from ..text import TextRejected, clean_text, group_key, natural_key
from ..urls import as_id, id_arg, safe_next
from . import bp
from . import queries as pq
from . import services as pts
from .forms import (
    CAP_PERIODS,
    DIRECTIONS,
    BatchForm,
    BulkReviewForm,
    CategoryForm,
    DecisionForm,
    EntryForm,
    ItemForm,
    ObjectionForm,
    ReviewForm,
    SchemeForm,
    YearCloseForm,
)
from .models import Objection, PointCategory, PointEntry, PointItem, PointScheme, YearScore
from .states import ENTRY


def _scheme() -> PointScheme | None:
    return pq.village_scheme(g.village.id)


@bp.context_processor
def _points_globals():
    # the status a person sees (a posted entry whose posting is over is final), one rule for every list
    return {"entry_status": pq.effective_status}


def _scheme_or_setup():
    scheme = _scheme()
    if scheme is None:
        flash(_("Set up the village's points scheme first."), "info")
    return scheme


def _items(scheme: PointScheme, active_only: bool = True) -> list[PointItem]:
    stmt = sa.select(PointItem).where(PointItem.scheme_id == scheme.id)
    if active_only:
        stmt = stmt.where(PointItem.active == True)  # noqa: E712  (Flag binds 1/true per database)
    return list(db.session.scalars(stmt.order_by(PointItem.code)))


@lru_cache(maxsize=4096)
def _initials(text: str) -> str:
    """Pinyin initials of an item's text (参加村庄清洁日 → cjcjqjr), for the item list's filter."""
    return "".join(lazy_pinyin(text, style=Style.FIRST_LETTER, errors="ignore")).lower()


def _item_points(item: PointItem) -> str:
    """How an item gives points, for a choice list: +5, a range (+1至+10) or its rule (每100元加1分)."""
    if item.points_min is not None and item.points_max is not None:
        return f"{item.points_min:+d}至{item.points_max:+d}"
    return pts.amount_rule(item) or f"{item.points:+d}"


def _item_label(item: PointItem) -> str:
    """A01 参加村庄清洁日（+2，每月最多 4 分）: the code, the text, the points and any cap."""
    if item.cap_period != "none" and item.cap_points:
        signed = _item_points(item)
        worth = _("%(points)s, at most %(cap)s points %(period)s", points=signed, cap=item.cap_points,
                  period=CAP_PERIODS[item.cap_period])
    else:
        worth = _item_points(item)
    return f"{item.code} {item.text[:40]}（{worth}）"


def _item_field(field, scheme: PointScheme, *, fixed_only: bool = False) -> None:
    """Fill a form's item list: grouped, searchable, with the filter box's words for app/static/app.js."""
    field.choices = _item_choices(scheme, fixed_only=fixed_only)
    field.render_kw = {"data-filter-label": _("Find an item: code, words or pinyin initials (e.g. qj)"),
                       "data-filter-count": _("%(n)s items match", n="%n")}


def _item_choices(scheme: PointScheme, *, fixed_only: bool = False) -> dict[str, list[SelectChoice]]:
    """The scheme's items in use, grouped by category (an optgroup each, in the scheme's order), each option
    carrying its search words (code, text, pinyin initials) for the list's filter box (app/static/app.js).

    A judgement item (降B级) gives no points: a reviewer applies it, it is not recorded here; the batch
    form (`fixed_only`) has no field for a range item's points or a per-amount item's amount."""
    by_category: dict[int, list[PointItem]] = {}
    for item in _items(scheme):
        if item.judgement or (fixed_only and (item.points_min is not None or item.amount_per)):
            continue
        by_category.setdefault(item.category_id, []).append(item)
    groups: dict[str, list[SelectChoice]] = {}
    for cat in scheme.categories:
        items = sorted(by_category.get(cat.id, []), key=lambda i: natural_key(i.code))
        if items:
            groups[f"{cat.name}（{DIRECTIONS[cat.direction]}）"] = [
                SelectChoice(i.id, _item_label(i), render_kw={
                    "data-search": f"{i.code} {i.text} {_initials(i.text)}".lower()}) for i in items]
    return groups


def _today() -> dt.date:
    return local_today()


# Scheme set-up (clerk)

@bp.route("/scheme", methods=["GET", "POST"])
@require("points.view")
def scheme():
    """The scheme (积分细则): its settings, categories and items."""
    scheme = _scheme()
    form = SchemeForm(obj=scheme) if scheme else SchemeForm(data={
        "name": _("Points scheme"), "posting_days": 7, "appeal_working_days": 7,
        "star_bands": "30:1,60:2,100:3,150:4,200:5"})
    cform = CategoryForm(prefix="c")
    if request.method == "POST" and not can("points.setup"):
        deny("points.setup")
    if form.submit.data and form.validate_on_submit():
        def save():
            current = _scheme()
            if current is None:
                return pts.create_scheme(g.village, form.name.data, year_policy=form.year_policy.data,
                                         posting_days=form.posting_days.data,
                                         appeal_working_days=form.appeal_working_days.data,
                                         star_bands=form.star_bands.data, spendable_from=form.spendable_from.data)
            return pts.update_scheme(current, name=form.name.data, year_policy=form.year_policy.data,
                                     posting_days=form.posting_days.data,
                                     appeal_working_days=form.appeal_working_days.data,
                                     star_bands=form.star_bands.data, spendable_from=form.spendable_from.data)

        if submit(form, save, field="name"):
            flash(_("Saved."), "success")
            return redirect(url_for("points.scheme"))
        scheme = _scheme()
    elif cform.submit.data and scheme is not None and cform.validate_on_submit():
        def add_category():
            current = _scheme()
            return pts.create_category(current, cform.name.data, cform.direction.data, sort=len(current.categories))

        if submit(cform, add_category, field="name"):
            flash(_("Category added."), "success")
            return redirect(url_for("points.scheme"))
        scheme = _scheme()
    items = _items(scheme, active_only=False) if scheme else []
    return render_template("points/scheme.html", scheme=scheme, form=form, cform=cform, items=items,
                           citations_waiting=count_citations_to_repoint(g.village.id))


def _item_form(scheme: PointScheme, item: PointItem | None = None) -> ItemForm:
    form = ItemForm(obj=item) if item else ItemForm()
    # the direction's label is translated outside the f-string: the extractor cannot see into one
    form.category_id.choices = options((c.id, f"{c.name}（{DIRECTIONS[c.direction]}）") for c in scheme.categories)
    linked = article_ids_for_item(item.id) if item is not None else []
    # articles already cited stay pickable even when their version has since been superseded
    form.article_ids.choices = options((a.id, f"{a.version.title} {a.label} {a.text[:24]}")
                                       for a in citable_articles(scheme.village_id, also=linked))
    if item is not None and request.method == "GET":
        form.article_ids.data = linked
    return form


def _save_item_articles(form: ItemForm, item: PointItem) -> None:
    """Link the item to the rule articles picked on the form (app.rules keeps the links)."""
    set_item_articles(item, form.article_ids.data or [], actor=current_user)


@bp.route("/items/new", methods=["GET", "POST"])
@require("points.setup")
def item_new():
    """Add an item to the catalogue."""
    scheme = _scheme_or_setup()
    if scheme is None or not scheme.categories:
        if scheme is not None:
            flash(_("Add a category first."), "info")
        return redirect(url_for("points.scheme"))
    form = _item_form(scheme)
    if form.validate_on_submit():
        def add():
            item = pts.create_item(get_in_village_or_404(PointCategory, form.category_id.data), form.export())
            _save_item_articles(form, item)
            return item

        done = submit(form, add, field="code")
        if done:
            flash(_("Item %(code)s added.", code=done.value.code), "success")
            return redirect(url_for("points.scheme"))
    return render_template("points/item_form.html", form=form, item=None)


@bp.route("/items/<int:item_id>", methods=["GET", "POST"])
@require("points.setup")
def item_edit(item_id: int):
    """Change an item; entries already recorded keep their own copy."""
    item = get_in_village_or_404(PointItem, item_id)
    form = _item_form(item.scheme, item)
    if form.validate_on_submit():
        def save():
            changed = pts.update_item(get_in_village_or_404(PointItem, item_id),
                                      get_in_village_or_404(PointCategory, form.category_id.data),
                                      form.export(get_in_village_or_404(PointItem, item_id)))
            _save_item_articles(form, changed)
            return changed

        if submit(form, save, field="code"):
            flash(_("Saved."), "success")
            return redirect(url_for("points.scheme"))
        item = get_in_village_or_404(PointItem, item_id)
    return render_template("points/item_form.html", form=form, item=item)


# Recording (clerk)

def _household_number(value: str | None) -> str:
    """A typed 户号 as the household would be looked up by, or "" when it cannot name one.

    Read before the form is validated (the member list depends on it): a number the field refuses (a control
    character, a NUL that PostgreSQL cannot even compare, more than the field holds) names no household, and
    the field says why.
    """
    try:
        number = clean_text(value)
    except TextRejected:
        return ""
    return number if len(number) <= 32 else ""


def _household_by_number(value: str | None) -> Household | None:
    number = _household_number(value)
    if not number:
        return None
    return db.session.scalar(sa.select(Household).where(Household.village_id == g.village.id,
                                                        Household.number == number))


def _person_choices(household: Household | None):
    pairs = [(0, _("— the head of household —"))]
    if household is not None:
        pairs += [(p.id, p.name) for p in household.members if p.status == PersonStatus.ALIVE.value]
    return options(pairs)


@bp.route("/household-people")
@require("points.record")
def household_people():
    """The living members of a household, as <option>s for the entry form (htmx).

    The form sends the number the list was last built for (people_for) and the member chosen (person_id).
    The list is asked for on every keystroke and again when 户号 loses focus: for the same household the
    answer is 204, which htmx does not swap, so a member chosen in between stays chosen. A list rebuilt for
    the same household keeps the member too; for another household the choice falls back to the head.
    """
    number = _household_number(request.args.get("household_number"))
    if number and number == _household_number(request.args.get("people_for")):
        return "", 204
    household = _household_by_number(number)
    chosen = request.args.get("person_id", "")
    return render_template("points/_person_options.html", choices=_person_choices(household),
                           chosen=int(chosen) if chosen.isascii() and chosen.isdigit() else 0,
                           people_for=household.number if household is not None else "")


def _save_evidence(storage, keep_location: bool) -> str | None:
    """Keep an evidence photo (app.photos: a JPEG, PNG or HEIC, stored upright and smaller, under a generated
    name; where it was taken only when the village keeps that)."""
    return save_photo(storage, "evidence", field="evidence", keep_location=keep_location)


@bp.route("/entries/new", methods=["GET", "POST"])
@require("points.record")
def entry_new():
    """Record one award or deduction for a household or one of its people."""
    scheme = _scheme_or_setup()
    if scheme is None:
        return redirect(url_for("points.scheme"))
    form = EntryForm()
    _item_field(form.item_id, scheme)
    household = _household_by_number(form.household_number.data) if request.method == "POST" else \
        _household_by_number(request.args.get("household"))
    if request.method == "GET" and household is not None:
        form.household_number.data = household.number
    form.person_id.choices = _person_choices(household)
    form.ensure_key()
    if form.validate_on_submit():
        if household is None:
            form.household_number.errors.append(_("There is no household with this number in the village."))
        else:
            household_id = household.id
            keep_location = bool(g.village.keep_photo_location)
            photo: list[str | None] = []  # stored by the first attempt; a retried attempt reuses its name

            def record_one():
                if not photo:
                    photo.append(_save_evidence(form.evidence.data, keep_location))
                person = get_in_village_or_404(Person, form.person_id.data) if form.person_id.data else None
                return pts.record_entry(_scheme(), get_in_village_or_404(PointItem, form.item_id.data),
                                        get_in_village_or_404(Household, household_id), person=person,
                                        occurred_on=form.occurred_on.data, note=form.note.data,
                                        actor=current_user, key=form.idempotency_key.data,
                                        evidence_file=photo[0], today=_today(), points=form.points.data,
                                        amount=form.amount.data)

            # the same form sent twice at once: submit() tries the loser again, which finds the winner's
            # entry by the form key and says "This was already recorded."
            done = submit(form, record_one, field="item_id")
            if done:
                entry = done.value
                flash_recorded(entry, _("Recorded: %(text)s %(points)+d for household %(number)s; waiting for review.",
                                        text=entry.item_text[:30], points=entry.points, number=entry.household.number))
                return redirect(url_for("points.entry_new"))
            household = get_in_village_or_404(Household, household_id)
    return render_template("points/entry_new.html", form=form, household=household)


@bp.route("/entries/batch", methods=["GET", "POST"])
@require("points.record")
def entry_batch():
    """One item for many people at once, e.g. everyone who joined a clean-up."""
    scheme = _scheme_or_setup()
    if scheme is None:
        return redirect(url_for("points.scheme"))
    # The page's form key lives in its address: Back after recording comes to this same address, the
    # browser fetches it again (pages are never cached) and gets the same key, so the batch sent again
    # is recognised instead of recorded twice (a key only in the hidden field would be a new one).
    if request.method == "GET" and not usable_key(request.args.get("key")):
        return redirect(url_for("points.entry_batch", **(request.args.to_dict() | {"key": new_key()})))
    groups = sorted(db.session.scalars(sa.select(VillagerGroup).where(VillagerGroup.village_id == g.village.id)),
                    key=lambda gr: group_key(gr.name))
    group_id = id_arg("group", request.values)
    everyone = request.values.get("group") == ALL_GROUPS  # the whole village, one section per group
    q = (request.values.get("q") or "")[:32].strip()
    people_stmt = (sa.select(Person).join(Household, Person.household_id == Household.id)
                   .where(Person.village_id == g.village.id, Person.status == PersonStatus.ALIVE.value,
                          Household.status == HouseholdStatus.ACTIVE.value)
                   .order_by(Household.number, Person.id))
    if group_id:
        people_stmt = people_stmt.where(Household.group_id == group_id)
    if q:
        ids = sa.select(person_search_query(g.village.id, q).subquery().c.id)
        people_stmt = people_stmt.where(Person.id.in_(ids))
    shown = list(db.session.scalars(people_stmt.limit(MAX_SHOWN))) if (group_id or q or everyone) else []
    form = BatchForm()
    _item_field(form.item_id, scheme, fixed_only=True)
    chosen_ids = [i for i in map(as_id, request.form.getlist("person_ids")) if i] if request.method == "POST" else []
    chosen = list(db.session.scalars(sa.select(Person).where(Person.id.in_(chosen_ids), Person.village_id == g.village.id))) \
        if chosen_ids else []
    listed = list({p.id: p for p in shown + chosen}.values())
    form.person_ids.choices = options((p.id, f"{p.household.number} {p.name}") for p in listed)
    if request.method == "GET":
        form.idempotency_key.data = request.args["key"]
    if request.form.get("submit") and form.validate_on_submit():
        def record_all():
            return pts.record_batch(_scheme(), get_in_village_or_404(PointItem, form.item_id.data),
                                    [get_in_village_or_404(Person, pid) for pid in form.person_ids.data],
                                    occurred_on=form.occurred_on.data, note=form.note.data, actor=current_user,
                                    batch_key=form.idempotency_key.data, today=_today())

        done = submit(form, record_all, field="person_ids")  # a racing twin is replayed, as for one entry
        if done:
            flash_recorded(done.value[0], _("Recorded %(n)s entries; they wait for review.", n=len(done.value)))
            return redirect(url_for("points.entries", status="pending"))
    return render_template("points/entry_batch.html", form=form, groups=groups, group_id=group_id, q=q,
                           shown=shown, everyone=everyone, all_groups=ALL_GROUPS, sections=_by_group(listed),
                           ticked=set(form.person_ids.data or []) & {p.id for p in listed}, more=len(shown) >= MAX_SHOWN)


#: the batch page's "all groups" choice, and the most people it lists at once
ALL_GROUPS = "all"
MAX_SHOWN = 1000


def _by_group(people: list[Person]) -> list[tuple[str | None, list[Person]]]:
    """People in sections by villager group (in the groups' number order), by household number within one."""
    sections: dict[str | None, list[Person]] = {}
    for p in people:
        sections.setdefault(p.household.group.name if p.household.group else None, []).append(p)
    for rows in sections.values():
        rows.sort(key=lambda p: (natural_key(p.household.number), p.id))
    return sorted(sections.items(), key=lambda kv: (kv[0] is None, group_key(kv[0] or "")))


# Lists, review and objections

STATUSES = ("pending", "posted", "disputed", "final", "rejected", "corrected")


@bp.route("/entries")
@require("points.view")
def entries():
    """Entries of the village by status."""
    status = request.args.get("status") or "pending"
    if status not in STATUSES + ("all",):
        status = "pending"
    stmt = sa.select(PointEntry).where(PointEntry.village_id == g.village.id)
    today = _today()
    if status == "posted":
        stmt = stmt.where(PointEntry.status == "posted", PointEntry.posting_until >= today)
    elif status == "final":
        stmt = stmt.where(sa.or_(PointEntry.status == "final",
                                 sa.and_(PointEntry.status == "posted", PointEntry.posting_until < today)))
    elif status != "all":
        stmt = stmt.where(PointEntry.status == status)
    # the home page's links: my own entries (the clerk's rejected ones), postings ending soon, oldest first
    mine = request.args.get("mine") == "1"
    if mine:
        stmt = stmt.where(PointEntry.recorded_by_id == current_user.id)
    ending = request.args.get("ending") == "1" and status == "posted"
    if ending:
        stmt = stmt.where(PointEntry.posting_until < today + dt.timedelta(days=pq.POSTING_ENDING_DAYS))
    oldest = request.args.get("order") == "oldest"
    page = db.paginate(stmt.order_by(PointEntry.id if oldest else PointEntry.id.desc()), page=page_number(),
                       per_page=current_app.config["PER_PAGE"], error_out=False)
    review = ReviewForm()
    return render_template("points/entries.html", page=page, status=status, review=review, today=today,
                           statuses=STATUSES, mine=mine, ending=ending, oldest=oldest, bulk=BulkReviewForm(),
                           max_bulk=MAX_BULK, cap_marks=_cap_marks(page.items))


def _cap_marks(entries) -> dict[int, int]:
    """Pending entries of a capped item near their cap: entry id → points the cap still allows.

    "Near" is a room the entry would exceed, or one that leaves a fifth of the cap or less after it, so the
    reviewer sees before approving which entries the cap will refuse or nearly use up (a page holds few)."""
    marks = {}
    for e in entries:
        if e.status != "pending":
            continue
        room = pts.cap_room(e)
        if room is not None and room - abs(e.points) <= (e.item.cap_points or 0) // 5:
            marks[e.id] = room
    return marks


#: the most entries one bulk review decides (a page of the list holds fewer)
MAX_BULK = 200
#: refusals named one by one in the bulk review's report; the rest are counted
MAX_REFUSALS_SHOWN = 10


@bp.post("/entries/review")
@require("points.review")
def entries_review():
    """Approve or reject the ticked entries at once.

    One transaction per entry, not one for the batch (the reliability design's invariant I6 and its
    concurrency notes): each approval is a ledger movement of its own whose transfer, balance and audit row
    commit together; an entry whose cap is reached is refused alone with its reason while the others pass;
    a short write per entry keeps the write lock short for the cashiers, and a busy retry repeats one entry,
    not the batch. Sent twice, the second send finds the entries decided: nothing moves twice.
    The reviewer is told which entries were decided and which were refused, and why.
    """
    form = BulkReviewForm()
    back = safe_next(request.form.get("next"), "points.entries", status="pending")
    ids = list(dict.fromkeys(i for i in map(as_id, request.form.getlist("entry_ids")) if i))
    if not form.validate_on_submit():
        flash(_("Please check the reason: %(errors)s", errors="；".join(sum(form.errors.values(), []))), "error")
        return redirect(back)
    if not ids:
        flash(_("Tick the entries to decide first."), "error")
        return redirect(back)
    if len(ids) > MAX_BULK:
        flash(_("At most %(n)s entries at once.", n=MAX_BULK), "error")
        return redirect(back)
    approving = bool(form.approve.data)
    if not approving and not form.note.data:
        flash(_("Please write the reason for rejecting; it is kept on every entry rejected."), "error")
        return redirect(back)
    done: list[int] = []
    refused: list[tuple[int, str]] = []
    for entry_id in sorted(ids):
        def decide(entry_id=entry_id) -> None:
            entry = get_in_village_or_404(PointEntry, entry_id)
            if approving:
                pts.approve(entry, current_user, note=form.note.data, today=_today())
            else:
                pts.reject(entry, current_user, reason=form.note.data)

        try:
            run_write(decide)
        except DomainError as e:
            refused.append((entry_id, str(e)))
        except Busy:
            refused.append((entry_id, _("The system was busy; this entry was not decided. Please try it again.")))
        except NotFound:
            refused.append((entry_id, _("No such entry in this village.")))
        else:
            done.append(entry_id)
    numbers = "、".join(f"#{i}" for i in done)
    if done:
        flash(_("Approved %(n)s entries (%(ids)s); they are on posting now.", n=len(done), ids=numbers)
              if approving else _("Rejected %(n)s entries (%(ids)s).", n=len(done), ids=numbers), "success")
    if refused:
        flash(_("%(n)s entries were not decided and are unchanged:", n=len(refused)), "error")
        for entry_id, why in refused[:MAX_REFUSALS_SHOWN]:
            flash(f"#{entry_id}：{why}", "error")
        if len(refused) > MAX_REFUSALS_SHOWN:
            flash(_("…and %(n)s more; they are still in the list.", n=len(refused) - MAX_REFUSALS_SHOWN), "error")
    return redirect(back)


@bp.route("/entries/<int:entry_id>", methods=["GET"])
@require("points.view")
def entry(entry_id: int):
    """One entry: who recorded and approved it, the posting, objections and any reversal."""
    entry = get_in_village_or_404(PointEntry, entry_id)
    transfers = list(db.session.scalars(sa.select(Transfer).where(Transfer.entry_id == entry.id)
                                        .order_by(Transfer.id)))
    replacement = db.session.scalar(sa.select(PointEntry).where(PointEntry.corrects_entry_id == entry.id))
    return render_template("points/entry.html", entry=entry, transfers=transfers, replacement=replacement,
                           review=ReviewForm(), oform=ObjectionForm(), today=_today(),
                           status=pq.effective_status(entry, _today()))


@bp.post("/entries/<int:entry_id>/review")
@require("points.review")
def entry_review(entry_id: int):
    """Approve or reject a pending entry."""
    form = ReviewForm()
    back = safe_next(request.form.get("next"), "points.entries", status="pending")
    if not form.validate_on_submit():
        flash(_("Please check the reason: %(errors)s", errors="；".join(sum(form.errors.values(), []))), "error")
        return redirect(back)
    def decide() -> str:
        entry = get_in_village_or_404(PointEntry, entry_id)
        if form.approve.data:
            pts.approve(entry, current_user, note=form.note.data, today=_today())
            return _("Approved; the entry is on posting until %(day)s.", day=entry.posting_until.isoformat())
        pts.reject(entry, current_user, reason=form.note.data or "")
        return _("Rejected.")

    # the list page has no form to put a refusal on: it comes back as a message at the top
    try:
        flash(run_write(decide), "success")
    except DomainError as e:
        flash(str(e), "error")
    return redirect(back)


@bp.post("/entries/<int:entry_id>/objections")
@require("points.record")
def objection_new(entry_id: int):
    """File a villager's objection to an entry on posting (the clerk files it for them)."""
    form = ObjectionForm()
    entry = get_in_village_or_404(PointEntry, entry_id)
    if form.validate_on_submit():
        def file_it():
            return pts.file_objection(get_in_village_or_404(PointEntry, entry_id), reason=form.reason.data,
                                      channel=form.channel.data, objector_name=form.objector_name.data,
                                      actor=current_user, today=_today())

        # the form sits on the entry's page, which is shown again: a refusal comes back as a message
        try:
            obj = run_write(file_it)
        except DomainError as e:
            flash(str(e), "error")
        else:
            flash(_("Objection filed; the reviewers must answer by %(day)s.", day=obj.due_on.isoformat()), "success")
    else:
        flash(_("Please write what the objection is about."), "error")
    return redirect(url_for("points.entry", entry_id=entry.id))


@bp.route("/objections")
@require("points.view")
def objections():
    """Objections: open ones first, overdue ones marked; ?state=open or overdue shows only those."""
    today = _today()
    state = request.args.get("state")
    stmt = sa.select(Objection).where(Objection.village_id == g.village.id)
    if state in ("open", "overdue"):
        stmt = stmt.where(Objection.decision.is_(None))
        if state == "overdue":
            stmt = stmt.where(Objection.due_on < today)
    else:
        state = None
    rows = list(db.session.scalars(stmt.order_by(Objection.decision.is_not(None), Objection.due_on, Objection.id)
                                   .limit(300)))
    return render_template("points/objections.html", rows=rows, today=today, state=state)


@bp.route("/objections/<int:objection_id>", methods=["GET", "POST"])
@require("points.view")
def objection(objection_id: int):
    """One objection; a reviewer decides it and writes the reply."""
    obj = get_in_village_or_404(Objection, objection_id)
    form = DecisionForm()
    form.ensure_key()
    if request.method == "POST":
        if not can("points.review"):
            deny("points.review")
        if form.validate_on_submit():
            corrected = form.corrected_points.data if form.decision.data == "corrected" else None

            def decide():
                return pts.decide_objection(get_in_village_or_404(Objection, objection_id), current_user,
                                            decision=form.decision.data, reply_text=form.reply_text.data,
                                            corrected_points=corrected, today=_today())

            if submit(form, decide, field="decision"):
                flash(_("Decided. The reply can be printed for the villager."), "success")
                return redirect(url_for("points.objection", objection_id=objection_id))
            obj = get_in_village_or_404(Objection, objection_id)
    return render_template("points/objection.html", obj=obj, form=form, today=_today())


# Household points, rankings, posting list, year end

#: shop visits listed per page on a household's points page
REDEMPTIONS_PER_PAGE = 20


@bp.route("/households/<int:household_id>")
@require("points.view")
def household(household_id: int):
    """A household's balance, this year's score and stars, and every entry."""
    household = get_in_village_or_404(Household, household_id)
    today = _today()
    overview = pq.household_overview(household, today=today)
    # one page of the history: the page costs the same after ten years as after one (bench figure 2)
    page = db.paginate(pq.household_entries_query(household), page=page_number(),
                       per_page=current_app.config["PER_PAGE"], error_out=False)
    rows = list(page.items)
    # the shop visits have their own pages too (a household shops every week: 500 rows after ten years)
    redemptions = db.paginate(household_redemptions_query(household.id), page=page_number("rpage"),
                              per_page=REDEMPTIONS_PER_PAGE, error_out=False)
    return render_template("points/household.html", household=household, overview=overview, year=overview.year,
                           rows=rows, page=page, reversed_ids=reversed_ids(e.transfer_id for e in rows),
                           past=pq.closed_years(household.id), today=today, redemptions=redemptions)


@bp.route("/rankings")
@require("points.view")
def rankings():
    """This year's ranking of households (and people), per village or per group."""
    try:
        year = int(request.args.get("year", _today().year))
    except ValueError:
        year = _today().year
    year = min(max(year, 2000), 2200)
    group_id = id_arg("group")
    scheme = _scheme()
    groups = sorted(db.session.scalars(sa.select(VillagerGroup).where(VillagerGroup.village_id == g.village.id)),
                    key=lambda gr: group_key(gr.name))
    rows = pq.household_ranking_rows(g.village.id, year, group_id=group_id, limit=200)
    people = pq.person_ranking_rows(g.village.id, year, group_id=group_id, limit=50)
    return render_template("points/rankings.html", rows=rows, people=people, year=year, group_id=group_id,
                           groups=groups, scheme=scheme, household_rank_rows=household_rank_rows,
                           person_rank_rows=person_rank_rows)


def household_rank_rows(rows: list[pq.RankRow], scheme: PointScheme | None) -> Markup:
    """The rankings' household rows (rank, 户号 linking to the household's points, head, score, stars), drawn
    in Python as one piece as the counter's shelf is: 200 rows of Jinja output, each value escaped on its own,
    were a tenth of the page's CPU (bench figure 12). Names and 户号 pass through escape(); the rest are
    integers or the filters' own text."""
    base = escape(url_for("points.household", household_id=0)[:-1])  # the address ends in the id
    return Markup("".join(  # noqa: S704
        f'<tr><td>{int(h.rank)}</td><td><a href="{base}{int(h.id)}">{escape(h.number)}</a> {escape(h.name)}</td>'
        f"<td>{signed(h.score)}</td><td>{stars(scheme.stars_for(h.score) if scheme else 0)}</td></tr>"
        for h in rows))


def person_rank_rows(people: list[pq.RankRow]) -> Markup:
    """The rankings' people rows (rank, name with their 户号, score), as household_rank_rows draws its rows."""
    return Markup("".join(  # noqa: S704
        f'<tr><td>{int(p.rank)}</td><td>{escape(p.name)} <small class="muted">{escape(p.number)}</small></td>'
        f"<td>{signed(p.score)}</td></tr>" for p in people))


@bp.route("/posting")
@require("points.view")
def posting():
    """Entries on posting (公示) now, as they go on the notice board."""
    today = _today()
    return render_template("points/posting.html", rows=pq.entries_on_posting(g.village.id, today), today=today)


@bp.route("/year-close", methods=["GET", "POST"])
@require("points.setup")
def year_close():
    """Close a finished year: keep its scores and apply the carry-over or expiry policy."""
    scheme = _scheme_or_setup()
    if scheme is None:
        return redirect(url_for("points.scheme"))
    form = YearCloseForm(data={"year": _today().year - 1} if request.method == "GET" else None)
    closed = list(db.session.scalars(sa.select(YearScore.year).where(YearScore.scheme_id == scheme.id).distinct()))
    if form.validate_on_submit():
        done = submit(form, lambda: pts.close_year(_scheme(), form.year.data, actor=current_user, today=_today()),
                      field="year")
        if done:
            n = done.value
            if n:
                flash(_("Year %(year)s closed for %(n)s households.", year=form.year.data, n=n), "success")
            else:
                flash(_("Year %(year)s was already closed; nothing changed.", year=form.year.data), "info")
            return redirect(url_for("points.rankings", year=form.year.data))
    return render_template("points/year_close.html", form=form, scheme=scheme, closed=sorted(closed))

@bp.context_processor
def _moves() -> dict:
    """Pages offer a verb only where the entry's state table allows it (app/points/states.py)."""
    return {"ENTRY": ENTRY}


from . import print_views  # noqa: E402,F401
from . import import_views  # noqa: E402,F401
from . import export_views  # noqa: E402,F401
from . import citation_views  # noqa: E402,F401


@bp.route("/entries/<int:entry_id>/evidence")
@require("points.view")
def evidence(entry_id: int):
    """The evidence photo of an entry (stored under a generated name in the instance folder)."""
    entry = get_in_village_or_404(PointEntry, entry_id)
    if not entry.evidence_file:
        abort(404)
    return send_from_directory(Path(current_app.instance_path) / "evidence", entry.evidence_file,
                               max_age=0)
