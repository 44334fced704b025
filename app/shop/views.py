"""Happiness supermarket pages: the goods list, stock in, the cashier's counter, receipts and cancelling."""
from __future__ import annotations

import sqlalchemy as sa
from markupsafe import Markup, escape
from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import joinedload, selectinload

from ..access import can, deny, get_in_village_or_404, require
from ..auth.models import User
from ..db import local_day, local_midnight_utc, local_today
from ..errors import Busy, DomainError
from ..extensions import db
from ..forms import flash_recorded
from ..kiosk.services import find_household_by_card_code
from ..points import queries as pq
from ..printing import pdf_response, render_pdf, render_roll_pdf
from ..registry.models import Household
from ..registry.services import household_search_query
from ..submission import run_write, submit
from ..urls import id_arg
from . import bp
from . import queries as sq
from . import services as shop
from .forms import CancelForm, ProductForm, PurchaseForm, ReturnForm, cart_form
from .models import Product, Redemption, RedemptionStatus
from .states import REDEMPTION


#: the counter's household with its head, whose name the page shows (one statement, not two)
_WITH_HEAD = (joinedload(Household.head),)


def village_products() -> list[Product]:
    """The current village's goods in shelf order (the goods, stock and report pages share it; the counter
    reads its shelf as plain columns, queries.counter_shelf)."""
    stmt = sa.select(Product).where(Product.village_id == g.village.id)
    return list(db.session.scalars(stmt.order_by(Product.category, Product.name, Product.spec, Product.id)))


# Goods (cashier, clerk)

@bp.route("/products")
@require("shop.view")
def products():
    """Every product of the village with its price and stock; low stock marked. ?stock=low or out shows
    only the offered goods at or below their reorder level, or out of stock (the home page's links)."""
    stock = request.args.get("stock")
    if stock not in ("low", "out"):
        return render_template("shop/products.html", products=village_products(), stock=None)
    rows = list(db.session.scalars(sa.select(Product).where(Product.village_id == g.village.id,
                                                            *sq.stock_filter(stock))
                                   .order_by(Product.category, Product.name, Product.spec, Product.id)))
    return render_template("shop/products.html", products=rows, stock=stock)


@bp.route("/redemptions")
@require("shop.view")
def redemptions():
    """Redemptions made today or this week (?since=today|week), or cancelled then (?status=cancelled)."""
    today = local_today()
    since = request.args.get("since")
    if since not in ("today", "week"):
        since = "today"
    status = request.args.get("status")
    if status not in ("completed", "cancelled"):
        status = None
    day = today if since == "today" else sq.week_start(today)
    order = Redemption.cancelled_at.desc() if status == "cancelled" else Redemption.created_at.desc()
    rows = list(db.session.scalars(sa.select(Redemption).where(
        *sq.redemption_filter(g.village.id, since=local_midnight_utc(day), status=status))
        .options(selectinload(Redemption.household)).order_by(order, Redemption.id.desc()).limit(500)))
    return render_template("shop/redemptions.html", rows=rows, since=since, status=status)


def _product_kwargs(form: ProductForm) -> dict:
    return {"name": form.name.data, "spec": form.spec.data or "", "unit": form.unit.data,
            "price_points": form.price_points.data, "category": form.category.data or "",
            "reorder_level": form.reorder_level.data or 0}


@bp.route("/products/new", methods=["GET", "POST"])
@require("shop.stock")
def product_new():
    """Add a product to the shelf list (its stock starts at 0)."""
    form = ProductForm()
    if form.validate_on_submit():
        done = submit(form, lambda: shop.create_product(g.village, actor=current_user, **_product_kwargs(form)),
                      field="name")
        if done:
            flash(_("Product %(name)s added.", name=done.value.label), "success")
            return redirect(url_for("shop.products"))
    return render_template("shop/product_form.html", form=form, product=None)


@bp.route("/products/<int:product_id>", methods=["GET", "POST"])
@require("shop.stock")
def product_edit(product_id: int):
    """Change a product; redemptions already made keep their own name and price."""
    product = get_in_village_or_404(Product, product_id)
    form = ProductForm(obj=product)
    if form.validate_on_submit():
        def save():
            return shop.update_product(get_in_village_or_404(Product, product_id), active=bool(form.active.data),
                                       actor=current_user, **_product_kwargs(form))

        if submit(form, save, field="name"):
            flash(_("Saved."), "success")
            return redirect(url_for("shop.products"))
    return render_template("shop/product_form.html", form=form, product=product)


@bp.route("/products/<int:product_id>/purchase", methods=["GET", "POST"])
@require("shop.stock")
def product_purchase(product_id: int):
    """Goods bought for the shelf come in."""
    product = get_in_village_or_404(Product, product_id)
    form = PurchaseForm()
    form.ensure_key()
    if form.validate_on_submit():
        def receive():
            return shop.receive_purchase(get_in_village_or_404(Product, product_id), form.qty.data,
                                         form.reason.data or "", actor=current_user, key=form.idempotency_key.data)

        done = submit(form, receive, field="qty")
        if done:
            flash_recorded(done.value, _("Received %(qty)s %(unit)s of %(name)s.", qty=form.qty.data,
                                             unit=product.unit, name=product.label))
            return redirect(url_for("shop.products"))
    return render_template("shop/purchase.html", form=form, product=product)


# The counter (cashier)

def _find_households(q: str) -> tuple[Household | None, list[Household]]:
    """(the selected household, the matches): an exact 户号 or a single match selects it."""
    q = q.strip()[:32]
    if not q:
        return None, []
    exact = db.session.scalar(sa.select(Household).where(Household.village_id == g.village.id,
                                                         Household.number == q))
    if exact is not None:
        return exact, [exact]
    # a USB scanner at the counter types the household card's QR code into the search box
    carded = find_household_by_card_code(g.village, q)
    if carded is not None:
        return carded, [carded]
    matches = list(db.session.scalars(household_search_query(g.village.id, q).limit(30)))
    return (matches[0] if len(matches) == 1 else None), matches


def _basket_products() -> list[sq.ShelfItem]:
    """The current village's goods whose quantity box the posted counter form filled in, in shelf order."""
    ids = set()
    for name, value in request.form.items():
        if name.startswith("qty_") and name[4:].isdigit() and len(name) < 24 and value.strip(" \u3000"):
            ids.add(int(name[4:]))
    if not ids:
        return []
    if len(ids) > 100:  # the whole shelf rather than a statement with hundreds of parameters
        return [p for p in sq.counter_shelf(g.village.id) if p.id in ids]
    return sq.counter_shelf(g.village.id, ids=ids)


def shelf_rows(shown: list[sq.ShelfItem], form) -> Markup:
    """The counter's product rows (label, price per unit, stock, the quantity box with its error). Every value
    from the database or the form passes through escape(); ids, prices and stock are integers."""
    rows = []
    for p in shown:
        name = f"qty_{p.id}"
        fld = form.field(p.id)
        errors = [str(e) for e in fld.errors] if fld is not None and fld.errors else []
        value = escape(fld._value()) if fld is not None else ""
        invalid = ' aria-invalid="true"' if errors else ""
        problem = f'<small class="field-error">{escape("；".join(errors))}</small>' if errors else ""
        rows.append(f'<tr><td><label for="{name}">{escape(p.label)}</label></td>'
                    f"<td>{int(p.price_points)} / {escape(p.unit)}</td><td>{int(p.stock)}</td>"
                    f'<td><input{invalid} id="{name}" inputmode="numeric" name="{name}" placeholder="0" size="4" '
                    f'type="text" value="{value}">{problem}</td></tr>')
    # escaped piece by piece above: Markup.format escapes the same but costs more than the rows it draws
    return Markup("\n".join(rows))  # noqa: S704


def _basket_asked() -> bool:
    """Whether htmx sent this request from the counter's check button, asking for the basket part alone."""
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-Target") == "basket"


def _cart_lines(form, products: list[sq.ShelfItem]) -> list[tuple[sq.ShelfItem, int]]:
    return [(p, form.quantity(p.id)) for p in products if form.quantity(p.id)]


def basket_signature(lines: list[tuple[sq.ShelfItem, int]]) -> str:
    """What a check showed the household: each product with its quantity and price (by product id, so a
    product moved on the shelf meanwhile is the same basket). The basket carries it to the confirm, which
    sells only the basket the household was shown."""
    return ",".join(f"{p.id}x{qty}@{p.price_points}" for p, qty in sorted(lines, key=lambda line: line[0].id))


def _add_error(form, message: str) -> None:
    form.confirm.errors = list(form.confirm.errors or []) + [message]


@bp.route("/counter", methods=["GET", "POST"])
@require("shop.sell")
def counter():
    """Find the household, fill the basket, check the total against the balance, confirm."""
    q = (request.args.get("q") or "")[:32]
    household, matches = None, []
    summary, changed = None, False
    if request.method == "POST":
        # without its head: a check answered with the basket alone and a confirm that redirects never show the
        # head's name (a page drawn again after a refusal loads it then)
        household = get_in_village_or_404(Household, request.form.get("household_id"))
        # the goods the basket names are all a check or a confirm needs; the whole shelf is read only when the
        # whole page is drawn again (below)
        products = _basket_products()
    else:
        if id_arg("household"):
            household = get_in_village_or_404(Household, id_arg("household"), options=_WITH_HEAD)
        else:
            household, matches = _find_households(q)
        products = sq.counter_shelf(g.village.id, in_stock_only=True)
    form = cart_form(products)
    form.ensure_key()
    # the confirm button pressed; a POST without it is a check
    confirming = request.method == "POST" and bool(form.confirm.data)
    if household is not None:
        form.household_id.data = str(household.id)
    if request.method == "POST" and form.validate_on_submit():
        lines = _cart_lines(form, products)
        if not lines:
            _add_error(form, _("Choose at least one product."))
        elif confirming and form.checked.data and form.checked.data != basket_signature(lines):
            # a box (or a price) changed after the check: the household is charged only a total it was shown,
            # so the new basket is shown for another confirm (a confirm without a check has nothing to compare)
            changed = True
        elif confirming:
            household_id = household.id

            def redeem():
                # each attempt reloads the household; the service reads the goods' village, prices and names
                # itself, in the write (the shelf rows give it their ids). The form key makes a repeat of an
                # attempt that did commit return its receipt (docs/architecture.md, "Submitting a form")
                red = shop.redeem(get_in_village_or_404(Household, household_id), lines,
                                  key=form.idempotency_key.data, actor=current_user)
                # what the message and the redirect need, taken before the commit expires the row (which
                # would cost a statement to read it back)
                receipt.update(id=red.id, total=red.total_points, no=red.receipt_no)
                return red

            receipt: dict = {}
            try:
                done = submit(form, redeem, field="confirm")
            except Busy:
                raise Busy(_("The counter is busy right now. Nothing was redeemed; please press confirm again."),
                           _("Please try again")) from None
            if done:
                if done.replayed:
                    flash(_("This redemption was already recorded."), "info")
                else:
                    flash(_("Redeemed %(total)s points; receipt %(no)s.", total=receipt["total"],
                            no=receipt["no"]), "success")
                return redirect(url_for("shop.redemption", redemption_id=receipt["id"]))
        if lines and not form.confirm.errors:
            total = sum(p.price_points * qty for p, qty in lines)
            summary = {"lines": [(p, qty, p.price_points * qty) for p, qty in lines], "total": total,
                       "changed": changed}
            form.checked.data = basket_signature(lines)
    if household is not None:
        if confirming:
            # a confirm that did not go through: nothing written here, read the balance fresh
            db.session.rollback()
            household = db.session.get(Household, household.id)
        # awards still on posting, where the village holds them back, are part of the balance but not spendable
        balance, held, spendable = pq.spendable_points(household)
        if summary is not None:
            summary["after"] = balance - summary["total"]
            summary["short"] = summary["total"] > spendable
            if _basket_asked() and not confirming:
                # the browser keeps the shelf and the boxes as typed; only the basket is drawn again (bench
                # figure 3: the 200-row shelf and the recent redemptions were most of a check's CPU)
                return render_template("shop/_basket.html", form=form, summary=summary, held=held,
                                       spendable=spendable, fragment=True)
        held_entries = pq.held_entries(household) if held else []
        if request.method == "POST":
            products = sq.counter_shelf(g.village.id)  # every product in one SELECT (bench figure 3)
        # products in stock, plus any the basket names (so a sold-out line still shows its error)
        shown = [p for p in products if (p.active and p.stock > 0) or form.quantity(p.id)
                 or form.quantity_errors(p.id)]
    else:
        balance, shown = None, []
        held, spendable, held_entries = 0, None, []
    recent = sq.recent_redemptions(g.village.id)
    page = render_template("shop/counter.html", q=q, household=household, matches=matches, form=form,
                           shown=shown, shelf_rows=shelf_rows, balance=balance, held=held, spendable=spendable,
                           held_entries=held_entries, summary=summary, recent=recent)
    if _basket_asked():
        # a check the page cannot answer in the basket alone (a box to mark, a message at the top): the whole
        # page replaces the old one, scrolled to its top where the message is
        return page, {"HX-Retarget": "body", "HX-Reswap": "innerHTML show:window:top"}
    return page


# Receipts and cancelling

@bp.route("/redemptions/<int:redemption_id>")
@require("shop.view")
def redemption(redemption_id: int):
    """One redemption: the receipt on screen, its PDF, and cancelling."""
    return _receipt_page(get_in_village_or_404(Redemption, redemption_id))


def _receipt_page(red: Redemption, failed: ReturnForm | None = None) -> str:
    """The receipt with the cancel and return forms its user may use (`failed`: a refused return, as sent)."""
    year = local_day(red.created_at).year
    # a year cleared at its close gives no points back (shop.services): say so rather than offer the forms
    cleared = red.status != RedemptionStatus.CANCELLED.value and pq.cleared_at_close(red.village_id, year)
    return render_template("shop/redemption.html", red=red, cform=CancelForm(),
                           may_cancel=_may_cancel() and not cleared, cleared_year=year if cleared else None,
                           return_forms=_return_forms(red, failed=failed), kept=_kept_points(red))


def _kept_points(red: Redemption) -> int:
    """Points the household still pays for the goods it kept (the total less every return)."""
    return red.total_points - sum(r.points for r in red.returns)


def _return_forms(red: Redemption, failed: ReturnForm | None = None) -> dict[int, ReturnForm]:
    """One return form per line with goods still out (prefix ret<line id>), the refused one kept as sent."""
    forms = {}
    for line in red.lines:
        if line.qty - line.returned_qty <= 0:
            continue
        if failed is not None and failed.line_id.data == str(line.id):
            forms[line.id] = failed
            continue
        form = ReturnForm(prefix=f"ret{line.id}", formdata=None, data={"line_id": str(line.id),
                                                                       "qty": line.qty - line.returned_qty})
        form.ensure_key()
        forms[line.id] = form
    return forms


@bp.post("/redemptions/<int:redemption_id>/return/<int:line_id>")
@require("shop.view")
def redemption_return(redemption_id: int, line_id: int):
    """Take back the goods of one line: the points for them and the goods come back (a cashier the same
    day, a reviewer any day); a refusal shows the receipt again with the line's form and its message."""
    if not _may_cancel():
        deny("shop.sell")
    get_in_village_or_404(Redemption, redemption_id)  # another village's receipt is a 404 before any form work
    form = ReturnForm(prefix=f"ret{line_id}")
    is_reviewer = _is_reviewer()
    if form.validate_on_submit() and form.line_id.data == str(line_id):
        def take_back():
            return shop.return_line(get_in_village_or_404(Redemption, redemption_id), line_id, form.qty.data,
                                    actor=current_user, reason=form.reason.data, key=form.idempotency_key.data,
                                    is_reviewer=is_reviewer)

        done = submit(form, take_back, field="qty")
        if done:
            ret = done.value
            if done.replayed:
                flash(_("This return was already recorded."), "info")
            else:
                flash(_("Taken back: %(qty)s × %(name)s; %(points)s points are back on the household's balance.",
                        qty=ret.qty, name=f"{ret.line.name} {ret.line.spec}".strip(), points=ret.points), "success")
            return redirect(url_for("shop.redemption", redemption_id=redemption_id))
    return _receipt_page(get_in_village_or_404(Redemption, redemption_id), failed=form), 200


def _may_cancel() -> bool:
    return can("shop.sell") or _is_reviewer()


def _is_reviewer() -> bool:
    return can("points.review") or "reviewer" in (g.get("roles") or set())


def _receipt_pdf(redemption_id: int, template: str, suffix: str, *, roll: bool = False):
    red = get_in_village_or_404(Redemption, redemption_id)
    cashier = db.session.get(User, red.created_by_id) if red.created_by_id else None
    pdf = (render_roll_pdf if roll else render_pdf)(template, village=g.village, red=red,
                     red_cashier=cashier.display_name if cashier else "—",
                     cancelled=red.status == RedemptionStatus.CANCELLED.value)
    return pdf_response(pdf, _("Receipt %(no)s", no=red.receipt_no) + suffix + ".pdf",
                        ascii_name=f"receipt-{red.receipt_no}{suffix}.pdf")


@bp.route("/redemptions/<int:redemption_id>/receipt.pdf")
@require("shop.view")
def redemption_pdf(redemption_id: int):
    """The 58 mm receipt for the household, as long as its content (no blank paper fed after it)."""
    return _receipt_pdf(redemption_id, "shop_receipt.html", "", roll=True)


@bp.route("/redemptions/<int:redemption_id>/receipt-a4.pdf")
@require("shop.view")
def redemption_pdf_a4(redemption_id: int):
    """The same receipt on A4, with room for both signatures."""
    return _receipt_pdf(redemption_id, "shop_receipt_a4.html", "-A4")


@bp.post("/redemptions/<int:redemption_id>/cancel")
@require("shop.view")
def redemption_cancel(redemption_id: int):
    """Undo a redemption: a cashier the same day, a reviewer any day."""
    if not _may_cancel():
        deny("shop.sell")
    red = get_in_village_or_404(Redemption, redemption_id)
    form = CancelForm()
    if not form.validate_on_submit():
        flash(_("Please give the reason for cancelling."), "error")
        return redirect(url_for("shop.redemption", redemption_id=red.id))
    is_reviewer = _is_reviewer()

    def cancel():
        return shop.cancel_redemption(get_in_village_or_404(Redemption, redemption_id), actor=current_user,
                                      reason=form.reason.data, is_reviewer=is_reviewer)

    # the receipt page is shown again: a refusal comes back as a message at the top
    try:
        run_write(cancel)
    except DomainError as e:
        flash(str(e), "error")
    else:
        flash(_("Cancelled: the points and the goods are back."), "success")
    return redirect(url_for("shop.redemption", redemption_id=redemption_id))


@bp.context_processor
def _moves() -> dict:
    """Pages offer a verb only where the redemption's state table allows it (app/shop/states.py)."""
    return {"REDEMPTION": REDEMPTION}


from . import report_views, stock_views  # noqa: E402,F401  (more routes of this blueprint)
