"""The visit schedule (三必访), table-driven: for each tag, the due dates after a sequence of visits, and the
overdue list on a given day (the schedule's functions here, the households' list in test_grid_services)."""
from __future__ import annotations

import datetime as dt

import pytest

from app.grid.schedule import DEFAULT_RULES, Due, add_interval, interval_for, next_due, standing

D = dt.date

# tags → after each visit (its day, the second visit it asked for), the next due date
SEQUENCES = [
    # ordinary: every half year; calendar months keep the day, clamped to the month's end
    ((), D(2026, 1, 10), [((D(2026, 1, 12), None), D(2026, 7, 12)),
                          ((D(2026, 7, 20), None), D(2027, 1, 20)),
                          ((D(2026, 8, 31), None), D(2027, 2, 28))]),
    (("party_member",), D(2026, 3, 1), [((D(2026, 3, 2), None), D(2026, 9, 2))]),
    # key-assistance households: every month
    (("dibao",), D(2026, 1, 1), [((D(2026, 1, 31), None), D(2026, 2, 28)),
                                 ((D(2026, 2, 28), None), D(2026, 3, 28))]),
    (("wubao",), D(2026, 5, 5), [((D(2026, 5, 6), None), D(2026, 6, 6))]),
    (("elderly_alone",), D(2026, 12, 15), [((D(2026, 12, 20), None), D(2027, 1, 20))]),
    (("left_behind_child",), D(2026, 4, 1), [((D(2026, 4, 30), None), D(2026, 5, 30))]),
    (("key_assistance",), D(2026, 4, 1), [((D(2026, 4, 2), None), D(2026, 5, 2))]),
    # special persons: every week
    (("special",), D(2026, 6, 1), [((D(2026, 6, 1), None), D(2026, 6, 8)),
                                   ((D(2026, 6, 9), None), D(2026, 6, 16))]),
    # the most frequent tag wins
    (("party_member", "dibao", "special"), D(2026, 6, 1), [((D(2026, 6, 3), None), D(2026, 6, 10))]),
    # a second visit asked for brings the due date forward, until a later visit answers it
    ((), D(2026, 1, 1), [((D(2026, 1, 5), D(2026, 1, 19)), D(2026, 1, 19)),
                         ((D(2026, 1, 19), None), D(2026, 7, 19))]),
    # … but never pushes it back
    (("special",), D(2026, 1, 1), [((D(2026, 1, 5), D(2026, 2, 5)), D(2026, 1, 12))]),
]


@pytest.mark.parametrize("tags, joined, visits", SEQUENCES, ids=lambda v: None)
def test_due_dates_after_each_visit(tags, joined, visits):
    interval = interval_for(tags, DEFAULT_RULES)
    assert next_due(joined, None, None, interval) == Due(joined), "never visited: due on the day it joined"
    for (visited_on, follow_up_on), expected in visits:
        due = next_due(joined, visited_on, follow_up_on, interval)
        assert due.day == expected, (tags, visited_on)
        assert due.follow_up == (follow_up_on is not None and follow_up_on == expected)


def test_a_village_rule_replaces_the_default():
    rules = {"ordinary": (3, "month"), "dibao": (2, "week")}
    assert interval_for((), rules) == (3, "month")
    assert interval_for(("dibao",), rules) == (2, "week")
    # a tag the village gave no rule of its own counts as ordinary
    assert interval_for(("special",), rules) == (3, "month")
    assert add_interval(D(2026, 1, 31), 1, "month") == D(2026, 2, 28)
    assert add_interval(D(2028, 1, 31), 1, "month") == D(2028, 2, 29)
    assert add_interval(D(2026, 11, 30), 3, "month") == D(2027, 2, 28)
    assert add_interval(D(2026, 12, 30), 10, "day") == D(2027, 1, 9)


def test_overdue_today_and_upcoming_on_a_given_day():
    today = D(2026, 12, 4)
    households = {"001": ((), D(2026, 6, 10)), "006": ((), D(2026, 5, 1)), "002": (("dibao",), D(2026, 11, 4)),
                  "003": (("dibao",), D(2026, 11, 5)), "004": (("special",), D(2026, 11, 27)),
                  "005": (("special",), D(2026, 11, 28))}
    got = {n: standing(next_due(D(2026, 1, 1), last, None, interval_for(tags, DEFAULT_RULES)).day, today)
           for n, (tags, last) in households.items()}
    assert got == {"001": "upcoming", "002": "today", "003": "upcoming", "004": "today", "005": "upcoming",
                   "006": "overdue"}
    assert standing(next_due(D(2026, 1, 1), D(2026, 5, 1), None, (1, "month")).day, today) == "overdue"
