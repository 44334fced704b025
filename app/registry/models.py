"""Townships, villages, villager groups / grids, households and people, with their history."""
from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import utcnow
from ..extensions import Model


class Township(Model):
    __tablename__ = "townships"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)

    villages: Mapped[list[Village]] = relationship(back_populates="township", order_by="Village.code")


#: how a village's posting sheet names members (Village.posting_names)
POSTING_NAMES = ("masked", "full")


class Village(Model):
    __tablename__ = "villages"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: short code used on the command line and in URLs of printed QR codes, e.g. "demo"
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[str] = mapped_column(sa.String(64))
    township_id: Mapped[int | None] = mapped_column(sa.ForeignKey("townships.id"), index=True)
    #: keep where a photo was taken (its GPS block) in the stored copy; off: app.photos drops it
    keep_photo_location: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    #: how the posting sheet (公示表) names members: "masked" (张*丰, the default) or "full" (张三丰)
    posting_names: Mapped[str] = mapped_column(sa.String(8), default="masked", server_default="masked")
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)

    township: Mapped[Township | None] = relationship(back_populates="villages")

    __table_args__ = (
        sa.CheckConstraint("posting_names IN ('masked','full')", name="posting_names_known"),
    )


class GroupKind(str, enum.Enum):
    GROUP = "group"  # 村民小组
    GRID = "grid"  # 网格


class VillagerGroup(Model):
    """A villager group (村民小组) or a grid (网格); households belong to one."""

    __tablename__ = "villager_groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(sa.ForeignKey("villages.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(64))
    kind: Mapped[str] = mapped_column(sa.String(10), default=GroupKind.GROUP.value)
    leader: Mapped[str | None] = mapped_column(sa.String(64))
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True, server_default=sa.true())

    __table_args__ = (
        sa.UniqueConstraint("village_id", "name", name="uq_villager_groups_village_name"),
        sa.CheckConstraint("kind IN ('group','grid')", name="kind_known"),
    )


class HouseholdStatus(str, enum.Enum):
    ACTIVE = "active"
    MOVED_AWAY = "moved_away"
    SPLIT = "split"
    MERGED = "merged"


#: tag code → Chinese label; the care lists (低保, 五保, 独居老人 …) that grid visits rely on
HOUSEHOLD_TAGS = {
    "dibao": "低保户",
    "wubao": "五保户",
    "elderly_alone": "独居老人",
    "left_behind_child": "留守儿童",
    "key_assistance": "重点帮扶",
    "special": "特殊人员",
    "party_member": "党员户",
}


class Household(Model):
    __tablename__ = "households"

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(sa.ForeignKey("villages.id"), index=True)
    #: 户号 as written in the village register; unique inside the village
    number: Mapped[str] = mapped_column(sa.String(32))
    group_id: Mapped[int | None] = mapped_column(sa.ForeignKey("villager_groups.id"), index=True)
    address: Mapped[str | None] = mapped_column(sa.String(200))
    head_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("people.id", use_alter=True, name="fk_households_head_id_people")
    )
    status: Mapped[str] = mapped_column(sa.String(16), default=HouseholdStatus.ACTIVE.value)
    #: space-separated tag codes, see HOUSEHOLD_TAGS
    tags: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    note: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)

    group: Mapped[VillagerGroup | None] = relationship()
    head: Mapped[Person | None] = relationship(foreign_keys=[head_id], post_update=True)
    members: Mapped[list[Person]] = relationship(
        back_populates="household", foreign_keys="Person.household_id", order_by="Person.id"
    )

    __table_args__ = (
        sa.UniqueConstraint("village_id", "number", name="uq_households_village_number"),
        sa.CheckConstraint(
            "status IN ('active','moved_away','split','merged')", name="status_known"
        ),
    )

    @property
    def tag_list(self) -> list[str]:
        return [t for t in (self.tags or "").split() if t]


class Sex(str, enum.Enum):
    MALE = "male"
    FEMALE = "female"


class Relation(str, enum.Enum):
    HEAD = "head"  # 户主
    SPOUSE = "spouse"  # 配偶
    CHILD = "child"  # 子女
    PARENT = "parent"  # 父母
    GRANDCHILD = "grandchild"  # 孙子女
    GRANDPARENT = "grandparent"  # 祖父母
    SIBLING = "sibling"  # 兄弟姐妹
    CHILD_IN_LAW = "child_in_law"  # 女婿儿媳
    OTHER = "other"  # 其他


class PersonStatus(str, enum.Enum):
    ALIVE = "alive"
    DECEASED = "deceased"
    MOVED = "moved"


class Person(Model):
    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(sa.ForeignKey("villages.id"), index=True)
    household_id: Mapped[int] = mapped_column(sa.ForeignKey("households.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(64))
    #: space-separated pinyin initials keys (default, surname override, polyphones)
    search_keys: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    sex: Mapped[str | None] = mapped_column(sa.String(8))
    birth_date: Mapped[dt.date | None] = mapped_column(sa.Date)
    relation: Mapped[str] = mapped_column(sa.String(16), default=Relation.OTHER.value)
    phone: Mapped[str | None] = mapped_column(sa.String(20))
    #: HMAC-SHA-256 of the 身份证号 under a key kept outside the database, for lookup only
    id_hmac: Mapped[str | None] = mapped_column(sa.String(64))
    #: 4403**********1234; the full number is never stored
    id_masked: Mapped[str | None] = mapped_column(sa.String(18))
    status: Mapped[str] = mapped_column(sa.String(10), default=PersonStatus.ALIVE.value)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)

    household: Mapped[Household] = relationship(back_populates="members", foreign_keys=[household_id])

    __table_args__ = (
        sa.UniqueConstraint("village_id", "id_hmac", name="uq_people_village_id_hmac"),
        sa.CheckConstraint("sex IS NULL OR sex IN ('male','female')", name="sex_known"),
        sa.CheckConstraint(
            "relation IN ('head','spouse','child','parent','grandchild','grandparent',"
            "'sibling','child_in_law','other')",
            name="relation_known",
        ),
        sa.CheckConstraint("status IN ('alive','deceased','moved')", name="status_known"),
    )


class HouseholdEvent(Model):
    """One change to a household's make-up, with before and after, so history is never lost."""

    __tablename__ = "household_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(sa.ForeignKey("villages.id"), index=True)
    household_id: Mapped[int] = mapped_column(sa.ForeignKey("households.id"), index=True)
    #: created, edited, split, split_from, merge, merged_into, head_change, move_in, move_out, person_status
    kind: Mapped[str] = mapped_column(sa.String(20))
    other_household_id: Mapped[int | None] = mapped_column(sa.ForeignKey("households.id"))
    person_id: Mapped[int | None] = mapped_column(sa.ForeignKey("people.id"))
    #: the date the change took effect (as the clerk records it), not when it was typed in
    effective_date: Mapped[dt.date] = mapped_column(sa.Date)
    before: Mapped[dict | None] = mapped_column(sa.JSON)
    after: Mapped[dict | None] = mapped_column(sa.JSON)
    note: Mapped[str | None] = mapped_column(sa.String(500))
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)

    other_household: Mapped[Household | None] = relationship(foreign_keys=[other_household_id])
    person: Mapped[Person | None] = relationship(foreign_keys=[person_id])
    actor = relationship("User")
