"""Figure 11: the home page of a county user over 200 villages (the per-village counts of app.main.today).

Kept in its own file (registered with figures.py's @figure) so that it merges beside the other figures. The user
holds the township role in every township of the database; when the database has fewer than 200 villages in
townships (no `--county`, or the quick run) the figure adds light villages (a register each, no work) to reach
the count, so the grouped statements run over as many villages as a county has.
"""
from __future__ import annotations

import sqlalchemy as sa

from .common import BENCH_PASSWORD
from .figures import Context, Row, _logged_in, _wrk_rows, figure, wrk_page

COUNTY_USER = "bench-county"
VILLAGES = 200
QUICK_VILLAGES = 20
FILL_TOWNSHIP = "bench-home"


def county_setup(app, villages: int) -> tuple[int, int]:
    """The county user with the township role in every township, and at least `villages` villages in
    townships; returns (villages the user oversees, villages with any entry)."""
    from flask import g

    from app.auth.models import Membership, User
    from app.auth.services import create_user, grant
    from app.extensions import db
    from app.points.models import PointEntry
    from app.registry.models import Township, Village
    from app.registry.services import create_township, create_village
    from app.submission import write_transaction

    with app.app_context():
        g.cli_actor = "bench"
        with write_transaction():
            have = db.session.scalar(sa.select(sa.func.count(Village.id)).where(Village.township_id.is_not(None)))
            if have < villages:
                town = db.session.scalar(sa.select(Township).where(Township.code == FILL_TOWNSHIP)) \
                    or create_township(FILL_TOWNSHIP, "基准测试县直属")
                taken = set(db.session.scalars(sa.select(Village.code)))
                n = 0
                while have < villages:
                    n += 1
                    code = f"h{n:03d}"
                    if code not in taken:
                        create_village(code, f"首页{n:03d}村", town)
                        have += 1
            user = db.session.scalar(sa.select(User).where(User.username == COUNTY_USER)) \
                or create_user(COUNTY_USER, BENCH_PASSWORD)
            held = set(db.session.scalars(sa.select(Membership.township_id).where(
                Membership.user_id == user.id, Membership.role == "township")))
            for town in db.session.scalars(sa.select(Township)):
                if town.id not in held:
                    grant(user, "township", township=town)
        overseen = db.session.scalar(sa.select(sa.func.count(Village.id)).where(Village.township_id.is_not(None)))
        busy = db.session.scalar(sa.select(sa.func.count(sa.distinct(PointEntry.village_id))))
        db.session.remove()
    return overseen, busy


@figure("11", "Home page of a county user over 200 villages (/ with the per-village counts)")
def fig_county_home(ctx: Context) -> list[Row]:
    target = QUICK_VILLAGES if ctx.quick else VILLAGES
    overseen, busy = county_setup(ctx.app, target)
    ctx.log(f"    {overseen} villages in the user's townships, {busy} with points entries")
    with ctx.server() as server:
        client = _logged_in(server, COUNTY_USER)
        page = client.get("/")
        client.close()
        if page.status != 200 or 'id="today-township"' not in page.text:
            raise RuntimeError(f"home page answered {page.status} without the villages' counts")
        results = wrk_page(ctx, server, "/", client.cookie_header())
    rows = _wrk_rows("11", "county home page", results, 100, server)
    rows[0].note = (rows[0].note + "; " if rows[0].note else "") + \
        f"{overseen} villages ({busy} with points entries)"
    return rows
