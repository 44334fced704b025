"""Work the benchmark runs in its own process (so its time and peak memory are that process's alone).

    python -m bench.tasks import FILE VILLAGE_CODE   # dry run, then commit, into a new village; prints JSON
"""
from __future__ import annotations

import datetime as dt
import json
import os
import random
import sys
import time

from .generate import GIVEN, GROUPS, REGION, SURNAMES


def build_import_workbook(households: int, people: int, seed: int = 7) -> bytes:
    """The registry's import template (template_workbook) filled with a register of that size."""
    import io

    from openpyxl import load_workbook

    from app.registry import importer as imp
    from app.registry.identity import make_test_id
    from app.registry.models import Village

    rng = random.Random(seed)
    template = imp.template_workbook(Village(code="template", name="模板村"))
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
    from app.registry import importer as imp
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


def main(argv: list[str]) -> int:
    from .common import make_app

    if len(argv) != 3 or argv[0] != "import":
        print(__doc__, file=sys.stderr)
        return 2
    app = make_app(os.environ["BENCH_DATABASE_URL"])
    with app.app_context():
        print(json.dumps(run_import(argv[1], argv[2])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
