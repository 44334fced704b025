"""The import rules of the house (pyproject.toml, [tool.importlinter]) hold, so `make test` fails when one breaks.

import-linter reads the imports without running the code, imports inside functions included: a forbidden
arrow cannot hide in a function body.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

#: the rules the issue asked for; a contract taken out of pyproject.toml fails here
REQUIRED = {
    "Core modules import no feature",
    "The audit log's writer imports no feature",
    "The ledger imports no feature",
    "The register imports neither the ledger nor points",
    "The kiosk imports no auth",
    "Rules import nothing of points",
    "Services and models import no views",
}


def _lint(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=cwd, capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)


def test_the_import_contracts_hold():
    out = _lint(ROOT)
    assert out.returncode == 0, f"lint-imports found a forbidden import:\n{out.stdout}\n{out.stderr}"


def test_every_rule_of_the_house_is_a_contract():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["importlinter"]
    assert config["root_package"] == "app"
    names = {c["name"] for c in config["contracts"]}
    assert REQUIRED <= names, REQUIRED - names
    core = next(c for c in config["contracts"] if c["name"] == "Core modules import no feature")
    assert {"app.access", "app.filters", "app.printing", "app.forms", "app.submission"} \
        <= set(core["source_modules"])


def test_a_forbidden_import_breaks_the_build(tmp_path):
    """The same check on a copy of the code where rules import a points model (and printing a feature)."""
    shutil.copytree(ROOT / "app", tmp_path / "app",
                    ignore=shutil.ignore_patterns("__pycache__", "static", "translations"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    for path, line in [("app/rules/parser.py", "from ..points.models import PointItem  # noqa: F401\n"),
                       ("app/printing.py", "from .registry.models import Village  # noqa: F401\n")]:
        target = tmp_path / path
        target.write_text(target.read_text("utf-8") + line, "utf-8")
    out = _lint(tmp_path)
    assert out.returncode != 0, out.stdout
    assert "Rules import nothing of points BROKEN" in out.stdout, out.stdout
    assert "Core modules import no feature BROKEN" in out.stdout, out.stdout
    assert "app.rules.parser -> app.points.models" in out.stdout, out.stdout


def test_the_roles_access_spells_out_are_auths_roles():
    """access (core) names roles by their stored values, without importing auth: they must stay auth's roles."""
    from app.access import PERMISSIONS
    from app.auth.models import Role

    named = set().union(*PERMISSIONS.values()) | {"admin", "township"}
    assert named <= {r.value for r in Role}, named - {r.value for r in Role}
