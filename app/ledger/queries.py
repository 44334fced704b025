"""Ledger reads: balances. Nothing here writes; app.ledger.services is the only writer of transfers and
balances, and other features read the ledger through this module."""
from __future__ import annotations

import sqlalchemy as sa

from ..extensions import db
from .models import Account, Transfer


def balance_query(household_id: int) -> sa.Select:
    """SELECT of the household's spendable balance (no row when it never had an account)."""
    return sa.select(Account.balance).where(Account.household_id == household_id)


def balance_of(household) -> int:
    """The household's spendable balance (0 when it never had an account)."""
    return int(db.session.scalar(balance_query(household.id)) or 0)


def reversed_ids(transfer_ids) -> set[int]:
    """Those of `transfer_ids` that a later transfer has reversed (at any time since)."""
    ids = [i for i in transfer_ids if i]
    if not ids:
        return set()
    return set(db.session.scalars(sa.select(Transfer.reverses_transfer_id).where(
        Transfer.reverses_transfer_id.in_(ids))))
