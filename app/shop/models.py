"""Happiness supermarket (幸福超市): products, append-only stock movements, donations, redemptions, stocktakes.

Stock follows the ledger's pattern (docs/ledger.md, "Stock"): `products.stock` is a cached sum of the
append-only `stock_movements`, changed only by guarded statements in app.shop.services, and
`CHECK (stock >= 0)` catches any path that forgets the guard.
"""
from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import BigInt, Day, Int, Flag, Str, UTCDateTime, utcnow
from ..extensions import Model
from ..ledger.models import MAX_TRANSFER

#: the most one line of a redemption, donation or purchase may move
MAX_QTY = 10_000
#: the most a shelf may hold (keeps stock arithmetic far from integer limits)
MAX_STOCK = 1_000_000
MAX_PRICE = 100_000
#: the most a donation line may be valued at, in yuan
MAX_VALUE = 100_000_000


class MovementKind(str, enum.Enum):
    PURCHASE = "purchase"  # bought with the village budget (+)
    DONATION_IN = "donation_in"  # 捐赠物品接收 (+)
    REDEMPTION_OUT = "redemption_out"  # handed out against points (−)
    REDEMPTION_CANCEL = "redemption_cancel"  # a cancelled redemption back on the shelf (+)
    STOCKTAKE_ADJUST = "stocktake_adjust"  # 盘点 difference (±)
    DAMAGE = "damage"  # broken, spoiled or expired (−)


class DonorKind(str, enum.Enum):
    UNIT = "unit"
    PERSON = "person"
    BANK = "bank"
    GOVERNMENT = "government"


class RedemptionStatus(str, enum.Enum):
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class Product(Model):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"), index=True)
    name: Mapped[str] = mapped_column(Str(64))
    #: e.g. 5kg, 500ml; empty when the product has one size
    spec: Mapped[str] = mapped_column(Str(32), default="")
    #: 袋 / 提 / 瓶 …
    unit: Mapped[str] = mapped_column(Str(8))
    price_points: Mapped[int] = mapped_column(Int)
    category: Mapped[str] = mapped_column(Str(32), default="")
    reorder_level: Mapped[int] = mapped_column(Int, default=0)
    active: Mapped[bool] = mapped_column(Flag, default=True)
    #: Σ stock_movements.qty for this product, kept in the same transaction as every movement (I5)
    stock: Mapped[int] = mapped_column(BigInt, default=0)
    #: stored file name (generated, never the uploader's) of a photo under instance/
    photo_file: Mapped[str | None] = mapped_column(Str(80))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("village_id", "name", "spec", name="uq_products_village_id_name_spec"),
        sa.UniqueConstraint("village_id", "id", name="uq_products_village_id_id"),
        sa.CheckConstraint(f"price_points BETWEEN 1 AND {MAX_PRICE}", name="price_bounded"),
        sa.CheckConstraint("reorder_level >= 0 AND reorder_level <= 1000000", name="reorder_level_bounded"),
        sa.CheckConstraint(f"stock >= 0 AND stock <= {MAX_STOCK}", name="stock_bounded"),
        {"sqlite_strict": True},
    )

    @property
    def label(self) -> str:
        return f"{self.name} {self.spec}".strip()


class StockMovement(Model):
    """One change of a product's stock; never updated or deleted (triggers on both databases)."""

    __tablename__ = "stock_movements"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"), index=True)
    #: indexed by ix_stock_movements_product_qty (covering: a product's sum reads the index only)
    product_id: Mapped[int] = mapped_column(Int)
    #: signed: positive in, negative out
    qty: Mapped[int] = mapped_column(BigInt)
    kind: Mapped[str] = mapped_column(Str(20))
    reason: Mapped[str | None] = mapped_column(Str(200))
    #: donation, redemption, stocktake … and its id
    ref_type: Mapped[str | None] = mapped_column(Str(16))
    ref_id: Mapped[int | None] = mapped_column(Int)
    created_by_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    product: Mapped[Product] = relationship(foreign_keys=[product_id],
                                            primaryjoin="StockMovement.product_id == Product.id")

    __table_args__ = (
        sa.ForeignKeyConstraint(["village_id", "product_id"], ["products.village_id", "products.id"],
                                name="fk_stock_movements_product"),
        sa.CheckConstraint(f"qty <> 0 AND qty BETWEEN -{MAX_STOCK} AND {MAX_STOCK}", name="qty_bounded"),
        sa.CheckConstraint("kind IN ('purchase','donation_in','redemption_out','redemption_cancel',"
                           "'stocktake_adjust','damage')", name="kind_known"),
        sa.CheckConstraint("(kind IN ('purchase','donation_in','redemption_cancel') AND qty > 0)"
                           " OR (kind IN ('redemption_out','damage') AND qty < 0)"
                           " OR kind = 'stocktake_adjust'", name="sign_matches_kind"),
        sa.Index("ix_stock_movements_product_qty", "product_id", "qty"),
        {"sqlite_strict": True},
    )


class Donation(Model):
    """A donation receipt (捐赠物品接收单): who gave what, in what condition."""

    __tablename__ = "donations"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"), index=True)
    donor_name: Mapped[str] = mapped_column(Str(64))
    donor_kind: Mapped[str] = mapped_column(Str(12))
    received_on: Mapped[dt.date] = mapped_column(Day)
    receipt_no: Mapped[str] = mapped_column(Str(48))
    note: Mapped[str | None] = mapped_column(Str(500))
    created_by_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    lines: Mapped[list[DonationLine]] = relationship(back_populates="donation", order_by="DonationLine.id")

    __table_args__ = (
        sa.UniqueConstraint("village_id", "receipt_no", name="uq_donations_village_id_receipt_no"),
        sa.CheckConstraint("donor_kind IN ('unit','person','bank','government')", name="donor_kind_known"),
        {"sqlite_strict": True},
    )


class DonationLine(Model):
    __tablename__ = "donation_lines"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"), index=True)
    donation_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("donations.id"), index=True)
    product_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("products.id"), index=True)
    qty: Mapped[int] = mapped_column(Int)
    #: 全新 / 完好 … as written on the receipt
    condition: Mapped[str | None] = mapped_column(Str(32))
    #: the donor's or the village's estimate of the line's value in whole yuan (估价), for the donation register
    estimated_value: Mapped[int | None] = mapped_column(Int)

    donation: Mapped[Donation] = relationship(back_populates="lines")
    product: Mapped[Product] = relationship()

    __table_args__ = (
        sa.CheckConstraint(f"qty BETWEEN 1 AND {MAX_QTY}", name="qty_bounded"),
        sa.CheckConstraint(f"estimated_value IS NULL OR estimated_value BETWEEN 0 AND {MAX_VALUE}",
                           name="value_bounded"),
        {"sqlite_strict": True},
    )


class Redemption(Model):
    """Goods handed to a household against its points; cancelled by a reversal, never deleted."""

    __tablename__ = "redemptions"

    #: set by services.redeem on the object it returns: True when the key was used before
    replayed = False

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"), index=True)
    household_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("households.id"), index=True)
    #: the member who came to the counter, if recorded
    person_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("people.id"))
    receipt_no: Mapped[str] = mapped_column(Str(48))
    total_points: Mapped[int] = mapped_column(BigInt)
    balance_before: Mapped[int] = mapped_column(BigInt)
    balance_after: Mapped[int] = mapped_column(BigInt)
    transfer_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("transfers.id"), unique=True)
    status: Mapped[str] = mapped_column(Str(10), default=RedemptionStatus.COMPLETED.value)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    cancelled_by_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("users.id"))
    cancel_reason: Mapped[str | None] = mapped_column(Str(200))
    cancel_transfer_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("transfers.id"), unique=True)
    idempotency_key: Mapped[str] = mapped_column(Str(64))
    payload_hash: Mapped[str] = mapped_column(Str(64))
    created_by_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    lines: Mapped[list[RedemptionLine]] = relationship(back_populates="redemption", order_by="RedemptionLine.id")
    returns: Mapped[list[RedemptionReturn]] = relationship(back_populates="redemption",
                                                           order_by="RedemptionReturn.id")
    household = relationship("Household")
    person = relationship("Person")

    __table_args__ = (
        sa.UniqueConstraint("village_id", "receipt_no", name="uq_redemptions_village_id_receipt_no"),
        sa.UniqueConstraint("village_id", "idempotency_key", name="uq_redemptions_village_id_idempotency_key"),
        sa.CheckConstraint(f"total_points > 0 AND total_points <= {MAX_TRANSFER}", name="total_bounded"),
        sa.CheckConstraint("balance_after >= 0 AND balance_after = balance_before - total_points",
                           name="balance_arithmetic"),
        sa.CheckConstraint("status IN ('completed','cancelled')", name="status_known"),
        sa.CheckConstraint("(status = 'cancelled') = (cancelled_at IS NOT NULL)", name="cancel_consistent"),
        {"sqlite_strict": True},
    )


class RedemptionLine(Model):
    """One product of a redemption, with the name and price as they were at the counter."""

    __tablename__ = "redemption_lines"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"), index=True)
    redemption_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("redemptions.id"), index=True)
    product_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("products.id"), index=True)
    name: Mapped[str] = mapped_column(Str(64))
    spec: Mapped[str] = mapped_column(Str(32), default="")
    qty: Mapped[int] = mapped_column(Int)
    unit_price: Mapped[int] = mapped_column(Int)
    points: Mapped[int] = mapped_column(BigInt)

    redemption: Mapped[Redemption] = relationship(back_populates="lines")

    @property
    def returned_qty(self) -> int:
        """How many of the line's goods came back after the counter (RedemptionReturn)."""
        return sum(r.qty for r in self.redemption.returns if r.line_id == self.id)

    __table_args__ = (
        sa.CheckConstraint(f"qty BETWEEN 1 AND {MAX_QTY}", name="qty_bounded"),
        sa.CheckConstraint(f"unit_price BETWEEN 1 AND {MAX_PRICE}", name="price_bounded"),
        sa.CheckConstraint("points = qty * unit_price", name="points_arithmetic"),
        {"sqlite_strict": True},
    )


class RedemptionReturn(Model):
    """Goods of one line handed back after the counter (退货): the points for them and the goods come back.

    The ledger cannot take part of a transfer back, so a return reverses the redemption's current charge and
    charges the goods kept again (`charge_transfer_id`; none when nothing is left), all in one transaction with
    the stock movement and the audit row. The redemption's own figures stay as they were at the counter.
    """

    __tablename__ = "redemption_returns"

    #: set by services.return_line on the object it returns: True when the key was used before
    replayed = False

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"), index=True)
    redemption_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("redemptions.id"), index=True)
    line_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("redemption_lines.id"), index=True)
    qty: Mapped[int] = mapped_column(Int)
    #: points given back: qty × the line's unit price
    points: Mapped[int] = mapped_column(BigInt)
    reason: Mapped[str] = mapped_column(Str(200))
    #: the reversal of the charge before this return
    reversal_transfer_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("transfers.id"), unique=True)
    #: the new charge for the goods kept; None when every line is back
    charge_transfer_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("transfers.id"), unique=True)
    idempotency_key: Mapped[str] = mapped_column(Str(64))
    created_by_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    redemption: Mapped[Redemption] = relationship(back_populates="returns")
    line: Mapped[RedemptionLine] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("village_id", "idempotency_key",
                            name="uq_redemption_returns_village_id_idempotency_key"),
        sa.CheckConstraint(f"qty BETWEEN 1 AND {MAX_QTY}", name="qty_bounded"),
        sa.CheckConstraint(f"points > 0 AND points <= {MAX_TRANSFER}", name="points_bounded"),
        {"sqlite_strict": True},
    )


class Stocktake(Model):
    """A count of the shelves (定期盘点); differences become stocktake_adjust movements."""

    __tablename__ = "stocktakes"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"), index=True)
    taken_on: Mapped[dt.date] = mapped_column(Day)
    note: Mapped[str | None] = mapped_column(Str(500))
    created_by_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    lines: Mapped[list[StocktakeLine]] = relationship(back_populates="stocktake", order_by="StocktakeLine.id")

    __table_args__ = ({"sqlite_strict": True},)


class StocktakeLine(Model):
    __tablename__ = "stocktake_lines"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"), index=True)
    stocktake_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("stocktakes.id"), index=True)
    product_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("products.id"), index=True)
    book_qty: Mapped[int] = mapped_column(BigInt)
    counted_qty: Mapped[int] = mapped_column(BigInt)
    diff: Mapped[int] = mapped_column(BigInt)
    reason: Mapped[str | None] = mapped_column(Str(200))

    stocktake: Mapped[Stocktake] = relationship(back_populates="lines")
    product: Mapped[Product] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("stocktake_id", "product_id", name="uq_stocktake_lines_stocktake_id_product_id"),
        sa.CheckConstraint(f"book_qty >= 0 AND counted_qty >= 0 AND counted_qty <= {MAX_STOCK}",
                           name="qty_bounded"),
        sa.CheckConstraint("diff = counted_qty - book_qty", name="diff_arithmetic"),
        {"sqlite_strict": True},
    )


class StockFormKey(Model):
    """The idempotency key of a stock form (purchase, donation, stocktake, write-off) and what it made.

    The counter's redemptions keep their key on the redemption itself; the other stock forms share this
    table, so a double click on "Record donation" records one donation (docs/architecture.md, "Form keys (idempotency)").
    """

    __tablename__ = "stock_form_keys"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"))
    idempotency_key: Mapped[str] = mapped_column(Str(64))
    #: purchase | donation | stocktake | write_off
    action: Mapped[str] = mapped_column(Str(16))
    #: the stock movement (purchase, write_off), donation or stocktake the first submission made
    ref_id: Mapped[int] = mapped_column(Int)
    payload_hash: Mapped[str] = mapped_column(Str(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("village_id", "idempotency_key", name="uq_stock_form_keys_village_id_idempotency_key"),
        sa.CheckConstraint("action IN ('purchase','donation','stocktake','write_off')", name="action_known"),
        {"sqlite_strict": True},
    )
