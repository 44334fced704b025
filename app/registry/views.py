"""Register pages: groups, households, people, their changes, search."""
from __future__ import annotations

import sqlalchemy as sa
from flask import current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ..access import can, deny, get_in_village_or_404, require
from ..errors import DomainError
from ..extensions import db
from ..forms import options, page_number
from ..submission import submit
from ..text import group_key
from ..urls import id_arg
from . import bp
from .forms import (
    ChangeHeadForm,
    EditPersonForm,
    GroupForm,
    HouseholdForm,
    MergeForm,
    MoveOutForm,
    NewHouseholdForm,
    PersonForm,
    SplitForm,
    StatusForm,
)
from .identity import IdNumberInvalid
from .models import HOUSEHOLD_TAGS, Household, HouseholdEvent, Person, PersonStatus, VillagerGroup
from .services import (
    RegistryError,
    add_person,
    change_head,
    create_group,
    create_household,
    household_search_query,
    merge_households,
    move_out,
    person_search_query,
    set_household_status,
    split_household,
    update_group,
    update_household,
    update_person,
)


#: refusals a register form shows next to its field: the service's, and a resident ID number that is not valid
ID_REFUSALS = (DomainError, IdNumberInvalid)


def _groups(active_only: bool = False) -> list[VillagerGroup]:
    stmt = sa.select(VillagerGroup).where(VillagerGroup.village_id == g.village.id)
    if active_only:
        stmt = stmt.where(VillagerGroup.active.is_(True))
    return sorted(db.session.scalars(stmt), key=lambda gr: group_key(gr.name))


def _group_choices(current: int | None = None):
    return options([(0, "—")] + [(gr.id, gr.name) for gr in _groups() if gr.active or gr.id == current])


def _group_or_none(group_id: int | None) -> VillagerGroup | None:
    return get_in_village_or_404(VillagerGroup, group_id) if group_id else None


# Groups and grids

@bp.route("/groups", methods=["GET", "POST"])
@require("registry.view")
def groups():
    """Villager groups and grids of the village, with household counts."""
    form = GroupForm()
    if request.method == "POST":
        if not can("registry.edit"):
            deny("registry.edit")
        if form.validate_on_submit():
            done = submit(form, lambda: create_group(g.village, form.name.data, form.kind.data,
                                                     form.leader.data), field="name")
            if done:
                flash(_("Group %(name)s added.", name=form.name.data), "success")
                return redirect(url_for("registry.groups"))
    counts = dict(db.session.execute(
        sa.select(Household.group_id, sa.func.count(Household.id))
        .where(Household.village_id == g.village.id, Household.status == "active")
        .group_by(Household.group_id)).all())
    return render_template("registry/groups.html", form=form, groups=_groups(), counts=counts)


@bp.route("/groups/<int:group_id>", methods=["GET", "POST"])
@require("registry.edit")
def group_edit(group_id: int):
    """Rename a group, change its leader, or take it out of use."""
    group = get_in_village_or_404(VillagerGroup, group_id)
    form = GroupForm(obj=group)
    if form.validate_on_submit():
        done = submit(form, lambda: update_group(get_in_village_or_404(VillagerGroup, group_id),
                                                 form.name.data, form.kind.data, form.leader.data,
                                                 bool(form.active.data)), field="name")
        if done:
            flash(_("Saved."), "success")
            return redirect(url_for("registry.groups"))
    return render_template("registry/group_edit.html", form=form, group=group)


# Households

@bp.route("/households")
@require("registry.view")
def households():
    """Households of the village: search by name, pinyin initials or 户号; filter; paginate."""
    q = request.args.get("q", "")[:64]
    group_id = id_arg("group")
    status = request.args.get("status") or None
    if status not in (None, "active", "moved_away", "split", "merged", "all"):
        status = None
    tag = request.args.get("tag") or None
    if tag not in HOUSEHOLD_TAGS:
        tag = None
    stmt = household_search_query(g.village.id, q, group_id=group_id,
                                  status=None if status == "all" else (status or "active"), tag=tag)
    page = db.paginate(stmt, page=page_number(), per_page=current_app.config["PER_PAGE"], error_out=False)
    return render_template("registry/households.html", page=page, q=q, group_id=group_id,
                           status=status or "active", tag=tag, groups=_groups())


@bp.route("/households/new", methods=["GET", "POST"])
@require("registry.edit")
def household_new():
    """Register a new household with its head."""
    form = NewHouseholdForm()
    form.group_id.choices = _group_choices()
    if form.validate_on_submit():
        done = submit(form, lambda: create_household(
            g.village, form.number.data, form.person_data("head"), group=_group_or_none(form.group_id.data),
            address=form.address.data, tags=form.tags.data, note=form.note.data,
            effective=form.effective_date.data), field="number", errors=ID_REFUSALS)
        if done:
            household = done.value
            flash(_("Household %(number)s registered.", number=household.number), "success")
            return redirect(url_for("registry.household", household_id=household.id))
    return render_template("registry/household_new.html", form=form)


@bp.route("/households/<int:household_id>")
@require("registry.view")
def household(household_id: int):
    """One household: members past and present and its history."""
    household = get_in_village_or_404(Household, household_id)
    events = db.session.scalars(
        sa.select(HouseholdEvent).where(HouseholdEvent.household_id == household.id)
        .order_by(HouseholdEvent.effective_date.desc(), HouseholdEvent.id.desc())).all()
    members = [p for p in household.members if p.status == PersonStatus.ALIVE.value]
    former = [p for p in household.members if p.status != PersonStatus.ALIVE.value]
    return render_template("registry/household.html", household=household, members=members,
                           former=former, events=events)


@bp.route("/households/<int:household_id>/edit", methods=["GET", "POST"])
@require("registry.edit")
def household_edit(household_id: int):
    """Correct a household's number, group, address, tags or note."""
    household = get_in_village_or_404(Household, household_id)
    form = HouseholdForm(obj=household)
    form.group_id.choices = _group_choices(household.group_id)
    if request.method == "GET":
        form.group_id.data = household.group_id or 0
        form.tags.data = household.tag_list
    if form.validate_on_submit():
        done = submit(form, lambda: update_household(
                    get_in_village_or_404(Household, household_id), number=form.number.data,
                    group=_group_or_none(form.group_id.data), address=form.address.data, tags=form.tags.data,
                    note=form.note.data), field="number")
        if done:
            flash(_("Saved."), "success")
            return redirect(url_for("registry.household", household_id=household_id))
    return render_template("registry/household_edit.html", form=form, household=household)


@bp.route("/households/<int:household_id>/people/new", methods=["GET", "POST"])
@require("registry.edit")
def person_new(household_id: int):
    """Add a person who moved in or was born into the household."""
    household = get_in_village_or_404(Household, household_id)
    form = PersonForm()
    if form.validate_on_submit():
        done = submit(form, lambda: add_person(
            get_in_village_or_404(Household, household_id), form.person_data(form.relation.data),
            effective=form.effective_date.data, note=form.note.data, moved_in=not form.born_here.data),
            field="name", errors=ID_REFUSALS)
        if done:
            flash(_("%(name)s added.", name=done.value.name), "success")
            return redirect(url_for("registry.household", household_id=household_id))
    return render_template("registry/person_new.html", form=form, household=household)


@bp.route("/people/<int:person_id>/edit", methods=["GET", "POST"])
@require("registry.edit")
def person_edit(person_id: int):
    """Correct a person's details."""
    person = get_in_village_or_404(Person, person_id)
    form = EditPersonForm(obj=person)
    if request.method == "GET":
        form.sex.data = person.sex or ""
        form.birth_date.data = person.birth_date
    if form.validate_on_submit():
        data = form.person_data(form.relation.data)
        if not data.id_number:
            data.id_number = "" if form.clear_id.data else None  # blank keeps the stored number

        def update():
            changed = get_in_village_or_404(Person, person_id)
            update_person(changed, data)
            return changed.household_id

        done = submit(form, update, field="relation", errors=ID_REFUSALS)
        if done:
            flash(_("Saved."), "success")
            return redirect(url_for("registry.household", household_id=done.value))
    return render_template("registry/person_edit.html", form=form, person=person)


@bp.route("/people/<int:person_id>/move-out", methods=["GET", "POST"])
@require("registry.edit")
def person_move_out(person_id: int):
    """Record that a person moved away or died."""
    person = get_in_village_or_404(Person, person_id)
    form = MoveOutForm()
    if form.validate_on_submit():
        def record():
            leaving = get_in_village_or_404(Person, person_id)
            move_out(leaving, status=form.status.data, effective=form.effective_date.data,
                     note=form.note.data)
            return leaving.household_id

        done = submit(form, record, field="status")
        if done:
            flash(_("Recorded."), "success")
            return redirect(url_for("registry.household", household_id=done.value))
    return render_template("registry/person_move_out.html", form=form, person=person)


def _living(household: Household) -> list[Person]:
    return [p for p in household.members if p.status == PersonStatus.ALIVE.value]


@bp.route("/households/<int:household_id>/head", methods=["GET", "POST"])
@require("registry.edit")
def household_head(household_id: int):
    """Change the head of the household."""
    household = get_in_village_or_404(Household, household_id)
    form = ChangeHeadForm()
    form.new_head_id.choices = options((p.id, p.name) for p in _living(household) if p.id != household.head_id)
    if form.validate_on_submit():
        def change():
            new_head = get_in_village_or_404(Person, form.new_head_id.data)
            change_head(get_in_village_or_404(Household, household_id), new_head,
                        old_head_relation=form.old_head_relation.data, effective=form.effective_date.data,
                        note=form.note.data)
            return new_head

        done = submit(form, change, field="new_head_id")
        if done:
            flash(_("%(name)s is now the head of the household.", name=done.value.name), "success")
            return redirect(url_for("registry.household", household_id=household_id))
    return render_template("registry/household_head.html", form=form, household=household)


@bp.route("/households/<int:household_id>/split", methods=["GET", "POST"])
@require("registry.edit")
def household_split(household_id: int):
    """分户: some members form a new household."""
    household = get_in_village_or_404(Household, household_id)
    form = SplitForm()
    movable = [p for p in _living(household) if p.id != household.head_id]
    form.person_ids.choices = options((p.id, p.name) for p in movable)
    form.new_head_id.choices = options((p.id, p.name) for p in movable)
    form.group_id.choices = _group_choices(household.group_id)
    if request.method == "GET":
        form.group_id.data = household.group_id or 0
    if form.validate_on_submit():
        def split():
            old = get_in_village_or_404(Household, household_id)
            people = [get_in_village_or_404(Person, pid) for pid in form.person_ids.data]
            new_head = get_in_village_or_404(Person, form.new_head_id.data)
            return split_household(old, people, new_number=form.new_number.data, new_head=new_head,
                                   group=_group_or_none(form.group_id.data), address=form.address.data,
                                   effective=form.effective_date.data, note=form.note.data)

        done = submit(form, split, field="person_ids")
        if done:
            new = done.value
            flash(_("Household %(number)s was split off.", number=new.number), "success")
            return redirect(url_for("registry.household", household_id=new.id))
    return render_template("registry/household_split.html", form=form, household=household)


@bp.route("/households/<int:household_id>/merge", methods=["GET", "POST"])
@require("registry.edit")
def household_merge(household_id: int):
    """合户: every member of this household joins another one."""
    household = get_in_village_or_404(Household, household_id)
    form = MergeForm()
    if form.validate_on_submit():
        def merge():
            target = db.session.scalar(sa.select(Household).where(
                Household.village_id == g.village.id, Household.number == form.target_number.data))
            if target is None:
                raise RegistryError(_("There is no household with this number in the village."),
                                    field="target_number")
            merge_households(get_in_village_or_404(Household, household_id), target,
                             effective=form.effective_date.data, note=form.note.data)
            return target

        done = submit(form, merge, field="target_number")
        if done:
            target = done.value
            flash(_("Merged into household %(number)s.", number=target.number), "success")
            return redirect(url_for("registry.household", household_id=target.id))
    return render_template("registry/household_merge.html", form=form, household=household)


@bp.route("/households/<int:household_id>/status", methods=["GET", "POST"])
@require("registry.edit")
def household_status(household_id: int):
    """Mark the whole household as moved away, or active again."""
    household = get_in_village_or_404(Household, household_id)
    form = StatusForm(data={"status": household.status if household.status in ("active", "moved_away")
                            else "active"})
    if form.validate_on_submit():
        done = submit(form, lambda: set_household_status(get_in_village_or_404(Household, household_id),
                                                         form.status.data, effective=form.effective_date.data,
                                                         note=form.note.data), field="status")
        if done:
            flash(_("Saved."), "success")
            return redirect(url_for("registry.household", household_id=household_id))
    return render_template("registry/household_status.html", form=form, household=household)


# People and search

@bp.route("/people")
@require("registry.view")
def people():
    """Everyone in the register, searchable by name, pinyin initials or 户号."""
    q = request.args.get("q", "")[:64]
    status = request.args.get("status") or "alive"
    if status not in ("alive", "moved", "deceased", "all"):
        status = "alive"
    stmt = person_search_query(g.village.id, q, status=None if status == "all" else status)
    page = db.paginate(stmt, page=page_number(), per_page=current_app.config["PER_PAGE"], error_out=False)
    return render_template("registry/people.html", page=page, q=q, status=status)


@bp.route("/search")
@require("registry.view")
def search():
    """One box for everything: households and people by name, initials or 户号."""
    q = request.args.get("q", "")[:64].strip()
    households = people = []
    if q:
        households = db.session.scalars(household_search_query(g.village.id, q).limit(20)).all()
        people = db.session.scalars(person_search_query(g.village.id, q).limit(30)).all()
        if len(households) == 1 and not request.args.get("all"):
            only = households[0]
            if only.number == q:
                return redirect(url_for("registry.household", household_id=only.id))
    return render_template("registry/search.html", q=q, households=households, people=people)

from . import io_views  # noqa: E402,F401  (import / export pages)
