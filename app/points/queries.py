"""Points reads: the village's scheme, what "on posting" (公示中) means, scores and rankings, and one
household's overview, which the points household page, the statements and the kiosk all show.

Nothing here writes. Other features read points through this module, never through the points services
(which are the verbs) or by querying the points models themselves.
"""
from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from types import SimpleNamespace

import sqlalchemy as sa
from sqlalchemy.orm import aliased, joinedload, selectinload

from ..db import local_day, local_midnight_utc, local_today, month_bucket
from ..extensions import db
from ..ledger.queries import balance_query
from ..registry.models import Household, HouseholdStatus, Person, PersonStatus
from .models import (
    EntryStatus,
    Objection,
    PointEntry,
    PointPersonYearTotal,
    PointScheme,
    PointYearTotal,
    SpendableFrom,
    YearPolicy,
    YearScore,
)

#: statuses whose points count in a score and against a cap (approved and not corrected)
COUNTED = (EntryStatus.POSTED.value, EntryStatus.DISPUTED.value, EntryStatus.FINAL.value)


# --- the village's scheme -------------------------------------------------------------------------

def village_scheme(village_id: int) -> PointScheme | None:
    """The village's points scheme (积分细则): the one in use, else the oldest.

    Villages keep one scheme at a time; should an older one ever be retired (active false) next to a
    new one, the new one is the scheme, and a village whose only scheme is retired still has its
    settings, stars and items to show.
    """
    return db.session.scalar(sa.select(PointScheme).where(PointScheme.village_id == village_id)
                             .order_by(PointScheme.active.desc(), PointScheme.id))


# --- on posting (公示) -----------------------------------------------------------------------------

def effective_status(entry: PointEntry, today: dt.date | None = None) -> str:
    """The status a person should see: posted entries whose posting has ended are final."""
    today = today or local_today()
    if entry.status == EntryStatus.POSTED.value and entry.posting_until and entry.posting_until < today:
        return EntryStatus.FINAL.value
    return entry.status


def is_on_posting(entry: PointEntry, today: dt.date | None = None) -> bool:
    """Whether the entry is on posting now: posted and within its posting period, or under an objection
    not yet decided. An objection keeps the entry in dispute past the end of the posting period until a
    reviewer decides it (decide_objection then makes it posted or final, or corrects it), so villagers
    and the notice board still see it while the answer is due."""
    today = today or local_today()
    if entry.status == EntryStatus.DISPUTED.value:
        return True
    return entry.status == EntryStatus.POSTED.value and entry.posting_until is not None \
        and entry.posting_until >= today


def on_posting_filter(today: dt.date) -> tuple:
    """is_on_posting as WHERE clauses."""
    # status IN (…) first, so that a household's entries on posting come from ix_point_entries_household_status
    # and not from a scan of its whole history (bench figure 1)
    return (PointEntry.status.in_((EntryStatus.POSTED.value, EntryStatus.DISPUTED.value)),
            sa.or_(PointEntry.status == EntryStatus.DISPUTED.value, PointEntry.posting_until >= today))


def entries_on_posting(village_id: int, today: dt.date) -> list[PointEntry]:
    """The village's entries on posting now (公示中, and those under an objection), in the order they were
    posted: the posting page and the sheet for the notice board list the same entries."""
    return list(db.session.scalars(sa.select(PointEntry).where(
        PointEntry.village_id == village_id, *on_posting_filter(today))
        .options(selectinload(PointEntry.household).selectinload(Household.group),
                 selectinload(PointEntry.household).selectinload(Household.head),
                 selectinload(PointEntry.person), selectinload(PointEntry.scheme))
        .order_by(PointEntry.posted_on, PointEntry.id)))


# --- not yet spendable ----------------------------------------------------------------------------

def holds_back_on_posting(village_id: int) -> bool:
    """Whether the village's awards become spendable only once their posting has ended
    (SpendableFrom.POSTING_END on its scheme); by default they are spendable at approval."""
    return db.session.scalar(_policy_query(village_id)) == SpendableFrom.POSTING_END.value


def _policy_query(village_id) -> sa.Select:
    """SELECT of the spendable_from of the village's scheme (village_scheme's row, its one column)."""
    return (sa.select(PointScheme.spendable_from).where(PointScheme.village_id == village_id)
            .order_by(PointScheme.active.desc(), PointScheme.id).limit(1))


def held_on_posting_query(household: Household, today: dt.date) -> sa.Select:
    """SELECT of the points the household's awards on posting now have put on its balance (one value).

    What the award moved (applied_points), not what it says: a correction reverses the transfer and takes
    the entry off posting. Deductions hold nothing back: they have already taken what they could.
    """
    return sa.select(sa.func.coalesce(sa.func.sum(PointEntry.applied_points), 0)).where(
        *_household_filter(household), *on_posting_filter(today), PointEntry.applied_points > 0)


def held_points(household: Household, today: dt.date | None = None) -> int:
    """The part of the household's balance the shop may not take yet: under a village that makes awards
    spendable only after posting, the awards still on posting (and those under an open objection);
    0 in a village where awards are spendable at approval.

    The shop's redemption asks held_on_posting through the ledger only once the household's account row is
    locked (ledger.post_transfer's `hold`), so an approval committing meanwhile is counted in both the
    balance and this figure, never in one alone (docs/ledger.md, "Points on posting").
    """
    if not holds_back_on_posting(household.village_id):
        return 0
    return held_on_posting(household, today)


def held_on_posting(household: Household, today: dt.date | None = None) -> int:
    """The points the household's awards on posting now have put on its balance: what held_points keeps
    from the shop in a village that holds them back (the caller has asked holds_back_on_posting)."""
    return int(db.session.scalar(held_on_posting_query(household, today or local_today())))


def spendable_points(household: Household, today: dt.date | None = None) -> tuple[int, int, int]:
    """(balance, held, spendable) of the household now: what the counter shows.

    The balance, the village's policy and what the household's awards on posting would hold back come in one
    statement, as household_overview reads the kiosk's: the counter asks this on every page and check (bench
    figure 3). A display: the redemption itself asks again under the account's lock (docs/ledger.md).
    """
    balance, policy, held = db.session.execute(_spendable_statement(), {
        "household_id": household.id, "village_id": household.village_id,
        "today": today or local_today()}).one()
    balance = int(balance or 0)
    held = int(held) if policy == SpendableFrom.POSTING_END.value else 0
    return balance, held, max(0, balance - held)


@functools.cache
def _spendable_statement() -> sa.Select:
    """spendable_points' one statement, built once with bound parameters (household_id, village_id, today)."""
    household = SimpleNamespace(id=sa.bindparam("household_id"), village_id=sa.bindparam("village_id"))
    today = sa.bindparam("today", type_=PointEntry.posting_until.type)
    return sa.select(balance_query(household.id).scalar_subquery(),
                     _policy_query(household.village_id).scalar_subquery(),
                     held_on_posting_query(household, today).scalar_subquery())


def held_entries(household: Household, today: dt.date | None = None) -> list[PointEntry]:
    """The household's awards not spendable yet (empty where awards are spendable at approval), the
    first to become spendable first."""
    if not holds_back_on_posting(household.village_id):
        return []
    return [e for e in household_on_posting(household, today) if (e.applied_points or 0) > 0]


# --- scores, stars, rankings ----------------------------------------------------------------------

def year_score_query(household_id: int, year: int, scheme_id: int | None = None) -> sa.Select:
    """SELECT of the household's score of a year (one value), for year_score or as a subquery.

    Read from the household's running totals (PointYearTotal, one row per scheme: a key lookup), which the
    points services keep equal to the sum of its counted entries of the year (I15, flask ledger check)."""
    stmt = sa.select(sa.func.coalesce(sa.func.sum(PointYearTotal.score), 0)).where(
        PointYearTotal.household_id == household_id, PointYearTotal.year == year)
    if scheme_id is not None:
        stmt = stmt.where(PointYearTotal.scheme_id == scheme_id)
    return stmt


def year_score(household_id: int, year: int, scheme_id: int | None = None) -> int:
    """The household's score of a year: every counted entry in full (deductions too)."""
    return int(db.session.scalar(year_score_query(household_id, year, scheme_id)))


def year_scores(household_ids, year: int) -> dict[int, int]:
    """household id → its score of `year` (households without a total are left out: their score is 0), for
    many households in one statement (a batch of statements reads 25 at a time)."""
    ids = sorted({i for i in household_ids if i})
    if not ids:
        return {}
    return {hid: int(score) for hid, score in db.session.execute(
        sa.select(PointYearTotal.household_id, sa.func.sum(PointYearTotal.score))
        .where(PointYearTotal.household_id.in_(ids), PointYearTotal.year == year)
        .group_by(PointYearTotal.household_id))}


def _rank_over(score) -> sa.ColumnElement:
    """RANK() over the scores, best first: equal scores share a rank and the next rank skips (1, 2, 2, 4)."""
    return sa.func.rank().over(order_by=score.desc()).label("rank")


def _top(scores: sa.Select, limit: int | None) -> sa.Subquery:
    """The first `limit` rows of `scores` (subject_id, score, tiebreak), best first, with their RANK() among
    themselves (which is their rank among all: see _ranked)."""
    top = scores.order_by(scores.selected_columns.score.desc(), scores.selected_columns.tiebreak)
    if limit is not None:
        top = top.limit(limit)
    top = top.subquery("top")
    return sa.select(top, _rank_over(top.c.score)).subquery("scores")


def _ranked(model, scores: sa.Select, loaded, limit: int | None) -> list[tuple]:
    """The ranking's one statement: the subjects of `scores` (SELECT subject_id, score, tiebreak, one row per
    subject that takes part) best first, ties in tiebreak order, the first `limit` rows only, each with `loaded`
    (its head or household) joined in the same statement → (subject, score, rank) with plain int score and rank.

    The first rows are chosen from the bare scores (a sort that keeps only `limit` rows) and RANK() runs over
    those alone: every subject scoring more than one of them is among them, so each rank (1 + how many score
    more) is the rank among all. Ranking all 7,000 people of the bench village and then joining them to their
    households before keeping 50 took twice as long.
    """
    ranked = _top(scores, limit)
    stmt = (sa.select(model, ranked.c.score, ranked.c.rank)
            .join(ranked, ranked.c.subject_id == model.id)
            .options(joinedload(loaded))
            .order_by(ranked.c.rank, ranked.c.tiebreak))
    return [(subject, int(score), int(rank)) for subject, score, rank in db.session.execute(stmt).all()]


def _household_scores(village_id: int, year: int, *, group_id: int | None = None, scheme_id: int | None = None,
                      with_living_member: bool = False) -> sa.Select:
    """SELECT subject_id, score, tiebreak of the active households (households without a total at 0).

    Each household's totals are joined and summed in one grouped pass (the key (village, year, household) of
    ix_point_year_totals_village_year), not summed for the whole village first and then joined: SQLite built a
    temporary index over that sum to join it (bench figure 12)."""
    on = sa.and_(PointYearTotal.household_id == Household.id, PointYearTotal.village_id == village_id,
                 PointYearTotal.year == year)
    if scheme_id is not None:
        on = sa.and_(on, PointYearTotal.scheme_id == scheme_id)
    score = sa.func.coalesce(sa.func.sum(PointYearTotal.score), 0)
    scores = (sa.select(Household.id.label("subject_id"), score.label("score"), Household.number.label("tiebreak"))
              .outerjoin(PointYearTotal, on)
              .where(Household.village_id == village_id, Household.status == HouseholdStatus.ACTIVE.value)
              .group_by(Household.id, Household.number))
    if group_id:
        scores = scores.where(Household.group_id == group_id)
    if with_living_member:
        scores = scores.where(sa.exists().where(Person.household_id == Household.id,
                                                Person.status == PersonStatus.ALIVE.value))
    return scores


def household_ranking(village_id: int, year: int, *, group_id: int | None = None,
                      scheme_id: int | None = None, with_living_member: bool = False,
                      limit: int | None = None) -> list[tuple[Household, int, int]]:
    """(household, score, rank) for active households, best first; equal scores share a rank.

    Ranked in SQL from the year's running totals (PointYearTotal, per household and scheme, from
    ix_point_year_totals_village_year alone): households without any at 0, RANK() over the scores (_ranked). With
    `with_living_member`, households none of whose people is alive and registered are left out before ranking
    (the printed 红黑榜: no household to post). `limit` keeps the first rows without loading the rest, and each
    household comes with its head (户主) in the same statement.
    """
    scores = _household_scores(village_id, year, group_id=group_id, scheme_id=scheme_id,
                               with_living_member=with_living_member)
    return _ranked(Household, scores, Household.head, limit)


def _person_scores(village_id: int, year: int, *, group_id: int | None = None) -> sa.Select:
    """SELECT subject_id, score, tiebreak of the living people of active households who earned this year.

    The totals are filtered by their person and household while they are read, then summed per person: summing
    all 7,000 of the bench village's first and joining the sums took a fifth longer on SQLite (figure 12)."""
    totals = PointPersonYearTotal
    scores = (sa.select(totals.person_id.label("subject_id"), sa.func.sum(totals.score).label("score"),
                        totals.person_id.label("tiebreak"))
              .join(Person, Person.id == totals.person_id)
              .join(Household, Household.id == Person.household_id)
              .where(totals.village_id == village_id, totals.year == year,
                     Person.village_id == village_id, Person.status == PersonStatus.ALIVE.value,
                     Household.status == HouseholdStatus.ACTIVE.value)
              .group_by(totals.person_id)
              # a person is ranked while at least one of their entries of the year counts (a total may be left
              # at 0 by a correction)
              .having(sa.func.sum(totals.entries) > 0))
    if group_id:
        scores = scores.where(Household.group_id == group_id)
    return scores


def person_ranking(village_id: int, year: int, *, group_id: int | None = None,
                   limit: int | None = None) -> list[tuple[Person, int, int]]:
    """(person, score, rank) for living people of active households, by the entries they earned.

    Ranked in SQL like household_ranking, from the people's running totals (PointPersonYearTotal, from
    ix_point_person_year_totals_village_year alone); each person comes with their household loaded.
    """
    scores = _person_scores(village_id, year, group_id=group_id)
    return _ranked(Person, scores, Person.household, limit)


@dataclass(frozen=True, slots=True)
class RankRow:
    """One line of the rankings page, read as plain columns: a household (its 户号 and head) or a person
    (their name and 户号). The page shows 250 of them; loading each as an ORM object with its head or household
    was a fifth of the page's CPU (bench figure 12: 22.8 → 18.1 ms on SQLite)."""

    id: int
    name: str
    number: str
    score: int
    rank: int


def household_ranking_rows(village_id: int, year: int, *, group_id: int | None = None,
                           limit: int | None = None) -> list[RankRow]:
    """household_ranking's rows as RankRow (name: the head's), in the same order."""
    ranked = _top(_household_scores(village_id, year, group_id=group_id), limit)
    head = aliased(Person)
    stmt = (sa.select(Household.id, head.name, Household.number, ranked.c.score, ranked.c.rank)
            .join(ranked, ranked.c.subject_id == Household.id)
            .outerjoin(head, head.id == Household.head_id)
            .order_by(ranked.c.rank, ranked.c.tiebreak))
    return [RankRow(i, name or "", number, int(score), int(rank))
            for i, name, number, score, rank in db.session.execute(stmt)]


def person_ranking_rows(village_id: int, year: int, *, group_id: int | None = None,
                        limit: int | None = None) -> list[RankRow]:
    """person_ranking's rows as RankRow (number: their household's 户号), in the same order."""
    ranked = _top(_person_scores(village_id, year, group_id=group_id), limit)
    stmt = (sa.select(Person.id, Person.name, Household.number, ranked.c.score, ranked.c.rank)
            .join(ranked, ranked.c.subject_id == Person.id)
            .join(Household, Household.id == Person.household_id)
            .order_by(ranked.c.rank, ranked.c.tiebreak))
    return [RankRow(i, name, number, int(score), int(rank))
            for i, name, number, score, rank in db.session.execute(stmt)]


# --- one household --------------------------------------------------------------------------------

@dataclass
class HouseholdOverview:
    """What every page about a household's points shows first."""

    household: Household
    year: int
    #: spendable points (the ledger's balance)
    balance: int
    #: the score of `year`
    score: int
    #: entries on posting now (is_on_posting)
    posting_count: int
    scheme: PointScheme | None
    #: the part of the balance not spendable yet (held_points): 0 unless the village holds awards on posting
    held: int = 0

    @property
    def spendable(self) -> int:
        """What the shop may take now: the balance less the awards still on posting (held)."""
        return max(0, self.balance - self.held)

    @property
    def stars(self) -> int | None:
        """The star rating the score earns; None when the village has no scheme yet."""
        return self.scheme.stars_for(self.score) if self.scheme is not None else None


def household_overview(household: Household, *, year: int | None = None,
                       today: dt.date | None = None) -> HouseholdOverview:
    """Balance, the score and stars of `year` (default: this year) and how many entries are on posting.

    Balance, score and posting count come in one statement, the scheme in a second: the kiosk's first
    page is its hot path (bench figure 1), and each round trip through the ORM costs about as much as
    the query itself.
    """
    today = today or local_today()
    year = year or today.year
    balance, score, count, held = db.session.execute(
        _overview_statement(), {"household_id": household.id, "village_id": household.village_id, "year": year,
                                "today": today}).one()
    scheme = village_scheme(household.village_id)
    holds = scheme is not None and scheme.spendable_from == SpendableFrom.POSTING_END.value
    return HouseholdOverview(household=household, year=year, balance=int(balance or 0), score=int(score),
                             posting_count=int(count), scheme=scheme, held=int(held) if holds else 0)


@functools.cache
def _overview_statement() -> sa.Select:
    """household_overview's one statement, built once with bound parameters (household_id, village_id, year,
    today): building it anew (four subqueries, a dozen comparisons) was a sixth of a kiosk page's CPU."""
    household = SimpleNamespace(id=sa.bindparam("household_id"), village_id=sa.bindparam("village_id"))
    today = sa.bindparam("today", type_=PointEntry.posting_until.type)
    posting = sa.select(sa.func.count(PointEntry.id)).where(
        *_household_filter(household), *on_posting_filter(today)).scalar_subquery()
    return sa.select(balance_query(household.id).scalar_subquery(),
                     year_score_query(household.id, sa.bindparam("year")).scalar_subquery(), posting,
                     held_on_posting_query(household, today).scalar_subquery())


def _household_filter(household: Household) -> tuple:
    """The household's entries, with the village check written `village_id + 0` so that the planner
    stays on the household's index: SQLite without statistics (it never runs ANALYZE by itself) read the
    whole village's entries through ix_point_entries_village_id, 13 ms a kiosk page at 90,000 entries a
    year and growing with the years (bench figure 1)."""
    return PointEntry.household_id == household.id, PointEntry.village_id + 0 == household.village_id


#: a household's entries newest first (its index, ix_point_entries_household_id, read backwards)
_NEWEST_FIRST = (PointEntry.occurred_on.desc(), PointEntry.id.desc())

#: who earned, recorded and approved an entry, joined; built once (loader options are immutable, and building
#: them per request cost about as much as running the query: bench/kiosk_floor.py)
_ENTRY_PEOPLE_LOAD = (joinedload(PointEntry.person), joinedload(PointEntry.recorded_by),
                      joinedload(PointEntry.reviewed_by))


def household_entries_query(household: Household) -> sa.Select:
    """SELECT of the household's entries, newest first, each with who earned, recorded and approved it
    (joined in the same query: one row each, rather than three more round trips)."""
    return (sa.select(PointEntry).where(*_household_filter(household))
            .options(*_ENTRY_PEOPLE_LOAD)
            .order_by(*_NEWEST_FIRST))


def recent_entries(household: Household, limit: int = 20) -> list[PointEntry]:
    """The household's latest entries (the kiosk's records page).

    The newest ids are picked first, from the household's index alone, and only those rows are joined to
    who earned, recorded and approved them: with the joins in the same SELECT as the LIMIT, PostgreSQL
    planned the join over the household's whole history, and a long history made the page slower
    (bench figure 1, big village ÷ 10k)."""
    newest = (sa.select(PointEntry.id).where(*_household_filter(household))
              .order_by(*_NEWEST_FIRST).limit(limit).subquery())
    return list(db.session.scalars(
        sa.select(PointEntry).where(PointEntry.id.in_(sa.select(newest.c.id)))
        .options(*_ENTRY_PEOPLE_LOAD)
        .order_by(*_NEWEST_FIRST)))


def household_on_posting(household: Household, today: dt.date | None = None) -> list[PointEntry]:
    """The household's entries on posting now (is_on_posting), the first to end first."""
    return list(db.session.scalars(sa.select(PointEntry).where(
        *_household_filter(household), *on_posting_filter(today or local_today()))
        .order_by(PointEntry.posting_until, PointEntry.id)))


def entries_by_id(ids) -> dict[int, PointEntry]:
    """Entries by id, each with who recorded and approved it (for the lines of a statement)."""
    ids = set(ids)
    if not ids:
        return {}
    return {e.id: e for e in db.session.scalars(
        sa.select(PointEntry).where(PointEntry.id.in_(ids))
        .options(joinedload(PointEntry.recorded_by), joinedload(PointEntry.reviewed_by)))}


def category_name_of(entry_id) -> sa.ScalarSelect:
    """The name of the category of the entry `entry_id` (a column) names, as a column of another query: a
    batch of one-page statements reads each transfer's category beside it, not in a second statement."""
    return sa.select(PointEntry.category_name).where(PointEntry.id == entry_id).scalar_subquery()


def cleared_at_close(village_id: int, year: int) -> bool:
    """Whether `year` is closed under the expire policy: its balances were cleared to the expired account,
    so points spent in it cannot come back to a household after the close (unspent, they would have
    expired with the rest)."""
    scheme = village_scheme(village_id)
    if scheme is None or scheme.year_policy != YearPolicy.EXPIRE.value:
        return False
    return db.session.scalar(sa.select(YearScore.id).where(YearScore.scheme_id == scheme.id,
                                                           YearScore.year == year).limit(1)) is not None


def closed_years(household_id: int) -> list[YearScore]:
    """The household's scores of closed years, newest first."""
    return list(db.session.scalars(sa.select(YearScore).where(YearScore.household_id == household_id)
                                   .order_by(YearScore.year.desc())))


# --- what waits today (the home page) -------------------------------------------------------------

#: days before the end of a posting period that the clerk's home page counts it as ending
POSTING_ENDING_DAYS = 3


def today_counts(village_id: int, *, user_id: int, today: dt.date) -> dict:
    """The village's points work for the home page, in one statement:

    - pending: entries waiting for review; oldest_pending: the day the oldest of them was recorded;
    - objections_open / objections_overdue: undecided objections, and those past their answer date;
      oldest_due: the earliest answer date of the overdue ones;
    - rejected_mine: entries `user_id` recorded that were rejected in the last 30 days;
    - posting_ending: entries whose posting ends within POSTING_ENDING_DAYS days (today included).
    """

    def count(*where):
        return sa.select(sa.func.count()).select_from(PointEntry).where(
            PointEntry.village_id == village_id, *where).scalar_subquery()

    open_obj = (Objection.village_id == village_id, Objection.decision.is_(None))
    since = local_midnight_utc(today - dt.timedelta(days=30))
    row = db.session.execute(sa.select(
        count(PointEntry.status == EntryStatus.PENDING.value),
        sa.select(sa.func.min(PointEntry.recorded_at)).where(
            PointEntry.village_id == village_id, PointEntry.status == EntryStatus.PENDING.value).scalar_subquery(),
        sa.select(sa.func.count()).select_from(Objection).where(*open_obj).scalar_subquery(),
        sa.select(sa.func.count()).select_from(Objection).where(*open_obj, Objection.due_on < today)
        .scalar_subquery(),
        sa.select(sa.func.min(Objection.due_on)).where(*open_obj, Objection.due_on < today).scalar_subquery(),
        count(PointEntry.status == EntryStatus.REJECTED.value, PointEntry.recorded_by_id == user_id,
              PointEntry.reviewed_at >= since),
        count(PointEntry.status == EntryStatus.POSTED.value, PointEntry.posting_until >= today,
              PointEntry.posting_until < today + dt.timedelta(days=POSTING_ENDING_DAYS)),
    )).one()
    oldest = row[1]
    oldest_due = row[4]
    if isinstance(oldest_due, str):  # a scalar subquery's MIN comes back untyped from SQLite
        oldest_due = dt.date.fromisoformat(oldest_due)
    if isinstance(oldest, str):
        oldest = dt.datetime.fromisoformat(oldest)
    return {"pending": row[0], "oldest_pending": local_day(oldest) if oldest else None,
            "objections_open": row[2], "objections_overdue": row[3], "oldest_due": oldest_due,
            "rejected_mine": row[5], "posting_ending": row[6]}


def villages_today(village_ids: list[int], today: dt.date) -> dict[int, dict[str, int]]:
    """Per village: entries waiting for review and objections past their answer date (the township's home
    page), grouped in one statement each over every village."""

    out = {v: {"entries_waiting": 0, "objections_overdue": 0} for v in village_ids}
    if not village_ids:
        return out
    for v, n in db.session.execute(sa.select(PointEntry.village_id, sa.func.count()).where(
            PointEntry.village_id.in_(village_ids), PointEntry.status == EntryStatus.PENDING.value)
            .group_by(PointEntry.village_id)):
        out[v]["entries_waiting"] = n
    for v, n in db.session.execute(sa.select(Objection.village_id, sa.func.count()).where(
            Objection.village_id.in_(village_ids), Objection.decision.is_(None), Objection.due_on < today)
            .group_by(Objection.village_id)):
        out[v]["objections_overdue"] = n
    return out


# --- figures for the dashboard and the township roll-up (grouped by village: one statement each) ----

@dataclass
class PointsMonth:
    """A village's month: points awarded and deducted by approved entries, and the households they touched."""

    awarded: int = 0
    deducted: int = 0
    households: int = 0


def points_by_month(village_ids: list[int], year: int, months=range(1, 13)) -> dict[tuple[int, int], PointsMonth]:
    """{(village id, month): PointsMonth} over approved entries (posted, disputed, final) by the day they happened.

    A household takes part in a month when it has at least one such entry (award or deduction) that month."""
    month, lo, hi = month_bucket(PointEntry.occurred_on, year, months)
    rows = db.session.execute(
        sa.select(PointEntry.village_id, month,
                  sa.func.sum(sa.case((PointEntry.points > 0, PointEntry.points), else_=0)),
                  sa.func.sum(sa.case((PointEntry.points < 0, -PointEntry.points), else_=0)),
                  sa.func.count(sa.distinct(PointEntry.household_id)))
        .where(PointEntry.village_id.in_(village_ids), PointEntry.status.in_(COUNTED),
               PointEntry.occurred_on >= lo, PointEntry.occurred_on < hi)
        .group_by(PointEntry.village_id, month))
    return {(v, int(m)): PointsMonth(int(a or 0), int(d or 0), int(h)) for v, m, a, d, h in rows}


def star_distribution(village_ids: list[int], year: int, through: dt.date) -> dict[int, dict[int, int]]:
    """{village id: {stars: active households}}: the stars each active household's score of `year` (approved
    entries up to `through`) earns under its village's star bands; households with no entry score 0."""
    schemes = {}
    for s in db.session.scalars(sa.select(PointScheme).where(PointScheme.village_id.in_(village_ids))
                                .order_by(PointScheme.active.desc(), PointScheme.id)):
        schemes.setdefault(s.village_id, s)  # village_scheme's choice: the one in use, else the oldest
    bands = [(vid, lo, n) for vid, s in schemes.items() for lo, n in s.bands()]
    score = sa.func.coalesce(sa.func.sum(PointEntry.points), 0)
    per_household = (
        sa.select(Household.village_id.label("village_id"), score.label("score"))
        .outerjoin(PointEntry, sa.and_(PointEntry.household_id == Household.id, PointEntry.year == year,
                                       PointEntry.status.in_(COUNTED), PointEntry.occurred_on <= through))
        .where(Household.village_id.in_(village_ids), Household.status == HouseholdStatus.ACTIVE.value)
        .group_by(Household.village_id, Household.id).subquery())
    # the first band that matches gives the stars: each village's bands from the most stars down
    whens = [(sa.and_(per_household.c.village_id == vid, per_household.c.score >= lo), n)
             for vid, lo, n in sorted(bands, key=lambda b: (b[0], -b[2]))]
    stars = sa.case(*whens, else_=0) if whens else sa.literal(0)
    stars = stars.label("stars")
    out: dict[int, dict[int, int]] = {}
    for vid, n_stars, n in db.session.execute(
            sa.select(per_household.c.village_id, stars, sa.func.count())
            .group_by(per_household.c.village_id, stars)):
        out.setdefault(vid, {})[int(n_stars)] = int(n)
    return out
