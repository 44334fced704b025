"""The visit schedule (三必访 by default): how often each household is visited, and when it is next due.

Pure functions over dates, so the rules are tested as a table (tests/test_grid_schedule.py):

- a household's interval is the shortest among the rules of its tags, or the "ordinary" rule;
- never visited since it joined its grid: due on the day it joined;
- otherwise due one interval after its latest visit, calendar months kept (31 Jan + 1 month = 28/29 Feb);
- a visit that asked for a second visit (`follow_up_on`) brings the due date forward to that day, until a later
  visit is recorded (any later visit answers it);
- overdue: due before today; due today: due on today.
"""
from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

ORDINARY = "ordinary"

#: tag → (every, unit): 三必访 — ordinary households every half year, key-assistance households every month,
#: special persons every week
DEFAULT_RULES: dict[str, tuple[int, str]] = {
    ORDINARY: (6, "month"),
    "dibao": (1, "month"),
    "wubao": (1, "month"),
    "elderly_alone": (1, "month"),
    "left_behind_child": (1, "month"),
    "key_assistance": (1, "month"),
    "special": (1, "week"),
}


def add_interval(day: dt.date, every: int, unit: str) -> dt.date:
    if unit == "day":
        return day + dt.timedelta(days=every)
    if unit == "week":
        return day + dt.timedelta(weeks=every)
    if unit == "month":
        month0 = day.month - 1 + every
        year, month = day.year + month0 // 12, month0 % 12 + 1
        return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))
    raise ValueError(f"unknown unit {unit!r}")


def approx_days(every: int, unit: str) -> float:
    """For comparing intervals of different units (1 month is shorter than 5 weeks)."""
    return every * {"day": 1, "week": 7, "month": 30.44}[unit]


def interval_for(tags: Iterable[str], rules: Mapping[str, tuple[int, str]]) -> tuple[int, str]:
    """The most frequent rhythm among the household's tags; the ordinary one when no tag has a rule."""
    found = [rules[t] for t in tags if t in rules and t != ORDINARY]
    if not found:
        return rules.get(ORDINARY, DEFAULT_RULES[ORDINARY])
    return min(found, key=lambda r: approx_days(*r))


@dataclass(frozen=True)
class Due:
    day: dt.date
    #: the due date comes from a visit that asked for a second visit
    follow_up: bool = False


def next_due(joined_on: dt.date, last_visit: dt.date | None, follow_up_on: dt.date | None,
             interval: tuple[int, str]) -> Due:
    """When the household is next due, from the day it joined its grid and its latest visit.

    `follow_up_on` is the latest visit's request for a second visit (None when it asked for none)."""
    if last_visit is None:
        return Due(joined_on)
    regular = add_interval(last_visit, *interval)
    if follow_up_on is not None and follow_up_on < regular:
        return Due(follow_up_on, follow_up=True)
    return Due(regular)


def standing(due: dt.date, today: dt.date) -> str:
    """overdue, today, or upcoming."""
    if due < today:
        return "overdue"
    return "today" if due == today else "upcoming"
