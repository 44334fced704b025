"""Household cards: the printed A4 sheet read back with pypdf, reissue invalidates the old code."""
from __future__ import annotations

import io
import re

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from app.extensions import db
from app.kiosk import services as ks
from app.kiosk.models import HouseholdCard
from tests.conftest import ID_RE, valid_id
from tests.kiosk_helpers import PEOPLE, seed


@pytest.fixture
def seeded(village, make_user, make_household):
    return seed(village, make_user, make_household, valid_id)


@pytest.fixture
def codes(monkeypatch):
    """Every card code the views issue, in order (the code itself is only ever in the QR code)."""
    issued: list[str] = []
    real = ks.issue_card

    def spy(household, **kw):
        code = real(household, **kw)
        issued.append(code)
        return code

    monkeypatch.setattr(ks, "issue_card", spy)
    return issued


def _pdf_text(resp) -> str:
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    assert resp.headers["Cache-Control"] == "no-store"
    reader = PdfReader(io.BytesIO(resp.data))
    return "\n".join(p.extract_text() for p in reader.pages)


def test_one_household_card_prints_masked_name_and_number_and_no_id(clerk_client, village, seeded, codes):
    hid = seeded["households"]["0501"]
    text = _pdf_text(clerk_client.post(f"/kiosk-admin/households/{hid}/card"))
    assert "0501" in text and "户号" in text
    assert "钱*有" in text and "第一村民小组" in text
    assert "钱大有" not in text
    assert not ID_RE.search(text.replace(" ", ""))
    assert codes and codes[0] not in text  # the code is in the QR only
    assert ks.find_household_by_card_code(village, codes[0]).id == hid


def test_reissuing_a_card_invalidates_the_old_code(clerk_client, village, seeded, codes):
    hid = seeded["households"]["0501"]
    clerk_client.post(f"/kiosk-admin/households/{hid}/card")
    clerk_client.post(f"/kiosk-admin/households/{hid}/card")
    old, new = codes
    db.session.rollback()
    assert ks.find_household_by_card_code(village, old) is None
    assert ks.find_household_by_card_code(village, new).id == hid
    cards = list(db.session.scalars(sa.select(HouseholdCard).where(HouseholdCard.household_id == hid)
                                    .order_by(HouseholdCard.id)))
    assert len(cards) == 2 and cards[0].revoked_at is not None and cards[1].revoked_at is None
    # only digests are stored
    assert all(c.code_hash not in (old, new) and len(c.code_hash) == 64 for c in cards)


def test_sheet_for_the_village_then_only_missing_cards(clerk_client, village, seeded, codes):
    text = _pdf_text(clerk_client.post("/kiosk-admin/cards", data={"group_id": "", "mode": "missing"}))
    for number in ("0501", "0502", "0503", "0504", "0505"):
        assert number in text
    for name in PEOPLE:
        assert name not in text
    assert not ID_RE.search(text.replace(" ", ""))
    assert len(codes) == 5
    # everyone has a card now: "missing only" prints nothing and says why
    r = clerk_client.post("/kiosk-admin/cards", data={"group_id": "", "mode": "missing"})
    assert r.status_code == 200 and "都已有户卡" in r.get_data(as_text=True)
    assert len(codes) == 5


def test_sheet_for_one_group_reissues_its_cards(clerk_client, village, seeded, codes):
    clerk_client.post("/kiosk-admin/cards", data={"group_id": "", "mode": "missing"})
    first = dict(zip(("0501", "0502", "0503", "0504", "0505"), codes))
    group_id = db.session.scalar(sa.text("SELECT id FROM villager_groups WHERE name = '第二村民小组'"))
    text = _pdf_text(clerk_client.post("/kiosk-admin/cards", data={"group_id": str(group_id), "mode": "all"}))
    assert "0504" in text and "0505" in text and "0501" not in text
    db.session.rollback()
    assert ks.find_household_by_card_code(village, first["0504"]) is None
    assert ks.find_household_by_card_code(village, first["0501"]) is not None


def test_a_group_of_another_village_is_refused(clerk_client, make_village, seeded, codes):
    from app.registry.services import create_group
    from app.submission import write_transaction

    other = make_village("v2", "二号村")
    with write_transaction():
        g = create_group(other, "外村小组")
    r = clerk_client.post("/kiosk-admin/cards", data={"group_id": str(g.id), "mode": "all"})
    assert r.status_code == 200 and r.mimetype == "text/html"
    assert codes == []


def test_cards_page_renders(clerk_client, seeded):
    html = clerk_client.get("/kiosk-admin/cards").get_data(as_text=True)
    assert "第一村民小组" in html and re.search(r'name="mode"', html)
