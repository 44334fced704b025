"""`flask rules …`: import a rule text from a file and print a booklet (the same services as the pages)."""
from __future__ import annotations

import sys
from pathlib import Path

import click
import sqlalchemy as sa
from flask import current_app, g
from flask.cli import AppGroup

from ..extensions import db
from ..registry.models import Village
from . import services as rules
from .docx import DocxError, docx_text
from .models import RuleSet, RuleVersion
from .parser import ParseError, parse_rules
from .views import booklet_pdf
from ..submission import write_transaction

rules_cli = AppGroup("rules", help="Village rules: import texts, print booklets.")

KINDS = ["charter", "village_rules", "points_rules", "shop_rules", "other"]


def _fail(message: str) -> None:
    click.echo(message, err=True)
    sys.exit(1)


@rules_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--village", "village_code", required=True, help="Village code.")
@click.option("--kind", type=click.Choice(KINDS), required=True, help="Kind of rules.")
@click.option("--title", help="Rule set title (default: the title found in the text).")
@click.option("--dry-run", is_flag=True, help="Only print the parsed outline; save nothing.")
def import_command(file: Path, village_code: str, kind: str, title: str | None, dry_run: bool) -> None:
    """Parse a rule text (UTF-8 .txt or Word .docx), print its outline and save it as a draft version."""
    village = db.session.scalar(sa.select(Village).where(Village.code == village_code))
    if village is None:
        _fail(f"no village with code {village_code!r}")
    if file.suffix.lower() == ".docx":
        try:
            text = docx_text(file.read_bytes())
        except DocxError as e:
            _fail(f"{file}: {e}")
    else:
        try:
            text = file.read_bytes().decode("utf-8-sig").replace("\r\n", "\n").replace("\r", "\n")
        except UnicodeDecodeError:
            _fail(f"{file}: not UTF-8 text; save it again as UTF-8")
    try:
        parsed = parse_rules(text)
    except ParseError as e:
        _fail(f"{file}: cannot parse: {e}")
    for line in parsed.outline():
        click.echo(line)
    if dry_run:
        click.echo("dry run: nothing saved")
        return
    name = (title or parsed.title or "").strip()
    if not name:
        _fail("no title found in the text; pass --title")
    g.cli_actor = "cli"
    try:
        with write_transaction():
            ruleset = db.session.scalar(sa.select(RuleSet).where(RuleSet.village_id == village.id,
                                                                 RuleSet.title == name[:100]))
            if ruleset is None:
                ruleset = rules.create_ruleset(village, kind, name[:100])
            version = rules.import_version(ruleset, parsed, text)
    except rules.RulesError as e:
        _fail(str(e))
    click.echo(f"saved: rule set {ruleset.id} {ruleset.title}, draft version {version.version_no} (id {version.id})")


@rules_cli.command("booklet")
@click.argument("version_id", type=int)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="PDF file to write.")
@click.option("--paper", type=click.Choice(["a5", "a4", "imposed"]), default="a5", show_default=True,
              help="a5: the booklet; a4: the notice for the board; imposed: the booklet 2-up on A4.")
def booklet_command(version_id: int, out: Path, paper: str) -> None:
    """Print a rule version as a booklet PDF."""
    version = db.session.get(RuleVersion, version_id) if 0 < version_id < 2**62 else None
    if version is None:
        _fail(f"no rule version with id {version_id}")
    with _request_context():
        pdf = booklet_pdf(version, paper)
    out.write_bytes(pdf)
    click.echo(f"{out}: {len(pdf)} bytes")


def _request_context():
    """A request context so the print templates can use url_for and the user's language (Chinese)."""
    return current_app.test_request_context("/")
