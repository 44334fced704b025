"""Kiosk verbs: devices, household PINs with a database-counted lockout, household sessions kept on the
server, household cards, and finding a household at the kiosk. What a household sees after its PIN is read
through app.points.queries.

Functions flush and never commit: the view or command that calls them owns the transaction.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import joinedload
from flask_babel import gettext as _
from werkzeug.security import check_password_hash, generate_password_hash

from ..errors import DomainError
from ..audit.services import record
from ..db import UTCDateTime, utcnow
from ..extensions import db, upsert_insert
from ..points.services import PointsError, file_objection
from ..registry.models import Household, HouseholdStatus, Person, PersonStatus, VillagerGroup
from ..shop.models import Product
from ..text import FULLWIDTH_DIGITS, mask_name
from .models import HouseholdCard, KioskDevice, KioskPin, KioskProbe, KioskSession

#: unambiguous upper-case letters and digits (no 0/O, 1/I/L) for card codes
CARD_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CARD_CODE_LEN = 16
ENROL_HOURS = 72
#: ended and expired household sessions are deleted this many days after their last use (purge_sessions)
SESSION_KEEP_DAYS = 7
#: a session's last_seen_at is written at most this often, however many pages it opens (see touch_every)
SESSION_TOUCH_MAX_SECONDS = 30
_DUMMY_PIN_HASH: str | None = None


class KioskError(DomainError):
    """A kiosk action that cannot be taken; the message is for the clerk or the villager."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# --- devices --------------------------------------------------------------------------------------

def create_device(village, name: str, *, actor=None, code: str | None = None,
                  hours: int = ENROL_HOURS) -> tuple[KioskDevice, str]:
    """Register a kiosk for the village; return it and its one-time enrolment code (shown once).

    `code` and `hours` are for the demo only, whose enrolment link is printed by `flask demo`.
    """
    name = (name or "").strip()
    if not name or len(name) > 64:
        raise KioskError(_("Please give the kiosk a name of 1 to 64 characters."), "name")
    code = code or secrets.token_urlsafe(24)
    device = KioskDevice(village_id=village.id, name=name, enrol_hash=_digest(code),
                         enrol_expires_at=utcnow() + dt.timedelta(hours=hours),
                         created_by_id=actor.id if actor is not None else None)
    db.session.add(device)
    db.session.flush()
    record("kiosk.device_create", device, changed=["name"])
    return device, code


def enrol_device(code: str) -> tuple[KioskDevice, str]:
    """Use a one-time enrolment code: the device gets a fresh long-lived token (returned, never stored).

    :raise KioskError: unknown, used, expired or revoked code.
    """
    device = None
    if code and len(code) <= 100:
        device = db.session.scalar(sa.select(KioskDevice).where(KioskDevice.enrol_hash == _digest(code))
                                   .with_for_update())
    if device is None or device.revoked_at is not None or device.enrol_expires_at is None \
            or device.enrol_expires_at < utcnow():
        raise KioskError(_("This enrolment link is not valid any more. Please ask the clerk for a new one."))
    token = secrets.token_urlsafe(32)
    device.token_hash = _digest(token)
    device.enrol_hash = None
    device.enrol_expires_at = None
    device.enrolled_at = utcnow()
    db.session.flush()
    record("kiosk.device_enrol", device)
    return device, token


#: what every kiosk request loads with its device and its session, built once: loader options are immutable,
#: and building them per request was a tenth of a kiosk page's CPU before its view ran (bench/kiosk_floor.py)
_DEVICE_LOAD = [joinedload(KioskDevice.village)]
_SESSION_LOAD = (joinedload(KioskSession.household).joinedload(Household.head),
                 joinedload(KioskSession.household).joinedload(Household.group))


def device_for_token(device_id, token) -> KioskDevice | None:
    """The enabled, unrevoked device a cookie names, or None."""
    if not isinstance(device_id, int) or not isinstance(token, str) or not token:
        return None
    # the device's village in the same round trip: every kiosk request needs both (bench figure 1)
    device = db.session.get(KioskDevice, device_id, options=_DEVICE_LOAD)
    if device is None or device.revoked_at is not None or device.token_hash is None:
        return None
    if not hmac.compare_digest(device.token_hash, _digest(token)):
        return None
    return device


def revoke_device(device: KioskDevice, *, actor=None) -> None:
    if device.revoked_at is not None:
        return
    device.revoked_at = utcnow()
    device.enrol_hash = None
    db.session.flush()
    record("kiosk.device_revoke", device)
    # a household left open on a lost or stolen kiosk must close with it
    _end_sessions(KioskSession.device_id == device.id, "device_revoked")


# --- PINs -----------------------------------------------------------------------------------------

def normalize_pin(raw: str | None) -> str:
    """4 to 6 digits (full-width digits accepted).

    :raise KioskError: anything else, or a PIN too easy to guess (1111, 1234, 654321).
    """
    pin = (raw or "").translate(FULLWIDTH_DIGITS).strip()
    if not (pin.isascii() and pin.isdigit() and 4 <= len(pin) <= 6):
        raise KioskError(_("A PIN has 4 to 6 digits."), "pin")
    digits = [int(c) for c in pin]
    steps = {b - a for a, b in zip(digits, digits[1:])}
    if steps in ({0}, {1}, {-1}):
        raise KioskError(
            _("This PIN is too easy to guess (same or consecutive digits). Please choose another."), "pin")
    return pin


def _peppered(household_id: int, pin: str) -> str:
    """HMAC the PIN with a key kept outside the database: a stolen database alone cannot be brute-forced."""
    key = current_app.config["ID_HMAC_KEY"].encode()
    return hmac.new(key, f"kiosk-pin:{household_id}:{pin}".encode(), hashlib.sha256).hexdigest()


def set_pin(household: Household, raw_pin: str, *, actor=None) -> KioskPin:
    """Set or reset the household's kiosk PIN; this also lifts any lock."""
    pin = normalize_pin(raw_pin)
    digest = generate_password_hash(_peppered(household.id, pin),
                                    method=current_app.config["PASSWORD_HASH_METHOD"])
    row = pin_of(household)
    if row is None:
        row = KioskPin(village_id=household.village_id, household_id=household.id, pin_hash=digest)
        db.session.add(row)
    row.pin_hash = digest
    row.failed_count = 0
    row.locked_until = None
    row.set_at = utcnow()
    row.set_by_id = actor.id if actor is not None else None
    db.session.flush()
    record("kiosk.pin_set", household, household_id=household.id)
    # whoever knew the old PIN and kept a kiosk cookie is shut out at once
    _end_sessions(KioskSession.household_id == household.id, "pin_changed")
    return row


def pin_of(household: Household) -> KioskPin | None:
    return db.session.scalar(sa.select(KioskPin).where(KioskPin.household_id == household.id))


def unlock_pin(household: Household, *, actor=None) -> None:
    row = pin_of(household)
    if row is None:
        return
    row.failed_count = 0
    row.locked_until = None
    db.session.flush()
    record("kiosk.pin_unlock", household, household_id=household.id)


def is_locked(row: KioskPin | None, now: dt.datetime | None = None) -> bool:
    now = now or utcnow()
    return row is not None and row.locked_until is not None and row.locked_until > now


@dataclass
class PinResult:
    ok: bool
    #: the household is locked now (this attempt locked it, or it was locked already)
    locked: bool = False
    #: this wrong PIN was counted (False for unknown households and for attempts refused by a lock)
    counted: bool = False


def check_pin(village_id: int, household_id: int | None, raw_pin: str | None,
              probe_key: str | None = None) -> PinResult:
    """Check a PIN typed at the kiosk; count a wrong one in the database.

    An unknown household, a household without a PIN and a wrong PIN give the same answer, and lock
    the same way: wrong PINs for something without a PIN are counted under `probe_key` (what was
    typed or scanned), so trying a 户号 five times never tells whether it exists. Counters move in one
    guarded UPDATE (SQLite: inside BEGIN IMMEDIATE; PostgreSQL: the row lock re-checks the WHERE), so
    parallel attempts in several worker processes accept exactly KIOSK_PIN_MAX_FAILURES wrong PINs
    before the lock, and the lock survives restarts.
    """
    global _DUMMY_PIN_HASH
    pin = (raw_pin or "").translate(FULLWIDTH_DIGITS).strip()[:12]
    row = None
    if household_id is not None:
        row = db.session.scalar(sa.select(KioskPin).where(KioskPin.household_id == household_id,
                                                          KioskPin.village_id == village_id))
    now = utcnow()
    if row is None:
        # spend the time of a real check, so timing does not tell which households exist
        if _DUMMY_PIN_HASH is None:
            _DUMMY_PIN_HASH = generate_password_hash("x", method=current_app.config["PASSWORD_HASH_METHOD"])
        check_password_hash(_DUMMY_PIN_HASH, pin)
        if not probe_key:
            return PinResult(ok=False)
        probe = _probe(village_id, probe_key)
        if is_locked(probe, now):
            return PinResult(ok=False, locked=True)
        return _count_wrong(probe, now, village_id=village_id, household_id=household_id)
    if is_locked(row, now):
        return PinResult(ok=False, locked=True)
    if check_password_hash(row.pin_hash, _peppered(row.household_id, pin)):
        row.failed_count = 0
        row.locked_until = None
        row.last_used_at = now
        db.session.flush()
        record("kiosk.open", village_id=village_id, household_id=row.household_id)
        return PinResult(ok=True)
    return _count_wrong(row, now, village_id=village_id, household_id=row.household_id)


def _probe(village_id: int, key: str) -> KioskProbe:
    """The failure counter of something typed that has no PIN, created on first use (race-safe)."""
    digest = _digest(f"{village_id}:{key}")
    db.session.execute(upsert_insert(KioskProbe).values(village_id=village_id, key_hash=digest, failed_count=0)
                       .on_conflict_do_nothing(index_elements=["key_hash"]))
    return db.session.scalar(sa.select(KioskProbe).where(KioskProbe.key_hash == digest))


def _count_wrong(row, now: dt.datetime, *, village_id: int, household_id: int | None) -> PinResult:
    """Count one wrong PIN on `row` (a KioskPin or a KioskProbe) and lock it at the limit."""
    model = type(row)
    limit = int(current_app.config["KIOSK_PIN_MAX_FAILURES"])
    lock_at = now + dt.timedelta(minutes=int(current_app.config["KIOSK_PIN_LOCK_MINUTES"]))
    expired = sa.and_(model.locked_until.is_not(None), model.locked_until <= now)
    res = db.session.execute(
        sa.update(model)
        .where(model.id == row.id, sa.or_(model.locked_until.is_(None), model.locked_until <= now))
        .values(
            failed_count=sa.case((expired, 1), else_=model.failed_count + 1),
            locked_until=sa.case((expired, sa.null()),
                                 (model.failed_count + 1 >= limit, sa.literal(lock_at, UTCDateTime())),
                                 else_=sa.null()),
        )
        .execution_options(synchronize_session=False))
    if res.rowcount == 0:
        # another attempt locked it between our read and our write
        return PinResult(ok=False, locked=True)
    db.session.refresh(row)
    record("kiosk.pin_failed", village_id=village_id, household_id=household_id,
           details={"failures": row.failed_count})
    if row.locked_until is not None:
        record("kiosk.pin_locked", village_id=village_id, household_id=household_id)
    return PinResult(ok=False, locked=row.locked_until is not None, counted=True)


# --- household sessions -----------------------------------------------------------------------------
# After the right PIN the household is open at that kiosk until 结束, the idle time, a PIN change or card
# reissue for the household, or the kiosk being switched off. The browser's session cookie holds only a
# random token; the row below decides on every request, so a copied cookie dies with the session, and a
# restart changes nothing.

def open_at_kiosk(device_id: int, village_id: int, household_id: int | None, raw_pin: str | None,
                  probe_key: str | None = None) -> tuple[PinResult, str | None]:
    """Check the PIN (check_pin) and, when it is right, open a session in the same transaction.

    Returns the PIN result and the new session's token (None unless the PIN was right).
    """
    result = check_pin(village_id, household_id, raw_pin, probe_key=probe_key)
    if not result.ok or household_id is None:
        return result, None
    return result, start_session(device_id, village_id, household_id)


def start_session(device_id: int, village_id: int, household_id: int) -> str:
    """Open `household_id` at the kiosk; return the token for the cookie (only its digest is stored).

    Whatever the kiosk still had open ends here ("replaced"): one screen shows one household. Old rows
    of the village are purged on the way (purge_sessions), so the table needs no scheduled job.
    """
    now = utcnow()
    _end_sessions(KioskSession.device_id == device_id, "replaced", now)
    token = secrets.token_urlsafe(32)
    db.session.add(KioskSession(village_id=village_id, device_id=device_id, household_id=household_id,
                                token_hash=_digest(token), created_at=now, last_seen_at=now))
    db.session.flush()
    purge_sessions(village_id, now)
    return token


def touch_every(idle_seconds: int | None = None) -> int:
    """Seconds between two writes of a session's last_seen_at: a quarter of the idle time, at most 30.

    Pages in between are reads only; the idle limit (idle_limit) adds this much, so a villager who
    keeps using the kiosk is never timed out early by a write that was skipped.
    """
    idle = int(current_app.config["KIOSK_IDLE_SECONDS"] if idle_seconds is None else idle_seconds)
    return max(1, min(SESSION_TOUCH_MAX_SECONDS, idle // 4))


def idle_limit() -> dt.timedelta:
    """How long after last_seen_at a session has expired: the idle time, the touch interval and 5 s for
    the page on its way (the kiosk's own timer goes back to the start page after the idle time)."""
    idle = int(current_app.config["KIOSK_IDLE_SECONDS"])
    return dt.timedelta(seconds=idle + touch_every(idle) + 5)


def check_session(device_id: int, village_id: int, token,
                  now: dt.datetime | None = None) -> tuple[KioskSession | None, str | None]:
    """The session a cookie's token names at this kiosk, with its household (head and group loaded).

    Returns (session, None) when it may open the household's pages; (session, reason) when it is still
    open in the table but must end now ("idle", "household_gone"); (None, None) when the token is
    unknown, ended, or belongs to another kiosk.
    """
    if not isinstance(token, str) or not token or len(token) > 100:
        return None, None
    now = now or utcnow()
    row = db.session.scalar(sa.select(KioskSession).where(KioskSession.token_hash == _digest(token))
                            .options(*_SESSION_LOAD))
    if row is None or row.ended_at is not None or row.device_id != device_id or row.village_id != village_id:
        return None, None
    if row.last_seen_at < now - idle_limit():
        return row, "idle"
    h = row.household
    if h is None or h.village_id != village_id or h.status != HouseholdStatus.ACTIVE.value:
        return row, "household_gone"
    return row, None


def needs_touch(row: KioskSession, now: dt.datetime | None = None) -> bool:
    return row.last_seen_at <= (now or utcnow()) - dt.timedelta(seconds=touch_every())


def touch_session(session_id: int, now: dt.datetime | None = None) -> bool:
    """Write last_seen_at; False when the session ended in the meantime (then it opens nothing)."""
    res = db.session.execute(
        sa.update(KioskSession).where(KioskSession.id == session_id, KioskSession.ended_at.is_(None))
        .values(last_seen_at=now or utcnow()).execution_options(synchronize_session=False))
    return res.rowcount == 1


def end_session(token, reason: str) -> bool:
    """End the session a cookie's token names (结束 and leaving for the start page); True if it was open."""
    if not isinstance(token, str) or not token or len(token) > 100:
        return False
    row = db.session.scalar(sa.select(KioskSession).where(KioskSession.token_hash == _digest(token),
                                                          KioskSession.ended_at.is_(None)))
    if row is None:
        return False
    # the audit row first: every writer takes the audit chain's head before session rows (no deadlock)
    record("kiosk.close", village_id=row.village_id, household_id=row.household_id,
           details={"end_reason": reason})  # a code of END_REASONS, named as its column
    return _end_sessions(KioskSession.id == row.id, reason) == 1


def expire_session(session_id: int, reason: str) -> None:
    """Mark a session found idle (or whose household left) as ended. Bookkeeping only, without an audit
    row: check_session refuses it either way, and a busy database may skip this."""
    _end_sessions(KioskSession.id == session_id, reason)


def _end_sessions(where, reason: str, now: dt.datetime | None = None) -> int:
    """End the open sessions matching `where`; return how many."""
    res = db.session.execute(
        sa.update(KioskSession).where(where, KioskSession.ended_at.is_(None))
        .values(ended_at=now or utcnow(), end_reason=reason).execution_options(synchronize_session=False))
    return res.rowcount


def purge_sessions(village_id: int, now: dt.datetime | None = None) -> int:
    """Delete the village's sessions unused for SESSION_KEEP_DAYS (ended or expired long ago)."""
    cutoff = (now or utcnow()) - dt.timedelta(days=SESSION_KEEP_DAYS) - idle_limit()
    res = db.session.execute(sa.delete(KioskSession).where(KioskSession.village_id == village_id,
                                                           KioskSession.last_seen_at < cutoff)
                             .execution_options(synchronize_session=False))
    return res.rowcount


# --- household cards ------------------------------------------------------------------------------

def normalize_card_code(raw: str | None) -> str:
    """What a scanner or a person typed, upper-cased, without spaces or dashes."""
    s = (raw or "").translate(FULLWIDTH_DIGITS).upper()
    return "".join(ch for ch in s if ch.isascii() and ch.isalnum())[:40]


def issue_card(household: Household, *, actor=None) -> str:
    """Issue a new card for the household: the old card stops working. Return the new code (never stored)."""
    now = utcnow()
    db.session.execute(sa.update(HouseholdCard).where(HouseholdCard.household_id == household.id,
                                                      HouseholdCard.revoked_at.is_(None))
                       .values(revoked_at=now).execution_options(synchronize_session=False))
    code = "".join(secrets.choice(CARD_ALPHABET) for _ in range(CARD_CODE_LEN))
    card = HouseholdCard(village_id=household.village_id, household_id=household.id, code_hash=_digest(code),
                         issued_at=now, issued_by_id=actor.id if actor is not None else None)
    db.session.add(card)
    db.session.flush()
    record("kiosk.card_issue", card, household_id=household.id)
    # a new card is asked for when the old one is lost: whatever was opened with it ends too
    _end_sessions(KioskSession.household_id == household.id, "card_reissued")
    return code


def active_card(household: Household) -> HouseholdCard | None:
    return db.session.scalar(sa.select(HouseholdCard).where(HouseholdCard.household_id == household.id,
                                                            HouseholdCard.revoked_at.is_(None)))


def find_household_by_card_code(village, code: str | None) -> Household | None:
    """The active household whose current card carries `code`, in this village; None otherwise.

    Also used by the shop counter. A reissued card's old code finds nothing.
    """
    norm = normalize_card_code(code)
    if len(norm) != CARD_CODE_LEN:
        return None
    village_id = village if isinstance(village, int) else village.id
    return db.session.scalar(
        sa.select(Household).join(HouseholdCard, HouseholdCard.household_id == Household.id).where(
            HouseholdCard.code_hash == _digest(norm), HouseholdCard.revoked_at.is_(None),
            HouseholdCard.village_id == village_id, Household.village_id == village_id,
            Household.status == HouseholdStatus.ACTIVE.value))


def households_for_cards(village, *, group_id: int | None = None, only_without_card: bool = False,
                         limit: int = 2000) -> list[Household]:
    """Active households of the village (or one group) by 户号, for a sheet of cards."""
    stmt = sa.select(Household).where(Household.village_id == village.id,
                                      Household.status == HouseholdStatus.ACTIVE.value)
    if group_id:
        stmt = stmt.where(Household.group_id == group_id)
    if only_without_card:
        has_card = sa.select(HouseholdCard.household_id).where(HouseholdCard.village_id == village.id,
                                                               HouseholdCard.revoked_at.is_(None))
        stmt = stmt.where(Household.id.not_in(has_card))
    return list(db.session.scalars(stmt.order_by(Household.number, Household.id).limit(limit)))


# --- finding a household at the kiosk -------------------------------------------------------------

def find_by_number(village_id: int, number: str | None) -> Household | None:
    num = (number or "").translate(FULLWIDTH_DIGITS).strip()[:32]
    if not num:
        return None
    return db.session.scalar(sa.select(Household).where(
        Household.village_id == village_id, Household.number == num,
        Household.status == HouseholdStatus.ACTIVE.value))


@dataclass
class NameChoice:
    household_id: int
    masked_name: str
    group_name: str


MAX_CHOICES = 12


def find_by_initials(village_id: int, letters: str) -> tuple[list[NameChoice], bool]:
    """Living people of active households whose pinyin initials start with `letters`.

    Returns (choices, more): at most MAX_CHOICES masked names with their group; `more` when there were
    more matches (the villager should tap more letters).
    """
    low = "".join(ch for ch in (letters or "").lower() if "a" <= ch <= "z")[:8]
    if not low:
        return [], False
    stmt = (sa.select(Person.name, Person.household_id, VillagerGroup.name)
            .join(Household, Household.id == Person.household_id)
            .outerjoin(VillagerGroup, VillagerGroup.id == Household.group_id)
            .where(Person.village_id == village_id, Household.village_id == village_id,
                   Household.status == HouseholdStatus.ACTIVE.value,
                   Person.status == PersonStatus.ALIVE.value,
                   sa.or_(Person.search_keys.like(f"{low}%"), Person.search_keys.like(f"% {low}%")))
            .order_by(Household.number, Person.id).limit(200))
    seen: set[tuple[int, str]] = set()
    out: list[NameChoice] = []
    for name, hid, group in db.session.execute(stmt):
        key = (hid, mask_name(name))
        if key in seen:
            continue
        seen.add(key)
        out.append(NameChoice(hid, key[1], group or ""))
    return out[:MAX_CHOICES], len(out) > MAX_CHOICES


# --- what a household sees --------------------------------------------------------------------------

def open_objection(entry):
    return next((o for o in entry.objections if o.decision is None), None)


def object_at_kiosk(household: Household, entry, reason: str):
    """File a villager's objection from the kiosk through the points objection service.

    The objector is the household that opened the kiosk with its PIN (the entry's own household); no name
    is typed, so none is stored: the reply names the household from the entry (channel "kiosk").
    """
    if entry.household_id != household.id or entry.village_id != household.village_id:
        raise KioskError(_("This entry is not on your household."))
    try:
        return file_objection(entry, reason=reason, channel="kiosk")
    except PointsError as e:
        raise KioskError(str(e), e.field) from None


def shop_goods(village_id: int):
    return list(db.session.scalars(sa.select(Product).where(
        Product.village_id == village_id, Product.active == True)  # noqa: E712
        .order_by(Product.category, Product.price_points, Product.name, Product.id)))
