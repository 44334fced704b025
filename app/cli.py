"""Command-line groups; every command calls the services and commits once."""
from __future__ import annotations

import sys
from pathlib import Path

import click
import sqlalchemy as sa
from flask import Flask, current_app, g
from flask.cli import AppGroup
from flask_babel import gettext as _

from .admin.backups import checks_on, installation_code
from .audit.services import verify
from .auth.models import Role
from .auth.services import AuthError, create_user, grant
from .demo import DEMO_CODE, DEMO_LOGINS, DEMO_PASSWORD, seed_demo
from .extensions import db
from .kiosk import services as ks
from .kiosk.demo import demo_kiosk_lines
from .patrol.demo import demo_patrol_lines
from .ledger.services import check
from .ops.backup import BackupError, backup_dir, create_backup, restore_backup
from .points import item_import as imp
from .points.models import PointScheme
from .points.queries import village_scheme
from .points.services import PointsError, check_year_totals, close_year, finalize_due
from .registry.models import Township, Village
from .registry.services import RegistryError, create_township, create_village
from .reports.cli import reports_cli
from .rules.cli import rules_cli
from .shop.services import check_stock
from .statements.cli import statements_cli
from .tabular import (PENDING_MAX_AGE, ImportFileError, kind_for_filename, problem_lines, purge_stale_uploads,
                      write_checked)
from .submission import write_transaction

village_cli = AppGroup("village", help="Villages and townships.")
user_cli = AppGroup("user", help="Logins and their roles.")
audit_cli = AppGroup("audit", help="The audit log.")
ledger_cli = AppGroup("ledger", help="The points ledger.")
points_cli = AppGroup("points", help="Points schemes and their items.")
kiosk_cli = AppGroup("kiosk", help="Village kiosks (self-service screens).")
imports_cli = AppGroup("imports", help="Checked uploads waiting for their confirmation.")


def _fail(message: str) -> None:
    click.echo(message, err=True)
    sys.exit(1)


@village_cli.command("create")
@click.argument("code")
@click.argument("name")
@click.option("--township", "township_code", help="Township code; created if it does not exist.")
@click.option("--township-name", help="Name for a new township.")
def village_create(code: str, name: str, township_code: str | None, township_name: str | None) -> None:
    """Create a village (optionally under a township)."""
    g.cli_actor = "cli"
    try:
        with write_transaction():
            township = None
            if township_code:
                township = db.session.scalar(sa.select(Township).where(Township.code == township_code))
                if township is None:
                    township = create_township(township_code, township_name or township_code)
            village = create_village(code.strip().lower(), name.strip(), township)
    except RegistryError as e:
        _fail(str(e))
    click.echo(f"village {village.code} created (id {village.id})")


@village_cli.command("list")
def village_list() -> None:
    """List villages."""
    for v in db.session.scalars(sa.select(Village).order_by(Village.code)):
        click.echo(f"{v.code}\t{v.name}\t{v.township.code if v.township else '-'}")


@user_cli.command("create")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--name", "display_name", help="Name shown in the interface.")
@click.option("--role", "roles", multiple=True, help="ROLE or ROLE@VILLAGE_CODE (township: township@TOWNSHIP_CODE).")
def user_create(username: str, password: str, display_name: str | None, roles: tuple[str, ...]) -> None:
    """Create a login and grant roles, e.g. --role admin --role clerk@demo."""
    g.cli_actor = "cli"
    try:
        with write_transaction():
            user = create_user(username, password, display_name)
            for spec in roles:
                role, _, scope = spec.partition("@")
                try:
                    Role(role)
                except ValueError:
                    raise AuthError(f"unknown role {role!r}; known: {', '.join(r.value for r in Role)}") \
                        from None
                village = township = None
                if role == Role.TOWNSHIP.value:
                    township = db.session.scalar(sa.select(Township).where(Township.code == scope))
                    if township is None:
                        raise AuthError(f"no township with code {scope!r}")
                elif role != Role.ADMIN.value:
                    village = db.session.scalar(sa.select(Village).where(Village.code == scope))
                    if village is None:
                        raise AuthError(f"no village with code {scope!r}")
                grant(user, role, village=village, township=township)
    except AuthError as e:
        _fail(str(e))
    click.echo(f"user {user.username} created with roles: {', '.join(roles) or 'none'}")


@audit_cli.command("verify")
def audit_verify() -> None:
    """Walk the hash chain; report the first broken row and exit 1 if there is one."""
    checked, broken, why = verify()
    if broken is None:
        click.echo(f"audit chain intact: {checked} rows")
        return
    click.echo(f"audit chain BROKEN at seq {broken}: {why} ({checked} rows before it are intact)")
    sys.exit(1)


@ledger_cli.command("check")
@click.option("--village", "village_code", help="Village code; all villages when omitted.")
def ledger_check(village_code: str | None) -> None:
    """Check the ledger, shop stock and points year-total invariants; print every violation and exit 1 if
    there is one."""
    village_id = None
    if village_code:
        village_id = db.session.scalar(sa.select(Village.id).where(Village.code == village_code))
        if village_id is None:
            _fail(f"no village with code {village_code!r}")
    # stock on hand must equal the sum of its movements and never be negative (I5); each year total of the
    # rankings must equal the sum of its counted entries (I15)
    problems = check(village_id) + check_stock(village_id) + check_year_totals(village_id)
    if problems:
        for line in problems:
            click.echo(line)
        click.echo(f"ledger check FAILED: {len(problems)} problem(s)")
        sys.exit(1)
    click.echo("ledger check clean")


@points_cli.command("import-items")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True))
@click.option("--village", "village_code", required=True, help="Village code.")
@click.option("--dry-run", is_flag=True, help="Check the file and report; write nothing.")
def points_import_items(file: str, village_code: str, dry_run: bool) -> None:
    """Import scheme items from FILE (.xlsx, .csv or .txt with tab- or |-separated lines).

    Prints how many add and deduct items were found, or every problem (exit 1). Nothing is written
    unless the whole file is clean; then everything is imported in one transaction.
    """
    kind = kind_for_filename(file)
    if kind is None:
        _fail(f"{file}: the file name must end in .xlsx, .csv or .txt")
    with open(file, "rb") as fh:
        data = fh.read(imp.MAX_TEXT_BYTES + 1)
    if len(data) > imp.MAX_TEXT_BYTES:
        _fail(f"{file}: {_(imp.MSG_TOO_BIG)}")
    village = db.session.scalar(sa.select(Village).where(Village.code == village_code.strip().lower()))
    if village is None:
        _fail(f"no village with code {village_code!r}")
    g.cli_actor = "cli"
    if dry_run:
        try:
            result = imp.check_items(village, data, kind)
        except ImportFileError as e:
            _fail(f"{file}: {e}")
        db.session.rollback()
    else:
        # checked again inside the write transaction, so nothing changes between check and import
        done = write_checked(lambda: imp.check_items(village, data, kind),
                             lambda checked: imp.apply_items(village, checked),
                             refusals=(PointsError,), changed_meanwhile=imp.MSG_CHANGED_MEANWHILE)
        if done.error:
            _fail(f"{file}: {done.error}")
        result = done.result
    if not result.ok:
        for line in problem_lines(result.problems):
            click.echo(line)
        click.echo(f"{len(result.problems)} problem(s): nothing written")
        sys.exit(1)
    click.echo(f"found {result.add_count} add items and {result.deduct_count} deduct items "
               f"in {len(result.categories)} categories"
               + (f" ({len(result.new_categories)} new)" if result.new_categories else ""))
    if result.new_scheme:
        click.echo(f"the village has no points scheme yet: one named {imp.DEFAULT_SCHEME_NAME} "
                   + ("would be created" if dry_run else "is created"))
    click.echo("dry run: nothing written" if dry_run else "imported")


def _village_or_fail(code: str):
    village = db.session.scalar(sa.select(Village).where(Village.code == code))
    if village is None:
        _fail(f"no village with code {code!r}")
    return village


@points_cli.command("finalize")
@click.option("--village", "village_code", required=True, help="Village code.")
def points_finalize(village_code: str) -> None:
    """Mark entries whose posting period has ended as final (run daily, e.g. from cron)."""
    g.cli_actor = "cli"
    with write_transaction():
        n = finalize_due(_village_or_fail(village_code).id)
    click.echo(f"{n} entries are final now")


@points_cli.command("close-year")
@click.argument("year", type=click.IntRange(2000, 2200))
@click.option("--village", "village_code", required=True, help="Village code.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def points_close_year(year: int, village_code: str, yes: bool) -> None:
    """Keep YEAR's scores and apply the scheme's year-end policy (carry over or expire)."""
    g.cli_actor = "cli"
    village = _village_or_fail(village_code)
    scheme = village_scheme(village.id)
    if scheme is None:
        _fail("this village has no points scheme")
    if not yes:
        click.confirm(f"Close {year} for {village.name} (policy: {scheme.year_policy})?", abort=True)
    scheme_id = scheme.id
    try:
        with write_transaction():
            n = close_year(db.session.get(PointScheme, scheme_id), year)
    except PointsError as e:
        _fail(str(e))
    click.echo(f"{year} closed for {n} households" if n else f"{year} was already closed: nothing changed")


@click.command("demo")
@click.option("--print-logins", is_flag=True, help="Only print the demo logins.")
@click.option("--households", default=300, show_default=True, help="How many households to generate.")
def demo_command(print_logins: bool, households: int) -> None:
    """Seed the demo village (code demo) when it does not exist yet; running it twice changes nothing."""
    if not print_logins:
        g.cli_actor = "demo"
        created = seed_demo(households=households)
        click.echo("demo village created" if created else "demo village already present: nothing changed")
    click.echo(f"demo logins (password {DEMO_PASSWORD}):")
    for username, role in DEMO_LOGINS:
        click.echo(f"  {username:<10} {role}")

    village = db.session.scalar(sa.select(Village).where(Village.code == DEMO_CODE))
    if village is not None:
        for line in demo_kiosk_lines(village) + demo_patrol_lines():
            click.echo(line)


@kiosk_cli.command("new-device")
@click.option("--village", "village_code", required=True, help="Village code.")
@click.option("--name", required=True, help="Where the kiosk stands, e.g. 村委会大厅.")
def kiosk_new_device(village_code: str, name: str) -> None:
    """Create a kiosk and print its one-time enrolment link path (open it once on the kiosk)."""
    try:
        with write_transaction():
            device, code = ks.create_device(_village_or_fail(village_code), name)
    except ks.KioskError as e:
        _fail(str(e))
    click.echo(f"kiosk {device.id} ({name}): open /kiosk/enrol/{code} once on the kiosk within "
               f"{ks.ENROL_HOURS} hours")


@imports_cli.command("purge")
@click.option("--older-than", "minutes", type=click.IntRange(0, 24 * 60), default=PENDING_MAX_AGE // 60,
              show_default=True, help="Minutes a checked upload may wait for its confirmation.")
def imports_purge(minutes: int) -> None:
    """Delete checked uploads nobody confirmed or cancelled; they hold full ID numbers. Run it from cron."""
    removed = purge_stale_uploads(current_app.instance_path, max_age=minutes * 60)
    click.echo(f"removed {removed} staged files")


@click.command("backup")
@click.option("--keep", type=click.IntRange(1, 10_000), help="Backups to keep (default BACKUP_KEEP, 14).")
@click.option("--dir", "folder", type=click.Path(file_okay=False, path_type=Path),
              help="Where to write it (default BACKUP_DIR, instance/backups).")
def backup_command(keep: int | None, folder: Path | None) -> None:
    """Back up the database and the instance files (photos, keys) while the app runs; keep the newest N."""
    code = installation_code()
    db.session.rollback()  # no read transaction of ours is held while the copy runs
    try:
        made = create_backup(code, folder=folder or backup_dir(), keep=keep)
    except BackupError as e:
        _fail(f"backup FAILED: {e}")
    click.echo(f"{made.path} ({made.size / 1e6:.1f} MB), checksum in {made.checksum_path.name}")


@click.command("restore")
@click.argument("archive", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--into", required=True,
              help="An empty database: a DATABASE_URL (postgresql://…) or the path of a new SQLite file.")
@click.option("--files-into", type=click.Path(file_okay=False, path_type=Path),
              help="An instance folder to put the photos and key files in (default: not restored).")
def restore_command(archive: Path, into: str, files_into: Path | None) -> None:
    """Check ARCHIVE's checksums, load it into a fresh database, then run the ledger and audit checks on it."""
    try:
        result = restore_backup(archive, into, files_into=files_into, checks=checks_on)
    except BackupError as e:
        _fail(f"restore REFUSED: {e}")
    for line in result.lines:
        click.echo(line)
    if files_into is not None:
        click.echo(f"{result.files_restored} files restored into {files_into}")
        for aside in result.keys_set_aside:
            click.echo(f"  the key file there before is kept as {aside}")
    else:
        click.echo("files (photos, keys) not restored: add --files-into INSTANCE_FOLDER for them")
    if not result.ok:
        click.echo(f"restore FAILED its checks: {len(result.problems)} problem(s)")
        sys.exit(1)
    click.echo("restore OK")


def register_cli(app: Flask) -> None:
    app.cli.add_command(village_cli)
    app.cli.add_command(user_cli)
    app.cli.add_command(audit_cli)
    app.cli.add_command(ledger_cli)
    app.cli.add_command(points_cli)
    app.cli.add_command(demo_command)
    app.cli.add_command(statements_cli)
    app.cli.add_command(kiosk_cli)
    app.cli.add_command(imports_cli)
    app.cli.add_command(rules_cli)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
    app.cli.add_command(reports_cli)
