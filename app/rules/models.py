"""Village rules (村规民约, 村民自治章程, 积分管理办法 …): rule sets, versions, chapters, articles,
the adoption steps (四议两公开, legality review, filing), per-village quorum settings and digests.

Text is stored as the clerk gave it and rendered escaped; `source_text` keeps the raw import so
nothing is ever lost to a parse (docs/architecture.md, "Village rules": an import is lossless).
"""
from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Day, Flag, Int, Str, UTCDateTime, utcnow
from ..extensions import Model

#: limits on what one version may hold (a real charter has under 150 articles)
MAX_ARTICLES = 1000
#: the largest article number an edited label may stand for (the parser reads at most four digits)
MAX_ARTICLE_NUMBER = 9999
MAX_TEXT = 200_000
MAX_COUNT = 1_000_000


class RuleKind(str, enum.Enum):
    CHARTER = "charter"  # 村民自治章程
    VILLAGE_RULES = "village_rules"  # 村规民约
    POINTS_RULES = "points_rules"  # 积分管理办法
    SHOP_RULES = "shop_rules"  # 幸福超市管理办法
    OTHER = "other"


class VersionStatus(str, enum.Enum):
    DRAFT = "draft"  # 草案
    PROPOSED = "proposed"  # 党组织提议
    DELIBERATED = "deliberated"  # 两委会商议
    REVIEWED = "reviewed"  # 党员大会审议
    ADOPTED = "adopted"  # 村民会议 / 村民代表会议决议
    FILED = "filed"  # 乡镇备案
    PUBLISHED = "published"  # 公布
    SUPERSEDED = "superseded"  # replaced by a later published version
    WITHDRAWN = "withdrawn"  # abandoned before adoption


#: the forward path a version walks; superseded and withdrawn leave it
STATUS_PATH = [VersionStatus.DRAFT, VersionStatus.PROPOSED, VersionStatus.DELIBERATED, VersionStatus.REVIEWED,
               VersionStatus.ADOPTED, VersionStatus.FILED, VersionStatus.PUBLISHED]


class StepKind(str, enum.Enum):
    PROPOSAL = "proposal"  # 党组织提议
    TWO_COMMITTEES = "two_committees"  # 两委会商议
    PARTY_MEETING = "party_meeting"  # 党员大会审议
    LEGAL_REVIEW = "legal_review"  # 乡镇合法性审查
    ASSEMBLY = "assembly"  # 村民会议或村民代表会议决议
    RESOLUTION_PUBLIC = "resolution_public"  # 决议公开
    FILING = "filing"  # 乡镇备案
    RESULT_PUBLIC = "result_public"  # 实施结果公开


#: steps in the order they happen, for forms and the page
STEP_ORDER = [StepKind.PROPOSAL, StepKind.TWO_COMMITTEES, StepKind.PARTY_MEETING, StepKind.LEGAL_REVIEW,
              StepKind.ASSEMBLY, StepKind.RESOLUTION_PUBLIC, StepKind.FILING, StepKind.RESULT_PUBLIC]


class AssemblyKind(str, enum.Enum):
    VILLAGER_ASSEMBLY = "villager_assembly"  # 村民会议
    REPRESENTATIVES = "representatives"  # 村民代表会议


class RuleSet(Model):
    __tablename__ = "rule_sets"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"), index=True)
    kind: Mapped[str] = mapped_column(Str(16))
    title: Mapped[str] = mapped_column(Str(100))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    versions: Mapped[list[RuleVersion]] = relationship(back_populates="ruleset",
                                                       order_by="RuleVersion.version_no")

    __table_args__ = (
        sa.UniqueConstraint("village_id", "title", name="uq_rule_sets_village_id_title"),
        sa.CheckConstraint("kind IN ('charter','village_rules','points_rules','shop_rules','other')",
                           name="kind_known"),
        {"sqlite_strict": True},
    )


class RuleVersion(Model):
    """One text of a rule set, from draft to published (or withdrawn)."""

    __tablename__ = "rule_versions"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"), index=True)
    ruleset_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("rule_sets.id"), index=True)
    version_no: Mapped[int] = mapped_column(Int)
    status: Mapped[str] = mapped_column(Str(12), default=VersionStatus.DRAFT.value)
    #: the title as written in the text (may differ from the rule set's, e.g. 青山村村规民约（2024年修订）)
    title: Mapped[str] = mapped_column(Str(200))
    preamble: Mapped[str] = mapped_column(sa.Text, default="")
    #: the closing as written: adoption and effective dates, signature lines
    closing: Mapped[str] = mapped_column(sa.Text, default="")
    #: the text exactly as pasted or uploaded (empty for a version built by amendment)
    source_text: Mapped[str] = mapped_column(sa.Text, default="")
    #: article (第X条), cn_list (一、), ar_list (1.), paren_list (（一）)
    numbering: Mapped[str] = mapped_column(Str(8), default="article")
    adopting_body: Mapped[str | None] = mapped_column(Str(20))
    adopted_on: Mapped[dt.date | None] = mapped_column(Day)
    effective_on: Mapped[dt.date | None] = mapped_column(Day)
    published_on: Mapped[dt.date | None] = mapped_column(Day)
    #: the version this one amends
    supersedes_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("rule_versions.id"))
    note: Mapped[str] = mapped_column(Str(500), default="")
    created_by_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    ruleset: Mapped[RuleSet] = relationship(back_populates="versions")
    chapters: Mapped[list[RuleChapter]] = relationship(back_populates="version", order_by="RuleChapter.seq",
                                                       cascade="all, delete-orphan")
    articles: Mapped[list[RuleArticle]] = relationship(back_populates="version", order_by="RuleArticle.seq",
                                                       cascade="all, delete-orphan")
    steps: Mapped[list[AdoptionStep]] = relationship(back_populates="version", cascade="all, delete-orphan")
    digest_items: Mapped[list[DigestItem]] = relationship(back_populates="version", order_by="DigestItem.seq",
                                                          cascade="all, delete-orphan")
    supersedes: Mapped[RuleVersion | None] = relationship(remote_side=[id])

    __table_args__ = (
        sa.UniqueConstraint("ruleset_id", "version_no", name="uq_rule_versions_ruleset_id_version_no"),
        sa.CheckConstraint("status IN ('draft','proposed','deliberated','reviewed','adopted','filed',"
                           "'published','superseded','withdrawn')", name="status_known"),
        sa.CheckConstraint("numbering IN ('article','cn_list','ar_list','paren_list')", name="numbering_known"),
        sa.CheckConstraint("version_no BETWEEN 1 AND 10000", name="version_no_bounded"),
        sa.CheckConstraint("adopting_body IS NULL OR adopting_body IN ('villager_assembly','representatives')",
                           name="adopting_body_known"),
        {"sqlite_strict": True},
    )

    @property
    def editable(self) -> bool:
        return self.status == VersionStatus.DRAFT.value

    def step(self, kind: StepKind | str) -> AdoptionStep | None:
        value = kind.value if isinstance(kind, StepKind) else kind
        return next((s for s in self.steps if s.step == value), None)

    def top_chapters(self) -> list[RuleChapter]:
        return [c for c in self.chapters if c.level == 1]


class RuleChapter(Model):
    """A chapter (第一章) or a section inside one (第一节); level 2 rows name their chapter."""

    __tablename__ = "rule_chapters"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"), index=True)
    version_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("rule_versions.id"), index=True)
    seq: Mapped[int] = mapped_column(Int)
    level: Mapped[int] = mapped_column(Int, default=1)
    label: Mapped[str] = mapped_column(Str(40))
    title: Mapped[str] = mapped_column(Str(200), default="")
    parent_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("rule_chapters.id"))

    version: Mapped[RuleVersion] = relationship(back_populates="chapters")
    articles: Mapped[list[RuleArticle]] = relationship(back_populates="chapter", order_by="RuleArticle.seq")

    __table_args__ = (
        sa.UniqueConstraint("version_id", "seq", name="uq_rule_chapters_version_id_seq"),
        sa.CheckConstraint("level IN (1, 2)", name="level_known"),
        {"sqlite_strict": True},
    )

    @property
    def heading(self) -> str:
        return f"{self.label}　{self.title}".strip("　")


class RuleArticle(Model):
    """An article with its numbering as written (第十二条, 12., 十二、); sub-items stay in the text."""

    __tablename__ = "rule_articles"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"), index=True)
    version_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("rule_versions.id"), index=True)
    chapter_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("rule_chapters.id"), index=True)
    seq: Mapped[int] = mapped_column(Int)
    label: Mapped[str] = mapped_column(Str(40))
    #: the number the label stands for (12 for 第十二条), when it has one
    number: Mapped[int | None] = mapped_column(Int)
    text: Mapped[str] = mapped_column(sa.Text, default="")

    version: Mapped[RuleVersion] = relationship(back_populates="articles")
    chapter: Mapped[RuleChapter | None] = relationship(back_populates="articles")

    __table_args__ = (
        sa.UniqueConstraint("version_id", "seq", name="uq_rule_articles_version_id_seq"),
        {"sqlite_strict": True},
    )


class AdoptionStep(Model):
    """One step of 四议两公开, the legality review or the filing, with its counts and minutes."""

    __tablename__ = "rule_adoption_steps"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"), index=True)
    version_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("rule_versions.id"), index=True)
    step: Mapped[str] = mapped_column(Str(20))
    held_on: Mapped[dt.date] = mapped_column(Day)
    #: who met or decided, as written: 村党支部委员会, 青山镇人民政府 …
    body: Mapped[str] = mapped_column(Str(100), default="")
    #: for the assembly step: villager_assembly (村民会议) or representatives (村民代表会议)
    assembly_kind: Mapped[str | None] = mapped_column(Str(20))
    eligible: Mapped[int | None] = mapped_column(Int)
    present: Mapped[int | None] = mapped_column(Int)
    women_present: Mapped[int | None] = mapped_column(Int)
    #: villager assembly only: households in the village and households whose representative came
    households_total: Mapped[int | None] = mapped_column(Int)
    households_present: Mapped[int | None] = mapped_column(Int)
    votes_yes: Mapped[int | None] = mapped_column(Int)
    votes_no: Mapped[int | None] = mapped_column(Int)
    votes_abstain: Mapped[int | None] = mapped_column(Int)
    #: legality review: did the township find the text lawful
    approved: Mapped[bool | None] = mapped_column(Flag)
    minutes: Mapped[str] = mapped_column(sa.Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    version: Mapped[RuleVersion] = relationship(back_populates="steps")

    __table_args__ = (
        sa.UniqueConstraint("version_id", "step", name="uq_rule_adoption_steps_version_id_step"),
        sa.CheckConstraint("step IN ('proposal','two_committees','party_meeting','legal_review','assembly',"
                           "'resolution_public','filing','result_public')", name="step_known"),
        sa.CheckConstraint("assembly_kind IS NULL OR assembly_kind IN ('villager_assembly','representatives')",
                           name="assembly_kind_known"),
        sa.CheckConstraint(f"(eligible IS NULL OR eligible BETWEEN 0 AND {MAX_COUNT}) AND "
                           "(present IS NULL OR present >= 0) AND (women_present IS NULL OR women_present >= 0) "
                           "AND (votes_yes IS NULL OR votes_yes >= 0) AND (votes_no IS NULL OR votes_no >= 0) "
                           "AND (votes_abstain IS NULL OR votes_abstain >= 0)", name="counts_not_negative"),
        {"sqlite_strict": True},
    )


class RuleSettings(Model):
    """Quorum and majority thresholds of one village (defaults: 村民委员会组织法 arts. 22, 26).

    Each threshold is a fraction num/den. "More than" thresholds (villager assembly attendance,
    majority) need count × den > total × num; "at least" thresholds need count × den ≥ total × num.
    """

    __tablename__ = "rule_settings"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"), unique=True)
    #: villager assembly: more than this share of adult villagers present …
    assembly_num: Mapped[int] = mapped_column(Int, default=1)
    assembly_den: Mapped[int] = mapped_column(Int, default=2)
    #: … or representatives of at least this share of households
    households_num: Mapped[int] = mapped_column(Int, default=2)
    households_den: Mapped[int] = mapped_column(Int, default=3)
    #: representatives' assembly: at least this share present
    representatives_num: Mapped[int] = mapped_column(Int, default=2)
    representatives_den: Mapped[int] = mapped_column(Int, default=3)
    #: party members' meeting: at least this share present
    party_num: Mapped[int] = mapped_column(Int, default=2)
    party_den: Mapped[int] = mapped_column(Int, default=3)
    #: in favour: more than this share of those present
    majority_num: Mapped[int] = mapped_column(Int, default=1)
    majority_den: Mapped[int] = mapped_column(Int, default=2)
    #: women who must be present at the adopting assembly (seven-ministry guideline; 0 = not checked)
    women_min: Mapped[int] = mapped_column(Int, default=0)

    __table_args__ = (
        sa.CheckConstraint("assembly_den > 0 AND households_den > 0 AND representatives_den > 0 AND "
                           "party_den > 0 AND majority_den > 0", name="denominators_positive"),
        sa.CheckConstraint("assembly_num BETWEEN 0 AND assembly_den AND households_num BETWEEN 0 AND households_den "
                           "AND representatives_num BETWEEN 0 AND representatives_den AND party_num BETWEEN 0 AND "
                           "party_den AND majority_num BETWEEN 0 AND majority_den AND women_min >= 0",
                           name="fractions_bounded"),
        {"sqlite_strict": True},
    )


digest_item_articles = sa.Table(
    "rule_digest_item_articles", Model.metadata,
    sa.Column("digest_item_id", Int, sa.ForeignKey("rule_digest_items.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("article_id", Int, sa.ForeignKey("rule_articles.id", ondelete="CASCADE"), primary_key=True),
    sqlite_strict=True,
)

#: points item ↔ the articles that authorise it (issue 5; the points model stays untouched)
point_item_articles = sa.Table(
    "point_item_articles", Model.metadata,
    sa.Column("point_item_id", Int, sa.ForeignKey("point_items.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("article_id", Int, sa.ForeignKey("rule_articles.id", ondelete="CASCADE"), primary_key=True,
              index=True),
    sqlite_strict=True,
)


class DigestItem(Model):
    """One key rule of a printed digest (要点), in the clerk's short words, citing its source articles."""

    __tablename__ = "rule_digest_items"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"), index=True)
    version_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("rule_versions.id"), index=True)
    seq: Mapped[int] = mapped_column(Int)
    text: Mapped[str] = mapped_column(Str(300))

    version: Mapped[RuleVersion] = relationship(back_populates="digest_items")
    articles: Mapped[list[RuleArticle]] = relationship(secondary=digest_item_articles, order_by="RuleArticle.seq")

    __table_args__ = ({"sqlite_strict": True},)
