"""Goods and stock for .xlsx / .csv (app.tabular.export): every product with its price and stock on hand,
and every stock movement (in, out, stocktake, write-off), oldest first."""
from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..extensions import db
from ..tabular.export import Sheet, local_moment
from .models import MovementKind, Product, StockMovement

MOVEMENT_LABELS = {
    MovementKind.PURCHASE.value: _l("bought"),
    MovementKind.DONATION_IN.value: _l("donated"),
    MovementKind.REDEMPTION_OUT.value: _l("redeemed"),
    MovementKind.REDEMPTION_CANCEL.value: _l("redemption cancelled"),
    MovementKind.STOCKTAKE_ADJUST.value: _l("stocktake difference"),
    MovementKind.DAMAGE.value: _l("written off"),
}


def _product_rows(village_id: int):
    for p in db.session.scalars(sa.select(Product).where(Product.village_id == village_id)
                                .order_by(Product.category, Product.name, Product.spec, Product.id)):
        yield [p.name, p.spec, p.unit, p.category, p.price_points, p.stock, p.reorder_level,
               _("yes") if p.active else _("no"), _("low") if p.stock <= p.reorder_level else ""]


def _movement_rows(village_id: int):
    stmt = (sa.select(StockMovement.id, StockMovement.created_at, Product.name, Product.spec,
                      StockMovement.kind, StockMovement.qty, StockMovement.reason)
            .join(Product, Product.id == StockMovement.product_id)
            .where(StockMovement.village_id == village_id)
            .order_by(StockMovement.created_at, StockMovement.id))
    for mid, at, name, spec, kind, qty, reason in db.session.execute(stmt.execution_options(yield_per=1000)):
        yield [mid, local_moment(at), f"{name} {spec}".strip(), str(MOVEMENT_LABELS.get(kind, kind)), qty,
               reason or ""]


def stock_sheets(village_id: int) -> list[Sheet]:
    return [
        Sheet(_("Goods and stock"),
              [_("Product"), _("Specification"), _("Unit of sale"), _("Category"), _("Price in points"),
               _("Stock"), _("Reorder level"), _("Offered"), _("Low stock")],
              _product_rows(village_id), widths=[20, 12, 8, 12, 10, 8, 10, 8, 8]),
        Sheet(_("Stock movements"),
              [_("Movement no."), _("Time"), _("Product"), _("Kind"), _("Quantity"), _("Reason")],
              _movement_rows(village_id), widths=[10, 17, 24, 16, 10, 40]),
    ]
