"""Rule sets for tests: a charter imported and carried through the whole adoption procedure."""
from __future__ import annotations

import datetime as dt

from app.rules import services as rules
from app.rules.models import RuleVersion


def adopt(v: RuleVersion, publish: bool = True) -> RuleVersion:
    """Record every adoption step of `v` in March 2024 (a representatives' assembly, 25 of 27 present for)
    and adopt it; with `publish`, file it, post the resolution and publish it. Call inside a write transaction."""
    d = dt.date
    rules.record_step(v, "proposal", held_on=d(2024, 3, 1), body="村党支部")
    rules.record_step(v, "two_committees", held_on=d(2024, 3, 2), body="两委")
    rules.record_step(v, "party_meeting", held_on=d(2024, 3, 5), eligible=30, present=25, votes_yes=24)
    rules.record_step(v, "legal_review", held_on=d(2024, 3, 8), body="青山镇人民政府", approved=True)
    rules.record_step(v, "assembly", held_on=d(2024, 3, 15), assembly_kind="representatives", eligible=30,
                      present=27, women_present=9, votes_yes=25, votes_no=1, votes_abstain=1)
    rules.advance(v, "adopted")
    if publish:
        rules.record_step(v, "filing", held_on=d(2024, 3, 20), body="青山镇人民政府")
        rules.record_step(v, "resolution_public", held_on=d(2024, 3, 18), body="村务公开栏")
        rules.advance(v, "published")
    return v
