"""`flask statements …`: print a village's statements, and run a batch job started from the browser."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import click
import sqlalchemy as sa
from flask import current_app, g
from flask.cli import AppGroup

from ..extensions import db
from ..registry.models import Village
from . import services as svc
from .batch import print_batch, purge_old_files, run_job
from .fonts import DEFAULT_NAME, FONTS_DIR, build_subset_font

statements_cli = AppGroup("statements", help="Points statements.")


def _fail(message: str) -> None:
    click.echo(message, err=True)
    sys.exit(1)


@statements_cli.command("print")
@click.option("--village", "village_code", required=True, help="Village code.")
@click.option("--period", required=True, help="2026, 2026-Q3, 2026-05 or 2026-01-01..2026-03-31.")
@click.option("--group", "group_name", help="Only the households of this villager group (by name).")
@click.option("--paper", type=click.Choice(["a4", "a5"]), default="a4", show_default=True)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, writable=True),
              help="The PDF file to write.")
@click.option("--detailed", is_flag=True,
              help="The detailed statement: every entry with the family member who earned it (a year's "
                   "statement is otherwise one page of totals by category; a month's or quarter's lists "
                   "its entries anyway).")
@click.option("--base-url",
              help="Address the QR codes point to (default: STATEMENT_BASE_URL or http://localhost/).")
def print_command(village_code: str, period: str, group_name: str | None, paper: str, out: str,
                  base_url: str | None, detailed: bool) -> None:
    """Print a statement for every active household of a village (or group) as one PDF."""
    g.cli_actor = "cli"
    village = db.session.scalar(sa.select(Village).where(Village.code == village_code))
    if village is None:
        _fail(f"no village with code {village_code!r}")
    try:
        resolved = svc.parse_period(period)
    except svc.StatementError as e:
        _fail(str(e))
    group_id = None
    if group_name:
        group = svc.group_by_name(village.id, group_name)
        if group is None:
            _fail(f"no villager group named {group_name!r} in {village_code}")
        group_id = group.id
    started = time.perf_counter()
    n = print_batch(village, resolved, Path(out), group_id=group_id, paper=paper,
                    base_url=base_url or current_app.config.get("STATEMENT_BASE_URL") or "http://localhost/",
                    detailed=detailed)
    if not n:
        _fail("no active households to print")
    click.echo(f"{n} statements written to {out} in {time.perf_counter() - started:.1f} s")


@statements_cli.command("run-job")
@click.argument("job_id", type=int)
def run_job_command(job_id: int) -> None:
    """Run a queued batch job and the rest of its village's queue (the web page starts this in its own process)."""
    g.cli_actor = "job"
    try:
        job = run_job(job_id)
    except LookupError as e:
        _fail(str(e))
    click.echo(f"job {job_id}: {job.status} ({job.done}/{job.total})")
    if job.status == "queued":
        return  # its village was printing another batch: that batch's runner starts this one next
    if job.status != "done":
        sys.exit(1)


@statements_cli.command("build-font")
def build_font_command() -> None:
    """Build the pre-subset GB2312 face that makes statements smaller and faster (once per machine)."""
    name = current_app.config.get("STATEMENT_FONT") or DEFAULT_NAME
    started = time.perf_counter()
    try:
        size = build_subset_font(FONTS_DIR / name)
    except (OSError, LookupError) as e:
        _fail(f"could not build the font: {e}")
    click.echo(f"{FONTS_DIR / name}: {size // 1024} KB in {time.perf_counter() - started:.0f} s")


@statements_cli.command("purge")
@click.option("--older-than", "days", type=click.IntRange(1, 3650), default=30, show_default=True,
              help="Days a batch's PDF is kept for downloading.")
def purge_command(days: int) -> None:
    """Delete the PDFs and logs of batches older than DAYS (instance/statements/). Run it from cron."""
    click.echo(f"removed {purge_old_files(days)} batch files older than {days} days")
