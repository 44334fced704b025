"""The world the route gates run in: two villages full of every feature's rows, a login per role.

Village A ("demo", township demo-town) is the users' own village, village B ("gate-b", township gate-town)
is another village. Both are the demo village (app/demo.py) with a small register: the demo is seeded once,
renamed to B (code, township and user names "b-…"), and seeded again as A. On top of the demo: three
mediation cases (A: one assigned to the mediator, one unassigned; B: one), a points objection and a
statement job per village, and an enrolled kiosk of A with household OWN_HOUSEHOLD open on it.

`world.ids[kind][scope]` holds one row id per kind of object and scope:
  own            a row of village A (for the kiosk: of its open household; for the mediator: a case of theirs)
  other_village  a row of village B
  other_household a row of village A that belongs to another household than the kiosk's (kinds of a household)
  unassigned     a mediation case of village A no mediator is assigned to (kind "case")
"""
from __future__ import annotations

import dataclasses
import re
from typing import Any

import sqlalchemy as sa

from app.db import local_today
from app.extensions import db
from app.submission import write_transaction
from tests.conftest import FreshContextClient

PASSWORD = "demo1234"  # app.demo.DEMO_PASSWORD
#: role → login name in village A (the demo's users)
USERS = {"admin": "admin", "township": "township", "clerk": "clerk", "reviewer": "reviewer", "cashier": "cashier",
         "patrol_leader": "patrol", "mediator": "mediator", "grid_worker": "grid"}
KIOSK_PIN = "4826"
OWN_NUMBER_INDEX = 0  # the kiosk opens the first household of village A by number


@dataclasses.dataclass
class World:
    ids: dict[str, dict[str, int]]
    village_a: int
    village_b: int
    kiosk_household: int
    kiosk_household_number: str
    kiosk_device: tuple[int, str]  # (device id, token) of village A's enrolled kiosk
    year: int
    month: int

    def id(self, kind: str, scope: str) -> int | None:
        return self.ids.get(kind, {}).get(scope)


def _models() -> dict[str, tuple[Any, Any]]:
    """kind → (model, the household column or None): every kind of row a URL can name."""
    from app.auth.models import Membership, User
    from app.grid.models import Grid, GridEvent, Visit
    from app.kiosk.models import KioskDevice
    from app.mediation.models import MediationCase
    from app.patrol.models import (
        PatrolCheckpoint,
        PatrolFinding,
        PatrolMember,
        PatrolPlace,
        PatrolRoute,
        PatrolShift,
        PatrolTeam,
    )
    from app.points.models import Objection, PointEntry, PointItem
    from app.registry.models import Household, Person, Village, VillagerGroup
    from app.rules.models import DigestItem, RuleArticle, RuleSet, RuleVersion
    from app.shop.models import Donation, Product, Redemption, RedemptionLine, Stocktake
    from app.statements.models import StatementJob

    return {
        "household": (Household, Household.id), "person": (Person, Person.household_id),
        "group": (VillagerGroup, None), "village": (Village, None), "user": (User, None),
        "membership": (Membership, None),
        "grid": (Grid, None), "grid_event": (GridEvent, None), "visit": (Visit, None),
        "kiosk_device": (KioskDevice, None), "case": (MediationCase, None),
        "team": (PatrolTeam, None), "member": (PatrolMember, None), "route": (PatrolRoute, None),
        "checkpoint": (PatrolCheckpoint, None), "shift": (PatrolShift, None), "place": (PatrolPlace, None),
        "finding": (PatrolFinding, None),
        "entry": (PointEntry, PointEntry.household_id), "objection": (Objection, None),
        "point_item": (PointItem, None),
        "ruleset": (RuleSet, None), "version": (RuleVersion, None), "article": (RuleArticle, None),
        "digest_item": (DigestItem, None),
        "product": (Product, None), "donation": (Donation, None), "redemption": (Redemption, None),
        "redemption_line": (RedemptionLine, None), "stocktake": (Stocktake, None),
        "statement_job": (StatementJob, None),
    }


def _rename_demo_to_b() -> None:
    from app.auth.models import User
    from app.kiosk.models import KioskDevice
    from app.registry.models import Village
    from app.registry.services import create_township

    with write_transaction():
        v = db.session.scalar(sa.select(Village).where(Village.code == "demo"))
        v.code, v.name = "gate-b", "乙村"
        v.township_id = create_township("gate-town", "乙镇").id
        for u in db.session.scalars(sa.select(User)):
            u.username = f"b-{u.username}"
        for d in db.session.scalars(sa.select(KioskDevice).where(KioskDevice.village_id == v.id)):
            d.name, d.enrol_hash = "乙村大厅", f"gate-b-{d.id}"


def _extras(village, suffix: str) -> dict[str, int]:
    """What the demo leaves out: mediation cases, an objection, a patrol finding, a stocktake and a statement
    job (returns the case ids)."""
    from app.auth.models import User
    from app.db import utcnow
    from app.mediation import services as ms
    from app.mediation.models import DisputeType, Intake, PartyRole
    from app.patrol import services as patrol
    from app.patrol.models import FindingAction, FindingKind, PatrolShift
    from app.points import services as pts
    from app.points.models import Objection, PointEntry
    from app.shop import services as shop
    from app.shop.models import Product
    from app.statements.batch import queue_job
    from app.statements.services import resolve_period

    prefix = "" if suffix == "a" else "b-"
    mediator = db.session.scalar(sa.select(User).where(User.username == f"{prefix}mediator"))
    today = local_today()
    parties = [ms.PartyData(role=PartyRole.APPLICANT.value, name=f"申请人{suffix}"),
               ms.PartyData(role=PartyRole.RESPONDENT.value, name=f"被申请人{suffix}")]
    data = ms.CaseData(received_on=today, intake=next(iter(Intake)).value,
                       dispute_type=next(iter(DisputeType)).value, summary=f"邻里纠纷{suffix}")
    assigned = ms.register_case(village, data, parties, mediators=[mediator])
    unassigned = ms.register_case(village, dataclasses.replace(data, summary=f"无人负责{suffix}"), parties)
    if not db.session.scalar(sa.select(Objection.id).where(Objection.village_id == village.id)):
        on_posting = [e for e in db.session.scalars(sa.select(PointEntry).where(
            PointEntry.village_id == village.id, PointEntry.status == "posted").order_by(PointEntry.id.desc()))
            if pts.effective_status(e, today) == "posted"]
        pts.file_objection(on_posting[0], reason="分数不对", objector_name=f"异议人{suffix}")
    shift = db.session.scalar(sa.select(PatrolShift).where(PatrolShift.village_id == village.id)
                              .order_by(PatrolShift.id))
    patrol.record_finding(shift, kind=next(iter(FindingKind)).value, text=f"路灯坏了{suffix}",
                          action=next(iter(FindingAction)).value)
    product = db.session.scalar(sa.select(Product).where(Product.village_id == village.id).order_by(Product.id))
    shop.stocktake(village, {product: product.stock})
    period = resolve_period("year", year=today.year)
    job = queue_job(village.id, period, group_id=None, paper="a4", base_url="http://localhost/",
                    key=f"gate-{suffix}-" + "0" * 24)
    job.status, job.error, job.finished_at, job.heartbeat_at = "failed", "gate world", utcnow(), None
    db.session.flush()
    return {"assigned": assigned.id, "unassigned": unassigned.id}


def seed_world(households: int = 20) -> World:
    """Seed the two villages (inside an app context on an empty migrated database)."""
    from app.demo import seed_demo
    from app.kiosk import services as ks
    from app.registry.models import Household, Village

    seed_demo(households=households)
    _rename_demo_to_b()
    seed_demo(households=households)
    va = db.session.scalar(sa.select(Village).where(Village.code == "demo"))
    vb = db.session.scalar(sa.select(Village).where(Village.code == "gate-b"))
    with write_transaction():
        cases_a = _extras(db.session.get(Village, va.id), "a")
        cases_b = _extras(db.session.get(Village, vb.id), "b")
    homes = list(db.session.scalars(sa.select(Household).where(Household.village_id == va.id)
                                    .order_by(Household.number)))
    own, other = homes[OWN_NUMBER_INDEX], homes[OWN_NUMBER_INDEX + 1]
    with write_transaction():
        ks.set_pin(db.session.get(Household, own.id), KIOSK_PIN)
        device, code = ks.create_device(db.session.get(Village, va.id), "门岗自助机")
        device, token = ks.enrol_device(code)
    ids: dict[str, dict[str, int]] = {}
    for kind, (model, household_col) in _models().items():
        scopes: dict[str, int] = {}
        vcol = getattr(model, "village_id", None)
        for scope, vid in (("own", va.id), ("other_village", vb.id)):
            q = sa.select(model.id).order_by(model.id).limit(1)
            if vcol is not None:
                q = q.where(vcol == vid)
            elif kind == "village":
                q = q.where(model.id == vid)
            if household_col is not None and scope == "own":
                # the kiosk's own household where the kind belongs to one; the rest see it as any row of A
                q = q.where(household_col == own.id)
            found = db.session.scalar(q)
            if found is None and household_col is not None and scope == "own":
                found = db.session.scalar(sa.select(model.id).where(vcol == vid).order_by(model.id).limit(1))
            if found is not None:
                scopes[scope] = found
        if household_col is not None:
            found = db.session.scalar(sa.select(model.id).where(vcol == va.id, household_col == other.id)
                                      .order_by(model.id).limit(1))
            if found is not None:
                scopes["other_household"] = found
        ids[kind] = scopes
    from app.auth.models import User

    ids["user"] = {"own": db.session.scalar(sa.select(User.id).where(User.username == "clerk")),
                   "other_village": db.session.scalar(sa.select(User.id).where(User.username == "b-clerk"))}
    ids["case"] = {"own": cases_a["assigned"], "unassigned": cases_a["unassigned"],
                   "other_village": cases_b["assigned"]}
    today = local_today()
    world = World(ids=ids, village_a=va.id, village_b=vb.id, kiosk_household=own.id,
                  kiosk_household_number=own.number, kiosk_device=(device.id, token),
                  year=today.year, month=today.month)
    db.session.rollback()
    return world


# --- clients ------------------------------------------------------------------------------------------

def csrf_token(client, url: str) -> str | None:
    """The CSRF token of the form on `url` (None when CSRF is off and the form has none)."""
    body = client.get(url).get_data(as_text=True)
    m = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', body) or \
        re.search(r'name="csrf_token" value="([^"]+)"', body)
    return m.group(1) if m else None


def _with_token(client, url: str, data: dict) -> dict:
    token = csrf_token(client, url) if client.application.config.get("WTF_CSRF_ENABLED") else None
    return {**data, "csrf_token": token} if token else data


def login(app, username: str, password: str = PASSWORD):
    """A fresh browser logged in as `username` (with the form's CSRF token when CSRF is on)."""
    app.test_client_class = FreshContextClient
    c = app.test_client()
    r = c.post("/login", data=_with_token(c, "/login", {"username": username, "password": password}))
    assert r.status_code == 302, (username, r.status_code, r.get_data(as_text=True)[:300])
    return c


def kiosk_client(app, world: World):
    """A fresh browser that is village A's kiosk with the kiosk household open (PIN typed)."""
    from tests.kiosk_helpers import device_cookie

    app.test_client_class = FreshContextClient
    c = app.test_client()
    c.set_cookie("xy_kiosk_device", device_cookie(app, *world.kiosk_device), path="/kiosk")
    open_kiosk_household(c, world)
    return c


def open_kiosk_household(c, world: World) -> None:
    r = c.post("/kiosk/number", data=_with_token(c, "/kiosk/number", {"number": world.kiosk_household_number}))
    assert r.status_code == 302 and r.headers["Location"].endswith("/kiosk/pin"), r.status_code
    r = c.post("/kiosk/pin", data=_with_token(c, "/kiosk/pin", {"pin": KIOSK_PIN}))
    assert r.status_code == 302 and r.headers["Location"].endswith("/kiosk/home"), r.get_data(as_text=True)[:500]
