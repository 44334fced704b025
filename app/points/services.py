"""Points verbs: schemes and items, recording, review, posting (公示), objections, year end.

Only app.ledger.services moves points; this module decides when and how much. Functions flush
and never commit: the view or command that calls them owns the transaction. Reads (the scheme, what is
on posting, scores, rankings, a household's overview) are in app.points.queries.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from ..audit.services import changes, record
from ..db import local_today, utcnow
from ..extensions import db, upsert_insert
from ..idempotency import IdempotencyConflict, check_key, find_earlier, mark_replayed
from ..ledger import services as ledger
from ..ledger.models import MAX_TRANSFER, Account, AccountKind, Transfer, TransferCode
from ..registry.models import Household, HouseholdStatus, Person, PersonStatus
from .errors import PointsError
from .models import (
    MAX_BATCH,
    MAX_ITEM_POINTS,
    EntryStatus,
    Objection,
    PointCategory,
    PointEntry,
    PointItem,
    PointPersonYearTotal,
    PointScheme,
    PointYearTotal,
    SpendableFrom,
    YearScore,
)
from .queries import COUNTED, effective_status, household_ranking, on_posting_filter, year_score
from .states import DECISIONS, ENTRY, OBJECTION, objection_state
from .workdays import add_working_days, holidays_from_config


# --- schemes, categories, items -------------------------------------------------------------------

def _check_spendable_from(value: str) -> str:
    if value not in {s.value for s in SpendableFrom}:
        raise PointsError(_("Choose when awarded points can be spent."), "spendable_from")
    return value


def create_scheme(village, name: str, *, year_policy: str = "carry_over", posting_days: int = 7,
                  appeal_working_days: int = 7, star_bands: str | None = None,
                  spendable_from: str = SpendableFrom.APPROVAL.value) -> PointScheme:
    """Create the village's points scheme (积分细则)."""
    spendable_from = _check_spendable_from(spendable_from)
    if db.session.scalar(sa.select(PointScheme.id).where(PointScheme.village_id == village.id,
                                                         PointScheme.name == name)):
        raise PointsError(_("A scheme named %(name)s already exists.", name=name), "name")
    scheme = PointScheme(village_id=village.id, name=name, year_policy=year_policy, posting_days=posting_days,
                         appeal_working_days=appeal_working_days, spendable_from=spendable_from, active=True)
    if star_bands:
        scheme.star_bands = star_bands
    db.session.add(scheme)
    db.session.flush()
    record("points.scheme_create", scheme, details=changes({}, {"name": name, "year_policy": year_policy,
                                                                "spendable_from": spendable_from}))
    return scheme


def update_scheme(scheme: PointScheme, *, name: str, year_policy: str, posting_days: int,
                  appeal_working_days: int, star_bands: str | None, spendable_from: str | None = None) -> PointScheme:
    """Change the scheme's settings; entries already on posting keep their dates.

    Switching spendable_from applies at once to the awards on posting now: they are held back (or released)
    from the next redemption on.
    """
    spendable_from = _check_spendable_from(spendable_from or scheme.spendable_from)
    clash = db.session.scalar(sa.select(PointScheme.id).where(
        PointScheme.village_id == scheme.village_id, PointScheme.name == name, PointScheme.id != scheme.id))
    if clash:
        raise PointsError(_("A scheme named %(name)s already exists.", name=name), "name")
    before = {"name": scheme.name, "year_policy": scheme.year_policy, "posting_days": scheme.posting_days,
              "appeal_working_days": scheme.appeal_working_days, "star_bands": scheme.star_bands,
              "spendable_from": scheme.spendable_from}
    scheme.name, scheme.year_policy, scheme.posting_days = name, year_policy, posting_days
    scheme.appeal_working_days = appeal_working_days
    scheme.star_bands = star_bands or scheme.star_bands
    scheme.spendable_from = spendable_from
    db.session.flush()
    record("points.scheme_update", scheme, details=changes(before, {
        "name": name, "year_policy": year_policy, "posting_days": posting_days,
        "appeal_working_days": appeal_working_days, "star_bands": scheme.star_bands,
        "spendable_from": spendable_from}))
    return scheme


def create_category(scheme: PointScheme, name: str, direction: str, sort: int = 0) -> PointCategory:
    if direction not in ("add", "deduct"):
        raise PointsError(_("A category either adds or deducts points."), "direction")
    if db.session.scalar(sa.select(PointCategory.id).where(PointCategory.scheme_id == scheme.id,
                                                           PointCategory.name == name)):
        raise PointsError(_("The scheme already has a category named %(name)s.", name=name), "name")
    cat = PointCategory(village_id=scheme.village_id, scheme_id=scheme.id, name=name, direction=direction,
                        sort=sort)
    db.session.add(cat)
    db.session.flush()
    record("points.category_create", cat, details=changes({}, {"name": name, "direction": direction}))
    return cat


@dataclass
class ItemData:
    code: str
    text: str
    points: int
    unit: str = "per_event"
    cap_period: str = "none"
    cap_points: int | None = None
    level: str = "village"
    applies_to: str = "person"
    evidence_required: bool = False
    article_ref: str | None = None
    active: bool = True
    #: a range item: the recorder enters the points within [points_min, points_max] (signed)
    points_min: int | None = None
    points_max: int | None = None
    #: applied by a reviewer's judgement, no automatic points (points 0); `effect` as the scheme writes it
    judgement: bool = False
    effect: str | None = None
    cap_group: str | None = None
    note: str | None = None
    #: a per-amount item (每100元加1分): `points` for every `amount_per` of `amount_unit` (元, 小时 …)
    amount_per: int | None = None
    amount_unit: str | None = None

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _check_item(category: PointCategory, data: ItemData) -> None:
    if data.judgement:
        data.points, data.points_min, data.points_max = 0, None, None
        if not data.effect:
            raise PointsError(_("Say what a judgement item does, for example 降B级."), "effect")
        return _check_cap(data)
    if (data.points_min is None) != (data.points_max is None):
        raise PointsError(_("A range item needs both its lowest and its highest points."), "points")
    if data.amount_per is not None:
        if data.amount_per < 1 or not data.amount_unit or data.points_min is not None:
            raise PointsError(
                _("A per-amount item needs the amount per step and its unit, for example 100 元."), "amount_per")
        data.unit = "per_amount"
    else:
        data.amount_unit = None
    if data.points_min is not None:
        lo, hi = data.points_min, data.points_max
        if not (lo < hi and (lo > 0 or hi < 0) and max(abs(lo), abs(hi)) <= MAX_ITEM_POINTS):
            raise PointsError(_("A range of points must run from a lower to a higher number, both adding or "
                                "both deducting, within %(max)s.", max=MAX_ITEM_POINTS), "points")
        data.points = hi if hi > 0 else lo
    if not data.points or abs(data.points) > MAX_ITEM_POINTS:
        raise PointsError(_("Points of an item must be a whole number from 1 to %(max)s.", max=MAX_ITEM_POINTS),
                          "points")
    if category.direction == "add" and data.points < 0:
        raise PointsError(_("Category %(name)s adds points: the item's points must be positive.",
                            name=category.name), "points")
    if category.direction == "deduct" and data.points > 0:
        raise PointsError(_("Category %(name)s deducts points: the item's points must be negative.",
                            name=category.name), "points")
    _check_cap(data)


def _check_cap(data: ItemData) -> None:
    if data.cap_period != "none" and not data.cap_points:
        raise PointsError(_("Give the most points per period, or choose no cap."), "cap_points")
    if data.cap_period == "none":
        data.cap_points, data.cap_group = None, None


def create_item(category: PointCategory, data: ItemData) -> PointItem:
    """Add an item to the scheme's catalogue."""
    _check_item(category, data)
    if db.session.scalar(sa.select(PointItem.id).where(PointItem.scheme_id == category.scheme_id,
                                                       PointItem.code == data.code)):
        raise PointsError(_("Item code %(code)s is already in use.", code=data.code), "code")
    item = PointItem(village_id=category.village_id, scheme_id=category.scheme_id, category_id=category.id,
                     **data.as_dict())
    db.session.add(item)
    db.session.flush()
    record("points.item_create", item, details=changes({}, data.as_dict() | {"category_id": category.id}))
    return item


def update_item(item: PointItem, category: PointCategory, data: ItemData) -> PointItem:
    """Change an item; entries already recorded keep the text and points they were recorded with."""
    _check_item(category, data)
    clash = db.session.scalar(sa.select(PointItem.id).where(
        PointItem.scheme_id == item.scheme_id, PointItem.code == data.code, PointItem.id != item.id))
    if clash:
        raise PointsError(_("Item code %(code)s is already in use.", code=data.code), "code")
    before = {k: getattr(item, k) for k in data.as_dict()} | {"category_id": item.category_id}
    for k, v in data.as_dict().items():
        setattr(item, k, v)
    item.category_id = category.id
    db.session.flush()
    record("points.item_update", item, details=changes(before, data.as_dict() | {"category_id": category.id}))
    return item


# --- what counts: an entry's status and the year totals -------------------------------------------

def _set_status(entry: PointEntry, status: str) -> None:
    """Give the entry its new status: the only place that assigns one, so that the year totals (the rankings'
    scores, PointYearTotal and PointPersonYearTotal) follow every entry that starts or stops counting.

    An entry's points, household, person, year and scheme never change once recorded (a correction is a new
    entry), so whether it counts is all that moves a total.
    """
    status = getattr(status, "value", status)
    was, now = entry.status in COUNTED, status in COUNTED
    if was != now:
        _add_to_totals(entry, 1 if now else -1)
    entry.status = status


def _upsert(model, key: dict, village_id: int, points: int, entries: int) -> None:
    """Add `points` and `entries` to one total, creating its row with them: one INSERT … ON CONFLICT DO UPDATE,
    so two transactions adding to the same new total cannot both insert it (PostgreSQL) and neither adds to a
    stale read (the database adds; SQLite's writers hold BEGIN IMMEDIATE anyway)."""
    table = model.__table__
    # taking an entry out finds its total there (it was added when the entry began to count); the row
    # inserted otherwise must pass the CHECKs, which both databases apply before they see the conflict, so it
    # starts at nothing, and `flask ledger check` reports the total that was missing
    first = (points, entries) if entries > 0 else (0, 0)
    stmt = upsert_insert(table).values(**key, village_id=village_id, score=first[0], entries=first[1])
    stmt = stmt.on_conflict_do_update(index_elements=list(key), set_={
        "score": table.c.score + points, "entries": table.c.entries + entries})
    db.session.execute(stmt)


def _add_to_totals(entry: PointEntry, sign: int) -> None:
    """Count the entry in (sign 1) or out of (sign −1) its household's and its person's total of its year and
    scheme."""
    points = sign * entry.points
    _upsert(PointYearTotal, {"household_id": entry.household_id, "year": entry.year,
                             "scheme_id": entry.scheme_id}, entry.village_id, points, sign)
    if entry.person_id is not None:
        _upsert(PointPersonYearTotal, {"person_id": entry.person_id, "year": entry.year,
                                       "scheme_id": entry.scheme_id}, entry.village_id, points, sign)


def _summed(subject) -> sa.Select:
    """SELECT subject, year, scheme_id, village_id, score, entries: the counted entries summed and counted per
    subject, year and scheme (what the totals must hold)."""
    return (sa.select(subject.label("subject"), PointEntry.year, PointEntry.scheme_id,
                      sa.func.min(PointEntry.village_id).label("village_id"),
                      sa.func.sum(PointEntry.points).label("score"), sa.func.count().label("entries"))
            .where(PointEntry.status.in_(COUNTED), subject.is_not(None))
            .group_by(subject, PointEntry.year, PointEntry.scheme_id))


#: each total and the entry column it sums by
_TOTALS = ((PointYearTotal, PointYearTotal.household_id, PointEntry.household_id, "household"),
           (PointPersonYearTotal, PointPersonYearTotal.person_id, PointEntry.person_id, "person"))


def rebuild_year_totals(village_id: int, year: int) -> None:
    """Set a village's totals of a year from its entries (set-based): for entries written in bulk, not
    through these services (bench/generate.py). The services keep the totals themselves."""
    for model, key, subject, _name in _TOTALS:
        db.session.execute(sa.delete(model).where(model.village_id == village_id, model.year == year))
        sums = _summed(subject).where(PointEntry.village_id == village_id, PointEntry.year == year)
        db.session.execute(sa.insert(model).from_select(
            [key.key, "year", "scheme_id", "village_id", "score", "entries"], sums))


def check_year_totals(village_id: int | None = None) -> list[str]:
    """I15 (flask ledger check): one line per stored year total whose score or count differs from its counted
    entries, and per subject, year and scheme with counted entries but no total kept."""
    problems = []
    for model, key, subject, name in _TOTALS:
        sums = _summed(subject)
        if village_id is not None:
            sums = sums.where(PointEntry.village_id == village_id)
        sums = sums.subquery()
        joined = sa.and_(sums.c.subject == key, sums.c.year == model.year, sums.c.scheme_id == model.scheme_id)
        summed, counted = sa.func.coalesce(sums.c.score, 0), sa.func.coalesce(sums.c.entries, 0)
        kept = sa.select(key, model.year, model.scheme_id, model.score, model.entries, summed.label("summed"),
                         counted.label("counted")).outerjoin(sums, joined)
        if village_id is not None:
            kept = kept.where(model.village_id == village_id)
        for row in db.session.execute(kept.where(sa.or_(model.score != summed, model.entries != counted))):
            problems.append(f"I15 {name} {row[0]} year {row.year} scheme {row.scheme_id}: total {row.score} "
                            f"of {row.entries} entries, but its entries give {row.summed} of {row.counted}")
        missing = sa.select(sums).outerjoin(model, joined).where(model.score.is_(None))
        for row in db.session.execute(missing):
            problems.append(f"I15 {name} {row.subject} year {row.year} scheme {row.scheme_id}: no total, "
                            f"but its entries give {row.score} of {row.entries}")
    return problems


# --- recording ------------------------------------------------------------------------------------

def _subject(household: Household, person: Person | None, item: PointItem) -> Person | None:
    if household.status != HouseholdStatus.ACTIVE.value:
        raise PointsError(_("Household %(number)s is no longer active.", number=household.number), "household")
    if item.applies_to == "household":
        return household.head  # household items are charged to the head (户主)
    if person is None:
        return household.head
    if person.household_id != household.id or person.status != PersonStatus.ALIVE.value:
        raise PointsError(_("%(name)s is not a living member of household %(number)s.",
                            name=person.name, number=household.number), "person")
    return person


def record_entry(scheme: PointScheme, item: PointItem, household: Household, *, person: Person | None = None,
                 occurred_on: dt.date, note: str | None = None, actor=None, source: str = "manual",
                 source_ref: str | None = None, key: str | None = None, batch_key: str | None = None,
                 evidence_file: str | None = None, today: dt.date | None = None,
                 points: int | None = None, amount: int | None = None) -> PointEntry:
    """Record an award or deduction; it waits for a reviewer (status pending).

    A range item (+1至+10) takes the `points` the recorder chose within its range; a per-amount item
    (每100元加1分) computes them from the `amount` entered; any other item gives its own points. A
    judgement item (降B级) gives no points by itself and is refused here.
    A key makes the call safe to repeat: the same key returns the entry it made the first time.
    """
    if item.scheme_id != scheme.id or household.village_id != scheme.village_id:
        raise PointsError(_("Unknown item."), "item")
    if not item.active:
        raise PointsError(_("Item %(code)s is no longer in use.", code=item.code), "item")
    today = today or local_today()
    if occurred_on > today:
        raise PointsError(_("The date cannot be in the future."), "occurred_on")
    if occurred_on.year < today.year - 1:
        raise PointsError(_("Entries can be recorded for this year and last year only."), "occurred_on")
    if item.evidence_required and not evidence_file:
        raise PointsError(_("Item %(code)s needs an evidence photo.", code=item.code), "evidence")
    points = entry_points(item, points, amount)
    # an entry keeps no payload fingerprint: what it was recorded for is on the row itself
    prior = find_earlier(PointEntry, scheme.village_id, key or None,
                         same=lambda prior: (prior.item_id, prior.household_id, prior.occurred_on)
                         == (item.id, household.id, occurred_on))
    if prior is not None:
        return prior
    # only a past year can have been closed (close_year refuses the current one): a lookup saved on the
    # entries of this year, nearly all of them
    if occurred_on.year < today.year and year_closed(scheme.id, occurred_on.year):
        raise PointsError(_("%(year)s is closed: its scores are final, so nothing more can be recorded for it. "
                            "Date the entry in the current year.", year=occurred_on.year), "occurred_on")
    subject = _subject(household, person, item)
    entry = PointEntry(
        village_id=scheme.village_id, scheme_id=scheme.id, item_id=item.id, household_id=household.id,
        person_id=subject.id if subject else None, item_code=item.code, item_text=item.text,
        category_name=item.category.name, article_ref=item.article_ref, points=points,
        occurred_on=occurred_on, year=occurred_on.year, note=note or None, source=source,
        source_ref=source_ref, evidence_file=evidence_file, batch_key=batch_key,
        recorded_by_id=actor.id if actor is not None else None, idempotency_key=key)
    _set_status(entry, EntryStatus.PENDING.value)
    db.session.add(entry)
    db.session.flush()
    record("points.record", entry, household_id=household.id,
           details={"item": item.code, "points": points, "person_id": entry.person_id,
                    "occurred_on": occurred_on.isoformat(), "source": source})
    return entry


def amount_rule(item: PointItem) -> str | None:
    """A per-amount item's rule in the scheme's words: 每100元加1分 (None for other items)."""
    if not item.amount_per:
        return None
    verb = "加" if item.points > 0 else "扣"
    return f"每{item.amount_per}{item.amount_unit or ''}{verb}{abs(item.points)}分"


def entry_points(item: PointItem, points: int | None, amount: int | None = None) -> int:
    """The points an entry of the item gives: the item's own, the chosen ones of a range item, or those a
    per-amount item's rule gives for the amount (whole steps only: 250 元 at 每100元加1分 is 2)."""
    if item.amount_per:
        if amount is None or amount < 1:
            raise PointsError(_("Item %(code)s counts %(rule)s: enter the amount.", code=item.code,
                                rule=amount_rule(item)), "amount")
        steps = amount // item.amount_per
        if steps < 1:
            raise PointsError(_("%(amount)s is less than one step of %(rule)s: no points.", amount=amount,
                                rule=amount_rule(item)), "amount")
        if steps * abs(item.points) > MAX_ITEM_POINTS * 100:
            raise PointsError(_("%(amount)s gives more points than one entry may hold.", amount=amount),
                              "amount")
        return steps * item.points
    if item.judgement:
        raise PointsError(_("Item %(code)s is applied by a reviewer's judgement (%(effect)s): it gives no "
                            "points by itself.", code=item.code, effect=item.effect or ""), "item")
    if item.points_min is None or item.points_max is None:
        return item.points
    if points is None or not item.points_min <= points <= item.points_max:
        raise PointsError(_("Item %(code)s gives from %(lo)s to %(hi)s points: enter the points within that "
                            "range.", code=item.code, lo=item.points_min, hi=item.points_max), "points")
    return points


def record_batch(scheme: PointScheme, item: PointItem, people: list[Person], *, occurred_on: dt.date,
                 note: str | None = None, actor=None, batch_key: str, today: dt.date | None = None,
                 evidence_file: str | None = None) -> list[PointEntry]:
    """One item for many people at once (e.g. everyone at a clean-up); one entry per person."""
    if not people:
        raise PointsError(_("Choose at least one person."), "people")
    if len(people) > MAX_BATCH:
        raise PointsError(_("At most %(n)s people per batch.", n=MAX_BATCH), "people")
    batch_key = check_key(batch_key, required=True)
    seen: set[int] = set()
    chosen = []
    for p in sorted(people, key=lambda p: p.id):
        target = p.household.head_id if item.applies_to == "household" else p.id
        if target in seen:
            continue  # a household item once per household, a person once per batch
        seen.add(target)
        chosen.append(p)
    earlier = _earlier_batch(scheme.village_id, batch_key, item, occurred_on, note,
                             {f"{batch_key}:{p.id}" for p in chosen})
    if earlier is not None:
        return earlier
    return [record_entry(scheme, item, p.household, person=p, occurred_on=occurred_on, note=note,
                         actor=actor, source="batch", key=f"{batch_key}:{p.id}", batch_key=batch_key,
                         today=today, evidence_file=evidence_file) for p in chosen]


def _earlier_batch(village_id: int, batch_key: str, item: PointItem, occurred_on: dt.date, note: str | None,
                   keys: set[str]) -> list[PointEntry] | None:
    """The entries an earlier submission of the batch form made (marked replayed), or None for a new key.

    The whole batch is compared, not each entry: the same page sent again after Back records nothing,
    and a batch changed under a used key (other people ticked) is refused rather than half recorded.
    :raise IdempotencyConflict: the key was used for a different batch.
    """
    earlier = list(db.session.scalars(sa.select(PointEntry).where(PointEntry.village_id == village_id,
                                                                  PointEntry.batch_key == batch_key)
                                      .order_by(PointEntry.id)))
    if not earlier:
        return None
    if {e.idempotency_key for e in earlier} != keys or any(
            (e.item_id, e.occurred_on, e.note) != (item.id, occurred_on, note or None) for e in earlier):
        raise IdempotencyConflict()
    return [mark_replayed(e) for e in earlier]


# --- review ---------------------------------------------------------------------------------------

def _period_bounds(period: str, day: dt.date) -> tuple[dt.date, dt.date]:
    if period == "month":
        start = day.replace(day=1)
        end = (start + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    elif period == "quarter":
        q = (day.month - 1) // 3
        start = dt.date(day.year, q * 3 + 1, 1)
        end = (dt.date(day.year + (q == 3), (q * 3 + 3) % 12 + 1, 1)) - dt.timedelta(days=1)
    else:
        start, end = dt.date(day.year, 1, 1), dt.date(day.year, 12, 31)
    return start, end


CAP_LABEL = {"month": "month", "quarter": "quarter", "year": "year"}


def cap_room(entry: PointEntry) -> int | None:
    """How many points the entry's item may still give its subject in the cap period (None: no cap)."""
    item = entry.item
    if item.cap_period == "none" or not item.cap_points:
        return None
    start, end = _period_bounds(item.cap_period, entry.occurred_on)
    subject = PointEntry.person_id == entry.person_id if item.applies_to == "person" \
        else PointEntry.household_id == entry.household_id
    # a cap group (one cap written for several items) counts the entries of all its items
    items = PointEntry.item_id == item.id if not item.cap_group else PointEntry.item_id.in_(sa.select(
        PointItem.id).where(PointItem.scheme_id == item.scheme_id, PointItem.cap_group == item.cap_group))
    used = db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(sa.func.abs(PointEntry.points)), 0)).where(
        items, subject, PointEntry.status.in_(COUNTED),
        PointEntry.occurred_on >= start, PointEntry.occurred_on <= end, PointEntry.id != entry.id))
    return max(0, item.cap_points - int(used))


def approve(entry: PointEntry, reviewer, *, note: str | None = None, today: dt.date | None = None) -> PointEntry:
    """Approve a pending entry: enforce its cap, move the balance, and put it on posting (公示)."""
    status = ENTRY.move(entry.status, "approve", subject=entry, reviewer=reviewer)
    today = today or local_today()
    room = cap_room(entry)
    if room is not None and abs(entry.points) > room:
        item = entry.item
        period = {"month": _("month"), "quarter": _("quarter"), "year": _("year")}[item.cap_period]
        raise PointsError(_("Cap reached: item %(code)s gives at most %(cap)s points per %(period)s; "
                            "%(left)s points are left for this %(period)s.",
                            code=item.code, cap=item.cap_points, period=period, left=room))
    _move_balance(entry, reviewer)
    scheme = entry.scheme
    _set_status(entry, status)
    entry.reviewed_by_id = reviewer.id if reviewer is not None else None
    entry.reviewed_at = _now()
    entry.review_note = note or None
    entry.posted_on = today
    entry.posting_until = today + dt.timedelta(days=scheme.posting_days - 1)
    db.session.flush()
    record("points.approve", entry, household_id=entry.household_id,
           details={"points": entry.points, "applied": entry.applied_points,
                    "posting_until": entry.posting_until.isoformat()})
    return entry


def _move_balance(entry: PointEntry, actor) -> None:
    """Move an approved entry's points on its household's balance, once (the key is the entry's).

    An award moves in full; a deduction takes at most what the balance holds (扣完为止), while the year
    score still takes it in full. Sets the entry's transfer (none when nothing was taken) and applied points.
    """
    acct = ledger.household_account(entry.household)
    issuance = ledger.system_account(entry.village_id, AccountKind.ISSUANCE)
    if entry.points > 0:
        debit, credit, code, amount = issuance, acct, TransferCode.EARN, entry.points
        entry.applied_points = amount
    else:
        debit, credit, code = acct, issuance, TransferCode.DEDUCT
        amount = min(-entry.points, _locked_balance(acct.id))
        entry.applied_points = -amount
    if amount > 0:
        posted = ledger.post_transfer(debit=debit, credit=credit, amount=amount, code=code,
                                      key=f"entry:{entry.id}:approve", actor=actor, person_id=entry.person_id,
                                      entry_id=entry.id, source=entry.source, source_ref=entry.source_ref,
                                      memo=entry.item_code)
        entry.transfer_id = posted.transfer.id


def _locked_balance(account_id: int) -> int:
    """Read a balance under a row lock (PostgreSQL) / inside BEGIN IMMEDIATE (SQLite)."""
    return int(db.session.execute(sa.select(Account.balance).where(Account.id == account_id)
                                  .with_for_update()).scalar_one())


def _now() -> dt.datetime:
    return utcnow()


def reject(entry: PointEntry, reviewer, *, reason: str) -> PointEntry:
    """Reject a pending entry with a written reason (nothing moves)."""
    status = ENTRY.move(entry.status, "reject", subject=entry, reviewer=reviewer)
    if not (reason or "").strip():
        raise PointsError(_("Please write the reason for rejecting."), "note")
    _set_status(entry, status)
    entry.reviewed_by_id = reviewer.id if reviewer is not None else None
    entry.reviewed_at = _now()
    entry.review_note = reason.strip()
    db.session.flush()
    # the reason is free text that may name people: it stays on the entry (review_note), named here
    record("points.reject", entry, household_id=entry.household_id, changed=["status", "review_note"])
    return entry


def withdraw(entry: PointEntry, actor, *, reason: str) -> PointEntry:
    """The recording feature takes an entry back (e.g. a patrol shift's attendance was corrected).

    A pending entry is turned down with the reason; an approved one is reversed on the ledger and marked
    corrected, so the household's balance and year score lose it. Taking back twice changes nothing more.
    """
    status = ENTRY.move(entry.status, "withdraw", subject=entry)
    if not (reason or "").strip():
        raise PointsError(_("Please write the reason for rejecting."), "note")
    if entry.status != EntryStatus.PENDING.value:
        _reverse_entry(entry, actor, f"entry:{entry.id}:withdraw")
    else:
        entry.reviewed_by_id = actor.id if actor is not None else None
        entry.reviewed_at = _now()
    _set_status(entry, status)
    entry.review_note = reason.strip()
    db.session.flush()
    record("points.withdraw", entry, household_id=entry.household_id, changed=["status", "review_note"])
    return entry


def finalize_due(village_id: int, today: dt.date | None = None) -> int:
    """Mark entries whose posting has ended as final; return how many."""
    today = today or local_today()
    entries = db.session.scalars(sa.select(PointEntry).where(
        PointEntry.village_id == village_id, PointEntry.status.in_(ENTRY.sources("finalize")),
        PointEntry.posting_until < today)).all()
    for e in entries:
        _set_status(e, ENTRY.move(e.status, "finalize"))
    db.session.flush()
    if entries:
        record("points.finalize", village_id=village_id, details={"entries": len(entries)})
    return len(entries)


# --- objections -----------------------------------------------------------------------------------

def file_objection(entry: PointEntry, *, reason: str, channel: str = "clerk", objector_name: str | None = None,
                   actor=None, today: dt.date | None = None) -> Objection:
    """Take a villager's objection to an entry on posting; the entry is flagged disputed."""
    today = today or local_today()
    status = ENTRY.move(effective_status(entry, today), "object")
    if not (reason or "").strip():
        raise PointsError(_("Please write what the objection is about."), "reason")
    holidays = holidays_from_config(current_app.config.get("POINTS_HOLIDAYS"))
    obj = Objection(village_id=entry.village_id, entry_id=entry.id, channel=channel,
                    objector_name=objector_name or None, reason=reason.strip(),
                    filed_by_id=actor.id if actor is not None else None,
                    due_on=add_working_days(today, entry.scheme.appeal_working_days, holidays))
    db.session.add(obj)
    _set_status(entry, status)
    db.session.flush()
    record("points.object", obj, household_id=entry.household_id,
           details={"entry_id": entry.id, "channel": channel, "due_on": obj.due_on.isoformat()})
    return obj


def decide_objection(objection: Objection, reviewer, *, decision: str, reply_text: str,
                     corrected_points: int | None = None, today: dt.date | None = None) -> Objection:
    """Uphold the entry, or correct it: reverse it and, if points are given, record the right amount."""
    today = today or local_today()
    if decision not in DECISIONS:
        raise PointsError(_("Choose uphold or correct."), "decision")
    action = DECISIONS[decision]
    decided = OBJECTION.move(objection_state(objection), action)
    if not (reply_text or "").strip():
        raise PointsError(_("Please write the reply to the villager."), "reply_text")
    entry = objection.entry
    if action == "uphold" and not (entry.posting_until and entry.posting_until >= today):
        action = "uphold_after_posting"  # upheld after the posting period: no more objections
    status = ENTRY.move(entry.status, action, subject=entry, reviewer=reviewer)
    if action != "correct":
        _set_status(entry, status)
    else:
        if corrected_points is not None and (corrected_points == 0 or abs(corrected_points) > MAX_ITEM_POINTS
                                             or (corrected_points > 0) != (entry.points > 0)):
            raise PointsError(_("The corrected points must have the same sign as the entry and not be zero."),
                              "corrected_points")
        _reverse_entry(entry, reviewer, f"objection:{objection.id}:reverse")
        _set_status(entry, status)
        if corrected_points is not None:
            _replacement(entry, reviewer, corrected_points, objection, today)
    objection.decision = decided
    objection.reply_text = reply_text.strip()
    objection.corrected_points = corrected_points if decision == "corrected" else None
    objection.decided_by_id = reviewer.id if reviewer is not None else None
    objection.decided_at = _now()
    db.session.flush()
    record("points.objection_decide", objection, household_id=entry.household_id,
           details={"decision": decision, "entry_id": entry.id, "corrected_points": corrected_points})
    return objection


def _reverse_entry(entry: PointEntry, actor, key: str) -> None:
    if entry.transfer_id is None:
        return
    original = db.session.get(Transfer, entry.transfer_id)
    ledger.reverse_transfer(original, key=key, actor=actor, memo=f"entry {entry.id}")


def _replacement(entry: PointEntry, reviewer, points: int, objection: Objection, today: dt.date) -> PointEntry:
    new = PointEntry(
        village_id=entry.village_id, scheme_id=entry.scheme_id, item_id=entry.item_id,
        household_id=entry.household_id, person_id=entry.person_id, item_code=entry.item_code,
        item_text=entry.item_text, category_name=entry.category_name, article_ref=entry.article_ref,
        points=points, occurred_on=entry.occurred_on, year=entry.year,
        note=_("Corrected after objection #%(n)s", n=objection.id), source=entry.source,
        source_ref=entry.source_ref, recorded_by_id=reviewer.id if reviewer is not None else None,
        reviewed_by_id=reviewer.id if reviewer is not None else None, reviewed_at=_now(),
        posted_on=today, posting_until=today, corrects_entry_id=entry.id)
    # a replacement is born final: it counts from the start
    _set_status(new, EntryStatus.FINAL.value)
    db.session.add(new)
    db.session.flush()
    _move_balance(new, reviewer)
    db.session.flush()
    record("points.correct", new, household_id=new.household_id,
           details={"replaces": entry.id, "points": points})
    return new


def overdue_objections(village_id: int, today: dt.date | None = None) -> list[Objection]:
    today = today or local_today()
    return list(db.session.scalars(sa.select(Objection).where(
        Objection.village_id == village_id, Objection.decision.is_(None), Objection.due_on < today)
        .order_by(Objection.due_on)))


# --- year end -------------------------------------------------------------------------------------

def year_closed(scheme_id: int, year: int) -> bool:
    """Whether `year` has been closed: its scores are kept in year_scores and no entry may join it."""
    return db.session.scalar(sa.select(YearScore.id).where(YearScore.scheme_id == scheme_id,
                                                           YearScore.year == year).limit(1)) is not None


def _refuse_unsettled_year(scheme: PointScheme, year: int, today: dt.date) -> None:
    """A year closes once all its entries are settled: none waits for review, none is on posting or under an
    objection. Otherwise a later approval or correction would change a score already kept, and under the
    expire policy a correction would try to take back points the close had already expired."""
    # one pass over the year's unsettled entries: pending ones, and those on posting (disputed or not)
    waiting = sa.or_(PointEntry.status == EntryStatus.PENDING.value, sa.and_(*on_posting_filter(today)))
    pending, posting, disputed, last_day = db.session.execute(sa.select(
        sa.func.count(PointEntry.id).filter(PointEntry.status == EntryStatus.PENDING.value),
        sa.func.count(PointEntry.id).filter(PointEntry.status != EntryStatus.PENDING.value),
        sa.func.count(PointEntry.id).filter(PointEntry.status == EntryStatus.DISPUTED.value),
        sa.func.max(PointEntry.posting_until).filter(PointEntry.status == EntryStatus.POSTED.value))
        .where(PointEntry.scheme_id == scheme.id, PointEntry.year == year, waiting)).one()
    if not (pending or posting):
        return
    problems = []
    if pending:
        problems.append(_("%(n)s entries still wait for review", n=pending))
    if posting - disputed:
        problems.append(_("%(n)s entries are on posting until %(day)s at the latest", n=posting - disputed,
                          day=last_day.isoformat()))
    if disputed:
        problems.append(_("%(n)s entries are under an objection not yet decided", n=disputed))
    raise PointsError(_("%(year)s cannot be closed yet: %(problems)s. Close it once they are settled.",
                        year=year, problems=_("; ").join(problems)), "year")


def close_year(scheme: PointScheme, year: int, *, actor=None, today: dt.date | None = None) -> int:
    """Keep every household's final score of `year`; under the expire policy clear balances to the
    expired account. Closing the same year twice changes nothing. Returns households closed."""
    today = today or local_today()
    if year >= today.year:
        raise PointsError(_("A year can be closed once it is over."))
    if year_closed(scheme.id, year):
        return 0
    _refuse_unsettled_year(scheme, year, today)
    ranking = household_ranking(scheme.village_id, year, scheme_id=scheme.id)
    ranks = {h.id: r for h, _s, r in ranking}
    households = db.session.scalars(sa.select(Household).where(Household.village_id == scheme.village_id)
                                    .order_by(Household.id)).all()
    expired_acct = ledger.system_account(scheme.village_id, AccountKind.EXPIRED) \
        if scheme.year_policy == "expire" else None
    for h in households:
        score = year_score(h.id, year, scheme.id)
        acct = ledger.household_account(h)
        balance = _locked_balance(acct.id)
        expired = 0
        if expired_acct is not None and balance > 0:
            # one transfer moves at most MAX_TRANSFER points, so a very large balance expires in parts
            part = 0
            while expired < balance:
                amount = min(balance - expired, MAX_TRANSFER)
                suffix = f":{part}" if part else ""
                ledger.post_transfer(debit=acct, credit=expired_acct, amount=amount, code=TransferCode.EXPIRE,
                                     key=f"yearclose:{scheme.id}:{year}:{h.id}{suffix}", actor=actor,
                                     source="year_end", memo=str(year))
                expired += amount
                part += 1
        db.session.add(YearScore(village_id=scheme.village_id, scheme_id=scheme.id, year=year,
                                 household_id=h.id, score=score, stars=scheme.stars_for(score),
                                 rank_village=ranks.get(h.id), balance_at_close=balance,
                                 expired_points=expired))
    db.session.flush()
    record("points.year_close", scheme, details={"year": year, "households": len(households),
                                                 "policy": scheme.year_policy})
    return len(households)
