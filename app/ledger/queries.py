"""Ledger reads: balances. Nothing here writes; app.ledger.services is the only writer of transfers and
balances, and other features read the ledger through this module."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Iterator

import sqlalchemy as sa
import sqlalchemy.orm

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


def household_balances_before(village_id: int, before: dt.datetime) -> dict[int, int]:
    """household id → its balance made of the transfers posted before `before` (a naive UTC time): the
    balance as it stood then. Households with no transfer by then are left out (their balance was 0)."""
    t = Transfer.__table__
    out: dict[int, int] = {}
    for side, sign in ((t.c.credit_account_id, 1), (t.c.debit_account_id, -1)):
        for household_id, total in db.session.execute(
                sa.select(Account.household_id, sa.func.sum(t.c.amount))
                .join(Account, Account.id == side)
                .where(t.c.village_id == village_id, t.c.created_at < before, Account.household_id.is_not(None))
                .group_by(Account.household_id)):
            out[household_id] = out.get(household_id, 0) + sign * int(total)
    return out


def balances_after(transfers: dict[int, int]) -> dict[int, int]:
    """transfer id → the household's balance right after that transfer, for `transfers` mapping transfer id →
    the household it moved. Transfers apply in id order (the ledger is append-only), so this is the running
    sum of the household account's transfers up to and including that one: one query per household."""
    wanted: dict[int, set[int]] = {}
    for transfer_id, household_id in transfers.items():
        if transfer_id:
            wanted.setdefault(household_id, set()).add(transfer_id)
    out: dict[int, int] = {}
    for household_id, ids in wanted.items():
        account_id = db.session.scalar(sa.select(Account.id).where(Account.household_id == household_id))
        if account_id is None:
            continue
        running = 0
        for tid, amount, credit in db.session.execute(
                sa.select(Transfer.id, Transfer.amount, Transfer.credit_account_id == account_id)
                .where(sa.or_(Transfer.credit_account_id == account_id, Transfer.debit_account_id == account_id),
                       Transfer.id <= max(ids))
                .order_by(Transfer.id)):
            running += int(amount) if credit else -int(amount)
            if tid in ids:
                out[tid] = running
    return out


@dataclass(frozen=True)
class HouseholdMovement:
    """One transfer seen from a household's account: points signed (+ in, − out)."""

    transfer_id: int
    created_at: dt.datetime
    household_id: int
    points: int
    code: str
    source: str
    memo: str | None
    entry_id: int | None
    reverses_transfer_id: int | None


def household_movements_before(village_id: int, before: dt.datetime) -> Iterator[HouseholdMovement]:
    """The village's transfers posted before `before` (a naive UTC time), oldest first, one per household
    account they touch (streamed: ten years of a village are read row by row)."""
    credit, debit = sa.orm.aliased(Account), sa.orm.aliased(Account)
    stmt = (sa.select(Transfer.id, Transfer.created_at, Transfer.amount, Transfer.code, Transfer.source,
                      Transfer.memo, Transfer.entry_id, Transfer.reverses_transfer_id,
                      credit.household_id, debit.household_id)
            .join(credit, credit.id == Transfer.credit_account_id)
            .join(debit, debit.id == Transfer.debit_account_id)
            .where(Transfer.village_id == village_id, Transfer.created_at < before,
                   sa.or_(credit.household_id.is_not(None), debit.household_id.is_not(None)))
            .order_by(Transfer.created_at, Transfer.id))
    for (tid, at, amount, code, source, memo, entry_id, reverses, credit_hh, debit_hh) in \
            db.session.execute(stmt.execution_options(yield_per=1000)):
        for household_id, points in ((credit_hh, amount), (debit_hh, -amount)):
            if household_id is not None:
                yield HouseholdMovement(tid, at, household_id, points, code, source, memo, entry_id, reverses)
