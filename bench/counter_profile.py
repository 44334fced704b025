"""Where a redemption's server CPU goes: figure 3's three requests, one at a time, in one warm process.

Figure 3 measures the gunicorn workers' CPU per redemption under 16 cashiers: the counter page for a
household (GET /shop/counter?household=…), the basket checked (POST, check) and confirmed (POST, confirm).
This tool makes the same three requests with Flask's test client, one cashier, no contention, and prints
for each the process CPU per request and the SQL statements it sent (how many, and which), so that a change
to the counter can be judged before a full `make bench`:

  .venv/bin/python -m bench.counter_profile [--db URL] [--redemptions N] [--statements] [--profile]

--db defaults to the full SQLite village of `make bench` ('pg' for PostgreSQL's xy_bench), which must be
built. --statements prints each request's statements; --profile prints cProfile's top functions over the
whole redemption. Each run sells N of the cheapest product, restocked first, to the richest households.
"""
from __future__ import annotations

import argparse
import cProfile
import collections
import pstats
import re
import statistics
import sys
import time

import sqlalchemy as sa

from .common import BENCH_PASSWORD, make_app, pg_url, sqlite_url

CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
KEY_RE = re.compile(r'name="idempotency_key"[^>]*value="([^"]+)"')
STEPS = ("counter page", "check", "confirm")


def _client(app):
    from flask.testing import FlaskClient

    class Fresh(FlaskClient):
        """Each request in its own app context, as in a worker."""

        def open(self, *args, **kwargs):
            with self.application.app_context():
                return super().open(*args, **kwargs)

    return Fresh(app, app.response_class, use_cookies=True)


def _setup(app):
    """(product id, household ids): the figure's product and households, the product restocked."""
    from .figures import _restock

    class Ctx:
        pass

    ctx = Ctx()
    ctx.app = app
    from app.extensions import db
    from app.ledger.models import Account
    from app.registry.models import Village
    from app.shop.models import Product

    with app.app_context():
        vid = db.session.scalar(sa.select(Village.id).where(Village.code == "bench"))
        active = Product.active == True  # noqa: E712
        product = db.session.scalar(sa.select(Product.id).where(Product.village_id == vid, active)
                                    .order_by(Product.price_points, Product.stock.desc()).limit(1))
        households = list(db.session.scalars(
            sa.select(Account.household_id).where(Account.village_id == vid, Account.household_id.is_not(None))
            .order_by(Account.balance.desc()).limit(320)))
        db.session.remove()
    _restock(ctx, product)
    return product, households


def _redeem(client, hid: int, product: int) -> list:
    page = client.get(f"/shop/counter?household={hid}")
    text = page.get_data(as_text=True)
    if page.status_code != 200:
        raise RuntimeError(f"counter page HTTP {page.status_code}")
    form = {"csrf_token": CSRF_RE.search(text).group(1), "idempotency_key": KEY_RE.search(text).group(1),
            "household_id": hid, f"qty_{product}": "1"}
    checked = client.post("/shop/counter", data={**form, "check": "1"})
    if checked.status_code != 200:
        raise RuntimeError(f"check HTTP {checked.status_code}")
    done = client.post("/shop/counter", data={**form, "confirm": "1"})
    if done.status_code != 302:
        raise RuntimeError(f"confirm HTTP {done.status_code}")
    return [page, checked, done]


def measure(database_url: str, n: int, profile: bool = False, warmup: int = 20) -> dict:
    """{request: (median CPU ms, the SQL statements it sent)} over `n` redemptions after `warmup` ones, and
    under "profile" cProfile's statistics of the checks and confirms when asked."""
    from app.extensions import db

    app = make_app(database_url)
    product, households = _setup(app)
    client = _client(app)
    token = CSRF_RE.search(client.get("/login").get_data(as_text=True)).group(1)
    login = client.post("/login", data={"username": "bench-cashier01", "password": BENCH_PASSWORD,
                                        "csrf_token": token})
    if login.status_code != 302:
        raise RuntimeError(f"login HTTP {login.status_code}")
    with app.app_context():
        engine = db.engine
    sent: list[str] = []

    def on_execute(conn, cursor, statement, *args):
        sent.append(statement)

    sa.event.listen(engine, "before_cursor_execute", on_execute)
    try:
        for i in range(warmup):  # templates compiled, statements cached
            _redeem(client, households[i % len(households)], product)
        cpu = collections.defaultdict(list)
        statements: dict[str, list[str]] = {}
        prof = cProfile.Profile() if profile else None
        for i in range(n):
            hid = households[(warmup + i) % len(households)]
            t0 = time.process_time()
            page = client.get(f"/shop/counter?household={hid}")
            t1 = time.process_time()
            text = page.get_data(as_text=True)
            form = {"csrf_token": CSRF_RE.search(text).group(1), "idempotency_key": KEY_RE.search(text).group(1),
                    "household_id": hid, f"qty_{product}": "1"}
            sent.clear()
            if prof:
                prof.enable()
            t2 = time.process_time()
            client.post("/shop/counter", data={**form, "check": "1"})
            t3 = time.process_time()
            checked = list(sent)
            sent.clear()
            done = client.post("/shop/counter", data={**form, "confirm": "1"})
            t4 = time.process_time()
            if prof:
                prof.disable()
            if done.status_code != 302:
                raise RuntimeError(f"confirm HTTP {done.status_code}")
            statements["check"], statements["confirm"] = checked, list(sent)
            sent.clear()
            client.get(f"/shop/counter?household={hid}")  # the page's statements (the same page, drawn again)
            statements["counter page"] = list(sent)
            for step, ms in zip(STEPS, ((t1 - t0) * 1000, (t3 - t2) * 1000, (t4 - t3) * 1000)):
                cpu[step].append(ms)
    finally:
        sa.event.remove(engine, "before_cursor_execute", on_execute)
        with app.app_context():
            db.engine.dispose()
    out: dict = {step: (statistics.median(cpu[step]), statements[step]) for step in STEPS}
    if prof:
        out["profile"] = pstats.Stats(prof)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default=None, help="database URL, or 'pg' (default: the full SQLite village)")
    parser.add_argument("--redemptions", type=int, default=200)
    parser.add_argument("--statements", action="store_true", help="print each request's SQL statements")
    parser.add_argument("--profile", action="store_true", help="cProfile's top functions (check and confirm)")
    args = parser.parse_args(argv)
    url = pg_url("full") if args.db == "pg" else (args.db or sqlite_url("full"))
    if url is None:
        print("no PostgreSQL server found", file=sys.stderr)
        return 1
    result = measure(url, args.redemptions, args.profile)
    print(f"{'request':<14} {'CPU ms (median)':>16} {'statements':>11}")
    for step in STEPS:
        ms, sent = result[step]
        print(f"{step:<14} {ms:>16.2f} {len(sent):>11}")
    print(f"{'redemption':<14} {sum(result[s][0] for s in STEPS):>16.2f} "
          f"{sum(len(result[s][1]) for s in STEPS):>11}")
    if args.statements:
        for step in STEPS:
            print(f"\n--- {step}")
            for sent in result[step][1]:
                print("  " + " ".join(sent.split())[:160])
    if args.profile:
        result["profile"].sort_stats("cumulative").print_stats(40)
    return 0


if __name__ == "__main__":
    sys.exit(main())
