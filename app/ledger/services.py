"""The only code that writes transfers and balances. Functions flush and never commit.

Every movement is one guarded statement per account (the database, not Python, decides
whether a balance suffices), accounts are touched in ascending id order so concurrent
PostgreSQL transactions cannot deadlock, and a key names each movement so a replay
returns the first result instead of moving points twice (docs/ledger.md, "The one writer").
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from ..errors import DomainError
from ..audit.services import record
from ..extensions import db, upsert_insert
# IdempotencyConflict stays importable from here: post_transfer raises it (app/idempotency.py)
from ..idempotency import IdempotencyConflict, find_earlier, payload_hash  # noqa: F401
from .models import MAX_TRANSFER, Account, AccountKind, Transfer, TransferCode


class LedgerError(DomainError):
    """A movement that cannot be made; the message is for the person at the screen."""


class Insufficient(LedgerError):
    """The debit account does not hold enough points."""


# --- accounts ---------------------------------------------------------------------------------------

def system_account(village_id: int, kind: AccountKind | str) -> Account:
    """The village's issuance, shop or expired account, created on first use."""
    kind = AccountKind(kind).value
    if kind == AccountKind.HOUSEHOLD.value:
        raise ValueError("household accounts belong to households")
    acct = db.session.scalar(sa.select(Account).where(Account.village_id == village_id,
                                                      Account.system_key == kind))
    if acct is None:
        acct = Account(village_id=village_id, kind=kind, system_key=kind, balance=0,
                       allow_negative=kind == AccountKind.ISSUANCE.value)
        db.session.add(acct)
        db.session.flush()
    return acct


def household_account(household) -> Account:
    """The household's spendable-points account, created on first use.

    Two first movements of a household at once (two approvals on PostgreSQL, whose writers do not queue as
    SQLite's do) must not both create it: the insert does nothing when the other transaction's row is there
    (waiting for that transaction first), and the account is read back either way.
    """
    query = sa.select(Account).where(Account.household_id == household.id)
    acct = db.session.scalar(query)
    if acct is None:
        db.session.execute(upsert_insert(Account).values(
            village_id=household.village_id, kind=AccountKind.HOUSEHOLD.value, household_id=household.id,
            balance=0, allow_negative=False).on_conflict_do_nothing(index_elements=["household_id"]))
        acct = db.session.scalar(query)
    return acct


def household_and_system_account(household, kind: AccountKind | str) -> tuple[Account, Account]:
    """(the household's account, the village's `kind` account) in one read, each created on first use as
    household_account and system_account would: a sale at the counter needs both (bench figure 3)."""
    kind = AccountKind(kind).value
    found = {(a.household_id is not None): a for a in db.session.scalars(
        sa.select(Account).where(sa.or_(Account.household_id == household.id,
                                        sa.and_(Account.village_id == household.village_id,
                                                Account.system_key == kind))))}
    return (found.get(True) or household_account(household),
            found.get(False) or system_account(household.village_id, kind))


# --- transfers --------------------------------------------------------------------------------------

@dataclass
class Posted:
    transfer: Transfer
    replayed: bool = False
    #: the debit account's balance right after this transfer (None for a replay: read the account)
    debit_balance: int | None = None


def _move(debit: Account, credit: Account, amount: int, hold: Callable[[], int] | None = None) -> int:
    """Apply the balance changes, each as one guarded statement, in ascending account id order; return the
    debit account's balance after it.

    With `hold`, the debit may not take the part of the balance `hold()` names (points not spendable
    yet). The debit row is locked first, in its place in the ascending order, and only then is `hold()`
    asked: whatever changes what it counts (an approval crediting this account) holds the same row lock
    until it commits, so `hold()`, a new statement (a new snapshot under READ COMMITTED; inside BEGIN
    IMMEDIATE on SQLite), sees it together with the balance it changed, never one without the other. A
    subquery inside the guarded UPDATE would not: PostgreSQL re-checks the WHERE clause of a waiting
    UPDATE against the new row version but keeps the statement's old snapshot for every other table.
    """
    for acct in sorted((debit, credit), key=lambda a: a.id):
        if acct.id == debit.id:
            held = 0
            if hold is not None:
                db.session.execute(sa.select(Account.id).where(Account.id == debit.id).with_for_update())
                held = int(hold())
                if held < 0:
                    raise ValueError("a hold cannot be negative")
            res = db.session.execute(
                sa.update(Account)
                .where(Account.id == debit.id, Account.village_id == debit.village_id,
                       # the issuance account may go negative; a household's balance may not, nor may
                       # it pay with what is held back
                       sa.or_(sa.literal_column("accounts.allow_negative"),
                              Account.balance - held >= amount))
                .values(balance=Account.balance - amount)
                .returning(Account.balance)
                .execution_options(synchronize_session=False))
            balance = res.scalar()
            if balance is None:
                if held:
                    raise Insufficient(_("Not enough spendable points: %(held)s of the balance are not "
                                         "spendable yet.", held=held))
                raise Insufficient(_("Not enough points: the balance is smaller than %(n)s.", n=amount))
        else:
            db.session.execute(sa.update(Account).where(Account.id == credit.id)
                               .values(balance=Account.balance + amount)
                               .execution_options(synchronize_session=False))
    # expired rather than set to what RETURNING gave: a savepoint rolled back later must not leave a
    # balance in the session that the database no longer holds
    db.session.expire(debit, ["balance"])
    db.session.expire(credit, ["balance"])
    return int(balance)


def post_transfer(*, debit: Account, credit: Account, amount: int, code: TransferCode | str, key: str,
                  payload: dict[str, Any] | None = None, actor=None, person_id: int | None = None,
                  entry_id: int | None = None, source: str = "manual", source_ref: str | None = None,
                  memo: str | None = None, reverses: Transfer | None = None,
                  hold: Callable[[], int] | None = None, key_checked: bool = False,
                  audit_rows: list[dict[str, Any]] | None = None) -> Posted:
    """Move `amount` points from `debit` to `credit` once per `key`.

    `hold`, when given, names the part of the debit account's balance that may not be spent yet (the shop
    passes the household's awards still on posting); it is asked once the account row is locked (_move).

    `key_checked`: the caller has already found, in this transaction, that nothing was made under its own
    key (a redemption looks up its key before it pays), so this movement's key is not looked up again; a
    transfer already under it then breaks UNIQUE (village_id, idempotency_key): IntegrityError, never a
    second movement.

    `audit_rows`: the transfer's audit row is appended there (record()'s arguments) instead of written,
    for a caller that writes it in this transaction with its own rows in one record_together (a redemption: its
    transfer's and its own). Such a caller takes the audit head (lock_head) right after this returns, as
    record() would have, so the lock order stays accounts → audit head → anything after.

    :raises Insufficient: the debit account would go below zero, or below what `hold` keeps back.
    :raises IdempotencyConflict: `key` was used for another movement.
    """
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= MAX_TRANSFER:
        raise LedgerError(_("A movement of points must be a whole number from 1 to %(max)s.", max=MAX_TRANSFER))
    if debit.village_id != credit.village_id or debit.id == credit.id:
        raise LedgerError("a transfer needs two different accounts of one village")
    code = TransferCode(code).value
    digest = payload_hash({"debit": debit.id, "credit": credit.id, "amount": amount, "code": code,
                           "reverses": reverses.id if reverses else None, **(payload or {})})
    if not key_checked:
        prior = find_earlier(Transfer, debit.village_id, key, digest=digest)
        if prior is not None:
            return Posted(prior, replayed=True)
    debit_balance = _move(debit, credit, amount, hold)
    t = Transfer(village_id=debit.village_id, debit_account_id=debit.id, credit_account_id=credit.id,
                 amount=amount, code=code, entry_id=entry_id, person_id=person_id, source=source,
                 source_ref=source_ref, memo=memo, idempotency_key=key, payload_hash=digest,
                 reverses_transfer_id=reverses.id if reverses else None,
                 created_by_id=actor.id if actor is not None else None)
    db.session.add(t)
    db.session.flush()
    household_id = None
    for acct in (debit, credit):
        if acct.household_id:
            household_id = acct.household_id
    row = dict(action=f"ledger.{code}", obj=t, village_id=t.village_id, household_id=household_id,
               details={"amount": amount, "debit": debit.id, "credit": credit.id, "entry_id": entry_id,
                        "source": source, "reverses": t.reverses_transfer_id})
    if audit_rows is not None:
        audit_rows.append(row)
    else:
        record(**row)
    return Posted(t, debit_balance=debit_balance)


def reverse_transfer(original: Transfer, *, key: str, actor=None, memo: str | None = None) -> Posted:
    """Undo `original` by the opposite movement; a transfer can be reversed once."""
    if original.code == TransferCode.REVERSAL.value:
        raise LedgerError(_("A reversal cannot itself be reversed; record a new entry instead."))
    already = db.session.scalar(sa.select(Transfer).where(Transfer.reverses_transfer_id == original.id))
    if already is not None:
        if already.idempotency_key == key:
            return Posted(already, replayed=True)
        raise LedgerError(_("This movement has already been reversed."))
    debit = db.session.get(Account, original.credit_account_id)
    credit = db.session.get(Account, original.debit_account_id)
    try:
        return post_transfer(debit=debit, credit=credit, amount=original.amount, code=TransferCode.REVERSAL,
                             key=key, actor=actor, person_id=original.person_id, entry_id=original.entry_id,
                             source=original.source, source_ref=original.source_ref, memo=memo,
                             reverses=original)
    except Insufficient:
        raise Insufficient(_("The household has already spent these points, so the award cannot be "
                             "reversed in full. Record a deduction instead.")) from None


# --- checks (flask ledger check) ------------------------------------------------------------------

def check(village_id: int | None = None) -> list[str]:
    """Run the ledger oracles (I1–I4, I7, I8, I14); return one line per violation, none when clean."""
    problems: list[str] = []
    t, a = Transfer.__table__, Account.__table__

    def vfilter(col):
        return col == village_id if village_id is not None else sa.true()

    conn = db.session.connection()
    # I1: positive amounts between two different accounts of the same village
    for row in conn.execute(sa.select(t.c.id).where(vfilter(t.c.village_id),
                                                    sa.or_(t.c.amount <= 0, t.c.debit_account_id == t.c.credit_account_id))):
        problems.append(f"I1 transfer {row.id}: amount not positive or debit = credit")
    accounts_village = sa.select(a.c.id, a.c.village_id).subquery()
    for side in ("debit_account_id", "credit_account_id"):
        q = sa.select(t.c.id).join(accounts_village, accounts_village.c.id == t.c[side]).where(
            vfilter(t.c.village_id), accounts_village.c.village_id != t.c.village_id)
        for row in conn.execute(q):
            problems.append(f"I1 transfer {row.id}: {side} belongs to another village")
    # I2: conservation per village
    for row in conn.execute(sa.select(a.c.village_id, sa.func.sum(a.c.balance).label("s"))
                            .where(vfilter(a.c.village_id)).group_by(a.c.village_id)
                            .having(sa.func.sum(a.c.balance) != 0)):
        problems.append(f"I2 village {row.village_id}: balances sum to {row.s}, not 0")
    # I3: every balance equals its credits minus its debits. Checking one village sums its own transfers only,
    # not a county server's every transfer: those are all that touch its accounts, since a transfer's accounts
    # belong to its village (the composite foreign keys fk_transfers_debit_account / _credit_account)
    credits = sa.select(t.c.credit_account_id.label("acct"), sa.func.sum(t.c.amount).label("s")) \
        .where(vfilter(t.c.village_id)).group_by(t.c.credit_account_id).subquery()
    debits = sa.select(t.c.debit_account_id.label("acct"), sa.func.sum(t.c.amount).label("s")) \
        .where(vfilter(t.c.village_id)).group_by(t.c.debit_account_id).subquery()
    q = sa.select(a.c.id, a.c.balance, sa.func.coalesce(credits.c.s, 0).label("cr"),
                  sa.func.coalesce(debits.c.s, 0).label("dr")) \
        .outerjoin(credits, credits.c.acct == a.c.id).outerjoin(debits, debits.c.acct == a.c.id) \
        .where(vfilter(a.c.village_id))
    for row in conn.execute(q):
        if row.balance != row.cr - row.dr:
            problems.append(f"I3 account {row.id}: balance {row.balance} but transfers give {row.cr - row.dr}")
    # I4: no overdraft
    for row in conn.execute(sa.select(a.c.id, a.c.balance).where(vfilter(a.c.village_id),
                                                                  a.c.kind != "issuance", a.c.balance < 0)):
        problems.append(f"I4 account {row.id}: negative balance {row.balance}")
    # I7: one transfer per key (also a UNIQUE constraint) and at most one reversal per transfer
    for row in conn.execute(sa.select(t.c.village_id, t.c.idempotency_key, sa.func.count().label("n"))
                            .where(vfilter(t.c.village_id)).group_by(t.c.village_id, t.c.idempotency_key)
                            .having(sa.func.count() > 1)):
        problems.append(f"I7 village {row.village_id}: key {row.idempotency_key} used {row.n} times")
    for row in conn.execute(sa.select(t.c.reverses_transfer_id, sa.func.count().label("n"))
                            .where(vfilter(t.c.village_id), t.c.reverses_transfer_id.is_not(None))
                            .group_by(t.c.reverses_transfer_id).having(sa.func.count() > 1)):
        problems.append(f"I8 transfer {row.reverses_transfer_id}: reversed {row.n} times")
    # I8: the append-only triggers are in place
    problems.extend(_missing_triggers())
    # I14: expiry only ever moves points from a household into the expired account
    exp = a.alias("exp")
    src = a.alias("src")
    q = sa.select(t.c.id).join(exp, exp.c.id == t.c.credit_account_id).join(src, src.c.id == t.c.debit_account_id) \
        .where(vfilter(t.c.village_id), t.c.code == "expire",
               sa.or_(exp.c.kind != "expired", src.c.kind != "household"))
    for row in conn.execute(q):
        problems.append(f"I14 transfer {row.id}: expiry not from a household into the expired account")
    return problems


APPEND_ONLY_TABLES = ("transfers", "audit_log", "household_events")


def _missing_triggers() -> list[str]:
    conn = db.session.connection()
    if conn.dialect.name == "sqlite":
        names = {r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
        wanted = {f"{tb}_no_{verb}" for tb in APPEND_ONLY_TABLES for verb in ("update", "delete")}
    else:
        names = {r[0] for r in conn.exec_driver_sql(
            "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgenabled <> 'D'")}
        wanted = {f"{tb}_{suffix}" for tb in APPEND_ONLY_TABLES for suffix in ("append_only", "no_truncate")}
    return [f"I8 trigger {name} is missing or disabled" for name in sorted(wanted - names)]
