"""Statements built from the ledger, issued with a verification code, and checked against it later.

A statement shows the household account's transfers of a period, so its opening balance, lines and
closing balance are the ledger's by construction: opening = credits − debits before the period,
closing = opening + the lines. What a printed statement showed is kept as a digest (transfer ids,
whether each has been reversed since, the balances), so /verify can rebuild the same statement
from today's ledger and tell whether the paper still holds.

Functions flush and never commit (the view, command or job runner owns the transaction).
"""
from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import json
import re
import secrets
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from ..audit.services import record
from ..auth.models import User
from ..db import local_day, local_midnight_utc, local_today, utcnow
from ..extensions import db
from ..filters import label
from ..forms import parse_date
from ..ledger.models import Account, Transfer, TransferCode
from ..points import queries as pq
from ..points.models import PointScheme
from ..registry.models import Household, HouseholdStatus, Person, Village, VillagerGroup
from ..shop.queries import redemptions_by_transfer
from ..text import mask_name, natural_key
from .errors import StatementError
from .models import IssuedStatement

#: Crockford's base32: no I, L, O or U, so a code read aloud or typed from paper is hard to get wrong
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 10  # 50 random bits: unguessable at any rate a rate-limited page allows
MIN_YEAR, MAX_YEAR = 2000, 2200
#: a statement covers at most this many days (a decade is plenty for a paper statement)
MAX_SPAN_DAYS = 3700


# --- periods --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Period:
    kind: str  # year, quarter, month, range
    start: dt.date
    end: dt.date

    @property
    def label(self) -> str:
        """2026年 / 2026年第3季度 / 2026年5月 / 2026-01-01 至 2026-03-31."""
        if self.kind == "year":
            return _("Year %(year)s", year=self.start.year)
        if self.kind == "quarter":
            return _("Q%(q)s %(year)s", q=(self.start.month - 1) // 3 + 1, year=self.start.year)
        if self.kind == "month":
            return _("Month %(month)s of %(year)s", year=self.start.year, month=self.start.month)
        return _("%(start)s to %(end)s", start=self.start.isoformat(), end=self.end.isoformat())


def resolve_period(kind: str, *, year: int | None = None, quarter: int | None = None,
                   month: int | None = None, start: dt.date | None = None, end: dt.date | None = None,
                   today: dt.date | None = None) -> Period:
    """Turn what the clerk chose into dates.

    :raises StatementError: a missing or impossible part, naming the form field it concerns.
    """
    today = today or local_today()
    if kind in ("year", "quarter", "month"):
        if year is None:
            raise StatementError(_("Please enter the year."), "year")
        if not MIN_YEAR <= year <= MAX_YEAR:
            raise StatementError(_("Please enter a year from %(lo)s to %(hi)s.", lo=MIN_YEAR, hi=MAX_YEAR),
                                 "year")
        if kind == "year":
            period = Period(kind, dt.date(year, 1, 1), dt.date(year, 12, 31))
        elif kind == "quarter":
            if quarter not in (1, 2, 3, 4):
                raise StatementError(_("Please choose the quarter."), "quarter")
            first = dt.date(year, 3 * quarter - 2, 1)
            last_month = 3 * quarter
            period = Period(kind, first, dt.date(year, last_month, calendar.monthrange(year, last_month)[1]))
        else:
            if month is None or not 1 <= month <= 12:
                raise StatementError(_("Please choose the month."), "month")
            period = Period(kind, dt.date(year, month, 1),
                            dt.date(year, month, calendar.monthrange(year, month)[1]))
    elif kind == "range":
        if start is None:
            raise StatementError(_("Please enter the first day."), "start")
        if end is None:
            raise StatementError(_("Please enter the last day."), "end")
        if end < start:
            raise StatementError(_("The last day cannot be before the first day."), "end")
        if (end - start).days > MAX_SPAN_DAYS:
            raise StatementError(_("A statement covers at most ten years."), "end")
        if start.year < MIN_YEAR:
            raise StatementError(_("Please enter a year from %(lo)s to %(hi)s.", lo=MIN_YEAR, hi=MAX_YEAR),
                                 "start")
        period = Period(kind, start, end)
    else:
        raise StatementError(_("Please choose the kind of period."), "kind")
    if period.start > today:
        raise StatementError(_("This period has not started yet."), "start" if kind == "range" else "year")
    return period


_PERIOD_TEXT = [
    (re.compile(r"^(\d{4})$"), lambda m: dict(kind="year", year=int(m[1]))),
    (re.compile(r"^(\d{4})-?[Qq]([1-4])$"),
     lambda m: dict(kind="quarter", year=int(m[1]), quarter=int(m[2]))),
    (re.compile(r"^(\d{4})-(\d{1,2})$"), lambda m: dict(kind="month", year=int(m[1]), month=int(m[2]))),
]


def parse_period(text: str, today: dt.date | None = None) -> Period:
    """A period written on the command line: 2026, 2026-Q3, 2026-05 or 2026-01-01..2026-03-31."""
    text = (text or "").strip()
    for pattern, parts in _PERIOD_TEXT:
        m = pattern.match(text)
        if m:
            return resolve_period(**parts(m), today=today)
    first, sep, last = text.partition("..")
    if sep:
        try:
            start, end = parse_date(first), parse_date(last)
        except ValueError:
            start = end = None
        if start is not None and end is not None:
            return resolve_period("range", start=start, end=end, today=today)
    raise StatementError(_("Write the period as 2026, 2026-Q3, 2026-05 or 2026-01-01..2026-03-31."), "period")


# --- building a statement from the ledger ---------------------------------------------------------

SECTIONS = ("entries", "redemptions", "expiry")
_SECTION_OF = {"earn": "entries", "deduct": "entries", "opening": "entries", "redeem": "redemptions",
               "expire": "expiry"}


@dataclass
class Line:
    transfer_id: int
    day: dt.date
    section: str
    code: str
    text: str
    points: int  # signed, from the household's side
    status: str
    recorded_by: str = ""
    approved_by: str = ""
    reversed: bool = False
    #: the day the deed happened, when the entry was approved (and so posted) on another day
    occurred_on: dt.date | None = None
    #: the family member who earned (or lost) the points, when the entry names one; masked as the head's
    #: name is (张*丰): the paper leaves the house, and the masked name still tells the family who it was
    member: str = ""
    #: that member's relation to the head (户主, 配偶, 子女 …): two members whose masked names are alike
    #: (张* and 张*) are still told apart
    relation: str = ""


#: the four totals of a statement, in the order the paper and /verify show them
TOTALS = ("earned", "deducted", "redeemed", "expired")
_TOTAL_OF = {"earn": "earned", "opening": "earned", "deduct": "deducted", "redeem": "redeemed",
             "expire": "expired"}


@dataclass
class SummaryRow:
    """One line of the one-page summary: a category (or corrections, redemptions…), how many, how much."""
    label: str
    count: int = 0
    points: int = 0


@dataclass
class StatementData:
    village: Village
    household: Household
    period: Period
    cutoff: dt.datetime
    opening: int
    lines: list[Line]
    year: int
    score: int
    stars: int
    scheme: PointScheme | None
    group_name: str | None = None
    subtotals: dict[str, int] = field(default_factory=dict)
    #: earned / deducted / redeemed / expired, each as rows (by category for entries) in the order met
    summary: dict[str, list[SummaryRow]] = field(default_factory=dict)
    #: whether the paper lists the entries one by one (and so each line is described: text, member, status…)
    listed: bool = True

    @property
    def totals(self) -> dict[str, int]:
        """Points earned, deducted, redeemed and expired in the period (signed, corrections netted in):
        opening + the four = closing."""
        return {name: sum(row.points for row in self.summary.get(name, ())) for name in TOTALS}

    @property
    def has_stars(self) -> bool:
        """Whether the village's scheme awards stars (星级) at all."""
        return self.scheme is not None and bool(self.scheme.bands())

    @property
    def closing(self) -> int:
        return self.opening + sum(line.points for line in self.lines)

    @property
    def as_of(self) -> dt.date | None:
        """The day the statement stops, when it was printed before its period ended."""
        if self.cutoff < local_midnight_utc(self.period.end + dt.timedelta(days=1)):
            return local_day(self.cutoff)
        return None

    @property
    def masked_name(self) -> str:
        return mask_name(self.household.head.name if self.household.head else "")

    def section(self, name: str) -> list[Line]:
        return [line for line in self.lines if line.section == name]

    def digest(self) -> str:
        """What the paper shows, as one fingerprint: a later reversal or a changed line changes it."""
        data = {"household": self.household.id, "start": self.period.start.isoformat(),
                "end": self.period.end.isoformat(), "cutoff": self.cutoff.isoformat(),
                "opening": self.opening, "closing": self.closing,
                "lines": [[ln.transfer_id, ln.points, ln.reversed] for ln in self.lines]}
        return hashlib.sha256(json.dumps(data, separators=(",", ":")).encode()).hexdigest()


def _sums_before(account_ids: list[int], before: dt.datetime) -> dict[int, int]:
    """account id → credits − debits of its transfers made before `before`, for many accounts in one
    statement (each side read through its covering index); accounts without any are left out."""
    t = Transfer.__table__
    sides = sa.union_all(
        sa.select(t.c.credit_account_id.label("account_id"), t.c.amount.label("amount"))
        .where(t.c.credit_account_id.in_(account_ids), t.c.created_at < before),
        sa.select(t.c.debit_account_id, -t.c.amount)
        .where(t.c.debit_account_id.in_(account_ids), t.c.created_at < before)).subquery()
    return {acct: int(total) for acct, total in db.session.execute(
        sa.select(sides.c.account_id, sa.func.sum(sides.c.amount)).group_by(sides.c.account_id))}


def _user_names(ids) -> dict[int, str]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return {u.id: _user_name(u) for u in db.session.scalars(sa.select(User).where(User.id.in_(ids)))}


def _user_name(user) -> str:
    return (user.display_name or user.username) if user is not None else ""


#: the columns of a transfer a statement reads (rows, not ORM objects: a year statement reads ~50 of them,
#: a batch 25,000, and loading each into the identity map was most of the batch's issuing time)
_TRANSFER_COLUMNS = (Transfer.id, Transfer.amount, Transfer.credit_account_id, Transfer.code,
                     Transfer.reverses_transfer_id, Transfer.entry_id, Transfer.person_id, Transfer.created_by_id,
                     Transfer.memo, Transfer.created_at)

#: households whose statements a batch reads from the ledger together: each read below is one statement
#: for all of them instead of one per household (about ten round trips a statement, most of a batch's
#: issuing time on PostgreSQL: bench figure 4), in IN lists that stay short
READ_TOGETHER = 25


def build_statement(household: Household, period: Period, *, cutoff: dt.datetime | None = None,
                    now: dt.datetime | None = None, detailed: bool = False) -> StatementData:
    """The household's statement for `period` from the ledger, up to `cutoff` (default: the period's
    end, or now if the period is still running).

    `detailed`: the detailed statement, listing every entry (lists_entries: a month's or quarter's always).
    Only a statement that lists its entries describes each line (its text, status, member, who recorded and
    approved it); the one-page statement shows the account by category, so its lines carry their ids, days
    and points (what the digest and the totals need) and the entries' categories, and nothing else is read:
    a batch of 500 one-page year statements spent most of its issuing time describing lines nobody printed
    (bench figure 4). Either way the digest and the totals are the same.
    """
    return build_statements([household], period, cutoffs={household.id: cutoff} if cutoff else None, now=now,
                            detailed=detailed)[0]


def build_statements(households: list[Household], period: Period, *,
                     cutoffs: dict[int, dt.datetime] | None = None, now: dt.datetime | None = None,
                     detailed: bool = False) -> list[StatementData]:
    """build_statement for each of `households` (of one village), in their order, reading the ledger for all
    of them at once: the batch's way (keep them to about READ_TOGETHER). `cutoffs`: household id → its own
    cutoff (a statement printed again as it was issued); the others stop as build_statement's do."""
    if not households:
        return []
    listed = lists_entries(period, detailed)
    start_utc = local_midnight_utc(period.start)
    default_cutoff = min(local_midnight_utc(period.end + dt.timedelta(days=1)), now or utcnow())
    cutoff_of = {h.id: (cutoffs or {}).get(h.id) or default_cutoff for h in households}
    account_of = dict(db.session.execute(sa.select(Account.household_id, Account.id)
                                         .where(Account.household_id.in_(list(cutoff_of)))).all())
    accounts = sorted(set(account_of.values()))
    openings: dict[int, int] = {}
    transfers_of: dict[int, list] = {acct: [] for acct in accounts}
    if accounts:
        openings = _sums_before(accounts, start_utc)
        # beside each transfer: whether a later one reversed it (at any time, also after the period: a
        # statement whose line was undone later is superseded) and its entry's category (the summary's rows)
        reversal = sa.orm.aliased(Transfer)
        for t in db.session.execute(
                sa.select(*_TRANSFER_COLUMNS, Transfer.debit_account_id,
                          sa.exists().where(reversal.reverses_transfer_id == Transfer.id).label("is_reversed"),
                          pq.category_name_of(Transfer.entry_id).label("category"))
                .where(sa.or_(Transfer.debit_account_id.in_(accounts), Transfer.credit_account_id.in_(accounts)),
                       Transfer.created_at >= start_utc, Transfer.created_at < max(cutoff_of.values()))
                .order_by(Transfer.created_at, Transfer.id)):
            for acct in {t.credit_account_id, t.debit_account_id}:
                if acct in transfers_of:
                    transfers_of[acct].append(t)
    everything = [t for rows in transfers_of.values() for t in rows]
    reversed_ids = {t.id for t in everything if t.is_reversed}
    reversed_of = [t.reverses_transfer_id for t in everything if t.reverses_transfer_id]
    originals = {t.id: t for t in db.session.execute(
        sa.select(*_TRANSFER_COLUMNS).where(Transfer.id.in_(reversed_of)))} if reversed_of else {}
    describe = _Describer(everything, originals) if listed else None
    years = {h.id: min(period.end, local_day(cutoff_of[h.id])).year for h in households}
    scores: dict[tuple[int, int], int] = {}
    for year in set(years.values()):
        scores.update({(hid, year): score for hid, score in pq.year_scores(
            [hid for hid, y in years.items() if y == year], year).items()})
    village_id = households[0].village_id
    village, scheme = db.session.get(Village, village_id), pq.village_scheme(village_id)
    out = []
    for household in households:
        cutoff, acct = cutoff_of[household.id], account_of.get(household.id)
        transfers = [t for t in transfers_of.get(acct, ()) if t.created_at < cutoff]
        score = scores.get((household.id, years[household.id]), 0)
        data = StatementData(village=village, household=household, period=period, cutoff=cutoff,
                             opening=openings.get(acct, 0), lines=[], year=years[household.id], score=score,
                             stars=scheme.stars_for(score) if scheme is not None else 0, scheme=scheme,
                             group_name=household.group.name if household.group else None, listed=listed)
        _add_lines(data, acct, transfers, reversed_ids, originals, describe)
        out.append(data)
    return out


def _add_lines(data: StatementData, acct: int | None, transfers: list, reversed_ids: set[int], originals: dict,
               describe: "_Describer | None") -> None:
    """The statement's lines from its account's transfers (oldest first), with its subtotals and summary."""
    lines = []
    summary: dict[str, dict[str, SummaryRow]] = {name: {} for name in TOTALS}
    for t in transfers:
        points = t.amount if t.credit_account_id == acct else -t.amount
        base = originals.get(t.reverses_transfer_id) if t.reverses_transfer_id else t
        code = base.code if base is not None else t.code
        is_reversed = t.id in reversed_ids
        line = Line(transfer_id=t.id, day=local_day(t.created_at), section=_SECTION_OF.get(code, "entries"),
                    code=t.code, text="", points=points, status="", reversed=is_reversed)
        if describe is not None:
            describe(line, t, base, code)
        lines.append(line)
        total = _TOTAL_OF.get(code) or ("earned" if points > 0 else "deducted")
        row_label = _summary_label(code, t.category, t.code == TransferCode.REVERSAL.value)
        row = summary[total].setdefault(row_label, SummaryRow(row_label))
        row.count += 1
        row.points += points
    data.lines = lines
    data.subtotals = {s: sum(ln.points for ln in lines if ln.section == s) for s in SECTIONS}
    data.summary = {name: list(rows.values()) for name, rows in summary.items()}


class _Describer:
    """What a listed statement says of each line: its text, status, the member who earned it, who recorded
    and approved it; everything it needs is read once for the whole statement."""

    def __init__(self, transfers: list, originals: dict):
        # each entry with who recorded and approved it, joined in the same query
        self.entries = pq.entries_by_id(t.entry_id for t in transfers if t.entry_id)
        self.redemption_of = redemptions_by_transfer(
            [t.id for t in transfers if t.code == TransferCode.REDEEM.value]
            + [t.reverses_transfer_id for t in transfers if t.reverses_transfer_id
               and originals.get(t.reverses_transfer_id) is not None
               and originals[t.reverses_transfer_id].code == TransferCode.REDEEM.value])
        self.names = _user_names(t.created_by_id for t in transfers)
        self.members = _person_names(t.person_id for t in transfers)
        self.today = local_today()

    def __call__(self, line: Line, t, base, code: str) -> None:
        entry = self.entries.get(t.entry_id) if t.entry_id else None
        member = self.members.get(t.person_id)
        recorded, approved = self.names.get(t.created_by_id, ""), ""
        if code == TransferCode.REDEEM.value:
            r = self.redemption_of.get(base.id) if base is not None else None
            goods = "、".join(f"{ln.name}×{ln.qty}" for ln in r.lines) if r else ""
            text = _("Shop redemption %(receipt)s: %(goods)s", receipt=r.receipt_no, goods=goods) if r \
                else label("redeem", "transfer_code")
            status = _("Cancelled") if r is not None and r.status == "cancelled" else _("Completed")
        elif code == TransferCode.EXPIRE.value:
            text = _("Year-end expiry %(year)s", year=base.memo or "") if base is not None else ""
            status = _("Completed")
        elif entry is not None:
            text = entry.item_text
            status = label(pq.effective_status(entry, self.today), "entry_status")
            recorded, approved = _user_name(entry.recorded_by), _user_name(entry.reviewed_by)
        else:
            text = label(code, "transfer_code") + (f" {t.memo}" if t.memo else "")
            status = _("Completed")
        if t.code == TransferCode.REVERSAL.value:
            text = _("Reversal: %(text)s", text=text)
            status = _("Correction")
            recorded = self.names.get(t.created_by_id, "")
        elif line.reversed:
            status = _("%(status)s (reversed)", status=status)
        line.text, line.status, line.recorded_by, line.approved_by = text, status, recorded, approved
        line.occurred_on = entry.occurred_on if entry is not None else None
        line.member = mask_name(member[0]) if member else ""
        line.relation = label(member[1], "relation") if member else ""


def _summary_label(code: str, category: str | None, reversal: bool) -> str:
    """The summary row a transfer counts in: its entry's category, or what kind of movement it is."""
    if reversal:
        return _("Cancelled redemptions") if code == TransferCode.REDEEM.value else _("Corrections")
    if category is not None:
        return category
    if code == TransferCode.OPENING.value:
        return _("Carried in from the paper ledger")
    if code == TransferCode.REDEEM.value:
        return _("Goods redeemed")
    if code == TransferCode.EXPIRE.value:
        return _("Points expired")
    return label(code, "transfer_code")


def _person_names(ids) -> dict[int, tuple[str, str]]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return {pid: (name, relation) for pid, name, relation in db.session.execute(
        sa.select(Person.id, Person.name, Person.relation).where(Person.id.in_(ids)))}


def lists_entries(period: Period, detailed: bool = False) -> bool:
    """Whether the statement lists its entries one by one: a month's or a quarter's always (a few dozen
    lines), a year's (or a longer span of dates) only as the detailed statement the clerk chose; else the
    statement is the one-page summary by category."""
    return detailed or period.kind in ("month", "quarter") or \
        (period.kind == "range" and (period.end - period.start).days < 92)


# --- issuing and verifying ------------------------------------------------------------------------

def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def format_code(code: str) -> str:
    """ABCDE-FGHJK: two groups of five are easier to read out and type."""
    return f"{code[:5]}-{code[5:]}"


_TYPO = str.maketrans({"O": "0", "I": "1", "L": "1", "-": None, " ": None, "\u3000": None})


def normalize_code(raw: str | None) -> str | None:
    """The code as stored, from what a person typed or scanned; None when it cannot be one."""
    if not raw or len(raw) > 40:
        return None
    code = raw.strip().upper().translate(_TYPO)
    if len(code) != CODE_LENGTH or any(ch not in ALPHABET for ch in code):
        return None
    return code


def issue_statement(data: StatementData, *, actor=None, paper: str = "a4", job_id: int | None = None,
                    audit: bool = True, printed: bool = True) -> IssuedStatement:
    """Keep what the statement shows under a fresh verification code.

    `printed`: one statement is rendered in the same request that issues it (a failure is on the clerk's
    screen at once); a batch issues with `printed=False` and marks its statements once their PDF is written.
    """
    issued = issue_statements([data], actor=actor, paper=paper, job_id=job_id, printed=printed)[0]
    if audit:
        record("statements.issue", issued, village_id=issued.village_id, household_id=issued.household_id,
               details={"period": [data.period.start.isoformat(), data.period.end.isoformat()],
                        "closing": data.closing, "lines": len(data.lines)})
    return issued


def issue_statements(datas: list[StatementData], *, actor=None, paper: str = "a4", job_id: int | None = None,
                     printed: bool = True) -> list[IssuedStatement]:
    """issue_statement for each of `datas`, in one flush and without an audit row each (a batch records
    itself once): the codes are checked against those kept in one statement, and inserted together."""
    if paper not in ("a4", "a5"):
        raise StatementError(_("Choose A4 or A5 paper."), "paper")
    if not datas:
        return []
    codes = _fresh_codes(len(datas))
    now = utcnow()
    rows = [IssuedStatement(
        village_id=data.household.village_id, household_id=data.household.id, code=code,
        period_kind=data.period.kind, period_start=data.period.start, period_end=data.period.end,
        cutoff_at=data.cutoff, opening_balance=data.opening, closing_balance=data.closing,
        line_count=len(data.lines), digest=data.digest(), paper=paper, job_id=job_id,
        **{f"total_{name}": value for name, value in data.totals.items()},
        issued_by_id=actor.id if actor is not None else None, issued_at=now,
        printed_at=now if printed else None) for data, code in zip(datas, codes)]
    db.session.add_all(rows)
    db.session.flush()
    return rows


def _fresh_codes(n: int) -> list[str]:
    """n distinct codes none of which was ever issued (2^50 codes: a clash is practically impossible, but a
    code is never reused)."""
    codes: set[str] = set()
    while len(codes) < n:
        wanted = {new_code() for _ in range(n - len(codes))} - codes
        taken = set(db.session.scalars(sa.select(IssuedStatement.code).where(IssuedStatement.code.in_(wanted))))
        codes |= wanted - taken
    return list(codes)


@dataclass
class Verdict:
    status: str  # valid, superseded, not_found
    issued: IssuedStatement | None = None
    masked_name: str = ""
    period: Period | None = None
    #: the figures the paper carries (opening, earned, deducted, redeemed, expired, closing), to compare
    figures: dict[str, int] = field(default_factory=dict)


def verify(raw_code: str | None) -> Verdict:
    """Whether the statement with this code still matches the ledger (read-only)."""
    code = normalize_code(raw_code)
    issued = db.session.scalar(sa.select(IssuedStatement).where(IssuedStatement.code == code)) \
        if code else None
    if issued is None:
        return Verdict("not_found")
    household = db.session.get(Household, issued.household_id)
    period = Period(issued.period_kind, issued.period_start, issued.period_end)
    now = build_statement(household, period, cutoff=issued.cutoff_at)
    same = now.digest() == issued.digest and now.closing == issued.closing_balance
    # what was printed: kept with the code (a statement issued before the totals were kept has them
    # from the ledger, and only while the ledger still says the same)
    totals = {name: getattr(issued, f"total_{name}") for name in TOTALS}
    if any(v is None for v in totals.values()):
        totals = now.totals if same else {}
    figures = {"opening": issued.opening_balance, **totals, "closing": issued.closing_balance}
    return Verdict("valid" if same else "superseded", issued, now.masked_name, period, figures)


# --- households of a batch ------------------------------------------------------------------------

def batch_households(village_id: int, group_id: int | None = None) -> list[Household]:
    """Active households of the village (or one group), in register order (2组 before 10组)."""
    stmt = sa.select(Household).where(Household.village_id == village_id,
                                      Household.status == HouseholdStatus.ACTIVE.value) \
        .options(selectinload(Household.head), selectinload(Household.group))
    if group_id:
        stmt = stmt.where(Household.group_id == group_id)
    rows = list(db.session.scalars(stmt))
    rows.sort(key=lambda h: (h.group is None, natural_key(h.group.name if h.group else ""),
                             natural_key(h.number)))
    return rows


def group_by_name(village_id: int, name: str) -> VillagerGroup | None:
    return db.session.scalar(sa.select(VillagerGroup).where(VillagerGroup.village_id == village_id,
                                                            VillagerGroup.name == name))
