"""Happiness supermarket stock pages: donations (with the printed 捐赠物品接收单), stocktake, write-off."""
from __future__ import annotations

import sqlalchemy as sa
from flask import g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..access import get_in_village_or_404, require
from ..db import local_day, utcnow
from ..extensions import db
from ..forms import flash_recorded, options
from ..printing import pdf_response, render_pdf
from ..submission import submit
from . import bp
from . import services as shop
from .forms import DONOR_KINDS, NEW_GOODS_LINES, WRITE_OFF_KINDS, WriteOffForm, donation_form, stocktake_form
from .models import Donation, Product, Stocktake
from .views import village_products


# Donations (cashier, clerk)

@bp.route("/donations")
@require("shop.view")
def donations():
    """Every donation received, newest first."""
    rows = list(db.session.scalars(sa.select(Donation).where(Donation.village_id == g.village.id)
                                   .order_by(Donation.received_on.desc(), Donation.id.desc()).limit(500)))
    return render_template("shop/donations.html", rows=rows, kinds=DONOR_KINDS)


@bp.route("/donations/new", methods=["GET", "POST"])
@require("shop.stock")
def donation_new():
    """Record a donation receipt: donor, date, goods with quantities and condition; the goods go on the shelf."""
    products = village_products()
    form = donation_form(products)
    form.ensure_key()
    if form.validate_on_submit():
        lines = [(p, form[f"qty_{p.id}"].data, form[f"cond_{p.id}"].data or "", form[f"value_{p.id}"].data)
                 for p in products if form[f"qty_{p.id}"].data]
        new_goods = _new_goods(form)
        if new_goods is None:
            pass  # the incomplete new-goods line carries its errors
        elif not lines and not new_goods:
            form.submit.errors = list(form.submit.errors or []) + [
                _("Enter the quantity of at least one product, or the new goods received.")]
        else:
            def receive():
                return shop.receive_donation(g.village, donor_name=form.donor_name.data,
                                             donor_kind=form.donor_kind.data,
                                             lines=[(get_in_village_or_404(Product, p.id), q, c, v)
                                                    for p, q, c, v in lines],
                                             new_goods=new_goods, received_on=form.received_on.data,
                                             receipt_no=form.receipt_no.data or None, note=form.note.data,
                                             actor=current_user, key=form.idempotency_key.data)

            done = submit(form, receive)
            if done:
                donation = done.value
                flash_recorded(donation, _("Donation %(no)s recorded; the goods are in stock.",
                                           no=donation.receipt_no))
                return redirect(url_for("shop.donation", donation_id=donation.id))
    return render_template("shop/donation_form.html", form=form, products=products,
                           new_lines=range(NEW_GOODS_LINES))


def _new_goods(form) -> list[shop.NewGoods] | None:
    """The filled new-goods lines of the donation form; None when one is incomplete (its fields say what)."""
    goods, complete = [], True
    for n in range(NEW_GOODS_LINES):
        f = {k: form[f"new_{k}_{n}"] for k in ("name", "spec", "unit", "price", "qty", "cond", "value")}
        if not any(fld.data not in (None, "") for fld in f.values()):
            continue
        for k in ("name", "unit", "price", "qty"):
            if f[k].data in (None, ""):
                f[k].errors = list(f[k].errors) + [_("Needed for new goods.")]
                complete = False
        if complete:
            goods.append(shop.NewGoods(name=f["name"].data, spec=f["spec"].data or "", unit=f["unit"].data,
                                       price_points=f["price"].data, qty=f["qty"].data,
                                       condition=f["cond"].data or "", estimated_value=f["value"].data))
    return goods if complete else None


@bp.route("/donations/<int:donation_id>")
@require("shop.view")
def donation(donation_id: int):
    """One donation receipt on screen, with its print link."""
    don = get_in_village_or_404(Donation, donation_id)
    return render_template("shop/donation.html", don=don, kinds=DONOR_KINDS)


@bp.route("/donations/<int:donation_id>/receipt.pdf")
@require("shop.view")
def donation_pdf(donation_id: int):
    """The 捐赠物品接收单 on A4, signed by the donor and the village."""
    don = get_in_village_or_404(Donation, donation_id)
    pdf = render_pdf("shop_donation.html", village=g.village, don=don, kind=str(DONOR_KINDS.get(don.donor_kind, "")))
    return pdf_response(pdf, _("Donation receipt %(no)s", no=don.receipt_no) + ".pdf",
                        ascii_name=f"donation-{don.receipt_no}.pdf")


# Stocktake and write-off (cashier, clerk)

@bp.route("/stocktake", methods=["GET", "POST"])
@require("shop.stock")
def stocktake():
    """The count sheet: book quantity per product; each counted difference is posted with its reason."""
    products = village_products()
    form = stocktake_form(products)
    form.ensure_key()
    if form.validate_on_submit():
        counts = {p: form[f"counted_{p.id}"].data for p in products if form[f"counted_{p.id}"].data is not None}
        if not counts:
            form.submit.errors = list(form.submit.errors or []) + [_("Enter the counted quantity of at least one "
                                                                     "product.")]
        else:
            def count():
                fresh = {get_in_village_or_404(Product, p.id): n for p, n in counts.items()}
                return shop.stocktake(g.village, fresh, reasons={p: form[f"reason_{p.id}"].data or "" for p in fresh},
                                      note=form.note.data, actor=current_user, key=form.idempotency_key.data)

            done = submit(form, count)
            if done:
                take = done.value
                changed = sum(1 for line in take.lines if line.diff)
                flash_recorded(take, _("Stocktake posted: %(n)s products counted, %(d)s differences adjusted.",
                                       n=len(take.lines), d=changed))
                return redirect(url_for("shop.stocktake_view", stocktake_id=take.id))
    recent = list(db.session.scalars(sa.select(Stocktake).where(Stocktake.village_id == g.village.id)
                                     .order_by(Stocktake.id.desc()).limit(10)))
    return render_template("shop/stocktake.html", form=form, products=products, recent=recent)


@bp.route("/stocktake/sheet.pdf")
@require("shop.stock")
def stocktake_sheet_pdf():
    """The blank count sheet (盘点表) to take to the shelves: the book quantity of every product on sale or
    in stock, empty counted and difference columns, and the counter's, witness's and manager's signatures."""
    products = [p for p in village_products() if p.active or p.stock]
    printed_at = utcnow()
    pdf = render_pdf("shop_stocktake_sheet.html", village=g.village, products=products, printed_at=printed_at)
    day = local_day(printed_at)
    return pdf_response(pdf, _("%(village)s stocktake sheet %(day)s", village=g.village.name, day=day.isoformat())
                        + ".pdf", ascii_name=f"stocktake-sheet-{day.isoformat()}.pdf")


@bp.route("/stocktake/<int:stocktake_id>")
@require("shop.view")
def stocktake_view(stocktake_id: int):
    """One posted stocktake: book, counted and difference per product."""
    take = get_in_village_or_404(Stocktake, stocktake_id)
    return render_template("shop/stocktake_view.html", take=take)


@bp.route("/write-off", methods=["GET", "POST"])
@require("shop.stock")
def write_off():
    """Damaged, expired or lost goods leave the shelf, with the reason."""
    products = [p for p in village_products() if p.stock > 0]
    form = WriteOffForm()
    form.ensure_key()
    form.product_id.choices = options((p.id, f"{p.label}（{p.stock} {p.unit}）") for p in products)
    if form.validate_on_submit():
        reason = f"{WRITE_OFF_KINDS[form.kind.data]}：{form.reason.data}"

        def take_off():
            return shop.write_off(get_in_village_or_404(Product, form.product_id.data), form.qty.data, reason,
                                  actor=current_user, key=form.idempotency_key.data)

        done = submit(form, take_off, field="qty")
        if done:
            product = get_in_village_or_404(Product, form.product_id.data)
            flash_recorded(done.value, _("Wrote off %(qty)s %(unit)s of %(name)s.", qty=form.qty.data,
                                         unit=product.unit, name=product.label))
            return redirect(url_for("shop.products"))
    return render_template("shop/write_off.html", form=form)

