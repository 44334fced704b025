"""Command-line groups; every command calls the services and commits once."""
from __future__ import annotations

import sys

import click
import sqlalchemy as sa
from flask import Flask, g
from flask.cli import AppGroup

from .extensions import begin_write, db

village_cli = AppGroup("village", help="Villages and townships.")
user_cli = AppGroup("user", help="Logins and their roles.")
audit_cli = AppGroup("audit", help="The audit log.")
ledger_cli = AppGroup("ledger", help="The points ledger.")


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
    from .registry.models import Township
    from .registry.services import RegistryError, create_township, create_village

    g.cli_actor = "cli"
    begin_write()
    try:
        township = None
        if township_code:
            township = db.session.scalar(sa.select(Township).where(Township.code == township_code))
            if township is None:
                township = create_township(township_code, township_name or township_code)
        village = create_village(code.strip().lower(), name.strip(), township)
    except RegistryError as e:
        db.session.rollback()
        _fail(str(e))
    db.session.commit()
    click.echo(f"village {village.code} created (id {village.id})")


@village_cli.command("list")
def village_list() -> None:
    """List villages."""
    from .registry.models import Village

    for v in db.session.scalars(sa.select(Village).order_by(Village.code)):
        click.echo(f"{v.code}\t{v.name}\t{v.township.code if v.township else '-'}")


@user_cli.command("create")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--name", "display_name", help="Name shown in the interface.")
@click.option("--role", "roles", multiple=True, help="ROLE or ROLE@VILLAGE_CODE (township: township@TOWNSHIP_CODE).")
def user_create(username: str, password: str, display_name: str | None, roles: tuple[str, ...]) -> None:
    """Create a login and grant roles, e.g. --role admin --role clerk@demo."""
    from .auth.models import Role
    from .auth.services import AuthError, create_user, grant
    from .registry.models import Township, Village

    g.cli_actor = "cli"
    begin_write()
    try:
        user = create_user(username, password, display_name)
        for spec in roles:
            role, _, scope = spec.partition("@")
            try:
                Role(role)
            except ValueError:
                raise AuthError(f"unknown role {role!r}; known: {', '.join(r.value for r in Role)}") from None
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
        db.session.rollback()
        _fail(str(e))
    db.session.commit()
    click.echo(f"user {user.username} created with roles: {', '.join(roles) or 'none'}")


@audit_cli.command("verify")
def audit_verify() -> None:
    """Walk the hash chain; report the first broken row and exit 1 if there is one."""
    from .audit.services import verify

    checked, broken, why = verify()
    if broken is None:
        click.echo(f"audit chain intact: {checked} rows")
        return
    click.echo(f"audit chain BROKEN at seq {broken}: {why} ({checked} rows before it are intact)")
    sys.exit(1)


@ledger_cli.command("check")
@click.option("--village", "village_code", help="Village code; all villages when omitted.")
def ledger_check(village_code: str | None) -> None:
    """Check the ledger invariants; print every violation and exit 1 if there is one."""
    from .ledger.services import check
    from .registry.models import Village

    village_id = None
    if village_code:
        village_id = db.session.scalar(sa.select(Village.id).where(Village.code == village_code))
        if village_id is None:
            _fail(f"no village with code {village_code!r}")
    problems = check(village_id)
    if problems:
        for line in problems:
            click.echo(line)
        click.echo(f"ledger check FAILED: {len(problems)} problem(s)")
        sys.exit(1)
    click.echo("ledger check clean")


@click.command("demo")
@click.option("--print-logins", is_flag=True, help="Only print the demo logins.")
@click.option("--households", default=300, show_default=True, help="How many households to generate.")
def demo_command(print_logins: bool, households: int) -> None:
    """Seed the demo village (code demo) when it does not exist yet; running it twice changes nothing."""
    from .demo import DEMO_LOGINS, DEMO_PASSWORD, seed_demo

    if not print_logins:
        g.cli_actor = "demo"
        created = seed_demo(households=households)
        click.echo("demo village created" if created else "demo village already present: nothing changed")
    click.echo(f"demo logins (password {DEMO_PASSWORD}):")
    for username, role in DEMO_LOGINS:
        click.echo(f"  {username:<10} {role}")


def register_cli(app: Flask) -> None:
    app.cli.add_command(village_cli)
    app.cli.add_command(user_cli)
    app.cli.add_command(audit_cli)
    app.cli.add_command(ledger_cli)
    app.cli.add_command(demo_command)
