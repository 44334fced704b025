"""ruff is clean on the whole tree with the security rules on (issue 22; pyproject.toml [tool.ruff.lint]):
pyflakes, pycodestyle, bugbear and flake8-bandit's S rules, each ignore with its reason there."""
from __future__ import annotations

import pytest

import subprocess
import sys
import tomllib
from pathlib import Path

pytestmark = pytest.mark.gates

ROOT = Path(__file__).resolve().parents[2]
RUFF = Path(sys.executable).with_name("ruff")


def _ruff(cwd: Path, *paths: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(RUFF), "check", "--no-cache", "--output-format", "concise", *paths], cwd=cwd,
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)


def test_ruff_finds_nothing_on_the_whole_tree():
    out = _ruff(ROOT, ".")
    assert out.returncode == 0, f"ruff found problems (fix them, or `# noqa: CODE  (why)`):\n{out.stdout}\n{out.stderr}"


def test_the_security_rules_are_on_and_app_code_keeps_them():
    lint = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["ruff"]["lint"]
    assert {"E", "F", "S", "B"} <= set(lint["select"])
    assert not any(code.startswith("S") for code in lint["ignore"])  # no security rule is off everywhere
    assert not any(k.startswith("app") and "S608" in v for k, v in lint["per-file-ignores"].items())


def test_sql_built_from_a_string_breaks_the_build(tmp_path):
    """Negative control: the same configuration finds SQL made from user input and Markup of it."""
    (tmp_path / "app").mkdir()
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text("utf-8"), "utf-8")
    (tmp_path / "app" / "bad.py").write_text(
        "from markupsafe import Markup\n\n\ndef find(db, name):\n"
        "    db.execute(f\"SELECT * FROM people WHERE name = '{name}'\")\n"
        "    return Markup(f'<b>{name}</b>')\n", "utf-8")
    out = _ruff(tmp_path, ".")
    assert out.returncode != 0
    assert "S608" in out.stdout and "S704" in out.stdout, out.stdout
