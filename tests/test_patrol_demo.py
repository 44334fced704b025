"""The demo village's patrol: a team with a roster, a week of confirmed shifts waiting for review, a member's
phone log-in, all seeded once."""
from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.ledger import services as ledger
from app.patrol.demo import DEMO_TEAM
from app.patrol.models import PatrolShift, PatrolTeam
from app.points.models import PointEntry


def test_the_demo_has_a_patrol_team_to_look_at(runner, client):
    r = runner.invoke(args=["demo", "--households", "40"])
    assert r.exit_code == 0, r.output
    assert "xunluo" in r.output
    team = db.session.scalars(sa.select(PatrolTeam)).one()
    assert team.name == DEMO_TEAM and len(team.members) == 6
    confirmed = db.session.scalar(sa.select(sa.func.count()).select_from(PatrolShift)
                                  .where(PatrolShift.status == "confirmed"))
    patrol_entries = db.session.scalar(sa.select(sa.func.count()).select_from(PointEntry)
                                       .where(PointEntry.source == "patrol"))
    assert confirmed >= 1 and patrol_entries >= confirmed  # two places a shift, less the absence and leave
    assert runner.invoke(args=["demo"]).output.count("nothing changed") == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PatrolTeam)) == 1
    client.post("/login", data={"username": "patrol", "password": "demo1234"})
    assert DEMO_TEAM in client.get("/patrol/").get_data(as_text=True)
    assert "出勤率" in client.get("/patrol/reports").get_data(as_text=True)
    client.post("/logout")
    client.post("/login", data={"username": "xunluo", "password": "demo1234"})
    assert "我的巡逻班次" in client.get("/").get_data(as_text=True)
    assert client.get("/patrol/me").status_code == 200
    village_id = team.village_id
    assert ledger.check(village_id) == []
