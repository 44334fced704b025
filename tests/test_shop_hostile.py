"""Hostile inputs on every shop form, table-driven: never a 500; a refused value gives a message and
writes nothing; full-width digits are numbers (１０ = 10).

Names that go on printed sheets and receipts (product, donor, receipt number, condition) refuse web page
tags and spreadsheet formula text with a message; free text (notes, reasons) follows the project's rule
(tests/test_hostile.py): stored as typed, always shown escaped. Text longer than the field is refused.
"""
from __future__ import annotations

import re
import secrets

import pytest
import sqlalchemy as sa

from app.audit.models import AuditLog
from app.extensions import db
from app.shop.models import Redemption, StockMovement
from app.submission import write_transaction
from tests.test_shop_views import _cart, _key, _login, shopfront  # noqa: F401  (fixture re-used)

SCRIPT = "<script>alert(1)</script>"
FORMULA = '=HYPERLINK("http://evil.example","点我")'
LONG = "长" * 10_000
QUANTITIES = ["0", "-1", "1.5", "１０", "10000000"]
TEXTS = [SCRIPT, FORMULA, LONG]

# form → (url, fields the form needs; "{rice}" is the product id, "{key}" a fresh idempotency key)
FORMS = {
    "product_new": ("/shop/products/new", {"name": "洗衣粉", "unit": "袋", "price_points": "8"}),
    "product_edit": ("/shop/products/{rice}", {"name": "大米", "spec": "5kg", "unit": "袋", "price_points": "10",
                                               "reorder_level": "5", "active": "y"}),
    "purchase": ("/shop/products/{rice}/purchase", {"idempotency_key": "{key}", "qty": "5",
                                                    "reason": "镇供销社"}),
    "counter": ("/shop/counter", {"idempotency_key": "{key}", "household_id": "{household}",
                                  "qty_{rice}": "1", "confirm": "1"}),
    "cancel": ("/shop/redemptions/{redemption}/cancel", {"reason": "拿错了"}),
    "donation": ("/shop/donations/new", {"idempotency_key": "{key}", "donor_kind": "person", "donor_name": "王五",
                                         "qty_{rice}": "2", "cond_{rice}": "全新", "receipt_no": "", "note": ""}),
    "stocktake": ("/shop/stocktake", {"idempotency_key": "{key}", "counted_{rice}": "48", "reason_{rice}": "盘亏",
                                      "note": ""}),
    "write_off": ("/shop/write-off", {"idempotency_key": "{key}", "product_id": "{rice}", "qty": "2",
                                      "kind": "damaged", "reason": "压坏"}),
}

# (form, field, lowest, highest) for numbers typed by a person
NUMBER_FIELDS = [
    ("product_new", "price_points", 1, 100_000), ("product_new", "reorder_level", 0, 1_000_000),
    ("product_edit", "price_points", 1, 100_000), ("purchase", "qty", 1, 10_000),
    ("counter", "qty_{rice}", 1, 10_000), ("donation", "qty_{rice}", 1, 10_000),
    ("stocktake", "counted_{rice}", 0, 1_000_000), ("write_off", "qty", 1, 10_000),
]
# names refuse markup and formula text; the other text fields keep them as typed
NAME_FIELDS = {("product_new", "name"), ("product_new", "spec"), ("product_new", "unit"), ("product_new", "category"),
               ("product_edit", "name"), ("donation", "donor_name"), ("donation", "receipt_no"),
               ("donation", "cond_{rice}")}
# (form, field, longest) for text
TEXT_FIELDS = [
    ("product_new", "name", 64), ("product_new", "spec", 32), ("product_new", "unit", 8),
    ("product_new", "category", 32), ("product_edit", "name", 64), ("purchase", "reason", 200),
    ("cancel", "reason", 200), ("donation", "donor_name", 64), ("donation", "receipt_no", 48),
    ("donation", "cond_{rice}", 32), ("donation", "note", 500), ("stocktake", "reason_{rice}", 200),
    ("stocktake", "note", 500), ("write_off", "reason", 180),
]
# shop pages that show what was typed
PAGES = ["/shop/products", "/shop/donations", "/shop/counter?q=0101", "/shop/redemptions/{redemption}",
         "/shop/stocktake", "/shop/reports"]


def _number(raw: str) -> int | None:
    """What a person meant, if it is a whole number: full-width digits count, signs and decimals do not."""
    s = raw.translate(str.maketrans("０１２３４５６７８９", "0123456789"))
    return int(s) if s.isascii() and s.isdigit() else None


def _written() -> tuple[int, int, int]:
    db.session.rollback()
    return tuple(db.session.scalar(sa.select(sa.func.count()).select_from(m))
                 for m in (AuditLog, StockMovement, Redemption))


@pytest.fixture
def ids(client, shopfront):
    """The shopfront plus 1,000 more points and one redemption (for the cancel form), logged in as the cashier."""
    from app.ledger import services as ledger
    from app.ledger.models import AccountKind
    from app.registry.models import Household

    with write_transaction():
        household = db.session.get(Household, shopfront["household"])
        ledger.post_transfer(debit=ledger.system_account(household.village_id, AccountKind.ISSUANCE),
                             credit=ledger.household_account(household), amount=1000, code="opening", key="top-up")
    _login(client, "cash1")
    r = client.post("/shop/counter", data=_cart(shopfront, _key(client), rice="1"))
    assert r.status_code == 302
    return {**shopfront, "redemption": db.session.scalar(sa.select(Redemption.id))}


def _post(client, ids, form: str, field: str, value: str):
    url, base = FORMS[form]
    values = {**ids, "key": _key(client) if form == "counter" else secrets.token_urlsafe(12)}
    data = {k.format(**values): v.format(**values) for k, v in base.items()}
    data[field.format(**values)] = value
    return client.post(url.format(**values), data=data)


def _assert_refused(r, before, client=None) -> None:
    assert r.status_code < 500
    body = r.get_data(as_text=True)
    if r.status_code == 302:  # the cancel form answers with a flash on the redemption page
        assert "/shop/redemptions/" in r.headers["Location"] and client is not None
        assert _written() == before
        body = client.get(r.headers["Location"]).get_data(as_text=True)
        assert "flash-error" in body
        return
    assert r.status_code == 200
    assert "field-error" in body or "flash-error" in body, body[-2000:]
    assert _written() == before


def _assert_escaped_everywhere(client, ids) -> None:
    for page in PAGES:
        body = client.get(page.format(**ids)).get_data(as_text=True)
        assert "<script>alert(1)" not in body, page


@pytest.mark.parametrize("form, field, lo, hi", NUMBER_FIELDS, ids=[f"{f}.{n}" for f, n, _l, _h in NUMBER_FIELDS])
@pytest.mark.parametrize("raw", QUANTITIES)
def test_numbers(client, ids, form, field, lo, hi, raw):
    before = _written()
    r = _post(client, ids, form, field, raw)
    n = _number(raw)
    if n is not None and lo <= n <= hi:
        assert r.status_code == 302, (form, field, raw, r.get_data(as_text=True)[-1500:])
        assert _written() != before
        if raw == "１０":
            assert n == 10
    else:
        _assert_refused(r, before)


@pytest.mark.parametrize("form, field, longest", TEXT_FIELDS, ids=[f"{f}.{n}" for f, n, _m in TEXT_FIELDS])
@pytest.mark.parametrize("value", TEXTS, ids=["script", "formula", "10000_chars"])
def test_texts(client, ids, form, field, longest, value):
    before = _written()
    r = _post(client, ids, form, field, value)
    if len(value) > longest or ((form, field) in NAME_FIELDS and value in (SCRIPT, FORMULA)):
        _assert_refused(r, before, client)
        if form == "cancel":
            assert db.session.get(Redemption, ids["redemption"]).status == "completed"
    else:
        assert r.status_code == 302, (form, field, r.get_data(as_text=True)[-1500:])
        assert _written() != before
        _assert_escaped_everywhere(client, ids)


@pytest.mark.parametrize("raw", ["2026-13-01", "2026-02-30", "<script>", "9" * 10_000, "0001-01-01"])
def test_donation_dates(client, ids, raw):
    before = _written()
    _assert_refused(_post(client, ids, "donation", "received_on", raw), before)


@pytest.mark.parametrize("form, field, raw", [
    ("donation", "donor_kind", "alien"), ("write_off", "kind", "stolen"), ("write_off", "product_id", "99999"),
    ("write_off", "product_id", "abc"), ("counter", "household_id", "99999"),
])
def test_choices_outside_the_list(client, ids, form, field, raw):
    before = _written()
    r = _post(client, ids, form, field, raw)
    assert r.status_code in (200, 404)
    assert _written() == before


def test_a_name_that_is_markup_or_a_formula_gets_a_message_in_chinese(client, ids):
    before = _written()
    for value, words in ((SCRIPT, "网页"), (FORMULA, "公式")):
        body = _post(client, ids, "product_new", "name", value).get_data(as_text=True)
        assert words in body
    assert _written() == before


def test_formula_text_in_a_note_is_shown_as_typed(client, ids):
    from app.shop.models import Donation

    r = _post(client, ids, "donation", "note", FORMULA)
    assert r.status_code == 302
    donation = db.session.scalar(sa.select(Donation).order_by(Donation.id.desc()))
    body = client.get(f"/shop/donations/{donation.id}").get_data(as_text=True)
    assert re.search(r"=HYPERLINK\(&#34;http://evil.example&#34;,&#34;点我&#34;\)", body)
    assert 'href="http://evil.example' not in body
