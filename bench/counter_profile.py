"""Where a redemption's server CPU goes: figure 3's three requests, one at a time, in one warm process.

Figure 3 measures the gunicorn workers' CPU per redemption under 16 cashiers: the counter page for a
household (GET /shop/counter?household=…), the basket checked (POST, check, sent as htmx sends it: the
basket part comes back alone) and confirmed (POST, confirm).
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
import statistics
import sys
import time

import sqlalchemy as sa

from .common import BENCH_PASSWORD, fresh_client, make_app, pg_url, sqlite_url
from .figures import CHECKED_RE, COUNTER_CHECK_HEADERS, counter_subjects, restock
from .load import CSRF_RE, KEY_RE

STEPS = ("counter page", "check", "confirm")


def _redeem(client, hid: int, product: int, sent: list[str]) -> dict[str, tuple[float, list[str]]]:
    """One redemption as figure 3's cashier makes it: {request: (process CPU ms, the statements it sent)}."""
    out = {}

    def step(name: str, send, status: int):
        sent.clear()
        t0 = time.process_time()
        response = send()
        out[name] = ((time.process_time() - t0) * 1000, list(sent))
        if response.status_code != status:
            raise RuntimeError(f"{name}: HTTP {response.status_code}")
        return response

    text = step("counter page", lambda: client.get(f"/shop/counter?household={hid}"), 200).get_data(as_text=True)
    form = {"csrf_token": CSRF_RE.search(text).group(1), "idempotency_key": KEY_RE.search(text).group(1),
            "household_id": hid, f"qty_{product}": "1"}
    basket = step("check", lambda: client.post("/shop/counter", data={**form, "check": "1"},
                                               headers=COUNTER_CHECK_HEADERS), 200).get_data(as_text=True)
    form["checked"] = CHECKED_RE.search(basket).group(1)  # the basket shown, sent back as the browser does
    step("confirm", lambda: client.post("/shop/counter", data={**form, "confirm": "1"}), 302)
    return out


def measure(database_url: str, n: int, profile: bool = False, warmup: int = 20) -> dict:
    """{request: (median CPU ms, the SQL statements it sent)} over `n` redemptions after `warmup` ones, and
    under "profile" cProfile's statistics of the measured redemptions when asked."""
    from app.extensions import db
    from app.registry.models import Village

    app = make_app(database_url)
    with app.app_context():
        village_id = db.session.scalar(sa.select(Village.id).where(Village.code == "bench"))
        db.session.remove()
    product, households = counter_subjects(app, village_id)
    restock(app, product)
    client = fresh_client(app)
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
            _redeem(client, households[i % len(households)], product, sent)
        cpu = collections.defaultdict(list)
        prof = cProfile.Profile() if profile else None
        for i in range(n):
            if prof:
                prof.enable()
            last = _redeem(client, households[(warmup + i) % len(households)], product, sent)
            if prof:
                prof.disable()
            for step in STEPS:
                cpu[step].append(last[step][0])
    finally:
        sa.event.remove(engine, "before_cursor_execute", on_execute)
        with app.app_context():
            db.engine.dispose()
    out: dict = {step: (statistics.median(cpu[step]), last[step][1]) for step in STEPS}
    if prof:
        out["profile"] = pstats.Stats(prof)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default=None, help="database URL, or 'pg' (default: the full SQLite village)")
    parser.add_argument("--redemptions", type=int, default=200)
    parser.add_argument("--statements", action="store_true", help="print each request's SQL statements")
    parser.add_argument("--profile", action="store_true", help="cProfile's top functions over the measured redemptions")
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
