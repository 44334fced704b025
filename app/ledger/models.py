"""Double-entry ledger: one account per household plus each village's system accounts."""
from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import BigInt, Flag, Int, Str, UTCDateTime, utcnow
from ..extensions import Model

#: the largest single movement of points; keeps arithmetic far from integer limits (I11)
MAX_TRANSFER = 100_000
#: balances stay well inside exactly representable integers everywhere (I11)
MAX_BALANCE = 2**53 - 1


class AccountKind(str, enum.Enum):
    HOUSEHOLD = "household"
    ISSUANCE = "issuance"  # the village's source of points: negative by the points in circulation
    SHOP = "shop"  # the happiness supermarket: receives redeemed points
    EXPIRED = "expired"  # receives points cleared at year end


class TransferCode(str, enum.Enum):
    EARN = "earn"  # issuance → household: an approved award
    DEDUCT = "deduct"  # household → issuance: an approved deduction (at most the balance)
    REDEEM = "redeem"  # household → shop
    REVERSAL = "reversal"  # undoes one earlier transfer, named by reverses_transfer_id
    EXPIRE = "expire"  # household → expired, at year end
    OPENING = "opening"  # issuance → household: a balance carried in from paper ledgers


class Account(Model):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"), index=True)
    kind: Mapped[str] = mapped_column(Str(16))
    household_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("households.id"), unique=True)
    #: kind for the village's system accounts, NULL for households; unique per village
    system_key: Mapped[str | None] = mapped_column(Str(16))
    allow_negative: Mapped[bool] = mapped_column(Flag, default=False)
    #: posted credits − posted debits, kept in the same transaction as every transfer (I3)
    balance: Mapped[int] = mapped_column(BigInt, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    household = relationship("Household")

    __table_args__ = (
        sa.UniqueConstraint("village_id", "id", name="uq_accounts_village_id_id"),
        sa.UniqueConstraint("village_id", "system_key", name="uq_accounts_village_id_system_key"),
        sa.CheckConstraint("kind IN ('household','issuance','shop','expired')", name="kind_known"),
        sa.CheckConstraint("allow_negative OR balance >= 0", name="no_overdraft"),
        sa.CheckConstraint(f"balance > -{MAX_BALANCE} AND balance < {MAX_BALANCE}", name="balance_bounded"),
        sa.CheckConstraint("(kind = 'household' AND household_id IS NOT NULL AND system_key IS NULL)"
                           " OR (kind <> 'household' AND household_id IS NULL AND system_key = kind)",
                           name="owner_matches_kind"),
        {"sqlite_strict": True},
    )


class Transfer(Model):
    """A movement of points between two accounts of one village; never updated or deleted."""

    __tablename__ = "transfers"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"))
    debit_account_id: Mapped[int] = mapped_column(Int)
    credit_account_id: Mapped[int] = mapped_column(Int)
    amount: Mapped[int] = mapped_column(BigInt)
    code: Mapped[str] = mapped_column(Str(16))
    #: the points entry this transfer carries out, if any
    entry_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("point_entries.id"), index=True)
    #: the member of the household who earned it (household balance, person-level attribution)
    person_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("people.id"))
    #: manual, batch, patrol, mediation, redemption, year_end, opening, kiosk …
    source: Mapped[str] = mapped_column(Str(16), default="manual")
    source_ref: Mapped[str | None] = mapped_column(Str(64))
    memo: Mapped[str | None] = mapped_column(Str(200))
    idempotency_key: Mapped[str] = mapped_column(Str(64))
    #: sha256 of what was asked for under that key; a replay with another payload is refused (I7)
    payload_hash: Mapped[str] = mapped_column(Str(64))
    reverses_transfer_id: Mapped[int | None] = mapped_column(
        Int, sa.ForeignKey("transfers.id"), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    reverses = relationship("Transfer", remote_side=[id], uselist=False)

    __table_args__ = (
        sa.CheckConstraint(f"amount > 0 AND amount <= {MAX_TRANSFER}", name="amount_bounded"),
        sa.CheckConstraint("debit_account_id <> credit_account_id", name="two_accounts"),
        sa.CheckConstraint("code IN ('earn','deduct','redeem','reversal','expire','opening')", name="code_known"),
        sa.CheckConstraint("(code = 'reversal') = (reverses_transfer_id IS NOT NULL)", name="reversal_names_original"),
        sa.ForeignKeyConstraint(["village_id", "debit_account_id"], ["accounts.village_id", "accounts.id"],
                                name="fk_transfers_debit_account"),
        sa.ForeignKeyConstraint(["village_id", "credit_account_id"], ["accounts.village_id", "accounts.id"],
                                name="fk_transfers_credit_account"),
        sa.UniqueConstraint("village_id", "idempotency_key", name="uq_transfers_village_id_idempotency_key"),
        # covering indexes: an account's sum over its transfers, or over those before a day (a statement's
        # opening balance), reads the index only; an account's transfers of a period are a range of it
        sa.Index("ix_transfers_debit_created_amount", "debit_account_id", "created_at", "amount"),
        sa.Index("ix_transfers_credit_created_amount", "credit_account_id", "created_at", "amount"),
        {"sqlite_strict": True},
    )
