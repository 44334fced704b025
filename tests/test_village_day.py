"""Every calendar day is the village's day (Asia/Shanghai), whatever zone the server or the test run is in.

From 16:00 UTC the village is already on the next day. A CI run that started before then and ended after
failed tests that asked the machine for its date (`date.today()`) while the app asked the village
(`app.db.local_today()`), or that read the village's day once, when their module was imported.
"""
from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path

import pytest

from app.db import local_today
from app.registry.identity import IdNumberInvalid, make_test_id, normalize_id_number

ROOT = Path(__file__).resolve().parent.parent

#: calls that read the machine's own calendar or clock in its own zone
_MACHINE_DAY = ("date.today", "datetime.today", "datetime.now")


def _machine_day_calls(root: Path) -> list[str]:
    """`date.today()` and `datetime.now()` without a zone, and module-level `local_today()` calls."""
    found = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        where = path.relative_to(root)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = ast.unparse(node.func)
                if name.endswith(_MACHINE_DAY) and not node.args and not node.keywords:
                    found.append(f"{where}:{node.lineno} {name}()")
        # a module-level statement runs once, at import: a long run may cross the village's midnight after it
        for statement in tree.body:
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            for node in ast.walk(statement):
                if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("local_today"):
                    found.append(f"{where}:{node.lineno} local_today() at import")
    return found


@pytest.mark.parametrize("part", ["app", "tests"])
def test_nothing_reads_the_machines_day_instead_of_the_villages(part):
    assert _machine_day_calls(ROOT / part) == []


def test_the_check_finds_a_machine_day_and_a_day_read_at_import(tmp_path):
    (tmp_path / "a.py").write_text("import datetime as dt\nTODAY = dt.date.today()\n", "utf-8")
    (tmp_path / "b.py").write_text("from app.db import local_today\nYEAR = local_today().year\n"
                                   "def f():\n    return local_today()\n", "utf-8")
    (tmp_path / "c.py").write_text("import datetime as dt\nstamp = dt.datetime.now(dt.UTC)\n", "utf-8")
    assert _machine_day_calls(tmp_path) == ["a.py:2 dt.date.today()", "b.py:2 local_today() at import"]


def test_a_child_born_on_the_villages_today_has_a_valid_id_number():
    today = local_today()
    number = make_test_id("440305", today, 7)
    assert normalize_id_number(number) == number
    with pytest.raises(IdNumberInvalid):
        normalize_id_number(make_test_id("440305", today + dt.timedelta(days=1), 7))
