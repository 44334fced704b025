"""State machines: each status column's allowed moves in one table, and the refusal a person reads.

A feature declares its machine beside its model, in ``<feature>/states.py``::

    ENTRY = Machine(
        "entry", EntryStatus, PointsError,
        {(PENDING, "approve"): POSTED, (PENDING, "reject"): REJECTED, ...},
        refusals={"approve": _l("This entry has already been decided."), ...},
        guards={"approve": _not_the_recorder},
    )

and a service verb asks the table instead of comparing statuses itself::

    entry.status = ENTRY.move(entry.status, "approve", subject=entry, reviewer=reviewer)

``move`` returns the new state, or raises the feature's DomainError (PointsError, ShopError, …) with
the refusal message for that action (or for that exact (state, action) pair, when two states refuse
an action for different reasons). A *guard* is for a move that depends on more than the state (the
reviewer is not the recorder, the adoption steps are all there): it is called only when the table
allows the move, with the subject and the keyword arguments given to ``move``, and raises the
feature's error itself (it knows the field and the reasons). Guards run after the state check, so a
refused state is always reported first.

Concurrent writers (two cashiers cancelling one receipt, two runners of one job) claim the row with
a conditional UPDATE: ``WHERE status IN machine.sources(action)`` then ``SET status = target``; the
one who updated nothing reads the row again and lets ``machine.refuse`` say why.

The tests write every machine out as a (state × action) table (tests/test_states.py), so a changed
move fails a test until the expected table is changed too.

Mediation cases and grid events will use the same pattern: a ``CaseStatus`` / ``EventStatus`` enum in
the feature's models, ``CASE = Machine("case", CaseStatus, MediationError, {...}, refusals=...)`` in
``mediation/states.py`` (``GRID_EVENT`` in ``grid/states.py``), every verb of the service setting
``x.status = CASE.move(x.status, "<action>", subject=x, ...)``, and a parametrized expected table
added to tests/test_states.py. Queries that only list rows by status may keep filtering on the enum.
"""
from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .errors import DomainError

#: a guard: called as guard(subject, **context) for an allowed move; raises the feature's error to refuse
Guard = Callable[..., None]


class Machine:
    """One status column's transitions: {(state, action): new_state}, refusals and guards."""

    def __init__(self, name: str, states: type[enum.Enum] | Iterable[str], error: type[DomainError],
                 table: Mapping[tuple[str, str], str], *, refusals: Mapping[Any, Any],
                 guards: Mapping[str, Guard] | None = None):
        self.name = name
        self.states: tuple[str, ...] = tuple(s.value if isinstance(s, enum.Enum) else s for s in states)
        self.error = error
        self.table = {(_v(a), b): _v(c) for (a, b), c in table.items()}
        self.actions: tuple[str, ...] = tuple(dict.fromkeys(action for _s, action in self.table))
        self.refusals = {(tuple(_v(x) for x in k) if isinstance(k, tuple) else k): m for k, m in refusals.items()}
        self.guards = dict(guards or {})
        unknown = {s for pair in self.table.items() for s in (pair[0][0], pair[1])} - set(self.states)
        if unknown:
            raise ValueError(f"{name}: unknown states {sorted(unknown)}")
        silent = [a for a in self.actions if a not in self.refusals]
        if silent:  # every refused move must tell the person why
            raise ValueError(f"{name}: no refusal message for {silent}")

    def __repr__(self) -> str:
        return f"<Machine {self.name}: {len(self.table)} moves>"

    def can(self, state: str, action: str) -> bool:
        """Whether the table allows `action` from `state` (guards not asked)."""
        return (_v(state), action) in self.table

    def sources(self, action: str) -> tuple[str, ...]:
        """The states `action` may start from (for a conditional UPDATE or a list filter)."""
        return tuple(s for (s, a) in self.table if a == action)

    def target(self, action: str) -> str:
        """The one state `action` leads to (for a conditional UPDATE); an action with several is an error."""
        targets = {new for (_s, a), new in self.table.items() if a == action}
        if len(targets) != 1:
            raise ValueError(f"{self.name}: {action} leads to {sorted(targets)}")
        return targets.pop()

    def allowed(self, state: str) -> tuple[str, ...]:
        """The actions the table allows from `state` (what a page may offer)."""
        return tuple(a for (s, a) in self.table if s == _v(state))

    def refusal(self, state: str, action: str) -> DomainError:
        """The error (with the person's message) for refusing `action` in `state`."""
        message = self.refusals.get((_v(state), action)) or self.refusals.get(action)
        if message is None:
            raise ValueError(f"{self.name}: unknown action {action!r}")
        return self.error(str(message))

    def refuse(self, state: str, action: str):
        raise self.refusal(state, action)

    def move(self, state: str, action: str, *, subject: Any = None, **context: Any) -> str:
        """The state `action` leads to from `state`; raises the feature's error when it is refused."""
        new = self.table.get((_v(state), action))
        if new is None:
            raise self.refusal(state, action)
        guard = self.guards.get(action)
        if guard is not None:
            guard(subject, **context)
        return new


def _v(state: Any) -> Any:
    return state.value if isinstance(state, enum.Enum) else state
