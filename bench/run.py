"""Run every benchmark figure on SQLite and (when a server is available) PostgreSQL; print one table and
write it as JSON under bench/results/ with the machine's description.

    python -m bench.run                 # full: the 2,000-household village with 10 years (~1M transfers)
    python -m bench.run --quick         # everyday: the same village with one year, short runs (< 5 min)
    python -m bench.run --only 2,6 --backend sqlite
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

from . import figures as F
from .common import PROJECT_ROOT, RESULTS_DIR, make_app, pg_url, sqlite_url
from .generate import SCALES, counts, generate

README = PROJECT_ROOT / "README.md"
README_BEGIN, README_END = "<!-- bench:begin -->", "<!-- bench:end -->"


def machine() -> dict:
    """What the numbers were measured on (the machine is shared: the load average says how busy it was)."""
    cpu = ""
    try:
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), "")
    except OSError:
        pass
    mem_gib = 0.0
    try:
        kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        mem_gib = round(kb / 1024 / 1024, 1)
    except (OSError, AttributeError):
        pass
    wrk = ""
    try:
        wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.split("\n")[0][:60]
    except OSError:
        pass
    return {"host": platform.node(), "os": platform.platform(), "cpu": cpu, "cores": os.cpu_count(),
            "memory_gib": mem_gib, "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
            "wrk": wrk, "load_average": [round(x, 2) for x in os.getloadavg()]}


def _fmt(v: float | None) -> str:
    if v is None:
        return "—"
    if v >= 100:
        return f"{v:,.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def _load() -> list[float]:
    """The machine's load average (1, 5, 15 minutes) now."""
    return [round(x, 2) for x in os.getloadavg()]


def _load_cell(r: dict) -> str:
    """The 1-minute load average when the figure started → when it ended ("—" when not recorded)."""
    start, end = r.get("load_average"), r.get("load_average_end")
    if not start:
        return "—"
    return f"{start[0]:.1f}" + (f"→{end[0]:.1f}" if end else "")


def table(results: list[dict]) -> str:
    """One Markdown table: backend, figure, median, min–max, goal, met, and the machine's load average (1 min)
    at the figure's start → end: the machine is shared, and a figure measured at load 6 on 2 cores says so."""
    lines = ["| DB | # | figure | median | min–max | goal | met | load |", "|---|---|---|---|---|---|---|---|"]
    for r in results:
        if r["median"] is None:
            span, median = "—", "not available"
        else:
            span = f"{_fmt(r['min'])}–{_fmt(r['max'])}"
            median = f"{_fmt(r['median'])} {r['unit']}".strip()
        met = {True: "yes", False: "**NO**", None: ""}[r["met"]]
        what = r["what"] + (f" ({r['note']})" if r["note"] else "")
        what = " ".join(what.replace("|", "/").split())  # one table row, whatever the note holds
        lines.append(f"| {r['backend']} | {r['figure']} | {what} | {median} | {span} | {r['goal']} | {met} "
                     f"| {_load_cell(r)} |")
    return "\n".join(lines)


def bench_scale(args):
    """The data of this run: the full or quick village; the county's size as asked (--county-villages)."""
    scale = SCALES["quick" if args.quick else "full"]
    if args.county_villages:
        scale = replace(scale, county_villages=args.county_villages,
                        county_households=args.county_households or scale.county_households)
    return scale


def run_backend(backend: str, url: str, args, log) -> list[dict]:
    scale_name = "quick" if args.quick else "full"
    app = make_app(url)
    # the county (200 villages × 500 households, one year) lives on PostgreSQL, where a township server runs
    county = backend == "postgresql" and not args.no_county
    scale = bench_scale(args)
    log(f"== {backend}: {url.split('@')[-1]} ({scale_name} data"
        + (f" + the county, {scale.county_villages} villages × {scale.county_households} households)" if county
           else ")"))
    t0 = time.perf_counter()
    generate(app, scale, county=county)
    rows_seen = counts(app)
    log(f"   data ready in {time.perf_counter() - t0:.0f} s: {rows_seen}")
    ctx = F.Context(backend=backend, database_url=url, quick=args.quick, runs=args.runs, seconds=args.seconds,
                    app=app, log=log, small_url=small_database(backend, args, log))
    rows: list[F.Row] = []
    #: the machine's load average at each figure's start and end (by row), printed beside its numbers
    loads: dict[int, tuple[list[float], list[float]]] = {}
    for fig in F.FIGURES:
        if args.only and fig.key not in args.only:
            continue
        if fig.fn is None:
            rows.append(F.Row(fig.key, fig.title, goal="", met=None, note=f"not available: {fig.reason}"))
            continue
        if fig.fn in (F.fig_kiosk, F.fig_household_page, F.fig_county, F.rankings_figure.fig_rankings) \
                and not F.load.have_wrk():
            rows.append(F.Row(fig.key, fig.title, note="not measured: wrk is not installed (make deps-system)"))
            continue
        start = _load()
        log(f"-- {fig.key}. {fig.title} (load average {start})")
        try:
            new = fig.fn(ctx)
        except Exception as e:  # noqa: BLE001 - one broken figure must not hide the others
            log(f"   FAILED: {type(e).__name__}: {e}")
            new = [F.Row(fig.key, fig.title, met=False, note=f"failed: {type(e).__name__}: {str(e)[:200]}")]
        end = _load()
        for r in new:
            loads[id(r)] = (start, end)
        rows.extend(new)
    if not args.only or "8" in args.only:
        rows.extend(F.memory_rows(rows))
    out = []
    for r in rows:
        start, end = loads.get(id(r), (None, None))
        out.append({"backend": backend, "data": rows_seen, **r.as_dict(), "load_average": start,
                    "load_average_end": end})
    return out


def small_database(backend: str, args, log) -> str | None:
    """The 10k-transfer village for the kiosk's big-vs-small comparison, built when missing on either backend
    (bench/data/village-10k.db, PostgreSQL xy_bench_10k; a few seconds)."""
    if args.only and "1" not in args.only:
        return None
    url = sqlite_url("10k") if backend == "sqlite" else pg_url("10k")
    if url is None:
        log("   no 10k database on this backend: the kiosk's 10k comparison is skipped")
        return None
    generate(make_app(url), SCALES["10k"])
    return url


def update_readme(text: str) -> None:
    body = README.read_text()
    if README_BEGIN in body and README_END in body:
        head, rest = body.split(README_BEGIN, 1)
        _old, tail = rest.split(README_END, 1)
        README.write_text(f"{head}{README_BEGIN}\n{text}\n{README_END}{tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one year of data, 4-second runs (under 5 minutes)")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--only", help="comma-separated figure numbers, e.g. 2,6")
    parser.add_argument("--runs", type=int, help="runs per figure (default 3)")
    parser.add_argument("--seconds", type=float, help="load duration of one run (default 30, quick 4)")
    parser.add_argument("--readme", action="store_true", help="write the table into README.md (default for full runs)")
    parser.add_argument("--no-county", action="store_true",
                        help="leave the county out of the PostgreSQL data (figure 10 then says not measured)")
    parser.add_argument("--county-villages", type=int,
                        help="a smaller county (default 200 villages), e.g. to try the harness; added to, never removed")
    parser.add_argument("--county-households", type=int, help="households per county village (default 500)")
    given = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(given)
    args.only = set(args.only.split(",")) if args.only else None
    args.runs = args.runs or 3
    args.seconds = args.seconds or (4.0 if args.quick else 30.0)

    def log(msg: str) -> None:
        print(msg, flush=True)

    started = dt.datetime.now(dt.timezone.utc)
    info = machine()
    log(f"bench {'quick' if args.quick else 'full'} on {info['cpu']} × {info['cores']}, load {info['load_average']}")
    if info["load_average"][0] > (info["cores"] or 1) * 0.5:
        log(f"   the machine is busy (load {info['load_average'][0]} on {info['cores']} cores): figures measured now "
            f"carry their load in the table; run the full bench on an idle machine")
    scale = "quick" if args.quick else "full"
    results: list[dict] = []
    if args.backend in ("sqlite", "both"):
        results += run_backend("sqlite", sqlite_url(scale), args, log)
    if args.backend in ("postgresql", "both"):
        # a county of another size than the default gets its own database (the data is only ever added to)
        url = pg_url(scale if not args.county_villages or args.no_county else
                     f"{scale}_county{bench_scale(args).county_villages}x{bench_scale(args).county_households}")
        if url is None:
            log("== postgresql: no server (TEST_DATABASE_URL, BENCH_PG_URL or 127.0.0.1:5432): skipped")
        else:
            results += run_backend("postgresql", url, args, log)
    finished = dt.datetime.now(dt.timezone.utc)
    info["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    md = table(results)
    print()
    print(md)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    name = f"{started:%Y%m%dT%H%M%SZ}-{scale}.json"
    payload = {"started": started.isoformat(), "finished": finished.isoformat(), "mode": scale,
               "command": "make bench" + ("-quick" if args.quick else "")
               + (f" BENCH_ARGS='{' '.join(given)}'" if given else ""), "machine": info,
               "settings": {"runs": args.runs, "seconds": args.seconds, "gunicorn_workers": 4,
                            "county": None if args.no_county else
                            {"villages": bench_scale(args).county_villages,
                             "households": bench_scale(args).county_households, "backend": "postgresql"},
                            "wrk": "2 threads, 4 connections (one per worker)"},
               "results": results}
    (RESULTS_DIR / name).write_text(json.dumps(payload, ensure_ascii=False, indent=1, default=str))
    if not args.only:  # latest-<scale>.json is the latest run of every figure, as README's table
        (RESULTS_DIR / f"latest-{scale}.json").write_text(json.dumps(payload, ensure_ascii=False, indent=1,
                                                                     default=str))
    print(f"\nwritten: bench/results/{name}")
    if args.readme or (not args.quick and not args.only):
        update_readme(f"Measured {started:%Y-%m-%d %H:%M} UTC on {info['cpu']} × {info['cores']} cores, "
                      f"{info['memory_gib']} GiB, {info['os']}, Python {info['python']}, SQLite {info['sqlite']} "
                      f"(machine shared; load average {info['load_average']} at the start, "
                      f"{info['load_average_end']} at the end; the table's last column: the 1-minute load "
                      f"average as each figure started → ended). "
                      f"{args.runs} runs per figure, {args.seconds:g} s of load per run. "
                      f"Reproduce with `make bench`.\n\n{md}")
    # a missed goal is a finding shown in the table; only a figure that could not run fails the command
    return 1 if any(str(r["note"]).startswith("failed:") for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
