"""Demo data for the kiosk: one device waiting for its enrolment link, PINs for a few households."""
from __future__ import annotations

import sqlalchemy as sa

from ..extensions import db
from ..registry.models import Household, HouseholdStatus
from . import services as ks
from .models import KioskDevice

#: the demo kiosk's enrolment code (a demo only: a real one is random and shown once)
DEMO_ENROL_CODE = "demo-kiosk-enrol-link"
#: PINs of the first demo households by 户号 (printed by `flask demo --print-logins`)
DEMO_PINS = ("2580", "3691", "4826")


def _demo_households(village):
    return list(db.session.scalars(sa.select(Household).where(
        Household.village_id == village.id, Household.status == HouseholdStatus.ACTIVE.value)
        .order_by(Household.number).limit(len(DEMO_PINS))))


def seed_kiosk_demo(village, clerk) -> bool:
    """Add the demo kiosk device and PINs once; False when they exist already."""
    if db.session.scalar(sa.select(KioskDevice.id).where(KioskDevice.village_id == village.id)):
        return False
    ks.create_device(village, "村委会大厅（演示）", actor=clerk, code=DEMO_ENROL_CODE, hours=24 * 365)
    for household, pin in zip(_demo_households(village), DEMO_PINS):
        ks.set_pin(household, pin, actor=clerk)
    return True


def demo_kiosk_lines(village) -> list[str]:
    """What `flask demo --print-logins` prints about the kiosk."""
    lines = [f"kiosk: open /kiosk/enrol/{DEMO_ENROL_CODE} once on the kiosk screen "
             "(works once; make a new link under 自助查询机 afterwards)"]
    for household, pin in zip(_demo_households(village), DEMO_PINS):
        lines.append(f"  kiosk PIN for 户号 {household.number}: {pin}")
    return lines
