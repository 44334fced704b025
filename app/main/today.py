"""The home page's work for today: a section per role the user holds in the current village, each item a count
with a link to the list that shows those rows; the township's per-village counts.

The counts come from the features' own read modules (their `today_counts` and `villages_today`); this module
only labels them, links them and puts the overdue ones first.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from flask import url_for
from flask_babel import lazy_gettext as _l

from ..grid import queries as grid_queries
from ..mediation import queries as mediation_queries
from ..patrol import queries as patrol_queries
from ..points import queries as points_queries
from ..rules import queries as rules_queries
from ..shop import queries as shop_queries
from ..statements import queries as statements_queries

#: a backup older than this is late (backups run every night)
BACKUP_LATE_AFTER = dt.timedelta(hours=26)


@dataclass
class Item:
    """One line of a section: `count` things (hidden when 0), linked; red with `overdue_days` when late."""

    key: str
    label: str
    count: int
    url: str
    overdue_days: int | None = None
    note: str | None = None


@dataclass
class Section:
    role: str
    title: str
    items: list[Item] = field(default_factory=list)
    #: phone pages first: bigger tap targets, one column
    phone: bool = False

    @property
    def shown(self) -> list[Item]:
        """Non-zero items, overdue ones first (the most days first), then in the section's order."""
        live = [i for i in self.items if i.count]
        return sorted(live, key=lambda i: (i.overdue_days is None, -(i.overdue_days or 0)))


def _days_since(day: dt.date | None, today: dt.date) -> int | None:
    return max((today - day).days, 1) if day is not None else None


def clerk(village_id: int, user_id: int, today: dt.date, points: dict, backup=None) -> Section:
    rules = rules_queries.today_counts(village_id)
    jobs = statements_queries.today_counts(village_id)
    s = Section("clerk", str(_l("Clerk")))
    s.items += [
        Item("rejected_mine", str(_l("Your entries that were rejected (see the reasons)")), points["rejected_mine"],
             url_for("points.entries", status="rejected", mine=1)),
        Item("batches", str(_l("Statement batches in progress")), jobs["batches_in_progress"],
             url_for("statements.batch_new")),
        Item("posting_ending", str(_l("Entries whose posting ends within %(n)s days",
                                      n=points_queries.POSTING_ENDING_DAYS)),
             points["posting_ending"], url_for("points.entries", status="posted", ending=1)),
        Item("rules", str(_l("Rule versions waiting for their next adoption step")), rules["in_adoption"],
             url_for("rules.index")),
    ]
    if backup is not None:
        s.items.append(backup)
    return s


def backup_item(backups: list, now: dt.datetime) -> Item | None:
    """The last backup and whether it is late; None when there are none (the installation takes none)."""
    if not backups:
        return None
    last = backups[0]
    age = now.replace(tzinfo=dt.UTC) - last.taken_at
    late = age > BACKUP_LATE_AFTER
    return Item("backup", str(_l("Last backup")), 1, url_for("admin.backups"),
                overdue_days=max(age.days, 1) if late else None,
                note=str(_l("late: none since %(when)s", when=last.taken_at.strftime("%Y-%m-%d %H:%M UTC"))
                         if late else _l("taken %(when)s, checksum written",
                                         when=last.taken_at.strftime("%Y-%m-%d %H:%M UTC"))))


def reviewer(village_id: int, today: dt.date, points: dict) -> Section:
    shop = shop_queries.today_counts(village_id, today=today)
    s = Section("reviewer", str(_l("Reviewer")))
    waiting = _days_since(points["oldest_pending"], today)
    s.items += [
        Item("objections_overdue", str(_l("Objections past their answer date")), points["objections_overdue"],
             url_for("points.objections", state="overdue"),
             overdue_days=_days_since(points["oldest_due"], today)),
        Item("pending", str(_l("Entries waiting for review")), points["pending"],
             url_for("points.entries", status="pending", order="oldest"),
             note=str(_l("the oldest waits since %(days)s days", days=waiting)) if waiting else None),
        Item("objections_open", str(_l("Objections open")), points["objections_open"],
             url_for("points.objections", state="open")),
        Item("cancelled_week", str(_l("Redemptions cancelled this week")), shop["cancelled_week"],
             url_for("shop.redemptions", since="week", status="cancelled")),
    ]
    return s


def cashier(village_id: int, today: dt.date) -> Section:
    shop = shop_queries.today_counts(village_id, today=today)
    s = Section("cashier", str(_l("Cashier")))
    s.items += [
        Item("out_of_stock", str(_l("Goods out of stock")), shop["out_of_stock"],
             url_for("shop.products", stock="out")),
        Item("low_stock", str(_l("Goods at or below their reorder level")), shop["low_stock"],
             url_for("shop.products", stock="low")),
        Item("redeemed_today", str(_l("Redemptions today")), shop["redeemed_today"],
             url_for("shop.redemptions", since="today")),
        Item("cancelled_today", str(_l("Redemptions cancelled today")), shop["cancelled_today"],
             url_for("shop.redemptions", since="today", status="cancelled")),
    ]
    return s


def patrol_leader(village_id: int, today: dt.date, now: dt.datetime) -> Section:
    c = patrol_queries.today_counts(village_id, today=today, now=now)
    s = Section("patrol_leader", str(_l("Patrol leader")), phone=True)
    late = c["oldest_to_confirm"] is not None and c["oldest_to_confirm"] < today
    s.items += [
        Item("to_confirm", str(_l("Shifts to confirm")), c["to_confirm"], url_for("patrol.index", show="to_confirm"),
             overdue_days=_days_since(c["oldest_to_confirm"], today) if late else None),
        Item("members_short", str(_l("Members short of their monthly minimum")), c["members_short"],
             url_for("patrol.index", show="short")),
    ]
    return s


def mediator(village_id: int, user_id: int, today: dt.date) -> Section:
    c = mediation_queries.today_counts(village_id, user_id=user_id, today=today)
    s = Section("mediator", str(_l("Mediator")), phone=True)
    s.items += [
        Item("follow_ups_overdue", str(_l("Follow-up visits overdue")), c["follow_ups_overdue"],
             url_for("mediation.index", due="overdue", _anchor="due"),
             overdue_days=_days_since(c["oldest_follow_up_due"], today)),
        Item("follow_ups_due", str(_l("Follow-up visits due within %(n)s days", n=mediation_queries.AHEAD_DAYS)),
             c["follow_ups_due"], url_for("mediation.index", due="soon", _anchor="due")),
        Item("window_closing", str(_l("Agreements whose judicial-confirmation window closes within %(n)s days",
                                      n=mediation_queries.AHEAD_DAYS)),
             c["window_closing"], url_for("mediation.index", window="closing", _anchor="window")),
        Item("open_cases", str(_l("Cases being handled (registered, investigating, mediating)")), c["open"],
             url_for("mediation.index")),
    ]
    return s


def grid_worker(village_id: int, user_id: int, today: dt.date, now: dt.datetime) -> Section:
    c = grid_queries.today_counts(village_id, user_id=user_id, today=today, now=now)
    s = Section("grid_worker", str(_l("Grid worker")), phone=True)
    oldest_event = c["oldest_event_due"]
    s.items += [
        Item("visits_overdue", str(_l("Visits overdue")), c["visits_overdue"], url_for("grid.today"),
             overdue_days=_days_since(c["oldest_visit_due"], today)),
        Item("visits_today", str(_l("Visits due today")), c["visits_today"], url_for("grid.today")),
        Item("events_overdue", str(_l("Events assigned to you and overdue")), c["events_overdue"],
             url_for("grid.events", status="overdue", mine=1),
             overdue_days=max((now - oldest_event).days, 1) if oldest_event else None),
        Item("events_assigned", str(_l("Events assigned to you")), c["events_assigned"],
             url_for("grid.events", mine=1)),
    ]
    return s


ROLE_ORDER = ("clerk", "reviewer", "cashier", "patrol_leader", "mediator", "grid_worker")


def sections(village_id: int, roles: set[str], user_id: int, today: dt.date, now: dt.datetime,
             backups=None) -> list[Section]:
    """A section per role the user holds in the village, in a fixed order."""
    out = []
    points = points_queries.today_counts(village_id, user_id=user_id, today=today) \
        if roles & {"clerk", "reviewer"} else None
    for role in ROLE_ORDER:
        if role not in roles:
            continue
        if role == "clerk":
            out.append(clerk(village_id, user_id, today, points, backup_item(backups or [], now)))
        elif role == "reviewer":
            out.append(reviewer(village_id, today, points))
        elif role == "cashier":
            out.append(cashier(village_id, today))
        elif role == "patrol_leader":
            out.append(patrol_leader(village_id, today, now))
        elif role == "mediator":
            out.append(mediator(village_id, user_id, today))
        elif role == "grid_worker":
            out.append(grid_worker(village_id, user_id, today, now))
    return out


#: the township's columns: (key, label, overdue?) – overdue ones weigh first in the order of the villages
TOWNSHIP_COLUMNS = (
    ("objections_overdue", _l("Objections overdue"), True),
    ("cases_overdue", _l("Mediation follow-ups overdue"), True),
    ("events_overdue", _l("Grid events overdue"), True),
    ("shifts_to_confirm", _l("Patrol shifts to confirm"), False),
    ("entries_waiting", _l("Entries waiting for review"), False),
)


def township_rows(villages: list, today: dt.date, now: dt.datetime) -> list[dict]:
    """Per village the counts only (no name of a person or household), villages needing attention first:
    the most overdue things, then the most waiting, then by code. One grouped statement per count over every
    village, never a loop over the villages."""
    ids = [v.id for v in villages]
    points = points_queries.villages_today(ids, today)
    cases = mediation_queries.villages_today(ids, today)
    events = grid_queries.villages_today(ids, now)
    shifts = patrol_queries.villages_today(ids, now)
    rows = []
    for v in villages:
        counts = {"entries_waiting": points[v.id]["entries_waiting"],
                  "objections_overdue": points[v.id]["objections_overdue"],
                  "cases_overdue": cases.get(v.id, 0), "events_overdue": events.get(v.id, 0),
                  "shifts_to_confirm": shifts.get(v.id, 0)}
        overdue = sum(counts[k] for k, _label, late in TOWNSHIP_COLUMNS if late)
        waiting = sum(counts[k] for k, _label, late in TOWNSHIP_COLUMNS if not late)
        rows.append({"village": v, "counts": counts, "overdue": overdue, "waiting": waiting})
    return sorted(rows, key=lambda r: (-r["overdue"], -r["waiting"], r["village"].code))
