"""Register verbs: every change flushes, writes its history and audit rows, and never commits."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_login import current_user

from ..errors import DomainError
from ..audit.services import changes, record, record_many
from ..db import local_today
from ..extensions import db
from .identity import id_hmac, mask_id, normalize_id_number
from .models import (
    HOUSEHOLD_TAGS,
    POSTING_NAMES,
    Household,
    HouseholdEvent,
    HouseholdStatus,
    Person,
    PersonStatus,
    Relation,
    Sex,
    Township,
    Village,
    VillagerGroup,
)
from .pinyin import search_keys


class RegistryError(DomainError):
    """A register change that cannot be made; the message is for the clerk, `field` says where."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def _sex(value: str | None) -> str | None:
    """A person's sex as stored: male, female or unknown (None); anything else is refused with a message, never
    left to the database's CHECK (a 500)."""
    if not value:
        return None
    if value not in (Sex.MALE.value, Sex.FEMALE.value):
        raise RegistryError(_("Choose the sex from the list."), field="sex")
    return value


# --- villages and groups -------------------------------------------------------------------------

def create_township(code: str, name: str) -> Township:
    """Create a township that groups villages for roll-ups."""
    if db.session.scalar(sa.select(Township.id).where(Township.code == code)):
        raise RegistryError(_("A township with code %(code)s already exists.", code=code))
    township = Township(code=code, name=name)
    db.session.add(township)
    db.session.flush()
    record("township.create", township, details=changes({}, {"code": code, "name": name}))
    return township


def create_village(code: str, name: str, township: Township | None = None) -> Village:
    """Create a village with its own register."""
    if db.session.scalar(sa.select(Village.id).where(Village.code == code)):
        raise RegistryError(_("A village with code %(code)s already exists.", code=code))
    village = Village(code=code, name=name, township_id=township.id if township else None)
    db.session.add(village)
    db.session.flush()
    record("village.create", village, village_id=village.id,
           details=changes({}, {"code": code, "name": name, "township_id": village.township_id}))
    return village


def update_village(village: Village, name: str, township: Township | None, *,
                   keep_photo_location: bool | None = None, posting_names: str | None = None) -> Village:
    """Rename a village, move it to another township; `keep_photo_location` (None: unchanged) decides whether
    stored photos keep where they were taken (app.photos), `posting_names` (None: unchanged) whether the posting
    sheet names members in full or masked."""
    if posting_names is not None and posting_names not in POSTING_NAMES:
        raise RegistryError(_("Choose how the posting sheet names members."))
    before = {"name": village.name, "township_id": village.township_id,
              "keep_photo_location": village.keep_photo_location, "posting_names": village.posting_names}
    village.name = name
    village.township_id = township.id if township else None
    if keep_photo_location is not None:
        village.keep_photo_location = bool(keep_photo_location)
    if posting_names is not None:
        village.posting_names = posting_names
    db.session.flush()
    record("village.update", village, village_id=village.id,
           details=changes(before, {"name": name, "township_id": village.township_id,
                                    "keep_photo_location": village.keep_photo_location,
                                    "posting_names": village.posting_names}))
    return village


def create_group(village: Village, name: str, kind: str = "group", leader: str | None = None) -> VillagerGroup:
    """Add a villager group (村民小组) or grid (网格) to the village."""
    exists = db.session.scalar(
        sa.select(VillagerGroup.id).where(VillagerGroup.village_id == village.id, VillagerGroup.name == name)
    )
    if exists:
        raise RegistryError(_("This village already has a group named %(name)s.", name=name))
    group = VillagerGroup(village_id=village.id, name=name, kind=kind, leader=leader or None)
    db.session.add(group)
    db.session.flush()
    record("group.create", group, details=changes({}, {"name": name, "kind": kind, "leader": leader or None}))
    return group


def update_group(group: VillagerGroup, name: str, kind: str, leader: str | None, active: bool) -> VillagerGroup:
    clash = db.session.scalar(
        sa.select(VillagerGroup.id).where(
            VillagerGroup.village_id == group.village_id, VillagerGroup.name == name, VillagerGroup.id != group.id
        )
    )
    if clash:
        raise RegistryError(_("This village already has a group named %(name)s.", name=name))
    before = {"name": group.name, "kind": group.kind, "leader": group.leader, "active": group.active}
    group.name, group.kind, group.leader, group.active = name, kind, leader or None, active
    db.session.flush()
    record("group.update", group, details=changes(before, {
        "name": name, "kind": kind, "leader": leader or None, "active": active}))
    return group


# --- people ---------------------------------------------------------------------------------------

@dataclass
class PersonData:
    """What a clerk types about a person; the ID number is plaintext only on its way in."""

    name: str
    relation: str = Relation.OTHER.value
    sex: str | None = None
    birth_date: dt.date | None = None
    phone: str | None = None
    id_number: str | None = None

    def given(self) -> list[str]:
        """The names of the fields the clerk filled in: what a person.create audit row records (by name only,
        never the values: the audit chain cannot be redacted)."""
        return [k for k in ("name", "relation", "sex", "birth_date", "phone", "id_number")
                if getattr(self, k) not in (None, "")]


def _audited_fields(p: Person) -> dict[str, Any]:
    """What a person.update audit row compares: every field a clerk can correct. The ID number is compared
    by its keyed hash (two numbers can share a mask); only the names of changed fields are recorded."""
    return {"name": p.name, "relation": p.relation, "sex": p.sex, "birth_date": p.birth_date,
            "phone": p.phone or None, "id_number": p.id_hmac}


def person_snapshot(p: Person) -> dict[str, Any]:
    return {"id": p.id, "name": p.name, "relation": p.relation, "sex": p.sex, "status": p.status,
            "birth_date": p.birth_date.isoformat() if p.birth_date else None,
            "household_id": p.household_id, "id_masked": p.id_masked}


def _id_taken(name: str, number: str) -> RegistryError:
    return RegistryError(_("This ID number is already registered for %(name)s (household %(number)s).",
                           name=name, number=number), field="id_number")


def _apply_id_number(village_id: int, person: Person, raw: str | None) -> None:
    if raw is None:
        return
    raw = raw.strip()
    if not raw:
        person.id_hmac = person.id_masked = None
        return
    number = normalize_id_number(raw)
    digest = id_hmac(number)
    clash = db.session.scalar(
        sa.select(Person).where(Person.village_id == village_id, Person.id_hmac == digest,
                                Person.id != (person.id or 0))
    )
    if clash is not None:
        raise _id_taken(clash.name, clash.household.number)
    person.id_hmac = digest
    person.id_masked = mask_id(number)


def find_person_by_id_number(village: Village, raw: str) -> Person | None:
    """Look a person up by the full ID number through its keyed hash."""
    number = normalize_id_number(raw)
    return db.session.scalar(
        sa.select(Person).where(Person.village_id == village.id, Person.id_hmac == id_hmac(number))
    )


def _new_person(household: Household, data: PersonData) -> Person:
    person = Person(
        village_id=household.village_id, household_id=household.id, name=data.name,
        search_keys=search_keys(data.name), sex=_sex(data.sex), birth_date=data.birth_date,
        relation=data.relation, phone=data.phone or None, status=PersonStatus.ALIVE.value,
    )
    _apply_id_number(household.village_id, person, data.id_number)
    db.session.add(person)
    db.session.flush()
    return person


def _current_user_id() -> int | None:
    """The logged-in user's id for history rows; None outside a request (CLI, import from a script)."""
    try:
        if current_user and current_user.is_authenticated:
            return current_user.id
    except Exception:  # no request context
        return None
    return None


def _event(household: Household, kind: str, effective: dt.date | None, *, actor=None, person=None,
           other=None, before=None, after=None, note=None) -> HouseholdEvent:
    actor_id = _current_user_id()
    ev = HouseholdEvent(
        village_id=household.village_id, household_id=household.id, kind=kind,
        other_household_id=other.id if other is not None else None,
        person_id=person.id if person is not None else None,
        effective_date=effective or local_today(), before=before, after=after, note=note or None,
        actor_id=actor.id if actor is not None else actor_id,
    )
    db.session.add(ev)
    return ev


# --- households -----------------------------------------------------------------------------------

def _check_number_free(village_id: int, number: str, exclude_id: int | None = None) -> None:
    q = sa.select(Household.id).where(Household.village_id == village_id, Household.number == number)
    if exclude_id:
        q = q.where(Household.id != exclude_id)
    if db.session.scalar(q):
        raise _number_taken(number)


def _number_taken(number: str) -> RegistryError:
    return RegistryError(_("Household number %(number)s is already in use in this village.", number=number),
                         field="number")


def _clean_tags(tags: list[str] | None) -> str:
    return " ".join(t for t in HOUSEHOLD_TAGS if t in set(tags or []))


def _check_group(village_id: int, group: VillagerGroup | None) -> None:
    if group is not None and group.village_id != village_id:
        raise RegistryError(_("Unknown group."))


def household_snapshot(h: Household) -> dict[str, Any]:
    return {"number": h.number, "group": h.group.name if h.group else None, "address": h.address,
            "tags": h.tag_list, "status": h.status, "head": h.head.name if h.head else None,
            "note": h.note}


def create_household(village: Village, number: str, head: PersonData, *, group: VillagerGroup | None = None,
                     address: str | None = None, tags: list[str] | None = None, note: str | None = None,
                     effective: dt.date | None = None) -> Household:
    """Register a new household together with its head."""
    _check_number_free(village.id, number)
    _check_group(village.id, group)
    household = Household(village_id=village.id, number=number, group_id=group.id if group else None,
                          address=address or None, tags=_clean_tags(tags), note=note or None,
                          status=HouseholdStatus.ACTIVE.value)
    db.session.add(household)
    db.session.flush()
    head.relation = Relation.HEAD.value
    person = _new_person(household, head)
    household.head_id = person.id
    db.session.flush()
    _event(household, "created", effective, person=person, after=household_snapshot(household))
    record("household.create", household, household_id=household.id,
           details={"number": number, "head_person_id": person.id})
    record("person.create", person, household_id=household.id, changed=head.given())
    return household


@dataclass
class NewHousehold:
    """One household for bulk_create_households: what create_household takes, plus its other members."""

    number: str
    head: PersonData
    members: list[PersonData] = field(default_factory=list)
    group: VillagerGroup | None = None
    address: str | None = None
    tags: list[str] | None = None
    note: str | None = None


def _id_fields(raw: str | None) -> tuple[str | None, str | None]:
    """(id_hmac, id_masked) of a typed ID number, as _apply_id_number stores them for a new person."""
    raw = (raw or "").strip()
    if not raw:
        return None, None
    number = normalize_id_number(raw)
    return id_hmac(number), mask_id(number)


def _reserve_ids(model: type, n: int) -> list[int]:
    """n new primary keys for `model`, rising, the ones the database would give n inserts in a row.

    Knowing the ids up front lets one executemany insert the rows and lets the caller link people,
    heads, history and audit rows without reading anything back. (INSERT … RETURNING in parameter order
    would do too, but on SQLite SQLAlchemy can only keep that order by inserting row by row, and
    splicing those results cost more than the whole import.)
    PostgreSQL: n values of the table's own sequence, so later ordinary inserts never collide.
    SQLite: max(id) + 1 … + n, what SQLite itself picks for a rowid table without AUTOINCREMENT; the
    caller's write transaction (BEGIN IMMEDIATE) keeps anyone else from taking them meanwhile.
    """
    table = model.__table__
    if db.engine.dialect.name == "postgresql":
        return sorted(db.session.scalars(
            sa.text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"),
            {"table": table.name, "n": n}))
    last = db.session.scalar(sa.select(sa.func.max(table.c.id))) or 0
    return list(range(last + 1, last + n + 1))


def bulk_create_households(village: Village, households: list[NewHousehold], *,
                           effective: dt.date | None = None) -> tuple[int, int]:
    """Register many new households with their people; return (households, people) created.

    The same rows as create_household per household followed by add_person per member (moved in): the
    households, people, their "created" and "move_in" history and one household.create plus one
    person.create audit row each, with the same ids in the same order and the same details. What differs
    is the cost: the per-row verbs take about 27 statements per household, which made a 2,000-household
    import take a minute. Here every check is one query for the whole batch and every table gets one
    executemany, so the cost is a handful of round trips plus the rows themselves.

    All checks run before anything is written, so a refused batch writes nothing. Flushes, never commits.

    :raises RegistryError: a number in use (in the village or twice in the batch), an ID number
        registered (or given twice), a group of another village, or a member given as head.
    :raises IdNumberInvalid: an ID number that is not valid.
    """
    if not households:
        return 0, 0
    vid = village.id
    effective = effective or local_today()

    # -- checks: one query each for numbers and ID hashes, then plain Python
    in_use = set(db.session.scalars(sa.select(Household.number).where(Household.village_id == vid)))
    registered = {digest: (name, number) for digest, name, number in db.session.execute(
        sa.select(Person.id_hmac, Person.name, Household.number)
        .join(Household, Person.household_id == Household.id)
        .where(Person.village_id == vid, Person.id_hmac.is_not(None)))}
    #: per household, its people as given (the head first, as 户主) and their rows for people
    given: list[list[PersonData]] = []
    people: list[list[dict[str, Any]]] = []
    for new in households:
        if new.number in in_use:
            raise _number_taken(new.number)
        in_use.add(new.number)
        _check_group(vid, new.group)
        if any(m.relation == Relation.HEAD.value for m in new.members):
            raise RegistryError(
                _("A household has one head; use 'change head' to make someone else the head."))
        given.append([replace(new.head, relation=Relation.HEAD.value), *new.members])
        rows = []
        for data in given[-1]:
            digest, masked = _id_fields(data.id_number)
            if digest is not None:
                if digest in registered:
                    raise _id_taken(*registered[digest])
                registered[digest] = (data.name, new.number)
            rows.append({
                "village_id": vid, "name": data.name, "search_keys": search_keys(data.name),
                "sex": _sex(data.sex), "birth_date": data.birth_date, "relation": data.relation,
                "phone": data.phone or None, "status": PersonStatus.ALIVE.value,
                "id_hmac": digest, "id_masked": masked,
            })
        people.append(rows)

    # -- households, then people (they need the household ids), then each household's head
    # render_nulls: pass None as NULL rather than leave the column out, or SQLAlchemy splits the
    # executemany wherever the set of empty columns changes (thousands of single-row INSERTs)
    bulk_insert = {"render_nulls": True}
    household_ids = _reserve_ids(Household, len(households))
    db.session.execute(sa.insert(Household).execution_options(**bulk_insert), [
        {"id": hid, "village_id": vid, "number": new.number, "group_id": new.group.id if new.group else None,
         "address": new.address or None, "tags": _clean_tags(new.tags), "note": new.note or None,
         "status": HouseholdStatus.ACTIVE.value}
        for hid, new in zip(household_ids, households)])
    flat = [row for rows in people for row in rows]
    for pid, row in zip(_reserve_ids(Person, len(flat)), flat):
        row["id"] = pid
    for hid, rows in zip(household_ids, people):
        for row in rows:
            row["household_id"] = hid
    db.session.execute(sa.insert(Person).execution_options(**bulk_insert), flat)
    db.session.execute(sa.update(Household), [
        {"id": hid, "head_id": rows[0]["id"]} for hid, rows in zip(household_ids, people)])

    # -- history and audit rows, in the order the per-row verbs write them
    actor_id = _current_user_id()
    events: list[dict[str, Any]] = []
    audit: list[dict[str, Any]] = []
    for new, hid, rows, datas in zip(households, household_ids, people, given):
        head = rows[0]
        # the snapshot helpers read attributes: hand them the rows as they now stand in the database
        snapshot = household_snapshot(SimpleNamespace(
            number=new.number, group=new.group, address=new.address or None,
            tag_list=_clean_tags(new.tags).split(), status=HouseholdStatus.ACTIVE.value,
            head=SimpleNamespace(name=head["name"]), note=new.note or None))
        events.append(_event_row(head, "created", effective, snapshot, actor_id))
        audit.append({"action": "household.create", "object_type": Household.__tablename__, "object_id": hid,
                      "village_id": vid, "household_id": hid,
                      "details": {"number": new.number, "head_person_id": head["id"]}})
        for row, data in zip(rows, datas):
            if row is not head:
                events.append(_event_row(row, "move_in", effective, person_snapshot(SimpleNamespace(**row)),
                                         actor_id))
            audit.append({"action": "person.create", "object_type": Person.__tablename__,
                          "object_id": row["id"], "village_id": vid, "household_id": hid,
                          "changed": data.given()})
    db.session.execute(sa.insert(HouseholdEvent), events)
    record_many(audit)
    return len(households), len(flat)


def _event_row(person: dict[str, Any], kind: str, effective: dt.date, after: dict[str, Any],
               actor_id: int | None) -> dict[str, Any]:
    """The HouseholdEvent row _event writes when a household or person is created (no before, no note)."""
    return {"village_id": person["village_id"], "household_id": person["household_id"], "kind": kind,
            "other_household_id": None, "person_id": person["id"], "effective_date": effective,
            "before": None, "after": after, "note": None, "actor_id": actor_id}


def update_household(household: Household, *, number: str, group: VillagerGroup | None, address: str | None,
                     tags: list[str] | None, note: str | None) -> Household:
    """Correct a household's details; the before and after are kept in its history."""
    _check_number_free(household.village_id, number, household.id)
    _check_group(household.village_id, group)
    before = household_snapshot(household)
    household.number = number
    household.group_id = group.id if group else None
    household.group = group
    household.address = address or None
    household.tags = _clean_tags(tags)
    household.note = note or None
    db.session.flush()
    after = household_snapshot(household)
    if before == after:
        return household
    _event(household, "edited", None, before=before, after=after)
    record("household.update", household, household_id=household.id, details=changes(before, after))
    return household


def _require_active(household: Household) -> None:
    if household.status != HouseholdStatus.ACTIVE.value:
        raise RegistryError(_("Household %(number)s is no longer active.", number=household.number))


def add_person(household: Household, data: PersonData, *, effective: dt.date | None = None,
               note: str | None = None, moved_in: bool = True) -> Person:
    """Add a person to a household (born into it or moved in)."""
    _require_active(household)
    if data.relation == Relation.HEAD.value:
        raise RegistryError(_("A household has one head; use 'change head' to make someone else the head."))
    person = _new_person(household, data)
    _event(household, "move_in" if moved_in else "born", effective, person=person,
           after=person_snapshot(person), note=note)
    record("person.create", person, household_id=household.id, changed=data.given())
    return person


def update_person(person: Person, data: PersonData) -> Person:
    """Correct a person's details (not their household or status: those have their own verbs)."""
    if data.relation == Relation.HEAD.value and person.household.head_id != person.id:
        raise RegistryError(_("A household has one head; use 'change head' to make someone else the head."))
    if person.household.head_id == person.id and data.relation != Relation.HEAD.value:
        raise RegistryError(_("The head's relation is 户主; change the head first."))
    before = person_snapshot(person)
    audit_before = _audited_fields(person)
    person.name = data.name
    person.search_keys = search_keys(data.name)
    person.relation = data.relation
    person.sex = _sex(data.sex)
    person.birth_date = data.birth_date
    person.phone = data.phone or None
    _apply_id_number(person.village_id, person, data.id_number)
    db.session.flush()
    after = person_snapshot(person)
    # the phone and the ID number's hash are in neither snapshot (history keeps no contact data), so their
    # change shows only here, by name
    details = changes(audit_before, _audited_fields(person))
    if not details:
        return person
    _event(person.household, "person_edit", None, person=person, before=before, after=after)
    record("person.update", person, household_id=person.household_id, details=details)
    return person


def move_out(person: Person, *, status: str = PersonStatus.MOVED.value, effective: dt.date | None = None,
             note: str | None = None) -> Person:
    """Record that a person moved away or died; the person stays in the register with that status."""
    if status not in (PersonStatus.MOVED.value, PersonStatus.DECEASED.value):
        raise RegistryError(_("Unknown status."))
    if person.status != PersonStatus.ALIVE.value:
        raise RegistryError(_("%(name)s is already recorded as moved or deceased.", name=person.name))
    household = person.household
    if household.head_id == person.id:
        others = [p for p in household.members if p.id != person.id and p.status == PersonStatus.ALIVE.value]
        if others:
            raise RegistryError(_("%(name)s is the head of the household: choose a new head first.",
                                  name=person.name))
    before = person_snapshot(person)
    person.status = status
    db.session.flush()
    kind = "move_out" if status == PersonStatus.MOVED.value else "death"
    _event(household, kind, effective, person=person, before=before, after=person_snapshot(person), note=note)
    # the note (free text that may name people) stays in the household's history, not in the chain
    record(f"person.{kind}", person, household_id=household.id,
           details=changes({"status": before["status"]}, {"status": status}))
    return person


def change_head(household: Household, new_head: Person, *, old_head_relation: str,
                effective: dt.date | None = None, note: str | None = None) -> Household:
    """Make another member the head; the old head stays with the relation the clerk gives."""
    _require_active(household)
    if new_head.household_id != household.id or new_head.status != PersonStatus.ALIVE.value:
        raise RegistryError(_("The new head must be a living member of this household."))
    if household.head_id == new_head.id:
        raise RegistryError(_("%(name)s is already the head.", name=new_head.name))
    if old_head_relation == Relation.HEAD.value:
        raise RegistryError(_("Choose the old head's new relation to the household."))
    old = household.head
    before = {"head_id": household.head_id, "head": old.name if old else None,
              "old_head_relation": old.relation if old else None, "new_head_relation": new_head.relation}
    if old is not None:
        old.relation = old_head_relation
    new_head.relation = Relation.HEAD.value
    household.head_id = new_head.id
    household.head = new_head
    db.session.flush()
    after = {"head_id": new_head.id, "head": new_head.name,
             "old_head_relation": old_head_relation if old else None, "new_head_relation": "head"}
    _event(household, "head_change", effective, person=new_head, before=before, after=after, note=note)
    record("household.change_head", household, household_id=household.id,
           details=changes({"head_id": before["head_id"]}, {"head_id": new_head.id}))
    return household


def split_household(household: Household, people: list[Person], *, new_number: str, new_head: Person,
                    group: VillagerGroup | None = None, address: str | None = None,
                    effective: dt.date | None = None, note: str | None = None) -> Household:
    """分户: move some members into a new household with its own head."""
    _require_active(household)
    _check_group(household.village_id, group)
    ids = {p.id for p in people}
    if not people:
        raise RegistryError(_("Choose the people who form the new household."))
    if any(p.household_id != household.id or p.status != PersonStatus.ALIVE.value for p in people):
        raise RegistryError(_("Only living members of this household can be split off."))
    if new_head.id not in ids:
        raise RegistryError(_("The new head must be one of the people who split off."))
    if household.head_id in ids:
        raise RegistryError(_("The head stays in the old household; change the head first to split the head off."))
    _check_number_free(household.village_id, new_number)
    before = {"members": [p.name for p in household.members if p.status == PersonStatus.ALIVE.value]}
    new = Household(village_id=household.village_id, number=new_number,
                    group_id=group.id if group else household.group_id,
                    address=address or household.address, status=HouseholdStatus.ACTIVE.value, tags="")
    db.session.add(new)
    db.session.flush()
    for p in sorted(people, key=lambda p: p.id):
        p.household_id = new.id
        p.household = new
        p.relation = Relation.HEAD.value if p.id == new_head.id else p.relation
    new.head_id = new_head.id
    db.session.flush()
    db.session.expire(household, ["members"])
    moved = [p.name for p in people]
    after = {"members": [p.name for p in household.members if p.status == PersonStatus.ALIVE.value],
             "moved": moved, "new_household": new_number}
    _event(household, "split", effective, other=new, before=before, after=after, note=note)
    _event(new, "split_from", effective, other=household, before=None,
           after={"members": moved, "head": new_head.name, "from": household.number}, note=note)
    record("household.split", household, household_id=household.id,
           details={"new_household_id": new.id, "people": sorted(ids)})
    record("household.create", new, household_id=new.id, details={"number": new_number, "split_from": household.id})
    return new


def merge_households(source: Household, target: Household, *, effective: dt.date | None = None,
                     note: str | None = None) -> Household:
    """合户: move every living member of `source` into `target`; `source` is kept as merged."""
    if source.id == target.id or source.village_id != target.village_id:
        raise RegistryError(_("Choose two different households of this village."))
    _require_active(source)
    _require_active(target)
    movers = [p for p in source.members if p.status == PersonStatus.ALIVE.value]
    before_src = household_snapshot(source) | {"members": [p.name for p in movers]}
    before_tgt = {"members": [p.name for p in target.members if p.status == PersonStatus.ALIVE.value]}
    for p in movers:
        p.household_id = target.id
        p.household = target
        if p.relation == Relation.HEAD.value:
            p.relation = Relation.OTHER.value
    source.status = HouseholdStatus.MERGED.value
    db.session.flush()
    db.session.expire(target, ["members"])
    after_tgt = {"members": [p.name for p in target.members if p.status == PersonStatus.ALIVE.value],
                 "merged_from": source.number}
    _event(source, "merged_into", effective, other=target, before=before_src,
           after={"status": "merged", "into": target.number}, note=note)
    _event(target, "merge", effective, other=source, before=before_tgt, after=after_tgt, note=note)
    record("household.merge", source, household_id=source.id, details={"into": target.id})
    record("household.merge_in", target, household_id=target.id, details={"from": source.id})
    return target


def set_household_status(household: Household, status: str, *, effective: dt.date | None = None,
                         note: str | None = None) -> Household:
    """Mark a whole household as moved away (or active again)."""
    if status not in (HouseholdStatus.ACTIVE.value, HouseholdStatus.MOVED_AWAY.value):
        raise RegistryError(_("Unknown status."))
    if household.status == status:
        return household
    if household.status in (HouseholdStatus.MERGED.value,):
        raise RegistryError(_("A merged household cannot change status."))
    before = {"status": household.status}
    household.status = status
    db.session.flush()
    _event(household, "status", effective, before=before, after={"status": status}, note=note)
    record("household.status", household, household_id=household.id,
           details=changes(before, {"status": status}))
    return household


# --- queries -------------------------------------------------------------------------------------

def _like_escape(q: str) -> str:
    return q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def household_search_query(village_id: int, q: str | None = None, *, group_id: int | None = None,
                           status: str | None = None, tag: str | None = None) -> sa.Select:
    """Households of one village matching a name, pinyin initials or 户号."""
    stmt = sa.select(Household).where(Household.village_id == village_id)
    q = (q or "").strip()
    if "\x00" in q:  # no stored text holds NUL (forms refuse it); PostgreSQL would reject the query
        return stmt.where(sa.false())
    if q:
        pat = _like_escape(q)
        low = _like_escape(q.lower())
        member_match = sa.select(Person.household_id).where(
            Person.village_id == village_id,
            sa.or_(
                Person.name.like(f"%{pat}%", escape="\\"),
                Person.search_keys.like(f"{low}%", escape="\\"),
                Person.search_keys.like(f"% {low}%", escape="\\"),
            ),
        )
        stmt = stmt.where(sa.or_(Household.number.like(f"{pat}%", escape="\\"), Household.id.in_(member_match)))
    if group_id:
        stmt = stmt.where(Household.group_id == group_id)
    if status:
        stmt = stmt.where(Household.status == status)
    if tag:
        stmt = stmt.where(sa.or_(Household.tags == tag, Household.tags.like(f"{tag} %"),
                                 Household.tags.like(f"% {tag}"), Household.tags.like(f"% {tag} %")))
    return stmt.order_by(Household.number, Household.id)


def person_search_query(village_id: int, q: str | None = None, *, status: str | None = None) -> sa.Select:
    """People of one village matching a name, pinyin initials or their household's 户号."""
    stmt = sa.select(Person).join(Household, Person.household_id == Household.id).where(
        Person.village_id == village_id)
    q = (q or "").strip()
    if "\x00" in q:  # no stored text holds NUL (forms refuse it); PostgreSQL would reject the query
        return stmt.where(sa.false())
    if q:
        pat = _like_escape(q)
        low = _like_escape(q.lower())
        stmt = stmt.where(sa.or_(
            Person.name.like(f"%{pat}%", escape="\\"),
            Person.search_keys.like(f"{low}%", escape="\\"),
            Person.search_keys.like(f"% {low}%", escape="\\"),
            Household.number.like(f"{pat}%", escape="\\"),
        ))
    if status:
        stmt = stmt.where(Person.status == status)
    return stmt.order_by(Household.number, Person.id)
