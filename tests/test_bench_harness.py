"""The benchmark harness: wrk parsing, memory of CLI runs, the results table, and one figure end to end."""
from __future__ import annotations

import shutil
import sys

import pytest

from bench import figures as F
from bench import load
from bench.run import table

WRK_OUTPUT = """Running 1s test @ http://127.0.0.1:34899/nothere
  2 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     7.35ms    6.61ms  40.33ms   72.43%
    Req/Sec   307.35     92.37   504.00     80.00%
  Latency Distribution
     50%  684.00us
     75%   10.81ms
     90%   15.84ms
     99%    1.20s
  626 requests in 1.03s, 224.97KB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 626
Requests/sec:    610.49
Transfer/sec:    219.40KB
"""


def test_wrk_output_is_read_in_milliseconds_with_its_errors():
    r = load.parse_wrk(WRK_OUTPUT)
    assert r.rps == pytest.approx(610.49)
    assert r.p50_ms == pytest.approx(0.684)
    assert r.p99_ms == pytest.approx(1200.0)
    assert (r.requests, r.non_2xx, r.socket_errors) == (626, 626, 5)


def test_a_cli_run_reports_its_own_peak_memory_and_fails_loudly():
    # a big parent (the bench runner, pytest) must not lend its high-water mark to the command it starts
    ballast = bytearray(600 * 1024 * 1024)
    ballast[::4096] = b"x" * len(ballast[::4096])  # touch every page: really resident
    seconds, mb, out = load.run_cli([sys.executable, "-c", "x = bytearray(150 * 1024 * 1024); print('ok')"])
    del ballast
    assert out.strip() == "ok" and seconds > 0
    assert 150 <= mb < 400
    with pytest.raises(RuntimeError, match="exited 3"):
        load.run_cli([sys.executable, "-c", "import sys; sys.exit(3)"])


def test_table_shows_missing_goals_and_features_not_on_the_branch():
    rows = [F.Row("6", "ledger check", "s", [3.0, 2.0, 4.0], "≤ 10 s", True),
            F.Row("2", "household page: p99 latency", "ms", [150.0, 120.0, 130.0], "≤ 100 ms", False),
            F.Row("4", "batch statements", note="not available: points statements are on another branch")]
    md = table([{"backend": "sqlite", **r.as_dict()} for r in rows])
    assert "| sqlite | 6 | ledger check | 3.00 s | 2.00–4.00 | ≤ 10 s | yes |" in md
    assert "| 130 ms | 120–150 | ≤ 100 ms | **NO** |" in md
    assert "not available" in md.splitlines()[-1]


def test_table_shows_the_load_average_each_figure_ran_under():
    row = {"backend": "postgresql", **F.Row("12", "rankings page: p99 latency", "ms", [40.0]).as_dict(),
           "load_average": [6.12, 5.0, 4.0], "load_average_end": [7.49, 5.2, 4.1]}
    md = table([row, {"backend": "sqlite", **F.Row("6", "ledger check", "s", [3.0]).as_dict()}])
    assert md.splitlines()[0].endswith("| load |")
    assert md.splitlines()[2].endswith("| 6.1→7.5 |")
    assert md.splitlines()[3].endswith("| — |")  # not recorded


def test_make_bench_builds_the_county_on_postgresql_and_a_smaller_one_when_asked():
    from bench.run import bench_scale
    from bench.generate import SCALES

    class Args:
        quick, county_villages, county_households = True, None, None

    assert (bench_scale(Args).county_villages, bench_scale(Args).county_households) == (200, 500)
    Args.county_villages, Args.county_households = 3, 40
    assert (bench_scale(Args).county_villages, bench_scale(Args).county_households) == (3, 40)
    assert bench_scale(Args).households == SCALES["quick"].households


def test_peak_memory_rows_judge_each_figure_against_one_gib():
    rows = [F.Row("2", "a", rss_mb=180.0), F.Row("2", "b", rss_mb=210.0), F.Row("7", "c", rss_mb=1500.0),
            F.Row("6", "d")]
    mem = {r.what.split(": ", 1)[1]: (r.median, r.met) for r in F.memory_rows(rows)}
    assert set(mem.values()) == {(210.0, True), (1500.0, False)}


def test_every_figure_of_the_issue_is_registered():
    keys = {f.key for f in F.FIGURES}
    assert {"1", "2", "3", "4", "5", "6", "7", "10"} <= keys
    assert {f.key for f in F.FIGURES if f.fn is None} == set()


def test_booklet_figure_prints_the_generated_rule_set(tmp_path):
    from bench.common import make_app
    from bench.generate import SCALES, generate

    url = f"sqlite:///{tmp_path / 'tiny.db'}"
    app = make_app(url)
    generate(app, SCALES["tiny"])
    ctx = F.Context(backend="sqlite", database_url=url, quick=True, runs=2, seconds=1, app=app,
                    log=lambda _msg: None)
    rows = F.fig_booklet(ctx)
    warm = rows[0]
    assert warm.figure == "5" and warm.goal == "≤ 3 s" and len(warm.values) == 2
    assert f"{SCALES['tiny'].articles} articles" in warm.what
    assert all(0 < t < 60 for t in warm.values) and warm.met == (warm.median <= 3)
    assert 20 < warm.rss_mb < 1024


def test_statement_chunks_keep_every_worker_busy_and_the_order():
    from app.statements.batch import split_evenly

    items = list(range(500))
    parts = split_evenly(items, 50, 2)
    assert sum(parts, []) == items
    assert len(parts) % 2 == 0 and max(map(len, parts)) <= 50 and max(map(len, parts)) - min(map(len, parts)) <= 1
    # 100 statements on 2 cores: two halves, not one chunk of 100 on one core
    assert [len(p) for p in split_evenly(list(range(100)), 100, 2)] == [50, 50]
    assert split_evenly([1], 50, 4) == [[1]]


@pytest.fixture
def tiny_bench(db_uri):
    """The tiny benchmark village in this test's own database (SQLite file or PostgreSQL)."""
    import sqlalchemy as sa

    from bench.common import make_app
    from bench.generate import SCALES, generate

    from bench.generate import progress

    app = make_app(db_uri)
    with app.app_context():
        from app.extensions import db

        # the run's PostgreSQL database outlives each test and the fixtures do not empty this table: an
        # earlier test's checkpoints would make the generator skip the village it has just lost
        progress.drop(db.engine, checkfirst=True)
    generate(app, SCALES["tiny"])
    yield app, db_uri

    with app.app_context():
        db.engine.dispose()
    # the generator's progress table is not one the fixtures empty between PostgreSQL tests
    eng = sa.create_engine(db_uri)
    with eng.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS bench_progress")
    eng.dispose()


def _ctx(app, url, **kw) -> F.Context:
    backend = "postgresql" if url.startswith("postgresql") else "sqlite"
    return F.Context(backend=backend, database_url=url, **{"quick": True, "runs": 1, "seconds": 1, "app": app,
                                                            "log": lambda _msg: None, **kw})


needs_wrk = pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (make deps-system)")


@needs_wrk
def test_household_page_figure_runs_against_gunicorn_on_tiny_data(tiny_bench):
    app, url = tiny_bench
    rows = {r.what: r for r in F.fig_household_page(_ctx(app, url))}
    rps = rows["household page: requests/s"]
    assert rps.median > 0 and "failed" not in rps.note
    assert rows["household page: p99 latency"].goal == "≤ 100 ms"
    assert 20 < rps.rss_mb < 1024  # gunicorn processes were sampled


@needs_wrk
def test_kiosk_figure_logs_in_with_a_pin_and_compares_with_bare_and_small_data(tiny_bench):
    app, url = tiny_bench
    # the "10k" side is a second server on the same tiny village here: the ratio machinery is what is tested
    rows = {r.what: r for r in F.fig_kiosk(_ctx(app, url, small_url=url))}
    for page in ("home", "entries"):
        rps = rows[f"kiosk {page}: requests/s"]
        assert rps.median > 0 and "failed" not in rps.note, rps
        assert rows[f"kiosk {page}: p99 latency"].goal == "≤ 50 ms"
        share = rows[f"kiosk {page}: requests/s as a share of the bare endpoint"]
        assert 0 < share.median < 100 and share.met == (share.median >= F.KIOSK_SHARE_GOAL)
        ratio = rows[f"kiosk {page}: p50 latency, big data ÷ 10k data"]
        assert ratio.median > 0 and ratio.goal == "≤ 1.2×"
    assert rows["bare endpoint: requests/s"].median > rows["kiosk home: requests/s"].median
    # the PIN was checked by the real service: the household's PIN row records its use
    import sqlalchemy as sa

    from app.extensions import db
    from app.kiosk.models import KioskPin

    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).where(KioskPin.last_used_at.is_not(None))) >= 1
        db.session.remove()


@needs_wrk
def test_rankings_figure_counts_the_statements_of_a_view_and_loads_the_page(tiny_bench):
    from bench.rankings_figure import fig_rankings

    app, url = tiny_bench
    rows = {r.what: r for r in fig_rankings(_ctx(app, url))}
    statements = rows["rankings page: statements per view (warm worker)"]
    assert 1 <= statements.median <= 5 and statements.met and statements.goal == "≤ 5"
    cpu = rows["rankings page: server CPU per request"]
    assert cpu.median > 0 and cpu.goal == "≤ 20 ms" and cpu.met == (cpu.median <= 20)
    assert rows["rankings page: requests/s"].median > 0


@needs_wrk
def test_kiosk_figure_without_small_data_says_so(tiny_bench):
    app, url = tiny_bench
    rows = [r for r in F.fig_kiosk(_ctx(app, url)) if "10k" in r.what]
    assert len(rows) == 2 and all(r.median is None and "not measured" in r.note for r in rows)


def test_statements_figure_prints_the_batch_and_single_statements(tiny_bench, monkeypatch):
    app, url = tiny_bench
    monkeypatch.setattr(F, "STATEMENTS_BATCH_QUICK", 4)
    monkeypatch.setattr(F, "STATEMENTS_SINGLE", 2)
    rows = F.fig_statements(_ctx(app, url))
    batch, cpu, worker, single, single_cpu, detailed = rows
    assert batch.what.startswith("batch of 4 statements") and batch.goal == "≤ 0.2 s"
    assert batch.values[0] > 0 and batch.met == (batch.values[0] <= 0.2)
    assert "pages" in batch.note and 50 < batch.rss_mb < 1024
    assert cpu.values[0] > 0 and 30 < worker.values[0] < 1024  # the pool workers' own peak memory
    assert len(single.values) == 2 and single.goal == "≤ 300 ms" and single.rss_mb > 30
    assert all(c > 0 for c in single_cpu.values)
    # the detailed statement, measured beside the one-page one
    assert detailed.what.startswith("detailed statement") and len(detailed.values) == 2 and "pages" in detailed.note
    from app.extensions import db
    from app.statements.models import IssuedStatement

    import sqlalchemy as sa

    with app.app_context():
        # 4 in the batch, 2 single and 2 detailed ones and their warm-ups: each statement was really issued
        assert db.session.scalar(sa.select(sa.func.count()).select_from(IssuedStatement)) == 10
        db.session.remove()


def test_bomb_figure_times_the_served_refusal_of_each_bomb(tiny_bench):
    app, url = tiny_bench
    rows = F.fig_bombs(_ctx(app, url))
    assert [r.what.split(":")[0] for r in rows] == [
        "workbook bomb, sheet", "workbook bomb, shared strings", "workbook bomb, sheet, lying headers"]
    for r in rows:
        # the figure raises unless each upload came back as the form with the refusal's message
        assert len(r.values) == len(F.BOMB_URLS) and all(t > 0 for t in r.values)
        assert r.goal == "≤ 1000 ms" and r.met == (r.median <= 1000)
        assert "185 MiB" in r.what and 20 < r.rss_mb < 1024


@needs_wrk
def test_county_home_figure_serves_the_village_counts_to_a_county_user(tiny_bench):
    from bench import home_figure

    app, url = tiny_bench
    rows = {r.what: r for r in home_figure.fig_county_home(_ctx(app, url))}
    rps = rows["county home page: requests/s"]
    assert rps.median > 0 and "failed" not in rps.note, rps
    assert f"{home_figure.QUICK_VILLAGES} villages" in rps.note
    assert rows["county home page: p99 latency"].goal == "≤ 100 ms"
    assert "11" in {f.key for f in F.FIGURES}


def test_county_rollup_figure_counts_the_months_and_loads_the_page_on_a_tiny_county(db_uri):
    import sqlalchemy as sa

    from bench.common import make_app
    from bench.generate import SCALES, generate, progress

    app = make_app(db_uri)
    with app.app_context():
        from app.extensions import db

        progress.drop(db.engine, checkfirst=True)
    try:
        # no county yet: the figure says how to build one instead of failing
        generate(app, SCALES["tiny"])
        (row,) = F.fig_county(_ctx(app, db_uri))
        assert "not measured" in row.note and "--county" in row.note
        generate(app, SCALES["tiny"], county=True)
        rows = {r.what.split(" (")[0]: r for r in F.fig_county(_ctx(app, db_uri))}
        refresh = rows["county roll-up: flask reports refresh of this month"]
        assert refresh.values[0] > 0 and refresh.rss_mb > 20
        p99 = rows["county roll-up page: p99 latency"]
        assert p99.goal == "≤ 300 ms" and p99.values and "failed" not in p99.note
        assert "2 villages, 6 households" in rows["county roll-up page: requests/s"].note
        with app.app_context():
            from app.reports.models import VillageMonth

            # every village of the installation is counted: the main one and the two of the county
            assert db.session.scalar(sa.select(sa.func.count()).select_from(VillageMonth)) == 3
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        eng = sa.create_engine(db_uri)
        with eng.begin() as conn:
            conn.exec_driver_sql("DROP TABLE IF EXISTS bench_progress")
        eng.dispose()


def test_kiosk_floor_takes_the_home_page_apart_layer_by_layer(tiny_bench):
    """bench/kiosk_floor.py: each layer of the kiosk home page is measured through the real app, and the
    swapped views are put back (the real home page answers afterwards)."""
    from bench import kiosk_floor

    app, url = tiny_bench
    rows = kiosk_floor.measure(url, 5)
    assert [what for what, _ms in rows] == [
        "bare endpoint (bench/bare.py)", "app, plain route (no feature code)", "app, kiosk checks, no view",
        "app + empty page in the kiosk layout", "kiosk home (/kiosk/home)", "kiosk entries (/kiosk/entries)"]
    assert all(ms > 0 for _what, ms in rows)


def test_each_cashier_run_starts_from_a_full_shelf_bought_through_the_shop(tiny_bench):
    """Figure 3's runs share one product: before each, its stock is bought back up to COUNTER_STOCK as a
    purchase (the stock check stays clean), so no run measures a shelf the earlier runs emptied."""
    import sqlalchemy as sa

    from app.extensions import db
    from app.shop import services as shop
    from app.shop.models import MovementKind, Product, StockMovement

    app, url = tiny_bench
    with app.app_context():
        product = db.session.scalars(sa.select(Product).order_by(Product.price_points)).first()
        pid, purchases = product.id, db.session.scalar(sa.select(sa.func.count()).select_from(StockMovement).where(
            StockMovement.kind == MovementKind.PURCHASE.value))
        db.session.remove()
    F.restock(app, pid)
    F.restock(app, pid)  # already full: buys nothing more
    with app.app_context():
        assert db.session.get(Product, pid).stock == F.COUNTER_STOCK
        assert db.session.scalar(sa.select(sa.func.count()).select_from(StockMovement).where(
            StockMovement.kind == MovementKind.PURCHASE.value)) == purchases + 1
        assert shop.check_stock() == []
        db.session.remove()


def test_import_figure_fills_the_registers_template_and_imports_it_into_a_new_village(tiny_bench, tmp_path,
                                                                                     monkeypatch):
    """Figure 7 had failed since the register's importer was split (import_format / import_check / export):
    its workbook builder still imported the old module, and nothing ran it but a full `make bench`."""
    import sqlalchemy as sa

    app, url = tiny_bench
    monkeypatch.setattr(F, "DATA_DIR", tmp_path)
    monkeypatch.setattr(F, "IMPORT_HOUSEHOLDS", 12)
    monkeypatch.setattr(F, "IMPORT_PEOPLE", 40)
    rows = F.fig_import(_ctx(app, url))
    assert (tmp_path / "import-12.xlsx").exists()
    assert rows[0].figure == "7" and rows[0].goal == "≤ 15 s" and len(rows[0].values) == 1
    with app.app_context():
        from app.extensions import db

        counts = db.session.execute(sa.text(
            "SELECT count(DISTINCT h.id), count(p.id) FROM villages v JOIN households h ON h.village_id = v.id "
            "JOIN people p ON p.household_id = h.id WHERE v.code LIKE 'imp%'")).one()
    assert tuple(counts) == (12, 40)


def test_ledger_check_figure_holds_the_big_village_to_the_goal_and_reports_a_shared_database_beside_it(tiny_bench):
    """With the county in the same PostgreSQL database, `flask ledger check` covers 5.7 M transfers; the 10 s goal
    was set for the big village's ledger, so that is the row with the goal and the whole database comes beside it."""
    from app.extensions import db
    from app.ledger import services as ledger
    from app.ledger.models import AccountKind
    from app.registry.services import PersonData, create_household, create_village
    from app.submission import write_transaction

    app, url = tiny_bench
    rows = F.fig_ledger_check(_ctx(app, url))
    assert len(rows) == 1 and rows[0].what.startswith("ledger check of the big village")
    assert rows[0].goal == "≤ 10 s" and rows[0].met is True
    with app.app_context():
        with write_transaction():
            other = create_village("county-1", "邻村")
            h = create_household(other, "0001", PersonData(name="邻村户主"))
            ledger.post_transfer(debit=ledger.system_account(other.id, AccountKind.ISSUANCE),
                                 credit=ledger.household_account(h), amount=5, code="opening", key="county-1")
        db.session.remove()
    rows = F.fig_ledger_check(_ctx(app, url))
    assert [r.goal for r in rows] == ["≤ 10 s", ""]
    assert "whole database" in rows[1].what and "µs per transfer" in rows[1].note and rows[1].met is None


def _fund_the_counter(app, points: int = 10_000) -> None:
    """Give each household of the tiny village `points` through the ledger, so the counter's sales never run
    short. The tiny village's balances depend on the day it is built (its current month is cut at today), and
    after the village's midnight some days left the richest households unable to pay 16 times."""
    import sqlalchemy as sa

    from app.extensions import db
    from app.ledger import services as ledger
    from app.ledger.models import AccountKind
    from app.registry.models import Household
    from app.submission import write_transaction

    with app.app_context():
        for h in db.session.scalars(sa.select(Household)).all():
            with write_transaction():
                ledger.post_transfer(debit=ledger.system_account(h.village_id, AccountKind.ISSUANCE),
                                     credit=ledger.household_account(h), amount=points, code="opening",
                                     key=f"test-counter-fund-{h.id}")
        db.session.remove()


def test_counter_profile_takes_a_redemption_apart_request_by_request(tiny_bench):
    """bench/counter_profile.py: figure 3's three requests through the real app, each with its CPU and the SQL
    it sent; every confirm sells (a redemption row, the stock and the ledger moved) and the checks stay clean."""
    import sqlalchemy as sa

    from app.extensions import db
    from app.ledger import services as ledger
    from app.shop import services as shop
    from app.shop.models import Redemption
    from bench import counter_profile

    app, url = tiny_bench
    _fund_the_counter(app)
    with app.app_context():
        before = db.session.scalar(sa.select(sa.func.count()).select_from(Redemption))
    result = counter_profile.measure(url, 3, warmup=1)
    assert set(result) == {"counter page", "check", "confirm"}
    assert all(ms > 0 and sent for ms, sent in result.values())
    confirm = " ".join(result["confirm"][1])
    assert "INSERT INTO redemptions" in confirm and "INSERT INTO transfers" in confirm
    # the page and the check write nothing
    assert not any(s.lstrip().startswith(("INSERT", "UPDATE", "DELETE"))
                   for step in ("counter page", "check") for s in result[step][1])
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Redemption)) == before + 4
        assert ledger.check() == [] and shop.check_stock() == []


def test_cashier_figure_sells_through_gunicorn_with_the_check_as_htmx_sends_it(tiny_bench):
    """Figure 3 end to end on the tiny village: 16 cashiers against gunicorn, each check answered with the
    basket alone (what the browser asks for), every confirm a sale, the ledger and stock clean afterwards."""
    import sqlalchemy as sa

    from app.extensions import db
    from app.shop.models import Redemption

    app, url = tiny_bench
    _fund_the_counter(app)
    with app.app_context():
        before = db.session.scalar(sa.select(sa.func.count()).select_from(Redemption))
        db.session.remove()
    # a run of no time at all: each cashier still sells once (the 16 logins, made before the clock starts,
    # once took the whole of a one-second run on a loaded machine, and the run sold nothing)
    rate, _p99, cpu = F.fig_cashiers(_ctx(app, url, seconds=0))
    assert rate.met is True and rate.note == "0 errors; 0 refused; ledger check clean"
    assert rate.median > 0 and cpu.goal == "≤ 30 ms" and cpu.median > 0
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Redemption)) == before + 16
        db.session.remove()
