"""Points schemes (积分细则), their items, entries under review and posting, and objections."""
from __future__ import annotations

import datetime as dt
import enum
import functools

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Day, Flag, Int, Str, UTCDateTime, utcnow
from ..extensions import Model

#: the most one item may award or deduct, and the most one batch may touch
MAX_ITEM_POINTS = 1000
MAX_BATCH = 2000


class YearPolicy(str, enum.Enum):
    CARRY_OVER = "carry_over"  # the spendable balance carries into next year (default)
    EXPIRE = "expire"  # the balance is cleared to the expired account on 31 December


class SpendableFrom(str, enum.Enum):
    """When an approved award may be spent at the shop (per village, on its scheme)."""

    APPROVAL = "approval"  # as soon as a reviewer approves it (default)
    POSTING_END = "posting_end"  # once its posting (公示) has ended and no objection to it is open


class PointScheme(Model):
    __tablename__ = "point_schemes"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"), index=True)
    name: Mapped[str] = mapped_column(Str(100))
    year_policy: Mapped[str] = mapped_column(Str(16), default=YearPolicy.CARRY_OVER.value)
    #: 公示期 in calendar days
    posting_days: Mapped[int] = mapped_column(Int, default=7)
    #: days a reviewer has to decide an objection, in working days
    appeal_working_days: Mapped[int] = mapped_column(Int, default=7)
    #: star bands "30:1,60:2,100:3,150:4,200:5" (minimum year score : stars)
    star_bands: Mapped[str] = mapped_column(Str(200), default="30:1,60:2,100:3,150:4,200:5")
    #: when approved awards become spendable (SpendableFrom); awards held back still count in the score
    spendable_from: Mapped[str] = mapped_column(Str(16), default=SpendableFrom.APPROVAL.value,
                                                server_default=SpendableFrom.APPROVAL.value)
    active: Mapped[bool] = mapped_column(Flag, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    categories: Mapped[list[PointCategory]] = relationship(back_populates="scheme",
                                                           order_by="PointCategory.sort, PointCategory.id")

    __table_args__ = (
        sa.UniqueConstraint("village_id", "name", name="uq_point_schemes_village_id_name"),
        sa.CheckConstraint("year_policy IN ('carry_over','expire')", name="policy_known"),
        sa.CheckConstraint("posting_days BETWEEN 1 AND 60", name="posting_days_bounded"),
        sa.CheckConstraint("appeal_working_days BETWEEN 1 AND 60", name="appeal_days_bounded"),
        sa.CheckConstraint("spendable_from IN ('approval','posting_end')", name="spendable_from_known"),
        {"sqlite_strict": True},
    )

    def bands(self) -> list[tuple[int, int]]:
        """The star bands as (minimum year score, stars); malformed parts are skipped."""
        return list(_parse_bands(self.star_bands or ""))

    def stars_for(self, score: int) -> int:
        """The star rating (星级) a year score earns under this scheme's bands."""
        return max((n for lo, n in _parse_bands(self.star_bands or "") if score >= lo), default=0)


@functools.lru_cache(maxsize=64)
def _parse_bands(star_bands: str) -> tuple[tuple[int, int], ...]:
    """"10:1,20:2" → ((10, 1), (20, 2)), parsed once per text (a rankings page asks for 200 households' stars)."""
    out = []
    for band in star_bands.split(","):
        lo, _, n = band.partition(":")
        if lo.strip().lstrip("-").isdigit() and n.strip().isdigit():
            out.append((int(lo), int(n)))
    return tuple(out)


class PointCategory(Model):
    __tablename__ = "point_categories"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"), index=True)
    scheme_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("point_schemes.id"), index=True)
    name: Mapped[str] = mapped_column(Str(64))
    #: add (加分) or deduct (扣分)
    direction: Mapped[str] = mapped_column(Str(8))
    sort: Mapped[int] = mapped_column(Int, default=0)

    scheme: Mapped[PointScheme] = relationship(back_populates="categories")
    items: Mapped[list[PointItem]] = relationship(back_populates="category", order_by="PointItem.code")

    __table_args__ = (
        sa.UniqueConstraint("scheme_id", "name", name="uq_point_categories_scheme_id_name"),
        sa.CheckConstraint("direction IN ('add','deduct')", name="direction_known"),
        {"sqlite_strict": True},
    )


class PointItem(Model):
    """One line of the 积分细则. Editing it never changes entries already recorded (they keep a copy)."""

    __tablename__ = "point_items"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"), index=True)
    scheme_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("point_schemes.id"), index=True)
    category_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("point_categories.id"), index=True)
    code: Mapped[str] = mapped_column(Str(32))
    text: Mapped[str] = mapped_column(Str(500))
    #: signed: positive adds, negative deducts
    points: Mapped[int] = mapped_column(Int)
    #: per_event, per_month, per_quarter, tiered, per_amount
    unit: Mapped[str] = mapped_column(Str(16), default="per_event")
    #: none, month, quarter, year
    cap_period: Mapped[str] = mapped_column(Str(8), default="none")
    #: most points this item may give one subject per cap period (absolute value)
    cap_points: Mapped[int | None] = mapped_column(Int)
    #: village, shared, upper
    level: Mapped[str] = mapped_column(Str(8), default="village")
    #: person (charged to the person, counted in the household) or household (charged to the head)
    applies_to: Mapped[str] = mapped_column(Str(10), default="person")
    evidence_required: Mapped[bool] = mapped_column(Flag, default=False)
    #: the rule articles that authorise the item, as written (e.g. 村规民约第十二条)
    article_ref: Mapped[str | None] = mapped_column(Str(200))
    #: a range item (+1至+10): the recorder enters the points within [points_min, points_max] (signed);
    #: `points` is then the bound furthest from zero
    points_min: Mapped[int | None] = mapped_column(Int)
    points_max: Mapped[int | None] = mapped_column(Int)
    #: an effect that is not points (降B级, 一票否决): a reviewer applies it by judgement; points are 0
    judgement: Mapped[bool] = mapped_column(Flag, default=False, server_default=sa.false())
    #: the effect as written, for a judgement item
    effect: Mapped[str | None] = mapped_column(Str(64))
    #: a per-amount item (每100元加1分): `points` for every `amount_per` of `amount_unit` the recorder enters
    amount_per: Mapped[int | None] = mapped_column(Int)
    amount_unit: Mapped[str | None] = mapped_column(Str(8))
    #: items sharing one cap (区级平台捐款每年最多加40分 over several rows) carry the same group name; the
    #: cap (cap_period, cap_points) then counts all of them together
    cap_group: Mapped[str | None] = mapped_column(Str(64))
    #: what the scheme says about the item that is kept as written (a note the import could not read)
    note: Mapped[str | None] = mapped_column(Str(500))
    active: Mapped[bool] = mapped_column(Flag, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    category: Mapped[PointCategory] = relationship(back_populates="items")
    scheme: Mapped[PointScheme] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("scheme_id", "code", name="uq_point_items_scheme_id_code"),
        sa.CheckConstraint(f"(points <> 0 OR judgement) AND points BETWEEN -{MAX_ITEM_POINTS} AND "
                           f"{MAX_ITEM_POINTS}", name="points_bounded"),
        sa.CheckConstraint("(points_min IS NULL AND points_max IS NULL) OR (points_min < points_max AND "
                           "(points_min > 0 OR points_max < 0))", name="range_one_sided"),
        sa.CheckConstraint("amount_per IS NULL OR (amount_per > 0 AND amount_unit IS NOT NULL)",
                           name="amount_rule_complete"),
        sa.CheckConstraint("unit IN ('per_event','per_month','per_quarter','tiered','per_amount')",
                           name="unit_known"),
        sa.CheckConstraint("cap_period IN ('none','month','quarter','year')", name="cap_period_known"),
        sa.CheckConstraint("cap_points IS NULL OR cap_points > 0", name="cap_positive"),
        sa.CheckConstraint("level IN ('village','shared','upper')", name="level_known"),
        sa.CheckConstraint("applies_to IN ('person','household')", name="applies_to_known"),
        {"sqlite_strict": True},
    )


class EntryStatus(str, enum.Enum):
    PENDING = "pending"  # 待审核
    REJECTED = "rejected"  # 审核未通过 (with a reason)
    POSTED = "posted"  # approved and on the notice board (公示中): moves the balance
    DISPUTED = "disputed"  # an objection is open
    FINAL = "final"  # posting over (or objection upheld after it): no more objections
    CORRECTED = "corrected"  # reversed after an objection; a corrected entry may replace it


class PointEntry(Model):
    """An award or deduction for a household (and the person who earned it), through review and posting."""

    __tablename__ = "point_entries"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"), index=True)
    scheme_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("point_schemes.id"))
    item_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("point_items.id"), index=True)
    household_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("households.id"))
    person_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("people.id"), index=True)
    #: copies of the item as it was when recorded: later edits of the item do not change them
    item_code: Mapped[str] = mapped_column(Str(32))
    item_text: Mapped[str] = mapped_column(Str(500))
    category_name: Mapped[str] = mapped_column(Str(64))
    article_ref: Mapped[str | None] = mapped_column(Str(200))
    #: signed points of the entry (the year score takes all of it)
    points: Mapped[int] = mapped_column(Int)
    #: what the balance actually moved on approval: a deduction takes at most the balance (扣完为止)
    applied_points: Mapped[int | None] = mapped_column(Int)
    occurred_on: Mapped[dt.date] = mapped_column(Day)
    #: the score year the entry counts in (the year it happened)
    year: Mapped[int] = mapped_column(Int, index=True)
    note: Mapped[str | None] = mapped_column(Str(500))
    #: manual, batch, patrol, mediation, grid, kiosk, import
    source: Mapped[str] = mapped_column(Str(16), default="manual")
    source_ref: Mapped[str | None] = mapped_column(Str(64))
    #: stored file name (generated, never the uploader's) of an evidence photo under instance/evidence
    evidence_file: Mapped[str | None] = mapped_column(Str(80))
    batch_key: Mapped[str | None] = mapped_column(Str(64), index=True)
    status: Mapped[str] = mapped_column(Str(10), default=EntryStatus.PENDING.value, index=True)
    recorded_by_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("users.id"))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    reviewed_by_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("users.id"))
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    review_note: Mapped[str | None] = mapped_column(Str(500))
    posted_on: Mapped[dt.date | None] = mapped_column(Day)
    #: last day of the 公示期; objections are taken until the end of this day
    posting_until: Mapped[dt.date | None] = mapped_column(Day)
    #: the transfer that moved the balance on approval (none if a deduction found nothing to take)
    transfer_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("transfers.id", use_alter=True,
                                                                          name="fk_point_entries_transfer"))
    #: for an entry that replaces a corrected one
    corrects_entry_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("point_entries.id"))
    idempotency_key: Mapped[str | None] = mapped_column(Str(64))

    household = relationship("Household")
    person = relationship("Person")
    item: Mapped[PointItem] = relationship()
    scheme: Mapped[PointScheme] = relationship()
    recorded_by = relationship("User", foreign_keys=[recorded_by_id])
    reviewed_by = relationship("User", foreign_keys=[reviewed_by_id])
    objections: Mapped[list[Objection]] = relationship(back_populates="entry", order_by="Objection.id")

    __table_args__ = (
        sa.CheckConstraint(f"points <> 0 AND points BETWEEN -{MAX_ITEM_POINTS * 100} AND {MAX_ITEM_POINTS * 100}",
                           name="points_bounded"),
        sa.CheckConstraint("status IN ('pending','rejected','posted','disputed','final','corrected')",
                           name="status_known"),
        sa.UniqueConstraint("village_id", "idempotency_key", name="uq_point_entries_village_id_idempotency_key"),
        # a household's entries newest first (kiosk, household page) read from the index, whatever the
        # length of the history (bench figure 1), id last so that the newest-first order, ties by id, needs no
        # sort; household_id first, so it serves every household lookup
        sa.Index("ix_point_entries_household_id", "household_id", "occurred_on", "id"),
        # a household's counted points of a year (a SUM read from the index alone: the dashboard's stars) and
        # its entries on posting, at the kiosk and on the household page: a few index entries, however long
        # the history
        sa.Index("ix_point_entries_household_status", "household_id", "status", "year", "points", "posting_until"),
        # a village's entries of a period, by day: the dashboard's and the roll-up's months (app.reports)
        sa.Index("ix_point_entries_village_day", "village_id", "occurred_on"),
        # a village's counted points of a year summed per household / per person from the index alone, in
        # group order (no sort, no table rows): what the year totals hold (rebuild_year_totals for bulk-loaded
        # entries; the rankings, bench figure 12, now read the totals, PointYearTotal)
        sa.Index("ix_point_entries_village_year_household", "village_id", "year", "household_id", "status", "points"),
        sa.Index("ix_point_entries_village_year_person", "village_id", "year", "person_id", "status", "points"),
        {"sqlite_strict": True},
    )


class Objection(Model):
    """A villager's objection (异议) to a posted entry, and the reviewer's decision and written reply."""

    __tablename__ = "objections"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"), index=True)
    entry_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("point_entries.id"), index=True)
    #: clerk (filed for the villager), kiosk, oral, written
    channel: Mapped[str] = mapped_column(Str(10), default="clerk")
    objector_name: Mapped[str | None] = mapped_column(Str(64))
    reason: Mapped[str] = mapped_column(Str(1000))
    filed_by_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("users.id"))
    filed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: the decision is due by the end of this day (filed + N working days)
    due_on: Mapped[dt.date] = mapped_column(Day)
    #: upheld (entry stands) or corrected (reversed, perhaps replaced)
    decision: Mapped[str | None] = mapped_column(Str(10))
    decided_by_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reply_text: Mapped[str | None] = mapped_column(Str(2000))
    corrected_points: Mapped[int | None] = mapped_column(Int)

    entry: Mapped[PointEntry] = relationship(back_populates="objections")
    filed_by = relationship("User", foreign_keys=[filed_by_id])
    decided_by = relationship("User", foreign_keys=[decided_by_id])

    __table_args__ = (
        sa.CheckConstraint("decision IS NULL OR decision IN ('upheld','corrected')", name="decision_known"),
        sa.CheckConstraint("channel IN ('clerk','kiosk','oral','written')", name="channel_known"),
        {"sqlite_strict": True},
    )


class YearScore(Model):
    """A household's final score of a closed year (kept after next year's score starts fresh)."""

    __tablename__ = "year_scores"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"), index=True)
    scheme_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("point_schemes.id"))
    year: Mapped[int] = mapped_column(Int)
    household_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("households.id"))
    score: Mapped[int] = mapped_column(Int)
    stars: Mapped[int] = mapped_column(Int)
    rank_village: Mapped[int | None] = mapped_column(Int)
    balance_at_close: Mapped[int] = mapped_column(Int)
    expired_points: Mapped[int] = mapped_column(Int, default=0)
    closed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("scheme_id", "year", "household_id", name="uq_year_scores_scheme_year_household"),
        # the household points page lists one household's closed years, newest first (bench figure 2)
        sa.Index("ix_year_scores_household_id", "household_id", "year"),
        {"sqlite_strict": True},
    )


class PointYearTotal(Model):
    """A household's score of a year under a scheme, kept as it goes: the sum of the points of its counted
    entries (posted, disputed, final; app.points.queries.COUNTED) of that year.

    The rankings read these rows instead of summing the year's entries (about 86,000 in a village of 2,000
    households: most of a rankings page's time, bench figure 12). Only the points services write them, in the
    transaction of every change that makes an entry count or stop counting (services._set_status);
    `flask ledger check` proves each equals the sum of its entries (I15, docs/ledger.md).
    """

    __tablename__ = "point_year_totals"

    # household first: one household's score of a year (the kiosk, the household page) is a key lookup
    household_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("households.id"), primary_key=True)
    year: Mapped[int] = mapped_column(Int, primary_key=True)
    scheme_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("point_schemes.id"), primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"))
    score: Mapped[int] = mapped_column(Int, default=0)
    #: how many counted entries make the score (a score of 0 may be +8 and −8, or nothing left counting)
    entries: Mapped[int] = mapped_column(Int, default=0)

    __table_args__ = (
        # the year's household ranking: a village's totals of a year, per household, from the index alone
        sa.Index("ix_point_year_totals_village_year", "village_id", "year", "household_id", "scheme_id", "score"),
        sa.CheckConstraint("entries >= 0", name="entries_not_negative"),
        {"sqlite_strict": True},
    )


class PointPersonYearTotal(Model):
    """A person's score of a year under a scheme: the sum of the counted entries they earned (person_id), as
    PointYearTotal keeps the household's (the people's ranking: a person is ranked while at least one of
    their entries of the year counts, as when the ranking summed the entries)."""

    __tablename__ = "point_person_year_totals"

    person_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("people.id"), primary_key=True)
    year: Mapped[int] = mapped_column(Int, primary_key=True)
    scheme_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("point_schemes.id"), primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"))
    score: Mapped[int] = mapped_column(Int, default=0)
    #: how many counted entries make the score (a score of 0 may be +8 and −8, or nothing left counting)
    entries: Mapped[int] = mapped_column(Int, default=0)

    __table_args__ = (
        # the year's people ranking: a village's totals of a year, per person, from the index alone
        sa.Index("ix_point_person_year_totals_village_year", "village_id", "year", "person_id", "score",
                 "entries"),
        sa.CheckConstraint("entries >= 0", name="entries_not_negative"),
        {"sqlite_strict": True},
    )
