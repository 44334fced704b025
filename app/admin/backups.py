"""What an installation's backups are called, who may download one, and the checks a restored copy passes.

The archives themselves are app/ops/backup.py's; this module adds what needs the features: the village's
code and name, and the ledger's and the audit log's own checks (the ones `flask ledger check` and
`flask audit verify` run), reused on a restored database.
"""
from __future__ import annotations

import re
import time

import sqlalchemy as sa
from flask import Flask, current_app, has_app_context

from ..audit.services import verify
from ..extensions import db
from ..ledger.services import check
from ..registry.models import Township, Village
from ..shop.services import check_stock


def _villages() -> list[Village]:
    return db.session.scalars(sa.select(Village).order_by(Village.code)).all()


def installation_code() -> str:
    """The name backups carry: INSTALLATION_CODE, else the village's (or the one township's) code."""
    configured = current_app.config.get("INSTALLATION_CODE")
    if not configured:
        try:
            villages = _villages()
        except sa.exc.DBAPIError:  # a database not migrated yet still gets its backup
            db.session.rollback()
            villages = []
        townships = {v.township_id for v in villages}
        if len(villages) == 1:
            configured = villages[0].code
        elif villages and len(townships) == 1 and None not in townships:
            configured = db.session.get(Township, townships.pop()).code
        else:
            configured = "xiangyue"
    code = re.sub(r"[^a-z0-9_-]+", "-", configured.strip().lower()).strip("-_")
    return code or "xiangyue"


def installation_label() -> str:
    """The village's (or township's) own name, for a download's file name; the code when there is none."""
    villages = _villages()
    if len(villages) == 1:
        return villages[0].name
    townships = {v.township_id for v in villages}
    if villages and len(townships) == 1 and None not in townships:
        return db.session.get(Township, townships.pop()).name
    return installation_code()


def single_village_installation() -> bool:
    """A village PC: the whole backup is that one village's, so its clerk may take it away."""
    return db.session.scalar(sa.select(sa.func.count(Village.id))) == 1


#: app.extensions key of the menu's answer (value, monotonic time it stops being used)
_MENU_KEY = "xiangyue.single_village_menu"
#: how long a worker shows the menu's backup link from one count of the villages
MENU_SECONDS = 30.0


def single_village_menu() -> bool:
    """single_village_installation for the clerk's menu link, counted at most every MENU_SECONDS per worker
    (the menu is drawn on every clerk page; villages are added about once per installation). A village added
    or removed in this process is seen at once; in another worker within MENU_SECONDS. The download itself
    always asks single_village_installation."""
    app = current_app._get_current_object()
    cached = app.extensions.get(_MENU_KEY)
    now = time.monotonic()
    if cached is None or cached[1] <= now:
        cached = (single_village_installation(), now + MENU_SECONDS)
        app.extensions[_MENU_KEY] = cached
    return cached[0]


def _forget_menu(_mapper, _connection, _target) -> None:
    if has_app_context():
        current_app.extensions.pop(_MENU_KEY, None)


for _event in ("after_insert", "after_delete"):
    sa.event.listen(Village, _event, _forget_menu)


def run_checks() -> tuple[list[str], list[str]]:
    """The ledger, stock and audit chain checks on the current app's database: (report lines, problems)."""
    lines, problems = [], []
    ledger_problems = check() + check_stock()
    problems += ledger_problems
    verdict = f"FAILED, {len(ledger_problems)} problem(s)" if ledger_problems else "clean"
    lines.append(f"ledger check: {verdict}")
    lines += [f"  {p}" for p in ledger_problems]
    checked, broken, why = verify()
    if broken is None:
        lines.append(f"audit chain intact: {checked} rows")
    else:
        problems.append(f"audit chain broken at seq {broken}: {why}")
        lines.append(f"audit chain BROKEN at seq {broken}: {why} ({checked} rows before it are intact)")
    transfers = db.session.scalar(sa.text("SELECT count(*) FROM transfers"))
    lines.append(f"transfers: {transfers}")
    db.session.rollback()
    return lines, problems


def checks_on(url: str) -> tuple[list[str], list[str]]:
    """run_checks() on another database (a restored copy), through an app of its own."""
    from .. import create_app

    app: Flask = current_app._get_current_object()
    restored = create_app({
        "SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": app.instance_path, "TESTING": app.testing,
        "SECRET_KEY": app.config["SECRET_KEY"], "ID_HMAC_KEY": app.config["ID_HMAC_KEY"],
        "ENV_NAME": app.config.get("ENV_NAME"),
    })
    with restored.app_context():
        try:
            return run_checks()
        finally:
            db.session.remove()
            db.engine.dispose()
