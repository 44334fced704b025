"""Happiness supermarket forms. Quantities and prices go through WholeNumberField (full-width digits yes)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, SubmitField
from wtforms.validators import DataRequired, Length, Optional

from ..forms import CleanStringField
from ..points.forms import IdempotentForm, WholeNumberField
from .models import MAX_PRICE, MAX_QTY, MAX_STOCK


class ProductForm(FlaskForm):
    name = CleanStringField(_l("Product name"), validators=[DataRequired(), Length(max=64)])
    spec = CleanStringField(_l("Specification"), validators=[Optional(), Length(max=32)],
                            description=_l("For example 5kg or 500ml; leave empty for one size"))
    unit = CleanStringField(_l("Unit of sale"), validators=[DataRequired(), Length(max=8)],
                            description=_l("For example 袋, 瓶, 提"))
    price_points = WholeNumberField(_l("Price in points"), validators=[DataRequired()], lo=1, hi=MAX_PRICE)
    category = CleanStringField(_l("Category"), validators=[Optional(), Length(max=32)])
    reorder_level = WholeNumberField(_l("Reorder level"), validators=[Optional()], lo=0, hi=MAX_STOCK,
                                     description=_l("The list marks the product when stock falls to this level"))
    active = BooleanField(_l("Offered at the counter"), default=True)
    submit = SubmitField(_l("Save product"))


class PurchaseForm(FlaskForm):
    qty = WholeNumberField(_l("Quantity received"), validators=[DataRequired()], lo=1, hi=MAX_QTY)
    reason = CleanStringField(_l("Note (supplier, invoice number…)"), validators=[Optional(), Length(max=200)])
    submit = SubmitField(_l("Receive stock"))


class CartForm(IdempotentForm):
    """The counter's basket; one `qty_<product id>` field per product is added by cart_form()."""

    household_id = HiddenField()
    check = SubmitField(_l("Check total"))
    confirm = SubmitField(_l("Confirm redemption"))


def cart_form(products, **kw) -> CartForm:
    """A CartForm with one quantity field (0 = not taken) per product."""

    class _Cart(CartForm):
        pass

    for p in products:
        setattr(_Cart, f"qty_{p.id}", WholeNumberField(p.label, validators=[Optional()], lo=0, hi=MAX_QTY))
    return _Cart(**kw)


class CancelForm(FlaskForm):
    reason = CleanStringField(_l("Reason for cancelling"), validators=[DataRequired(), Length(max=200)])
    submit = SubmitField(_l("Cancel this redemption"))
