"""Where a kiosk page's server CPU goes: the floor under every kiosk page, measured layer by layer.

Figure 1 compares the kiosk pages' throughput with the bare endpoint's (a Flask app returning a fixed string,
bench/bare.py); the goal is ≥ 20 %, i.e. a kiosk page may cost at most about five bare requests of CPU. This
tool takes the kiosk home page apart in one warm process (Flask's test client, CPU time of the process, the
same requests for every layer), by swapping what the view does while every hook of the app and the kiosk
blueprint still runs:

  bare            bench/bare.py's app: routing + response, nothing else
  app, plain      the real app, a route of its own returning "pong": what every request of the app pays
                  (the session cookie, the login manager, the rate limiter, security headers, the request's
                  database session), before any feature's code
  app, no view    the real app, the kiosk home's URL, the view returning "pong": the kiosk's own checks
                  (device cookie, the session row and its idle timeout, the household), the session and
                  security headers, the request's database transaction
  app + layout    the same, the view drawing an empty page in the kiosk layout (kiosk/base.html: the
                  finish form's CSRF token, the idle timer, the header with the household)
  home, entries   the real pages (their queries and templates on top)

Run: `.venv/bin/python -m bench.kiosk_floor [--db URL] [--requests N]` (default: the full SQLite village of
`make bench`, which it must have built). It enrols a kiosk device and sets a PIN on one household, as figure 1
does, and prints the CPU per request of each layer and its multiple of the bare endpoint's.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

from .common import fresh_client, make_app, sqlite_url
from .figures import KIOSK_PIN, kiosk_setup
from .load import CSRF_RE

#: the kiosk pages may cost at most this many bare requests of CPU for the ≥ 20 % share of figure 1
SHARE_LIMIT = 5.0


def _cpu_per_request(client, path: str, n: int, rounds: int = 5) -> float:
    """Median over `rounds` of the process CPU per GET of `path` (ms), after a warm-up."""
    for _ in range(50):
        status = client.get(path).status_code
        if status != 200:
            raise RuntimeError(f"{path}: HTTP {status}")
    samples = []
    for _ in range(rounds):
        t0 = time.process_time()
        for _ in range(n):
            client.get(path)
        samples.append((time.process_time() - t0) * 1000 / n)
    return statistics.median(samples)


def _kiosk_client(app, code: str, number: str):
    client = fresh_client(app)

    def post(path: str, form: dict) -> None:
        token = CSRF_RE.search(client.get(path).get_data(as_text=True))
        r = client.post(path, data={**form, "csrf_token": token.group(1) if token else ""})
        if r.status_code != 302:
            raise RuntimeError(f"kiosk {path}: HTTP {r.status_code}")

    post(f"/kiosk/enrol/{code}", {})
    post("/kiosk/number", {"number": number})
    post("/kiosk/pin", {"pin": KIOSK_PIN})
    if "data-balance" not in client.get("/kiosk/home").get_data(as_text=True):
        raise RuntimeError("kiosk home after the PIN shows no balance")
    return client


def measure(database_url: str, n: int) -> list[tuple[str, float]]:
    from flask import render_template

    from app.extensions import db
    from app.kiosk import views as kv

    from .bare import app as bare_app

    app = make_app(database_url)
    app.config["KIOSK_IDLE_SECONDS"] = 86400  # one session for the whole run, as figure 1's wrk
    app.add_url_rule("/_floor/ping", "floor_ping", lambda: "pong")  # before the app's first request
    _hid, number, code, _n = kiosk_setup(app)
    client = _kiosk_client(app, code, number)
    real_home = app.view_functions["kiosk.home"]
    rows = [("bare endpoint (bench/bare.py)", _cpu_per_request(fresh_client(bare_app), "/ping", n))]

    rows.append(("app, plain route (no feature code)", _cpu_per_request(client, "/_floor/ping", n)))

    def no_view():
        kv._need_household()
        return "pong"

    # compiled once, as render_template's templates are (render_template_string compiles on every call)
    empty_page = app.jinja_env.from_string('{% extends "kiosk/base.html" %}')

    def layout_only():
        return render_template(empty_page, household=kv._need_household())

    try:
        app.view_functions["kiosk.home"] = no_view
        rows.append(("app, kiosk checks, no view", _cpu_per_request(client, "/kiosk/home", n)))
        app.view_functions["kiosk.home"] = layout_only
        rows.append(("app + empty page in the kiosk layout", _cpu_per_request(client, "/kiosk/home", n)))
        app.view_functions["kiosk.home"] = real_home
        rows.append(("kiosk home (/kiosk/home)", _cpu_per_request(client, "/kiosk/home", n)))
        rows.append(("kiosk entries (/kiosk/entries)", _cpu_per_request(client, "/kiosk/entries", n)))
    finally:
        app.view_functions["kiosk.home"] = real_home
        with app.app_context():  # this app's own pool: its connections close now, not when collected
            db.engine.dispose()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default=None, help="database URL (default: the full SQLite village of make bench)")
    parser.add_argument("--requests", type=int, default=300, help="requests per round (5 rounds per layer)")
    args = parser.parse_args(argv)
    rows = measure(args.db or sqlite_url("full"), args.requests)
    bare = rows[0][1]
    print(f"{'layer':<42} {'CPU ms/request':>15} {'× bare':>8}")
    for what, ms in rows:
        print(f"{what:<42} {ms:>15.2f} {ms / bare:>8.1f}")
    print(f"a page at ≤ {SHARE_LIMIT:g}× the bare endpoint's CPU ({SHARE_LIMIT * bare:.2f} ms) would reach the "
          f"20 % share of figure 1")
    return 0


if __name__ == "__main__":
    sys.exit(main())
