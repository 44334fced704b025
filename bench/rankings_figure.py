"""Figure 12: the rankings page (/points/rankings) of the 2,000-household village for a clerk.

Kept in its own file (registered with figures.py's @figure). The page shows the first 200 households and the
first 50 people of the year, ranked in SQL (RANK() over the grouped scores); the figure counts the statements
of one view in a warm process (before_cursor_execute) and loads the page with wrk for its server CPU.
"""
from __future__ import annotations

import sqlalchemy as sa

from . import load
from .common import BENCH_PASSWORD
from .figures import Context, Row, _logged_in, _village_id, _wrk_rows, figure, wrk_page

RANKINGS_PATH = "/points/rankings"
STATEMENTS_GOAL = 5
CPU_GOAL_MS = 20.0
CLERK = "bench-clerk"


def count_statements(app, path: str, username: str = CLERK) -> int:
    """Statements one view of `path` sends to the database in a warm process (each request in its own
    context, as in a worker; the second view is counted). BEGIN/COMMIT are not statements of the page."""
    from flask.testing import FlaskClient

    from app.extensions import db

    class Fresh(FlaskClient):
        def open(self, *args, **kwargs):
            with self.application.app_context():
                return super().open(*args, **kwargs)

    client = Fresh(app, app.response_class, use_cookies=True)
    page = client.get("/login")
    token = load.CSRF_RE.search(page.get_data(as_text=True))
    r = client.post("/login", data={"username": username, "password": BENCH_PASSWORD,
                                    "csrf_token": token.group(1) if token else ""})
    if r.status_code != 302:
        raise RuntimeError(f"login as {username}: HTTP {r.status_code}")
    if client.get(path).status_code != 200:
        raise RuntimeError(f"{path}: not 200")
    seen: list[str] = []

    def count(conn, cursor, statement, params, context, executemany):
        if statement.strip().upper() not in ("BEGIN", "COMMIT", "ROLLBACK"):
            seen.append(statement)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        status = client.get(path).status_code
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    if status != 200:
        raise RuntimeError(f"{path}: HTTP {status}")
    return len(seen)


@figure("12", "Rankings page of the 2,000-household village for a clerk (/points/rankings)")
def fig_rankings(ctx: Context) -> list[Row]:
    from app.extensions import db
    from app.registry.models import Household, HouseholdStatus

    vid = _village_id(ctx)
    with ctx.app.app_context():
        households = db.session.scalar(sa.select(sa.func.count(Household.id)).where(
            Household.village_id == vid, Household.status == HouseholdStatus.ACTIVE.value))
        db.session.remove()
    statements = count_statements(ctx.app, RANKINGS_PATH)
    ctx.log(f"    {households:,} active households; {statements} statements per view")
    with ctx.server() as server:
        client = _logged_in(server, CLERK)
        page = client.get(RANKINGS_PATH)
        client.close()
        if page.status != 200 or page.text.count("<tr><td>") < 2:
            raise RuntimeError(f"rankings page answered {page.status} without rows")
        results = wrk_page(ctx, server, RANKINGS_PATH, client.cookie_header())
    rows = _wrk_rows("12", "rankings page", results, None, server)
    rows[0].note = (rows[0].note + "; " if rows[0].note else "") + \
        f"{households:,} active households; the first 200 households and 50 people shown"
    cpu = rows[-1]
    cpu.goal, cpu.met = f"≤ {CPU_GOAL_MS:g} ms", cpu.median <= CPU_GOAL_MS
    return [Row("12", "rankings page: statements per view (warm worker)", "", [statements],
                f"≤ {STATEMENTS_GOAL}", statements <= STATEMENTS_GOAL, "counted with before_cursor_execute"),
            *rows]
