"""The quality gates (issue 22, ../shared reliability §5 T8–T19): one switch between sampled and full runs.

`make test` runs every gate **sampled**: each gate still covers every route (or form, or page), but only a
deterministic sample of the combinations behind it (role × object, examples per form …). `make gates`
sets XIANGYUE_GATES=full and every gate runs in **full**. A gate asks this module, never the environment:

    from tests.gates import gates_full, sample, examples

    n = examples(sampled=200, full=2_000)            # Hypothesis max_examples, loop counts …
    for combo in sample(combos, 6, key=endpoint):     # every combo in full, 6 of them when sampled
        ...

Mark gate tests with `@pytest.mark.gates` (`pytest -m gates` runs them all, `-m "not gates"` skips them).

The sample is drawn from a seed that rotates every day (the UTC date, e.g. 20261205), so successive CI runs
cover different combinations; pytest prints it in its header ("gates: sampled, seed 20261205"). A failure
found on a sampled run is reproduced with that seed: `XIANGYUE_GATES_SEED=20261205 make test`.
"""
from __future__ import annotations

import datetime as dt
import os
import random
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")

MODE_ENV = "XIANGYUE_GATES"
SEED_ENV = "XIANGYUE_GATES_SEED"


def gates_mode() -> str:
    """"full" when XIANGYUE_GATES=full (`make gates`), else "sampled" (`make test`)."""
    mode = os.environ.get(MODE_ENV, "").strip().lower()
    if mode not in ("", "sampled", "full"):
        raise ValueError(f"{MODE_ENV}={mode!r}: use 'full' or 'sampled'")
    return "full" if mode == "full" else "sampled"


def gates_full() -> bool:
    return gates_mode() == "full"


def gates_seed() -> int:
    """XIANGYUE_GATES_SEED, else today's UTC date as YYYYMMDD (the sample rotates daily)."""
    raw = os.environ.get(SEED_ENV, "").strip()
    if raw:
        return int(raw)
    return int(dt.datetime.now(dt.UTC).strftime("%Y%m%d"))


def rng(key: str = "") -> random.Random:
    """A random generator of the run's seed, separate per `key` (so one gate's sample does not shift another's)."""
    return random.Random(f"{gates_seed()}:{key}")


def sample(items: Sequence[T], k: int, *, key: str = "") -> list[T]:
    """All `items` in full mode; else `k` of them (all when fewer), drawn by the seed, in their given order."""
    items = list(items)
    if gates_full() or len(items) <= k:
        return items
    chosen = set(rng(key).sample(range(len(items)), k))
    return [x for i, x in enumerate(items) if i in chosen]


def examples(*, sampled: int, full: int) -> int:
    """How many examples a gate draws: `full` under `make gates`, `sampled` under `make test`."""
    return full if gates_full() else sampled


def header() -> str:
    """The line pytest prints in its header."""
    mode = gates_mode()
    return f"gates: {mode}, seed {gates_seed()} (XIANGYUE_GATES=full for all combinations; " \
           f"{SEED_ENV}=N to replay a sample)" if mode == "sampled" else f"gates: full (seed {gates_seed()})"
