"""The append-only, hash-chained audit log."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..db import utcnow
from ..extensions import Model


class AuditLog(Model):
    """One state change (or refused attempt); rows are never updated or deleted (database triggers)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: chain position, 1, 2, 3 … without gaps; the hash of row n covers the hash of row n-1
    seq: Mapped[int] = mapped_column(sa.BigInteger, unique=True)
    at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(sa.Integer)
    actor_name: Mapped[str | None] = mapped_column(sa.String(64))
    #: the roles the actor held in the village, comma-separated
    role: Mapped[str | None] = mapped_column(sa.String(120))
    village_id: Mapped[int | None] = mapped_column(sa.Integer, index=True)
    #: the household a change concerns, so a clerk can list a household's recent changes
    household_id: Mapped[int | None] = mapped_column(sa.Integer, index=True)
    action: Mapped[str] = mapped_column(sa.String(40))
    object_type: Mapped[str | None] = mapped_column(sa.String(40))
    object_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    request_id: Mapped[str | None] = mapped_column(sa.String(40))
    #: JSON of the changed field names and non-personal values only (services.ALLOWED_DETAIL_KEYS): the
    #: chain cannot be redacted, so names, ID numbers, birth dates, phones and notes stay in their tables.
    #: Rows written before that rule may hold names and birth dates (docs/architecture.md)
    details: Mapped[str | None] = mapped_column(sa.Text)
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64))


class AuditHead(Model):
    """The chain's last sequence number and hash; locking this row serialises audit writers."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    hash: Mapped[str] = mapped_column(sa.String(64))
