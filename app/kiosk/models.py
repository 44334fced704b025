"""Kiosk devices, household PINs with their lockout counter, and household cards.

No secret is stored in the clear: device tokens, enrolment codes and card codes are random and kept as
SHA-256 digests (they are long random strings, so a fast hash is enough); PINs are short, so they are
peppered and slow-hashed like passwords.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Int, Str, UTCDateTime, utcnow
from ..extensions import Model


class KioskDevice(Model):
    """A touch screen a clerk enabled for one village; revoking it ends its cookie at once."""

    __tablename__ = "kiosk_devices"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"), index=True)
    name: Mapped[str] = mapped_column(Str(64))
    #: SHA-256 of the one-time enrolment code (cleared once used)
    enrol_hash: Mapped[str | None] = mapped_column(Str(64))
    enrol_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: SHA-256 of the long-lived device token kept in the kiosk browser's signed cookie
    token_hash: Mapped[str | None] = mapped_column(Str(64))
    enrolled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    created_by = relationship("User")
    village = relationship("Village")

    __table_args__ = (
        sa.UniqueConstraint("enrol_hash", name="uq_kiosk_devices_enrol_hash"),
        sa.UniqueConstraint("token_hash", name="uq_kiosk_devices_token_hash"),
        {"sqlite_strict": True},
    )

    @property
    def state(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.token_hash is not None:
            return "enrolled"
        return "waiting"


class KioskPin(Model):
    """A household's kiosk PIN and its wrong-PIN counter (counted in the database, see services)."""

    __tablename__ = "kiosk_pins"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"), index=True)
    household_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("households.id"))
    pin_hash: Mapped[str] = mapped_column(Str(256))
    failed_count: Mapped[int] = mapped_column(Int, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    set_by_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("users.id"))
    set_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        sa.UniqueConstraint("household_id", name="uq_kiosk_pins_household_id"),
        sa.CheckConstraint("failed_count >= 0", name="failed_nonneg"),
        {"sqlite_strict": True},
    )


class KioskProbe(Model):
    """Wrong-PIN counter for what was typed or scanned but has no PIN (an unknown 户号 or card, a household
    without a PIN), so that it locks exactly like a real household and the kiosk never tells them apart."""

    __tablename__ = "kiosk_probes"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"), index=True)
    #: SHA-256 of "village id:what was typed" (never the typed text itself)
    key_hash: Mapped[str] = mapped_column(Str(64))
    failed_count: Mapped[int] = mapped_column(Int, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        sa.UniqueConstraint("key_hash", name="uq_kiosk_probes_key_hash"),
        sa.CheckConstraint("failed_count >= 0", name="failed_nonneg"),
        {"sqlite_strict": True},
    )


class HouseholdCard(Model):
    """One printed household card; its QR code holds a random code, stored here only as a digest."""

    __tablename__ = "household_cards"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"), index=True)
    household_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("households.id"), index=True)
    code_hash: Mapped[str] = mapped_column(Str(64))
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    issued_by_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("users.id"))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    household = relationship("Household")

    __table_args__ = (
        sa.UniqueConstraint("code_hash", name="uq_household_cards_code_hash"),
        {"sqlite_strict": True},
    )


#: why a household's kiosk session ended (kiosk_sessions.end_reason)
END_REASONS = ("finish", "idle", "replaced", "pin_changed", "card_reissued", "device_revoked", "household_gone")


class KioskSession(Model):
    """A household opened at a kiosk with its PIN: the browser's cookie holds only a random token, this
    row decides on every request whether it still opens the household's pages.

    It ends (ended_at, end_reason) with 结束, a new household on the same kiosk, a PIN change or card
    reissue for the household, or the kiosk being switched off; it expires when last_seen_at is older
    than the idle time. Rows are deleted some days after their last use (services.purge_sessions).
    """

    __tablename__ = "kiosk_sessions"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"), index=True)
    device_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("kiosk_devices.id"), index=True)
    household_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("households.id"), index=True)
    #: SHA-256 of the random token in the kiosk browser's session cookie (never the token itself)
    token_hash: Mapped[str] = mapped_column(Str(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: the last request seen, written at most every few seconds (services.touch_every)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(Str(16))

    household = relationship("Household")

    __table_args__ = (
        sa.UniqueConstraint("token_hash", name="uq_kiosk_sessions_token_hash"),
        sa.CheckConstraint("end_reason IS NULL OR end_reason IN ("
                           + ",".join(f"'{r}'" for r in END_REASONS) + ")", name="end_reason_known"),
        sa.CheckConstraint("(ended_at IS NULL AND end_reason IS NULL) "
                           "OR (ended_at IS NOT NULL AND end_reason IS NOT NULL)", name="ended_with_reason"),
        {"sqlite_strict": True},
    )
