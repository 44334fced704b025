"""The code's pointers into docs/ lead somewhere: the file exists, and a named section is a heading there."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ["app", "templates", "printables", "bench", "migrations", "tests", ".ci", "deploy"]
SUFFIXES = {".py", ".html", ".css", ".md", ".txt", ".toml", ".cfg", "", ".service", ".timer", ".conf", ".cmd",
            ".sh", ".example"}
# docs/ledger.md or docs/architecture.md, "Printing" (a section named right after the file)
REF = re.compile(r'docs/([A-Za-z0-9_-]+\.md)(?:,\s*\n?\s*(?:#\s*)?"([^"\n]+)")?')


def _references():
    files = [ROOT / "Makefile", ROOT / "README.md", ROOT / "pyproject.toml"]
    for top in SOURCES:
        files += [p for p in (ROOT / top).rglob("*") if p.is_file() and p.suffix in SUFFIXES
                  and "__pycache__" not in p.parts]
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        for m in REF.finditer(text):
            yield path.relative_to(ROOT), m.group(1), m.group(2)


def _headings(doc: Path) -> set[str]:
    return {line.lstrip("#").strip() for line in doc.read_text(encoding="utf-8").splitlines()
            if line.startswith("#")}


def test_every_docs_reference_names_a_file_and_section_that_exist():
    found, broken = 0, []
    for where, name, section in _references():
        if where == Path("tests/test_docs.py"):
            continue
        found += 1
        doc = ROOT / "docs" / name
        if not doc.is_file():
            broken.append(f"{where}: docs/{name} does not exist")
        elif section and section not in _headings(doc):
            broken.append(f'{where}: docs/{name} has no section "{section}"')
    assert found > 20  # the scan itself works: the code does point into docs/
    assert not broken, "\n".join(broken)


def test_the_three_documents_of_the_house_exist():
    for name in ("architecture.md", "ledger.md", "operations.md"):
        assert (ROOT / "docs" / name).read_text(encoding="utf-8").startswith("# ")


#: the top level the client fixed (app/, migrations/, templates/, printables/, tests/, wsgi.py, requirements.txt,
#: README.md) and the tooling beside it
TOP_LEVEL = {"app", "migrations", "templates", "printables", "tests", "wsgi.py", "requirements.txt", "README.md",
             "Makefile", ".ci", "bench", "docs", "pyproject.toml", "babel.cfg", "deploy", ".gitignore",
             ".gitattributes"}


def test_the_top_level_holds_only_what_belongs_there():
    """A stray render (--1.png, from pdftoppm's '-' output) once sat committed beside README.md."""
    import shutil
    import subprocess

    import pytest

    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.fail("the repository's files are listed with git, which this checkout lacks")
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    tops = {name.split("/", 1)[0] for name in tracked.decode("utf-8").split("\0") if name}
    assert tops - TOP_LEVEL == set()
