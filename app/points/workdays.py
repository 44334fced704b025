"""Working-day arithmetic for objection deadlines (7 working days by default)."""
from __future__ import annotations

import datetime as dt
from typing import Iterable


def add_working_days(start: dt.date, days: int, holidays: Iterable[dt.date] = ()) -> dt.date:
    """The date `days` working days after `start` (Saturdays, Sundays and `holidays` don't count)."""
    off = set(holidays)
    current = start
    left = days
    while left > 0:
        current += dt.timedelta(days=1)
        if current.weekday() < 5 and current not in off:
            left -= 1
    return current


def holidays_from_config(value) -> set[dt.date]:
    """Parse POINTS_HOLIDAYS ("2026-10-01,2026-10-02,…" or a list) into dates; bad entries are ignored."""
    if not value:
        return set()
    items = value.split(",") if isinstance(value, str) else list(value)
    out = set()
    for item in items:
        try:
            out.add(item if isinstance(item, dt.date) else dt.date.fromisoformat(str(item).strip()))
        except ValueError:
            continue
    return out
