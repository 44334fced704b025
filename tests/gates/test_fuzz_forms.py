"""T8: every form of every write view, fuzzed through the test client with CSRF on and the right role.

Pass figures (the reliability design, §5): 0 responses ≥ 500, 0 unhandled exceptions logged,
0 rows written for refused input (every table's row count and content hash unchanged). Values are the
hostile corpus (tests/data/hostile.txt) mixed with Hypothesis text and integers and the page's own options.

The forms come from tests/gates/form_table.py: a POST route or a FlaskForm class without a row there fails
`test_every_write_route_has_a_row` / `test_every_form_class_has_a_row`. Each row's page is loaded in the
seeded world, and the fields the page shows (names, options, submit buttons) are what gets fuzzed.

`make test` fuzzes a rotating sample of the rows with 200 examples each; `make gates` (XIANGYUE_GATES=full)
every row with 2,000. The sample and Hypothesis's seed follow XIANGYUE_GATES_SEED (default: today's day
number), printed in the header of the run; rerun a failure with XIANGYUE_GATES_SEED=<n>.
"""
from __future__ import annotations

import importlib
import io
import os
import pkgutil
import random

import pytest
from flask_wtf import FlaskForm
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from tests.gates.form_table import FORM_TABLE, GET_FORM_ROWS, NOT_WRITE_FORMS, FormRow
from tests.gates.fuzz_world import corpus, gate_seed, gates_full, target

FULL = gates_full()
SEED = gate_seed()
EXAMPLES = int(os.environ.get("XIANGYUE_GATES_EXAMPLES") or (2000 if FULL else 200))
#: rows fuzzed by `make test` (all of them in `make gates`)
SAMPLE = len(FORM_TABLE) if FULL else 4
ROWS = FORM_TABLE if FULL else random.Random(SEED).sample(FORM_TABLE, SAMPLE)

AUDIT_TABLES = {"audit_log", "audit_head"}
REFUSED_FLASH = {"error"}


# --- the tables are complete --------------------------------------------------------------------

def _app_form_classes() -> set[str]:
    import app as pkg

    for m in pkgutil.walk_packages(pkg.__path__, "app."):
        importlib.import_module(m.name)

    def subclasses(c):
        for s in c.__subclasses__():
            yield s
            yield from subclasses(s)

    # a form class built inside a function for one request (the counter's cart with a field per product) is
    # fuzzed through the class it extends; whether one is still alive depends on what ran before and on the
    # garbage collector, so it must not decide this test
    return {f"{c.__module__}.{c.__qualname__}" for c in subclasses(FlaskForm)
            if c.__module__.startswith("app.") and "<locals>" not in c.__qualname__}


def test_a_form_built_for_one_request_does_not_count_as_a_form_class(app):
    from app.shop.forms import cart_form

    with app.test_request_context("/shop/counter"):
        alive = cart_form([], formdata=None)  # kept alive: the collector may not take it before the look
        assert "app.shop.forms.CartForm" in _app_form_classes()
        assert not [c for c in _app_form_classes() if "<locals>" in c], type(alive)


def test_every_write_route_has_a_row(app):
    posts = {r.endpoint for r in app.url_map.iter_rules() if "POST" in r.methods}
    listed = [r.endpoint for r in FORM_TABLE]
    assert len(listed) == len(set(listed)), "a route is listed twice in FORM_TABLE"
    assert sorted(posts - set(listed)) == [], "POST routes without a row in tests/gates/form_table.py"
    assert sorted(set(listed) - posts) == [], "rows for routes that are gone"


def test_every_form_class_has_a_row(app):
    named = {f for row in FORM_TABLE + GET_FORM_ROWS for f in row.forms} | set(NOT_WRITE_FORMS)
    found = _app_form_classes()
    assert sorted(found - named) == [], "FlaskForm classes no row of tests/gates/form_table.py names"
    assert sorted(named - found) == [], "rows naming form classes that do not exist"


def test_hostile_corpus_covers_the_spec():
    values = corpus()
    for must in ("-1", "1e3", "１２３", "١٢٣", "𝟗", "①", "1²", "1_000", "0x10", "12\x00", "\u202egnp.exe",
                 "<script>alert(1)</script>", "javascript:alert(1)", "{{7*7}}", "' OR '1'='1", "=1+2", "\t=1"):
        assert must in values
    assert "9" * 5000 in values and "长" * 10000 in values


# --- the seeded world, one per backend for this module ----------------------------------------------

# --- strategies ---------------------------------------------------------------------------------------

HOSTILE = corpus()
_text = st.text(max_size=40)
_ints = st.integers(min_value=-(2 ** 70), max_value=2 ** 70).map(str)
_small = st.integers(min_value=0, max_value=200).map(str)


def _value(field):
    """A strategy for one field: None = not sent."""
    hostile = st.sampled_from(HOSTILE)
    if field.kind in ("select", "radio"):
        opts = [o for o in field.options if o is not None]
        choices = [st.sampled_from(opts)] * 3 if opts else []
        return st.one_of(*choices, hostile, _small, st.none())
    if field.kind == "checkbox":
        return st.one_of(st.none(), st.sampled_from(field.options or ["y"]), hostile)
    if field.kind == "file":
        return st.one_of(st.none(), st.tuples(st.binary(max_size=2000), st.sampled_from(
            ["x.xlsx", "x.csv", "x.docx", "../../x.xlsx", "张三.xlsx", "CON", "a\nb.xlsx", ""])))
    if field.kind == "hidden":
        return st.one_of(st.just(field.value), st.just(field.value), hostile, st.none())
    # the page's own value is kept often, so the other fields' hostile values meet a form that otherwise passes
    plausible = [st.just(field.value)] * 4 if field.value else []
    return st.one_of(*plausible, hostile, hostile, _text, _ints, _small, st.none())


@st.composite
def submissions(draw, forms):
    form = draw(st.sampled_from(forms))
    data = {}
    for f in form.fields.values():
        if f.name == "csrf_token":
            continue
        v = draw(_value(f))
        if v is None:
            continue
        if f.kind == "file":
            data[f.name] = (io.BytesIO(v[0]), v[1])
        else:
            data[f.name] = v
    if form.submits:
        name, value = draw(st.sampled_from(form.submits))
        data.setdefault(name, value or "1")
    return data


# --- the fuzzer ---------------------------------------------------------------------------------------

def _flashes(client) -> set[str]:
    with client.session_transaction() as sess:
        return {cat for cat, _ in sess.get("_flashes", [])}


def _refused(r, client, row: FormRow, method: str) -> bool:
    """Did the app refuse the submission? An error status; the form back (200) without a "done" message;
    a redirect carrying only an error message."""
    if r.status_code >= 400:
        return True
    if r.status_code == 200:
        return method == "POST" and not row.shows_result and b'class="flash flash-success"' not in r.data
    flashes = _flashes(client)
    return bool(flashes & REFUSED_FLASH) and "success" not in flashes


def fuzz_row(world, row: FormRow, *, examples: int, method: str = "POST"):
    tg = target(world, row)
    print(f"\n{row.endpoint} as {row.role}: {len(tg.forms)} form(s), "
          f"{'from the page' if tg.scraped else 'from the form classes'}; seed {SEED}")
    seen = {"examples": 0, "refused": 0, "accepted": 0}

    @seed(SEED)
    @settings(max_examples=examples, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(data=submissions(tg.forms))
    def one(data):
        client = world.client(row.role)
        logged = len(world.errors.records)
        mark = world.mark()
        if method == "GET":
            r = client.get(tg.url, query_string={k: v for k, v in data.items() if not isinstance(v, tuple)})
        else:
            r = client.post(tg.url, data={**data, "csrf_token": world.csrf_token(client)})
        assert r.status_code < 500, (r.status_code, data)
        assert len(world.errors.records) == logged, [rec.getMessage() for rec in world.errors.records[logged:]]
        seen["examples"] += 1
        changed = world.changed_since(mark)
        refused = _refused(r, client, row, method)
        if refused:
            seen["refused"] += 1
            allowed = set(row.may_write) | (AUDIT_TABLES if r.status_code == 403 else set())
            written = [t for t in changed if t not in allowed]
            if changed:
                world.restore(changed)
            assert written == [], f"refused ({r.status_code}) but wrote {written}: {data!r}"[:2000]
        else:
            seen["accepted"] += 1
            if changed:
                world.restore(changed)

    one()
    print(f"  {seen}")
    return seen


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.id)
def test_fuzz_form(world, row):
    fuzz_row(world, row, examples=EXAMPLES)


@pytest.mark.parametrize("row", GET_FORM_ROWS, ids=lambda r: r.id)
def test_get_forms_never_fail(world, row):
    fuzz_row(world, row, examples=EXAMPLES // 4, method="GET")


def test_restore_puts_the_seeded_rows_back(world):
    """The fuzzer's clean-up is sound: an accepted form's rows (and the ids they took) are undone, so the
    same form is accepted again from the same state, and the role's session still works."""
    def add_group():
        client = world.client("clerk")
        mark = world.mark()
        r = client.post("/registry/groups", data={"csrf_token": world.csrf_token(client), "name": "第九村民小组",
                                                  "kind": "group", "active": "y"})
        return r, world.changed_since(mark)

    first, changed = add_group()
    assert first.status_code == 302, first.get_data(as_text=True)[:300]
    assert "villager_groups" in changed and "audit_log" in changed
    world.restore(changed)
    assert world.changed() == []
    again, changed_again = add_group()
    assert again.status_code == 302 and changed_again == changed
    world.restore(changed_again)
    assert world.changed() == []
    assert world.client("clerk").get("/registry/groups").status_code == 200


def test_restore_undoes_changed_added_and_removed_rows(world):
    """Rows the fuzzer's writes changed or removed come back as seeded, rows they added go, in every table a
    submission may touch (the append-only audit_log included, whose triggers the restore steps around)."""
    import sqlalchemy as sa

    from app.extensions import db

    replica = "SET LOCAL session_replication_role = replica" if world.backend == "postgresql" else None
    with db.engine.begin() as conn:
        if replica:
            conn.exec_driver_sql(replica)
        first, second = conn.execute(sa.text("SELECT id FROM villager_groups ORDER BY id LIMIT 2")).scalars()
        conn.execute(sa.text("UPDATE villager_groups SET name = '改过的名字' WHERE id = :i"), {"i": first})
        if replica:  # SQLite's triggers keep audit_log append-only for everyone: changed rows are PostgreSQL's
            conn.execute(sa.text("UPDATE audit_log SET action = 'x' WHERE seq = 1"))
            conn.execute(sa.text("DELETE FROM villager_groups WHERE id = :i"), {"i": second})
        conn.execute(sa.text("INSERT INTO login_probes (name_hash, failed_logins) VALUES ('f' , 3)"))
    changed = world.changed()
    assert {"villager_groups", "login_probes"} <= set(changed)
    world.restore(changed)
    assert world.changed() == []
