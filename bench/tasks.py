"""Work the benchmark runs in its own process (so its time and peak memory are that process's alone).

    python -m bench.tasks import FILE VILLAGE_CODE   # dry run, then commit, into a new village; prints JSON
    python -m bench.tasks statements-batch N OUT     # N households' statements as one PDF; prints JSON
    python -m bench.tasks statement-single K         # K single statements in one warm process; prints JSON
    python -m bench.tasks statement-detailed K       # the same for the detailed statement (every entry)
"""
from __future__ import annotations

import datetime as dt
import json
import os
import random
import sys
import time
from pathlib import Path

from .generate import GIVEN, GROUPS, REGION, SURNAMES


def build_import_workbook(households: int, people: int, seed: int = 7) -> bytes:
    """The registry's import template (template_workbook) filled with a register of that size."""
    import io

    from openpyxl import load_workbook

    from app.registry import import_format as imp
    from app.registry.export import template_workbook
    from app.registry.identity import make_test_id
    from app.registry.models import Village

    rng = random.Random(seed)
    template = template_workbook(Village(code="template", name="模板村"))
    wb = load_workbook(io.BytesIO(template))
    ws = wb[imp.SHEET_NAME]
    col = {name: i + 1 for i, name in enumerate(imp.COLUMNS)}
    sizes = [1] * households
    for _ in range(people - households):
        sizes[rng.randrange(households)] += 1
    used: set[str] = set()
    relations = ["配偶", "子女", "子女", "父母", "孙子女"]
    row = 2
    for i, size in enumerate(sizes):
        surname = rng.choice(SURNAMES)
        for k in range(size):
            female = rng.random() < 0.5
            born = dt.date(rng.randint(1940, 2020), rng.randint(1, 12), rng.randint(1, 28))
            idn = ""
            if rng.random() < 0.8:
                for _ in range(50):
                    cand = make_test_id(REGION, born, rng.randrange(0, 500) * 2 + (0 if female else 1))
                    if cand not in used:
                        used.add(cand)
                        idn = cand
                        break
            values = {imp.COL_NUMBER: f"{i + 1:05d}", imp.COL_NAME: surname + rng.choice(GIVEN) + rng.choice(GIVEN),
                      imp.COL_RELATION: "户主" if k == 0 else relations[(k - 1) % len(relations)],
                      imp.COL_SEX: "女" if female else "男", imp.COL_BIRTH: born, imp.COL_ID: idn,
                      imp.COL_PHONE: "13" + "".join(str(rng.randint(0, 9)) for _ in range(9)) if k == 0 else ""}
            if k == 0:
                values[imp.COL_GROUP] = GROUPS[i % 4]
                values[imp.COL_ADDRESS] = f"{GROUPS[i % 4]}{rng.randint(1, 200)}号"
            for name, value in values.items():
                if value != "":
                    ws.cell(row=row, column=col[name], value=value)
            row += 1
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def run_import(path: str, code: str) -> dict:
    """Create village `code` with the workbook's groups, then time the dry run and the commit."""
    import sqlalchemy as sa
    from flask import g

    from app.extensions import begin_write, db
    from app.registry import import_check as imp
    from app.registry.services import create_group, create_village

    g.cli_actor = "bench"
    begin_write()
    village = create_village(code, f"导入测试{code}")
    for name in GROUPS[:4]:
        create_group(village, name, "group", None)
    db.session.commit()
    data = open(path, "rb").read()
    t0 = time.perf_counter()
    result = imp.check_workbook(village, data)  # the dry run: reads only
    dry = time.perf_counter() - t0
    if not result.ok:
        raise SystemExit(f"dry run found problems: {[str(p.text) for p in result.problems[:5]]}")
    db.session.rollback()
    t0 = time.perf_counter()
    begin_write()
    result = imp.check_workbook(village, data)  # re-checked inside the write transaction, as the view does
    summary = imp.apply_import(village, result)
    db.session.commit()
    commit = time.perf_counter() - t0
    n = db.session.scalar(sa.text("SELECT count(*) FROM households WHERE village_id = :v"), {"v": village.id})
    return {"dry_run_s": dry, "commit_s": commit, "households": summary.households, "people": summary.people,
            "stored": n}


def _statement_period():
    from app.db import local_today
    from app.statements import services as svc

    return svc.parse_period(str(local_today().year))


def run_statements_batch(n: int, out: str) -> dict:
    """The batch as `flask statements print` runs it (batch.print_batch: issue while the pool renders,
    commit, merge, mark printed) for the first n households of the register; the pool workers' peak
    memory comes from RUSAGE_CHILDREN."""
    import resource

    from flask import current_app, g

    from app.extensions import db
    from app.registry.models import Village
    from app.statements import batch

    import sqlalchemy as sa

    from .generate import MAIN_VILLAGE

    g.cli_actor = "bench"
    village = db.session.scalar(sa.select(Village).where(Village.code == MAIN_VILLAGE))
    period = _statement_period()
    issued = []
    real_issue = batch.issue_batch

    def timed_issue(*args, **kwargs):
        t = time.perf_counter()
        try:
            return real_issue(*args, **kwargs)
        finally:
            issued.append(time.perf_counter() - t)

    batch.issue_batch = timed_issue  # only to report how long issuing took (the pool renders meanwhile)
    t0 = time.perf_counter()
    printed = batch.print_batch(village, period, Path(out), paper="a4", base_url="http://bench.invalid/", limit=n)
    total = time.perf_counter() - t0
    workers = current_app.config.get("STATEMENT_WORKERS") or os.cpu_count() or 1
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    from pypdf import PdfReader

    pages = len(PdfReader(out).pages)
    return {"seconds": total, "issue_s": sum(issued), "render_s": total - sum(issued), "statements": printed,
            "pages": pages, "bytes": os.path.getsize(out), "workers": min(workers, printed),
            "main_rss_mb": own.ru_maxrss / 1024, "worker_rss_mb": kids.ru_maxrss / 1024,
            # CPU of this process and of the pool workers: on a shared machine, CPU ÷ cores is what the
            # batch would take with every core free
            "cpu_s": own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime,
            "main_cpu_s": own.ru_utime + own.ru_stime}


def run_statement_single(k: int, detailed: bool = False) -> dict:
    """k single statements (build, issue, PDF) in one process, after one warm-up: what a warm web
    worker does for the statement button; the times are per statement. `detailed`: the detailed
    statement (every entry of the year, naming the member) instead of the one-page year statement."""
    import resource

    from flask import g

    from app.extensions import begin_write, db
    from app.registry.models import Village
    from app.statements import batch
    from app.statements import services as svc

    import sqlalchemy as sa

    from .generate import MAIN_VILLAGE

    g.cli_actor = "bench"
    village = db.session.scalar(sa.select(Village).where(Village.code == MAIN_VILLAGE))
    period = _statement_period()
    households = svc.batch_households(village.id)
    import io

    from pypdf import PdfReader

    times, cpu, sizes, pages = [], [], [], []
    for i in range(k + 1):
        h = households[(i * 37) % len(households)]
        t0, c0 = time.perf_counter(), time.process_time()
        begin_write()
        data = svc.build_statement(h, period, detailed=detailed)
        issued = svc.issue_statement(data, paper="a4")
        pdf = batch.statement_pdf(data, issued, "http://bench.invalid/")
        db.session.commit()
        if i:  # the first one warms the process (WeasyPrint import, fonts)
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
            sizes.append(len(pdf))
            pages.append(len(PdfReader(io.BytesIO(pdf)).pages))
    return {"seconds": times, "cpu_seconds": cpu, "bytes": sizes, "pages": pages,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main(argv: list[str]) -> int:
    from .common import make_app

    tasks = {("import", 3): lambda: run_import(argv[1], argv[2]),
             ("statements-batch", 3): lambda: run_statements_batch(int(argv[1]), argv[2]),
             ("statement-single", 2): lambda: run_statement_single(int(argv[1])),
             ("statement-detailed", 2): lambda: run_statement_single(int(argv[1]), detailed=True)}
    task = tasks.get((argv[0] if argv else "", len(argv)))
    if task is None:
        print(__doc__, file=sys.stderr)
        return 2
    app = make_app(os.environ["BENCH_DATABASE_URL"])
    with app.app_context():
        print(json.dumps(task()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
