"""Happiness supermarket verbs: products, stock in, redemption, cancellation, stocktake, the stock check.

Functions flush and never commit: the view or command that calls them owns the transaction and
starts it through app.submission (BEGIN IMMEDIATE on SQLite). Points move only through app.ledger.services.

Lock order (PostgreSQL; docs/ledger.md, "Stock"): ledger accounts (ascending id, inside
post_transfer), then the audit chain head, then products in ascending id. Every function here takes
the audit head before it touches a product row, so a redemption (accounts → head → products) and a
purchase or stocktake (head → products) can never wait for each other in a cycle. Holding the head
also serialises receipt numbering inside the write transaction.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from ..audit.services import changes, lock_head, record, record_together
from ..db import VILLAGE_TZ, local_day, local_today, utcnow
from ..extensions import db
from ..idempotency import check_key, find_earlier, mark_replayed, payload_hash
from ..ledger import services as ledger
from ..ledger.models import MAX_TRANSFER, AccountKind, Transfer, TransferCode
from ..points import queries as points_queries
from ..registry.models import Village
from ..text import TextRejected, clean_text
from .errors import ShopError
from .models import (
    MAX_PRICE,
    MAX_QTY,
    MAX_STOCK,
    MAX_VALUE,
    Donation,
    DonationLine,
    DonorKind,
    MovementKind,
    Product,
    Redemption,
    RedemptionLine,
    RedemptionReturn,
    RedemptionStatus,
    StockFormKey,
    StockMovement,
    Stocktake,
    StocktakeLine,
)
from .states import REDEMPTION

log = logging.getLogger(__name__)

#: the most products one redemption, donation or stocktake may list
MAX_LINES = 200


class OutOfStock(ShopError):
    """A product has fewer on the shelf than asked for (or is no longer offered)."""


# --- validation -----------------------------------------------------------------------------------

def check_qty(qty, *, lo: int = 1, hi: int = MAX_QTY) -> int:
    """A quantity must be a real int (bool and float refused) within lo..hi."""
    if isinstance(qty, bool) or not isinstance(qty, int) or not lo <= qty <= hi:
        raise ShopError(_("A quantity must be a whole number from %(lo)s to %(hi)s.", lo=lo, hi=hi))
    return qty


def _text(value, max_len: int, *, required: bool = False, multiline: bool = False) -> str:
    try:
        text = clean_text(value, multiline=multiline)
    except TextRejected as exc:
        raise ShopError(str(exc)) from None
    if required and not text:
        raise ShopError(_("Please fill in every required field."))
    if len(text) > max_len:
        raise ShopError(_("Text is too long: at most %(n)s characters.", n=max_len))
    return text


def _serialize() -> None:
    """Take the audit chain head now (FOR UPDATE on PostgreSQL), before any product row is locked."""
    lock_head()


def _same_village(village_id: int, products) -> None:
    for p in products:
        if p.village_id != village_id:
            raise ShopError(_("This product belongs to another village."))


def _earlier(village_id: int, key: str | None, action: str, payload: dict, model):
    """What an earlier submission of the same stock form made (marked replayed), or None for a new key.

    Call after _serialize(): two submissions of one key then run one after the other, and the second
    sees the first's row. :raise IdempotencyConflict: the key was used for something else.
    """
    digest = payload_hash(payload)
    row = find_earlier(StockFormKey, village_id, key,
                       same=lambda row: row.action == action and row.payload_hash == digest)
    return None if row is None else mark_replayed(db.session.get(model, row.ref_id))


def _remember(village_id: int, key: str | None, action: str, payload: dict, ref_id: int) -> None:
    """Keep the stock form's key with what it made (StockFormKey: these records have no key column)."""
    if key is not None:
        db.session.add(StockFormKey(village_id=village_id, idempotency_key=key, action=action, ref_id=ref_id,
                                    payload_hash=payload_hash(payload)))


# --- products ---------------------------------------------------------------------------------------

def _product_fields(name, spec, unit, price_points, category, reorder_level) -> dict:
    price = price_points
    if isinstance(price, bool) or not isinstance(price, int) or not 1 <= price <= MAX_PRICE:
        raise ShopError(_("A price must be a whole number of points from 1 to %(max)s.", max=MAX_PRICE))
    return {
        "name": _text(name, 64, required=True),
        "spec": _text(spec, 32),
        "unit": _text(unit, 8, required=True),
        "price_points": price,
        "category": _text(category, 32),
        "reorder_level": check_qty(reorder_level, lo=0, hi=MAX_STOCK),
    }


def _name_taken(village_id: int, name: str, spec: str, exclude: int | None = None) -> bool:
    q = sa.select(Product.id).where(Product.village_id == village_id, Product.name == name, Product.spec == spec)
    if exclude is not None:
        q = q.where(Product.id != exclude)
    return db.session.scalar(q) is not None


def create_product(village, *, name: str, unit: str, price_points: int, spec: str = "", category: str = "",
                   reorder_level: int = 0, actor=None) -> Product:
    """Add a product to the village's shelf list; its stock starts at 0 (stock comes in by movements)."""
    fields = _product_fields(name, spec, unit, price_points, category, reorder_level)
    _serialize()
    if _name_taken(village.id, fields["name"], fields["spec"]):
        raise ShopError(_("A product with this name and specification already exists."))
    product = Product(village_id=village.id, active=True, stock=0, **fields)
    db.session.add(product)
    db.session.flush()
    # the shop's points account exists before the first redemption, so concurrent first
    # redemptions never race to create it
    ledger.system_account(village.id, AccountKind.SHOP)
    record("shop.product_create", product, actor=actor, details=changes({}, fields))
    return product


def update_product(product: Product, *, name: str, unit: str, price_points: int, spec: str = "",
                   category: str = "", reorder_level: int = 0, active: bool = True, actor=None) -> Product:
    """Edit a product. A price change is audited; redemptions already made keep their own prices."""
    fields = _product_fields(name, spec, unit, price_points, category, reorder_level)
    fields["active"] = bool(active)
    _serialize()
    if _name_taken(product.village_id, fields["name"], fields["spec"], exclude=product.id):
        raise ShopError(_("A product with this name and specification already exists."))
    details = changes({k: getattr(product, k) for k in fields}, fields)
    if not details:
        return product
    for k, v in fields.items():
        setattr(product, k, v)
    db.session.flush()
    action = "shop.price_change" if "price_points" in details["changed"] else "shop.product_update"
    record(action, product, actor=actor, details=details)
    return product


# --- stock movements ----------------------------------------------------------------------------------

def _move_stock(product_id: int, village_id: int, qty: int, kind: MovementKind, *, actor=None,
                reason: str | None = None, ref_type: str | None = None, ref_id: int | None = None) -> StockMovement:
    """Apply one signed stock change as a guarded statement and append its movement row.

    Never called before _serialize() or a ledger transfer in the same transaction (lock order).
    """
    stmt = sa.update(Product).where(Product.id == product_id, Product.village_id == village_id)
    if qty < 0:
        stmt = stmt.where(Product.stock >= -qty)
    else:
        stmt = stmt.where(Product.stock + qty <= MAX_STOCK)
    res = db.session.execute(stmt.values(stock=Product.stock + qty).execution_options(synchronize_session=False))
    if res.rowcount != 1:
        name = db.session.scalar(sa.select(Product.name).where(Product.id == product_id)) or "?"
        if qty < 0:
            raise OutOfStock(_("Not enough stock of %(name)s.", name=name))
        raise ShopError(_("The stock of %(name)s would exceed %(max)s.", name=name, max=MAX_STOCK))
    mv = StockMovement(village_id=village_id, product_id=product_id, qty=qty, kind=MovementKind(kind).value,
                       reason=reason, ref_type=ref_type, ref_id=ref_id,
                       created_by_id=actor.id if actor is not None else None)
    db.session.add(mv)
    return mv


def _expire_stock(*product_ids: int) -> None:
    for pid in product_ids:
        obj = db.session.identity_map.get(db.session.identity_key(Product, pid))
        if obj is not None:
            db.session.expire(obj, ["stock"])


def receive_purchase(product: Product, qty: int, reason: str, *, actor=None, key: str | None = None) -> StockMovement:
    """Goods bought for the shelf: stock up by `qty`, one purchase movement.

    With a form `key`, a second submission returns the first movement (`replayed` set) and changes nothing.
    """
    check_qty(qty)
    reason = _text(reason, 200)
    key = check_key(key)
    payload = {"product": product.id, "qty": qty, "reason": reason}
    _serialize()
    earlier = _earlier(product.village_id, key, "purchase", payload, StockMovement)
    if earlier is not None:
        return earlier
    mv = _move_stock(product.id, product.village_id, qty, MovementKind.PURCHASE, actor=actor, reason=reason or None)
    db.session.flush()
    _remember(product.village_id, key, "purchase", payload, mv.id)
    _expire_stock(product.id)
    # the reason is free text (a supplier, a person): it stays on the movement row
    record("shop.purchase", mv, actor=actor, details={"product": product.id, "qty": qty}, changed=["reason"])
    return mv


def write_off(product: Product, qty: int, reason: str, *, actor=None, key: str | None = None) -> StockMovement:
    """Broken, spoiled or expired goods leave the shelf (a reason is required); `key` as for purchases."""
    check_qty(qty)
    reason = _text(reason, 200, required=True)
    key = check_key(key)
    payload = {"product": product.id, "qty": qty, "reason": reason}
    _serialize()
    earlier = _earlier(product.village_id, key, "write_off", payload, StockMovement)
    if earlier is not None:
        return earlier
    mv = _move_stock(product.id, product.village_id, -qty, MovementKind.DAMAGE, actor=actor, reason=reason)
    db.session.flush()
    _remember(product.village_id, key, "write_off", payload, mv.id)
    _expire_stock(product.id)
    record("shop.damage", mv, actor=actor, details={"product": product.id, "qty": qty}, changed=["reason"])
    return mv


def _merge_lines(lines) -> list[tuple[Product, int]]:
    """[(product, qty), …] → one line per product in ascending id order, quantities checked."""
    if not lines:
        raise ShopError(_("Choose at least one product."))
    if len(lines) > MAX_LINES:
        raise ShopError(_("Too many lines: at most %(n)s.", n=MAX_LINES))
    merged: dict[int, list] = {}
    for product, qty in lines:
        check_qty(qty)
        if product.id in merged:
            merged[product.id][1] = check_qty(merged[product.id][1] + qty)
        else:
            merged[product.id] = [product, qty]
    return [(p, q) for _pid, (p, q) in sorted(merged.items())]


def _next_receipt(model, village_id: int, prefix: str) -> str:
    """The next number "<prefix>-<year>-<000001>" of the village; call while holding the audit head."""
    stem = f"{prefix}-{local_today().year}-"
    # the year's numbers as a range of the (village_id, receipt_no) index, the last one first: SQLite cannot
    # use the index for LIKE 'stem%' (its LIKE ignores case), and read every receipt of the village ever made
    # on each sale (bench figure 3)
    after = stem[:-1] + chr(ord(stem[-1]) + 1)
    last = db.session.scalar(sa.select(model.receipt_no)
                             .where(model.village_id == village_id, model.receipt_no >= stem,
                                    model.receipt_no < after)
                             .order_by(model.receipt_no.desc()).limit(1))
    seq = int(last[len(stem):]) + 1 if last and last[len(stem):].isdigit() else 1
    return f"{stem}{seq:06d}"


@dataclass
class NewGoods:
    """Donated goods not yet in the catalogue: the donation adds them as a product (stock starts at the qty)."""

    name: str
    unit: str
    price_points: int
    qty: int
    spec: str = ""
    condition: str = ""
    estimated_value: int | None = None


def _value(value) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_VALUE:
        raise ShopError(_("An estimated value must be a whole number of yuan from 0 to %(max)s.", max=MAX_VALUE))
    return value


def receive_donation(village, *, donor_name: str, donor_kind: str, lines=(), received_on: dt.date | None = None,
                     receipt_no: str | None = None, note: str | None = None, actor=None,
                     key: str | None = None, new_goods: list[NewGoods] | tuple = ()) -> Donation:
    """Record a donation receipt (捐赠物品接收单): lines are (product, qty), (product, qty, condition) or
    (product, qty, condition, estimated value in yuan); `new_goods` are goods not yet in the catalogue,
    added as products in the same transaction (a name and specification already listed is refused: enter
    it on its own line instead).

    With a form `key`, a second submission returns the first donation (`replayed` set).
    """
    donor_name = _text(donor_name, 64, required=True)
    if donor_kind not in {k.value for k in DonorKind}:
        raise ShopError(_("Choose who the donor is."))
    note = _text(note, 500, multiline=True) or None
    receipt_no = _text(receipt_no, 48) or None
    conditions: dict[int, str | None] = {}
    values: dict[int, int | None] = {}
    pairs = []
    for line in lines or ():
        product, qty = line[0], line[1]
        cond = _text(line[2], 32) if len(line) > 2 else ""
        value = _value(line[3]) if len(line) > 3 else None
        conditions.setdefault(product.id, cond or None)
        if value is not None:
            values[product.id] = _value((values.get(product.id) or 0) + value)
        pairs.append((product, qty))
    fresh = []
    for goods in new_goods or ():
        fields = _product_fields(goods.name, goods.spec, goods.unit, goods.price_points, "", 0)
        fresh.append((fields, check_qty(goods.qty), _text(goods.condition, 32) or None, _value(goods.estimated_value)))
    if len({(f["name"], f["spec"]) for f, *_rest in fresh}) < len(fresh):
        raise ShopError(_("The same new goods are listed twice; put them on one line."))
    if len(pairs) + len(fresh) > MAX_LINES:
        raise ShopError(_("Too many lines: at most %(n)s.", n=MAX_LINES))
    merged = _merge_lines(pairs) if pairs or not fresh else []
    _same_village(village.id, (p for p, _q in merged))
    key = check_key(key)
    payload = {"donor": donor_name, "kind": donor_kind, "on": received_on, "no": receipt_no, "note": note,
               "lines": [[p.id, q, conditions.get(p.id), values.get(p.id)] for p, q in merged],
               "new": [[f["name"], f["spec"], f["unit"], f["price_points"], q, c, v] for f, q, c, v in fresh]}
    _serialize()
    earlier = _earlier(village.id, key, "donation", payload, Donation)
    if earlier is not None:
        return earlier
    for fields, qty, cond, value in fresh:
        if _name_taken(village.id, fields["name"], fields["spec"]):
            raise ShopError(_("%(name)s is already in the catalogue: enter its quantity in the list of products.",
                              name=f"{fields['name']} {fields['spec']}".strip()))
        product = create_product(village, actor=actor, **fields)
        conditions[product.id], values[product.id] = cond, value
        merged.append((product, qty))
    if receipt_no is None:
        receipt_no = _next_receipt(Donation, village.id, f"{village.code}-D")
    elif db.session.scalar(sa.select(Donation.id).where(Donation.village_id == village.id,
                                                        Donation.receipt_no == receipt_no)):
        raise ShopError(_("A donation with receipt number %(no)s is already recorded.", no=receipt_no),
                        field="receipt_no")
    donation = Donation(village_id=village.id, donor_name=donor_name, donor_kind=donor_kind,
                        received_on=received_on or local_today(), receipt_no=receipt_no, note=note,
                        created_by_id=actor.id if actor is not None else None)
    db.session.add(donation)
    db.session.flush()
    for product, qty in merged:
        db.session.add(DonationLine(village_id=village.id, donation_id=donation.id, product_id=product.id,
                                    qty=qty, condition=conditions.get(product.id),
                                    estimated_value=values.get(product.id)))
        _move_stock(product.id, village.id, qty, MovementKind.DONATION_IN, actor=actor,
                    reason=donor_name, ref_type="donation", ref_id=donation.id)
    db.session.flush()
    _remember(village.id, key, "donation", payload, donation.id)
    _expire_stock(*(p.id for p, _q in merged))
    record("shop.donation", donation, actor=actor,
           details={"receipt_no": receipt_no, "kind": donor_kind, "lines": [[p.id, q] for p, q in merged]},
           changed=["donor_name"])  # a donor is often a villager: the name stays on the donation row
    return donation


# --- redemption ---------------------------------------------------------------------------------------

def redeem(household, lines, *, key: str, actor=None, person=None) -> Redemption:
    """Hand goods to a household against its points, all in the caller's write transaction.

    `lines` are (product, qty) pairs of which only each product's id counts (the counter passes the shelf
    rows it has shown): the village, price and name of every product are read once, inside the write, where
    the price charged is decided.

    Same key and same basket → the earlier Redemption (replayed=True); same key, other basket →
    IdempotencyConflict (app.idempotency). Short of stock → OutOfStock naming the product; short of points →
    ledger.Insufficient with the balance and the total. On any refusal nothing is written (the
    work happens inside a SAVEPOINT that is rolled back).
    """
    key = check_key(key, required=True)
    merged = _merge_lines(lines)
    village_id = household.village_id
    if person is not None and person.household_id != household.id:
        raise ShopError(_("This person is not a member of the household."))
    basket = [[p.id, q] for p, q in merged]
    digest = payload_hash({"household": household.id, "person": person.id if person else None,
                                  "lines": basket})
    prior = find_earlier(Redemption, village_id, key, digest=digest)
    if prior is not None:
        return prior
    try:
        with db.session.begin_nested():
            return _redeem(household, merged, key=key, digest=digest, actor=actor, person=person)
    except IntegrityError:
        # a concurrent request with the same key committed first (PostgreSQL): it is a replay now
        prior = find_earlier(Redemption, village_id, key, digest=digest)
        if prior is not None:
            return prior
        transfer_id = db.session.scalar(sa.select(Transfer.id).where(
            Transfer.village_id == village_id, Transfer.idempotency_key == f"redeem:{key}"))
        if transfer_id is None:
            raise
        # a redemption commits with its transfer: a transfer under the key without one is data this code did
        # not write. The cashier is told nothing was sold (the savepoint is rolled back); whoever keeps the
        # installation reads the log.
        log.error("transfer redeem:%s (id %s) exists without its redemption", key, transfer_id)
        raise ledger.LedgerError(_("The record of this redemption is incomplete, so nothing was redeemed. "
                                   "Please tell the administrator.")) from None


def _redeem(household, merged, *, key, digest, actor, person) -> Redemption:
    village_id = household.village_id
    # the village, prices and names the receipt keeps, in one read (the names as they are at the sale)
    goods = {r.id: r for r in db.session.execute(
        sa.select(Product.id, Product.village_id, Product.price_points, Product.name, Product.spec)
        .where(Product.id.in_([p.id for p, _q in merged])))}
    if len(goods) != len(merged) or any(r.village_id != village_id for r in goods.values()):
        raise ShopError(_("This product belongs to another village."))
    total = sum(goods[p.id].price_points * q for p, q in merged)
    if total > MAX_TRANSFER:
        raise ShopError(_("One redemption may cost at most %(max)s points; split it up.", max=MAX_TRANSFER))
    acct, shop = ledger.household_and_system_account(household, AccountKind.SHOP)
    # awards still on posting are not spendable where the village says so (docs/ledger.md, "Points on
    # posting"): the ledger asks for them once it holds the household's account row. Where awards are
    # spendable at approval nothing is held back, so there is nothing to ask and no row to lock first.
    hold = None
    audit: list[dict] = []  # the transfer's audit row and the redemption's, written together at the end
    if points_queries.holds_back_on_posting(village_id):
        hold = lambda: points_queries.held_on_posting(household)  # noqa: E731
    try:
        # redeem() has looked up this redemption's key in this transaction: the transfer's is not looked up
        # again (a transfer under it without its redemption breaks UNIQUE and lands in redeem()'s except)
        posted = ledger.post_transfer(debit=acct, credit=shop, amount=total, code=TransferCode.REDEEM,
                                      key=f"redeem:{key}", payload={"lines": [[p.id, q] for p, q in merged]},
                                      actor=actor, person_id=person.id if person else None,
                                      source="redemption", source_ref=key, hold=hold, key_checked=True,
                                      audit_rows=audit)
    except ledger.Insufficient:
        balance, held, spendable = points_queries.spendable_points(household)
        if held:
            raise ledger.Insufficient(_(
                "Not enough spendable points: the household has %(balance)s, of which %(held)s are still on "
                "posting and not spendable yet; the goods cost %(total)s.",
                balance=balance, held=held, total=total)) from None
        raise ledger.Insufficient(_("Not enough points: the household has %(balance)s, the goods cost %(total)s.",
                                    balance=balance, total=total)) from None
    lock_head()  # the ledger accounts are held: the audit head next, then products in ascending id order
    for product, qty in merged:
        res = db.session.execute(
            sa.update(Product)
            .where(Product.id == product.id, Product.village_id == village_id, Product.stock >= qty,
                   sa.literal_column("products.active"))
            .values(stock=Product.stock - qty).execution_options(synchronize_session=False))
        if res.rowcount != 1:
            row = db.session.execute(sa.select(Product.name, Product.spec, Product.stock, Product.active)
                                     .where(Product.id == product.id)).one()
            label = f"{row.name} {row.spec}".strip()
            if not row.active:
                raise OutOfStock(_("%(name)s is no longer offered.", name=label))
            raise OutOfStock(_("Not enough stock of %(name)s: %(stock)s left, %(qty)s asked for.",
                               name=label, stock=row.stock, qty=qty))
    after = posted.debit_balance
    red = Redemption(village_id=village_id, household_id=household.id, person_id=person.id if person else None,
                     receipt_no=_next_receipt(Redemption, village_id, _village_code(village_id)),
                     total_points=total, balance_before=after + total, balance_after=after,
                     transfer_id=posted.transfer.id, status=RedemptionStatus.COMPLETED.value,
                     idempotency_key=key, payload_hash=digest,
                     created_by_id=actor.id if actor is not None else None)
    db.session.add(red)
    db.session.flush()
    for product, qty in merged:
        row = goods[product.id]
        db.session.add(RedemptionLine(village_id=village_id, redemption_id=red.id, product_id=product.id,
                                      name=row.name, spec=row.spec, qty=qty, unit_price=row.price_points,
                                      points=row.price_points * qty))
        db.session.add(StockMovement(village_id=village_id, product_id=product.id, qty=-qty,
                                     kind=MovementKind.REDEMPTION_OUT.value, ref_type="redemption", ref_id=red.id,
                                     created_by_id=actor.id if actor is not None else None))
    db.session.flush()
    _expire_stock(*(p.id for p, _q in merged))
    # both audit rows in one flush, the head moved once (a statement fewer than two record() calls)
    audit.append(dict(action="shop.redeem", obj=red, actor=actor, household_id=household.id,
                      details={"receipt_no": red.receipt_no, "total": total,
                               "lines": [[p.id, q] for p, q in merged], "transfer": posted.transfer.id}))
    record_together(audit)
    return red


def _village_code(village_id: int) -> str:
    # from the session when it holds the village: at the counter, the cashier's own, which begin_write keeps
    # (no statement on each sale, bench figure 3)
    return db.session.get(Village, village_id).code


def cancel_redemption(redemption: Redemption, *, actor, reason: str, today: dt.date | None = None,
                      is_reviewer: bool = False) -> Redemption:
    """Undo a redemption once: points back by a reversal transfer, goods back on the shelf.

    A cashier may cancel only the same day's redemptions; a reviewer any day's.
    """
    reason = _text(reason, 200, required=True)
    today = today or local_today()
    status = REDEMPTION.move(redemption.status, "cancel", subject=redemption,
                             made_on=local_day(redemption.created_at), today=today, is_reviewer=is_reviewer)
    _refuse_points_cleared_at_close(redemption)
    # claim the redemption first: of two concurrent cancels, one updates the row and the other finds it done
    res = db.session.execute(
        sa.update(Redemption)
        .where(Redemption.id == redemption.id, Redemption.status.in_(REDEMPTION.sources("cancel")))
        .values(status=status, cancelled_at=utcnow(),
                cancelled_by_id=actor.id if actor is not None else None, cancel_reason=reason)
        .execution_options(synchronize_session=False))
    if res.rowcount != 1:
        REDEMPTION.refuse(db.session.scalar(sa.select(Redemption.status).where(Redemption.id == redemption.id)),
                          "cancel")
    # after returns, the charge in force is the one made again by the latest return, for the goods kept
    original = current_charge(redemption)
    if original is None:
        raise ShopError(_("Every line of this redemption has already been returned."))
    posted = ledger.reverse_transfer(original, key=f"redeem-cancel:{redemption.id}", actor=actor,
                                     memo=reason[:200])
    lines = db.session.scalars(sa.select(RedemptionLine).where(RedemptionLine.redemption_id == redemption.id)
                               .order_by(RedemptionLine.product_id)).all()
    returned = _returned(redemption.id)
    for line in lines:
        if line.qty - returned.get(line.id, 0) > 0:
            _move_stock(line.product_id, redemption.village_id, line.qty - returned.get(line.id, 0),
                        MovementKind.REDEMPTION_CANCEL, actor=actor, reason=reason, ref_type="redemption",
                        ref_id=redemption.id)
    db.session.execute(sa.update(Redemption).where(Redemption.id == redemption.id)
                       .values(cancel_transfer_id=posted.transfer.id)
                       .execution_options(synchronize_session=False))
    db.session.flush()
    db.session.expire(redemption)
    _expire_stock(*(line.product_id for line in lines))
    record("shop.redeem_cancel", redemption, actor=actor, household_id=redemption.household_id,
           details={"receipt_no": redemption.receipt_no, "reviewer": bool(is_reviewer),
                    "reversal": posted.transfer.id},
           changed=["status", "cancel_reason"])  # the reason is free text: it stays on the redemption row
    return redemption


def _refuse_points_cleared_at_close(redemption: Redemption) -> None:
    """A redemption of a year closed under the expire policy gives no points back: unspent, they would have
    been cleared at the close with the rest of the balance (docs/ledger.md, "Spendable balance and score")."""
    year = local_day(redemption.created_at).year
    if points_queries.cleared_at_close(redemption.village_id, year):
        raise ShopError(_("The year %(year)s has been closed and its points cleared, so points spent in it "
                          "cannot be given back. Exchange faulty goods instead.", year=year))


def _claim(redemption: Redemption, action: str) -> None:
    """Take the redemption's row lock (a no-op UPDATE guarded by the state table) before the ledger: of two
    concurrent cancels or returns, the second waits here and then sees what the first did."""
    res = db.session.execute(
        sa.update(Redemption)
        .where(Redemption.id == redemption.id, Redemption.status.in_(REDEMPTION.sources(action)))
        .values(status=Redemption.status).execution_options(synchronize_session=False))
    if res.rowcount != 1:
        REDEMPTION.refuse(db.session.scalar(sa.select(Redemption.status).where(Redemption.id == redemption.id)),
                          action)


def current_charge(redemption: Redemption) -> Transfer | None:
    """The transfer that charges the household for the goods it still has: the counter's, or the charge
    made again by the latest return (None when every line is back)."""
    last = db.session.scalar(sa.select(RedemptionReturn).where(RedemptionReturn.redemption_id == redemption.id)
                             .order_by(RedemptionReturn.id.desc()).limit(1))
    transfer_id = redemption.transfer_id if last is None else last.charge_transfer_id
    return db.session.get(Transfer, transfer_id) if transfer_id is not None else None


def _returned(redemption_id: int) -> dict[int, int]:
    """Quantities returned so far, per line id."""
    return {line_id: int(q) for line_id, q in db.session.execute(
        sa.select(RedemptionReturn.line_id, sa.func.sum(RedemptionReturn.qty))
        .where(RedemptionReturn.redemption_id == redemption_id).group_by(RedemptionReturn.line_id))}


def return_line(redemption: Redemption, line_id: int, qty: int, *, actor, reason: str, key: str,
                today: dt.date | None = None, is_reviewer: bool = False) -> RedemptionReturn:
    """Take back `qty` of one line's goods after the counter: the points for them back to the household,
    the goods back on the shelf, one return row and its audit row, in the caller's transaction.

    The ledger moves whole transfers only, so the charge in force is reversed and the goods kept are
    charged again (docs/ledger.md, "Returns"). A cashier takes back the same day's goods, a reviewer any
    day's. The same key returns the first return (`replayed`); a cancelled redemption has nothing to return.
    """
    reason = _text(reason, 200, required=True)
    key = check_key(key, required=True)
    check_qty(qty)
    REDEMPTION.move(redemption.status, "return_line", subject=redemption,
                    made_on=local_day(redemption.created_at), today=today or local_today(), is_reviewer=is_reviewer)
    prior = find_earlier(RedemptionReturn, redemption.village_id, key,
                         same=lambda r: (r.redemption_id, r.line_id, r.qty) == (redemption.id, line_id, qty))
    if prior is not None:
        return prior
    _refuse_points_cleared_at_close(redemption)
    _claim(redemption, "return_line")
    line = db.session.scalar(sa.select(RedemptionLine).where(RedemptionLine.id == line_id,
                                                             RedemptionLine.redemption_id == redemption.id))
    if line is None:
        raise ShopError(_("This line is not on the receipt."))
    left = line.qty - _returned(redemption.id).get(line.id, 0)
    if qty > left:
        raise ShopError(_("Only %(left)s of %(name)s can still be returned.", left=left,
                          name=f"{line.name} {line.spec}".strip()), field="qty")
    charge = current_charge(redemption)
    points = qty * line.unit_price
    if charge is None or points > charge.amount:  # cannot happen while the lines add up; refuse, never guess
        raise ShopError(_("This redemption's points do not match its lines; ask the administrator to check it."))
    reversal = ledger.reverse_transfer(charge, key=f"redeem-return:{key}", actor=actor, memo=reason[:200])
    kept = charge.amount - points
    again = None
    if kept > 0:
        acct = ledger.household_account(redemption.household)
        shop = ledger.system_account(redemption.village_id, AccountKind.SHOP)
        again = ledger.post_transfer(debit=acct, credit=shop, amount=kept, code=TransferCode.REDEEM,
                                     key=f"redeem-return:{key}:kept", payload={"redemption": redemption.id},
                                     actor=actor, person_id=charge.person_id, source="redemption",
                                     source_ref=charge.source_ref, memo=redemption.receipt_no)
    _serialize()  # the audit head before the product row (lock order)
    _move_stock(line.product_id, redemption.village_id, qty, MovementKind.REDEMPTION_CANCEL, actor=actor,
                reason=reason, ref_type="redemption", ref_id=redemption.id)
    ret = RedemptionReturn(village_id=redemption.village_id, redemption_id=redemption.id, line_id=line.id, qty=qty,
                           points=points, reason=reason, reversal_transfer_id=reversal.transfer.id,
                           charge_transfer_id=again.transfer.id if again is not None else None,
                           idempotency_key=key, created_by_id=actor.id if actor is not None else None)
    db.session.add(ret)
    db.session.flush()
    db.session.expire(redemption, ["returns"])
    _expire_stock(line.product_id)
    record("shop.redeem_return", ret, actor=actor, household_id=redemption.household_id,
           details={"receipt_no": redemption.receipt_no, "lines": [[line.product_id, qty]], "points": points,
                    "reversal": reversal.transfer.id, "transfer": again.transfer.id if again else None},
           changed=["reason"])  # the reason is free text: it stays on the return row
    return ret


# --- stocktake ---------------------------------------------------------------------------------------

def stocktake(village, counts: dict, *, reasons: dict | None = None, actor=None, taken_on: dt.date | None = None,
              note: str | None = None, key: str | None = None) -> Stocktake:
    """Record a count of the shelves; every difference becomes a stocktake_adjust movement.

    `counts` maps product → counted quantity (0 allowed); a difference needs a reason in `reasons`.
    With a form `key`, a second submission returns the first stocktake (`replayed` set).
    """
    reasons = reasons or {}
    if not counts:
        raise ShopError(_("Choose at least one product."))
    if len(counts) > MAX_LINES:
        raise ShopError(_("Too many lines: at most %(n)s.", n=MAX_LINES))
    items = sorted(counts.items(), key=lambda kv: kv[0].id)
    for _product, counted in items:
        check_qty(counted, lo=0, hi=MAX_STOCK)
    _same_village(village.id, (p for p, _c in items))
    note = _text(note, 500, multiline=True) or None
    cleaned = {p.id: _text(reasons.get(p), 200) for p, _c in items}
    key = check_key(key)
    payload = {"counts": [[p.id, c, cleaned[p.id]] for p, c in items], "note": note, "on": taken_on}
    _serialize()
    earlier = _earlier(village.id, key, "stocktake", payload, Stocktake)
    if earlier is not None:
        return earlier
    take = Stocktake(village_id=village.id, taken_on=taken_on or local_today(), note=note,
                     created_by_id=actor.id if actor is not None else None)
    db.session.add(take)
    db.session.flush()
    books = {product.id: int(db.session.execute(sa.select(Product.stock).where(Product.id == product.id)
                                                .with_for_update()).scalar_one())
             for product, _c in items}
    # every line that differs without a reason is named at once, not only the first one met
    missing = {f"reason_{product.id}": _("Give a reason for the difference in %(name)s.", name=product.label)
               for product, counted in items if counted != books[product.id] and not cleaned[product.id]}
    if missing:
        first = next(iter(missing))
        raise ShopError(missing[first], field=first, fields=missing)
    diffs = []
    for product, counted in items:
        book = books[product.id]
        diff = counted - book
        db.session.add(StocktakeLine(village_id=village.id, stocktake_id=take.id, product_id=product.id,
                                     book_qty=book, counted_qty=counted, diff=diff,
                                     reason=cleaned[product.id] or None))
        if diff:
            _move_stock(product.id, village.id, diff, MovementKind.STOCKTAKE_ADJUST, actor=actor,
                        reason=cleaned[product.id], ref_type="stocktake", ref_id=take.id)
            diffs.append([product.id, book, counted])
    db.session.flush()
    _remember(village.id, key, "stocktake", payload, take.id)
    _expire_stock(*(p.id for p, _c in items))
    record("shop.stocktake", take, actor=actor, details={"lines": len(items), "differences": diffs})
    return take


# --- the stock oracle (I5) ----------------------------------------------------------------------------

def check_stock(village_id: int | None = None) -> list[str]:
    """One line per product whose stock is negative or differs from the sum of its movements."""
    p, m = Product.__table__, StockMovement.__table__
    sums = sa.select(m.c.product_id, sa.func.sum(m.c.qty).label("s")).group_by(m.c.product_id).subquery()
    q = sa.select(p.c.id, p.c.stock, sa.func.coalesce(sums.c.s, 0).label("moved")) \
        .outerjoin(sums, sums.c.product_id == p.c.id)
    if village_id is not None:
        q = q.where(p.c.village_id == village_id)
    problems = []
    for row in db.session.execute(q):
        if row.stock < 0:
            problems.append(f"I5 product {row.id}: negative stock {row.stock}")
        if row.stock != row.moved:
            problems.append(f"I5 product {row.id}: stock {row.stock} but movements give {row.moved}")
    conn = db.session.connection()
    if conn.dialect.name == "sqlite":
        names = {r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
        wanted = {"stock_movements_no_update", "stock_movements_no_delete"}
    else:
        names = {r[0] for r in conn.exec_driver_sql(
            "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgenabled <> 'D'")}
        wanted = {"stock_movements_append_only", "stock_movements_no_truncate"}
    problems.extend(f"I8 trigger {name} is missing or disabled" for name in sorted(wanted - names))
    return problems


# --- reports (read only) -----------------------------------------------------------------------------

def month_bounds(year: int, month: int) -> tuple[dt.datetime, dt.datetime]:
    """The naive UTC instants where the village's calendar month starts and ends (end exclusive)."""
    start = dt.datetime(year, month, 1, tzinfo=VILLAGE_TZ)
    end = dt.datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=VILLAGE_TZ)
    utc = dt.timezone.utc
    return start.astimezone(utc).replace(tzinfo=None), end.astimezone(utc).replace(tzinfo=None)


def redemptions_by_month(village_id: int, year: int) -> list[dict]:
    """Per month of `year`: redemptions made, households served, points and items redeemed (cancelled left out,
    goods taken back subtracted)."""
    start, _e = month_bounds(year, 1)
    _s, end = month_bounds(year, 12)
    # goods taken back after the counter (RedemptionReturn) are not counted as redeemed
    back = (sa.select(RedemptionReturn.redemption_id, sa.func.sum(RedemptionReturn.qty).label("qty"),
                      sa.func.sum(RedemptionReturn.points).label("points"))
            .group_by(RedemptionReturn.redemption_id).subquery())
    rows = db.session.execute(
        sa.select(Redemption.created_at, Redemption.household_id,
                  (Redemption.total_points - sa.func.coalesce(back.c.points, 0)).label("total_points"),
                  (sa.select(sa.func.coalesce(sa.func.sum(RedemptionLine.qty), 0))
                   .where(RedemptionLine.redemption_id == Redemption.id).scalar_subquery()
                   - sa.func.coalesce(back.c.qty, 0)).label("items"))
        .outerjoin(back, back.c.redemption_id == Redemption.id)
        .where(Redemption.village_id == village_id, Redemption.status == RedemptionStatus.COMPLETED.value,
               Redemption.created_at >= start, Redemption.created_at < end)).all()
    # grouping by the local calendar month is clearer in Python than in two SQL dialects
    months = [{"month": m, "count": 0, "households": set(), "points": 0, "qty": 0} for m in range(1, 13)]
    for row in rows:
        m = months[local_day(row.created_at).month - 1]
        m["count"] += 1
        m["households"].add(row.household_id)
        m["points"] += int(row.total_points)
        m["qty"] += int(row.items)
    for m in months:
        m["households"] = len(m["households"])
    return months


def top_goods(village_id: int, start: dt.datetime, end: dt.datetime, limit: int = 10) -> list:
    """The most redeemed goods between two UTC instants: (name, spec, qty, points), cancelled left out and
    goods taken back subtracted."""
    back = (sa.select(RedemptionReturn.line_id, sa.func.sum(RedemptionReturn.qty).label("qty"),
                      sa.func.sum(RedemptionReturn.points).label("points"))
            .group_by(RedemptionReturn.line_id).subquery())
    qty = sa.func.sum(RedemptionLine.qty - sa.func.coalesce(back.c.qty, 0)).label("qty")
    return db.session.execute(
        sa.select(RedemptionLine.product_id, Product.name, Product.spec, Product.unit, qty,
                  sa.func.sum(RedemptionLine.points - sa.func.coalesce(back.c.points, 0)).label("points"))
        .join(Redemption, Redemption.id == RedemptionLine.redemption_id)
        .join(Product, Product.id == RedemptionLine.product_id)
        .outerjoin(back, back.c.line_id == RedemptionLine.id)
        .where(Redemption.village_id == village_id, Redemption.status == RedemptionStatus.COMPLETED.value,
               Redemption.created_at >= start, Redemption.created_at < end)
        .group_by(RedemptionLine.product_id, Product.name, Product.spec, Product.unit)
        .order_by(qty.desc(), RedemptionLine.product_id).limit(limit)).all()


def disclosure(village_id: int, year: int, month: int, today: dt.date | None = None) -> dict:
    """The month's figures for the 村务公开 sheet: the stock at the month's start (月初结存), goods in by
    purchase and by donation, donors, points redeemed, goods out, and the stock left at the month's end (from
    the movements). For the month still running (`today`, China time, falls in it) `over` is False and `until`
    is today: the stock left is the stock as of now, and the sheet says 截至 that day, not 月末."""
    start, end = month_bounds(year, month)
    today = today or local_today()
    m = StockMovement
    per_kind = db.session.execute(
        sa.select(m.product_id, m.kind, sa.func.sum(m.qty).label("qty"))
        .where(m.village_id == village_id, m.created_at >= start, m.created_at < end)
        .group_by(m.product_id, m.kind)).all()
    left = dict(db.session.execute(
        sa.select(m.product_id, sa.func.sum(m.qty)).where(m.village_id == village_id, m.created_at < end)
        .group_by(m.product_id)).all())
    opening = dict(db.session.execute(
        sa.select(m.product_id, sa.func.sum(m.qty)).where(m.village_id == village_id, m.created_at < start)
        .group_by(m.product_id)).all())
    products = list(db.session.scalars(sa.select(Product).where(Product.village_id == village_id)
                                       .order_by(Product.category, Product.name, Product.spec, Product.id)))
    moved: dict[int, dict[str, int]] = {}
    for row in per_kind:
        moved.setdefault(row.product_id, {})[row.kind] = int(row.qty)
    lines = []
    for p in products:
        k = moved.get(p.id, {})
        row = {"product": p, "opening": int(opening.get(p.id, 0)), "purchased": k.get("purchase", 0),
               "donated": k.get("donation_in", 0),
               "redeemed": -(k.get("redemption_out", 0) + k.get("redemption_cancel", 0)),
               "other": k.get("stocktake_adjust", 0) + k.get("damage", 0), "left": int(left.get(p.id, 0))}
        if any((row["opening"], row["purchased"], row["donated"], row["redeemed"], row["other"], row["left"])):
            lines.append(row)
    first = dt.date(year, month, 1)
    last = dt.date(year + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)
    donations = list(db.session.scalars(sa.select(Donation).where(Donation.village_id == village_id,
                                                                  Donation.received_on >= first,
                                                                  Donation.received_on <= last)
                                        .order_by(Donation.received_on, Donation.id)))
    reds = db.session.execute(
        sa.select(sa.func.count(Redemption.id), sa.func.count(sa.distinct(Redemption.household_id)),
                  sa.func.coalesce(sa.func.sum(Redemption.total_points), 0))
        .where(Redemption.village_id == village_id, Redemption.status == RedemptionStatus.COMPLETED.value,
               Redemption.created_at >= start, Redemption.created_at < end)).one()
    # points for goods taken back after the counter were not spent
    returned = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(RedemptionReturn.points), 0))
        .join(Redemption, Redemption.id == RedemptionReturn.redemption_id)
        .where(Redemption.village_id == village_id, Redemption.status == RedemptionStatus.COMPLETED.value,
               Redemption.created_at >= start, Redemption.created_at < end))
    over = today > last
    return {"year": year, "month": month, "first": first, "last": last, "over": over,
            "until": last if over else max(first, today), "lines": lines, "donations": donations,
            "redemptions": int(reds[0]), "households": int(reds[1]), "points": int(reds[2]) - int(returned),
            "purchased": sum(r["purchased"] for r in lines), "donated": sum(r["donated"] for r in lines),
            "redeemed_items": sum(r["redeemed"] for r in lines), "opening": sum(r["opening"] for r in lines),
            "left": sum(r["left"] for r in lines)}
