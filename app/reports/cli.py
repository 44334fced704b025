"""`flask reports refresh`: count the villages' months again for the township roll-up (nightly, after a
backup; the same figures as the village dashboard)."""
from __future__ import annotations

import re
import sys
import time

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from ..db import local_today
from ..extensions import db
from ..registry.models import Village
from ..submission import write_transaction
from . import services

reports_cli = AppGroup("reports", help="The dashboard's stored figures for the township roll-up.")


def _month(raw: str) -> tuple[int, int]:
    m = re.fullmatch(r"(\d{4})-(\d{1,2})", raw.strip())
    if not m or not (2000 <= int(m.group(1)) <= 2100 and 1 <= int(m.group(2)) <= 12):
        click.echo(f"not a month: {raw!r} (write it as 2026-11)", err=True)
        sys.exit(2)
    return int(m.group(1)), int(m.group(2))


@reports_cli.command("refresh")
@click.option("--month", "months", multiple=True, help="A month as 2026-11 (repeatable); default: this month and "
                                                       "the one before.")
@click.option("--village", "codes", multiple=True, help="A village code (repeatable); default: every village.")
def refresh_command(months: tuple[str, ...], codes: tuple[str, ...]) -> None:
    """Count each village's month again and store it for the township and county pages."""
    today = local_today()
    wanted = [_month(m) for m in months] or [
        (today.year - (today.month == 1), 12 if today.month == 1 else today.month - 1), (today.year, today.month)]
    stmt = sa.select(Village.id, Village.code).order_by(Village.code)
    if codes:
        stmt = stmt.where(Village.code.in_(codes))
    found = db.session.execute(stmt).all()
    missing = set(codes) - {c for _i, c in found}
    if missing:
        click.echo(f"no such village: {', '.join(sorted(missing))}", err=True)
        sys.exit(1)
    ids = [i for i, _c in found]
    for year, month in wanted:
        t0 = time.perf_counter()
        with write_transaction():
            n = services.refresh(ids, year, month)
        click.echo(f"{year}-{month:02d}: {n} villages counted in {time.perf_counter() - t0:.1f} s")
