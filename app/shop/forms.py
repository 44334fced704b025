"""Happiness supermarket forms. Quantities and prices go through WholeNumberField (full-width digits yes)."""
from __future__ import annotations

from flask import request
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, HiddenField, SelectField, SubmitField
from wtforms.validators import DataRequired, Length, Optional

from ..forms import CleanStringField, Form, PlainName, CleanTextAreaField, LooseDateField, options
from ..forms import IdempotentForm, WholeNumberField
from .models import MAX_PRICE, MAX_QTY, MAX_STOCK, MAX_VALUE


class ProductForm(Form):
    name = CleanStringField(_l("Product name"), validators=[DataRequired(), Length(max=64), PlainName()])
    spec = CleanStringField(_l("Specification"), validators=[Optional(), Length(max=32), PlainName()],
                            description=_l("For example 5kg or 500ml; leave empty for one size"))
    unit = CleanStringField(_l("Unit of sale"), validators=[DataRequired(), Length(max=8), PlainName()],
                            description=_l("For example 袋, 瓶, 提"))
    price_points = WholeNumberField(_l("Price in points"), validators=[DataRequired()], lo=1, hi=MAX_PRICE)
    category = CleanStringField(_l("Category"), validators=[Optional(), Length(max=32), PlainName()])
    reorder_level = WholeNumberField(_l("Reorder level"), validators=[Optional()], lo=0, hi=MAX_STOCK,
                                     description=_l("The list marks the product when stock falls to this level"))
    active = BooleanField(_l("Offered at the counter"), default=True)
    submit = SubmitField(_l("Save product"))


class PurchaseForm(IdempotentForm):
    qty = WholeNumberField(_l("Quantity received"), validators=[DataRequired()], lo=1, hi=MAX_QTY)
    reason = CleanStringField(_l("Note (supplier, invoice number…)"), validators=[Optional(), Length(max=200)])
    submit = SubmitField(_l("Receive stock"))


class CartForm(IdempotentForm):
    """The counter's basket; a `qty_<product id>` field per product the basket names is added by cart_form().

    The page lists every product in stock with a quantity box named `qty_<product id>`; a product whose box came
    back empty (or that the page shows for the first time) has no field: it is not taken, and its box is drawn
    empty (quantity(), field()).
    """

    household_id = HiddenField()
    #: the basket a check showed (basket_signature): a confirm of boxes changed since is shown again, not sold
    checked = HiddenField()
    check = SubmitField(_l("Check total"))
    confirm = SubmitField(_l("Confirm redemption"))

    def field(self, product_id: int):
        """The quantity field of a product the basket names, else None (an empty box)."""
        return self._fields.get(f"qty_{product_id}")

    def quantity(self, product_id: int) -> int | None:
        """The quantity taken of a product (None: not taken)."""
        fld = self.field(product_id)
        return fld.data if fld is not None else None

    def quantity_errors(self, product_id: int) -> list[str]:
        fld = self.field(product_id)
        return list(fld.errors) if fld is not None else []


def cart_form(products, **kw) -> CartForm:
    """A CartForm with one quantity field (0 = not taken) per product whose box the submitted form filled in.

    Building and binding a WTForms field for each of a shop's 200 products, on every view of the counter, was
    a third of the counter's CPU (bench figure 3); an empty box means "not taken" with or without a field.
    """
    formdata = kw.get("formdata")
    if formdata is None and request and request.method in ("POST", "PUT", "PATCH", "DELETE"):
        formdata = request.form
    named = [p for p in products if formdata and str(formdata.get(f"qty_{p.id}") or "").strip(" \u3000")]

    class _Cart(CartForm):
        pass

    for p in named:
        setattr(_Cart, f"qty_{p.id}", WholeNumberField(p.label, validators=[Optional()], lo=0, hi=MAX_QTY))
    return _Cart(**kw)


class CancelForm(Form):
    reason = CleanStringField(_l("Reason for cancelling"), validators=[DataRequired(), Length(max=200)])
    submit = SubmitField(_l("Cancel this redemption"))


class ReturnForm(IdempotentForm):
    """Goods of one line handed back after the counter; one form per line on the receipt page."""

    line_id = HiddenField()
    qty = WholeNumberField(_l("Quantity returned"), validators=[DataRequired()], lo=1, hi=MAX_QTY)
    reason = CleanStringField(_l("Reason for the return"), validators=[DataRequired(), Length(max=200)])
    submit = SubmitField(_l("Take back"))


DONOR_KINDS = {"unit": _l("A company or organisation"), "person": _l("A person"), "bank": _l("A bank"),
               "government": _l("A government department")}


class DonationForm(IdempotentForm):
    """A donation receipt (捐赠物品接收单); one `qty_<id>`/`cond_<id>` pair per product is added by donation_form()."""

    donor_kind = SelectField(_l("Donor"), choices=lambda: options(DONOR_KINDS.items()))
    donor_name = CleanStringField(_l("Donor name"), validators=[DataRequired(), Length(max=64), PlainName()])
    received_on = LooseDateField(_l("Date received"), validators=[Optional()])
    receipt_no = CleanStringField(_l("Receipt number"), validators=[Optional(), Length(max=48), PlainName()],
                                  description=_l("Leave empty to number it automatically"))
    note = CleanTextAreaField(_l("Note"), validators=[Optional(), Length(max=500)])
    submit = SubmitField(_l("Record donation"))


#: lines for donated goods not yet in the catalogue, on the donation form
NEW_GOODS_LINES = 3


def donation_form(products, **kw) -> DonationForm:
    """A DonationForm with a quantity, a condition and an estimated value per product, and NEW_GOODS_LINES
    lines (new_<field>_<n>) for goods not yet in the catalogue."""

    class _Donation(DonationForm):
        pass

    for p in products:
        setattr(_Donation, f"qty_{p.id}", WholeNumberField(p.label, validators=[Optional()], lo=0, hi=MAX_QTY))
        setattr(_Donation, f"cond_{p.id}", CleanStringField(_l("Condition"), validators=[Optional(), Length(max=32), PlainName()]))
        setattr(_Donation, f"value_{p.id}", WholeNumberField(_l("Estimated value (yuan)"), validators=[Optional()],
                                                             lo=0, hi=MAX_VALUE))
    for n in range(NEW_GOODS_LINES):
        setattr(_Donation, f"new_name_{n}", CleanStringField(_l("Product name"), validators=[
            Optional(), Length(max=64), PlainName()]))
        setattr(_Donation, f"new_spec_{n}", CleanStringField(_l("Specification"), validators=[
            Optional(), Length(max=32), PlainName()]))
        setattr(_Donation, f"new_unit_{n}", CleanStringField(_l("Unit of sale"), validators=[
            Optional(), Length(max=8), PlainName()]))
        setattr(_Donation, f"new_price_{n}", WholeNumberField(_l("Price in points"), validators=[Optional()],
                                                              lo=1, hi=MAX_PRICE))
        setattr(_Donation, f"new_qty_{n}", WholeNumberField(_l("Quantity"), validators=[Optional()], lo=1, hi=MAX_QTY))
        setattr(_Donation, f"new_cond_{n}", CleanStringField(_l("Condition"), validators=[
            Optional(), Length(max=32), PlainName()]))
        setattr(_Donation, f"new_value_{n}", WholeNumberField(_l("Estimated value (yuan)"), validators=[Optional()],
                                                              lo=0, hi=MAX_VALUE))
    return _Donation(**kw)


class StocktakeForm(IdempotentForm):
    """The count sheet; `counted_<id>` and `reason_<id>` per product are added by stocktake_form()."""

    note = CleanTextAreaField(_l("Note"), validators=[Optional(), Length(max=500)])
    submit = SubmitField(_l("Post the stocktake"))


def stocktake_form(products, **kw) -> StocktakeForm:
    """A StocktakeForm with a counted quantity (empty = not counted) and a reason per product."""

    class _Stocktake(StocktakeForm):
        pass

    for p in products:
        setattr(_Stocktake, f"counted_{p.id}", WholeNumberField(p.label, validators=[Optional()], lo=0,
                                                                hi=MAX_STOCK))
        setattr(_Stocktake, f"reason_{p.id}", CleanStringField(_l("Reason for the difference"),
                                                               validators=[Optional(), Length(max=200)]))
    return _Stocktake(**kw)


WRITE_OFF_KINDS = {"damaged": _l("Damaged"), "expired": _l("Expired"), "lost": _l("Lost")}


class WriteOffForm(IdempotentForm):
    product_id = SelectField(_l("Product"), coerce=int)
    qty = WholeNumberField(_l("Quantity"), validators=[DataRequired()], lo=1, hi=MAX_QTY)
    kind = SelectField(_l("Why"), choices=lambda: options(WRITE_OFF_KINDS.items()))
    reason = CleanStringField(_l("Details"), validators=[DataRequired(), Length(max=180)])
    submit = SubmitField(_l("Write off"))
