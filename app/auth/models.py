"""Users, their roles per village, and the account lockout counters."""
from __future__ import annotations

import datetime as dt
import enum
import unicodedata

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import utcnow
from ..extensions import Model


class Role(str, enum.Enum):
    """What a user may do; granted per village (township per township, admin installation-wide)."""

    ADMIN = "admin"
    TOWNSHIP = "township"
    CLERK = "clerk"
    REVIEWER = "reviewer"
    CASHIER = "cashier"
    PATROL_LEADER = "patrol_leader"
    MEDIATOR = "mediator"
    GRID_WORKER = "grid_worker"


VILLAGE_ROLES = (
    Role.CLERK, Role.REVIEWER, Role.CASHIER, Role.PATROL_LEADER, Role.MEDIATOR, Role.GRID_WORKER,
)


def canonical_username(name: str) -> str:
    """Fold a login name so that ａｄｍｉｎ, Admin and admin are the same account."""
    return unicodedata.normalize("NFKC", name).casefold().strip()


class User(UserMixin, Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(64))
    password_hash: Mapped[str] = mapped_column(sa.String(256))
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True, server_default=sa.true())
    #: bumped on logout, disable and password change; part of get_id() so old cookies stop working
    session_version: Mapped[int] = mapped_column(sa.Integer, default=1, server_default="1")
    failed_logins: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    locked_until: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan", order_by="Membership.id"
    )

    __table_args__ = (sa.CheckConstraint("failed_logins >= 0", name="failed_logins_nonneg"),)

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return bool(self.active)

    @property
    def is_admin(self) -> bool:
        return any(m.role == Role.ADMIN.value for m in self.memberships)

    def __repr__(self) -> str:
        return f"<User {self.username}>"


class Membership(Model):
    """One role of one user: in a village, in a township (township role) or everywhere (admin)."""

    __tablename__ = "memberships"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    role: Mapped[str] = mapped_column(sa.String(20))
    village_id: Mapped[int | None] = mapped_column(sa.ForeignKey("villages.id"), index=True)
    township_id: Mapped[int | None] = mapped_column(sa.ForeignKey("townships.id"), index=True)

    user: Mapped[User] = relationship(back_populates="memberships")
    village = relationship("Village")
    township = relationship("Township")

    __table_args__ = (
        sa.UniqueConstraint("user_id", "role", "village_id", "township_id", name="uq_memberships_grant"),
        sa.CheckConstraint(
            "(role = 'admin' AND village_id IS NULL AND township_id IS NULL)"
            " OR (role = 'township' AND township_id IS NOT NULL AND village_id IS NULL)"
            " OR (role IN ('clerk','reviewer','cashier','patrol_leader','mediator','grid_worker')"
            " AND village_id IS NOT NULL AND township_id IS NULL)",
            name="scope_matches_role",
        ),
    )


class LoginProbe(Model):
    """Failure counter of a user name that has no account, so that it locks exactly like a real one and
    the login page never tells which names exist (the pattern of the kiosk's KioskProbe)."""

    __tablename__ = "login_probes"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: HMAC-SHA-256 (SECRET_KEY) of the folded name as typed: never the name itself
    name_hash: Mapped[str] = mapped_column(sa.String(64))
    #: the same two columns as on users, so one counting function serves both
    failed_logins: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    locked_until: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)

    __table_args__ = (
        sa.UniqueConstraint("name_hash", name="uq_login_probes_name_hash"),
        sa.CheckConstraint("failed_logins >= 0", name="failed_logins_nonneg"),
    )
