"""Accounts: creation, roles, authentication with a lockout counted in the database."""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from werkzeug.security import check_password_hash, generate_password_hash

from ..errors import DomainError
from ..audit.services import record
from ..db import utcnow
from ..extensions import db, upsert_insert
from ..registry.models import Township, Village
from .models import LoginProbe, Membership, Role, User, canonical_username

MIN_PASSWORD = 8
_DUMMY_HASH: str | None = None


class AuthError(DomainError):
    """An account change that cannot be made; the message is for the admin."""


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AuthError(_("A password needs at least %(n)s characters.", n=MIN_PASSWORD))


def get_user_by_username(username: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.username == canonical_username(username)))


def create_user(username: str, password: str, display_name: str | None = None) -> User:
    """Create a login; names are folded so that look-alike names cannot coexist."""
    name = canonical_username(username)
    if not name or len(name) > 64:
        raise AuthError(_("Please choose a user name of 1 to 64 characters."))
    if get_user_by_username(name):
        raise AuthError(_("The user name %(name)s is taken.", name=name))
    check_password_rules(password)
    user = User(username=name, display_name=display_name or name, password_hash=hash_password(password),
                active=True, session_version=1, failed_logins=0)
    db.session.add(user)
    db.session.flush()
    # a login is named by its id here: the user name is the actor_name of every row the user writes
    record("user.create", user, changed=["username", "display_name"])
    return user


def grant(user: User, role: str, *, village: Village | None = None, township: Township | None = None) -> Membership:
    """Give a user a role in a village (or a township, or installation-wide for admin)."""
    role = Role(role).value
    if role == Role.ADMIN.value:
        village = township = None
    elif role == Role.TOWNSHIP.value:
        if township is None:
            raise AuthError(_("The township role needs a township."))
        village = None
    else:
        if village is None:
            raise AuthError(_("This role needs a village."))
        township = None
    existing = db.session.scalar(sa.select(Membership).where(
        Membership.user_id == user.id, Membership.role == role,
        Membership.village_id.is_(None) if village is None else Membership.village_id == village.id,
        Membership.township_id.is_(None) if township is None else Membership.township_id == township.id,
    ))
    if existing:
        return existing
    m = Membership(user_id=user.id, role=role, village_id=village.id if village else None,
                   township_id=township.id if township else None)
    db.session.add(m)
    user.session_version += 1  # role changes take effect on the next login
    db.session.flush()
    record("user.grant", user, village_id=village.id if village else None,
           details={"role": role, "village_id": m.village_id, "township_id": m.township_id})
    return m


def revoke(membership: Membership) -> None:
    user = membership.user
    details = {"role": membership.role, "village_id": membership.village_id, "township_id": membership.township_id}
    db.session.delete(membership)
    user.session_version += 1
    db.session.flush()
    record("user.revoke", user, village_id=details["village_id"], details=details)


def set_active(user: User, active: bool) -> None:
    """Disable or re-enable a login; disabling ends every session of that user."""
    user.active = active
    user.session_version += 1
    db.session.flush()
    record("user.enable" if active else "user.disable", user)


def set_password(user: User, password: str) -> None:
    check_password_rules(password)
    user.password_hash = hash_password(password)
    user.session_version += 1
    user.failed_logins = 0
    user.locked_until = None
    db.session.flush()
    record("user.password", user)


def end_sessions(user: User) -> None:
    """Invalidate every cookie of this user (used by logout)."""
    db.session.execute(sa.update(User).where(User.id == user.id).values(session_version=User.session_version + 1))


class LoginRefused(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def authenticate(username: str, password: str) -> User:
    """Check a login; count failures in the database so the lockout holds across worker processes.

    A name without an account is counted and locked the same way, under a keyed hash of the name
    (`LoginProbe`): after LOGIN_MAX_FAILURES wrong tries it answers "locked" like a real account, so the
    answers never tell which user names exist.

    :raises LoginRefused: wrong name or password, disabled or locked account.
    """
    global _DUMMY_HASH
    generic = _("Wrong user name or password.")
    user = get_user_by_username(username or "")
    row: User | LoginProbe | None = user if user is not None else _probe(username or "")
    now = utcnow()
    if row is not None and row.locked_until is not None and row.locked_until > now:
        minutes = max(1, int((row.locked_until - now).total_seconds() // 60) + 1)
        raise LoginRefused(_("Too many wrong passwords: this account is locked for %(m)s more minutes.", m=minutes))
    if row is not None and row.locked_until is not None:
        # the lock has run out: start counting afresh
        model = type(row)
        db.session.execute(sa.update(model).where(model.id == row.id)
                           .values(failed_logins=0, locked_until=None))
        db.session.refresh(row)
    if user is None:
        # spend the same time as a real check so that response times do not reveal user names
        if _DUMMY_HASH is None:
            _DUMMY_HASH = hash_password("not-a-real-password")
        check_password_hash(_DUMMY_HASH, password or "")
        probe = row or _probe(username or "", create=True)
        if _count_failure(probe, now):
            raise LoginRefused(_lock_message())
        raise LoginRefused(generic)
    if not check_password_hash(user.password_hash, password or ""):
        locked = _count_failure(user, now)
        record("auth.login_failed", user, actor=user, details={"failures": user.failed_logins})
        if locked:
            record("auth.locked", user, actor=user)
            raise LoginRefused(_lock_message())
        raise LoginRefused(generic)
    if not user.is_active:
        raise LoginRefused(_("This account has been disabled. Please ask the administrator."))
    if user.failed_logins or user.locked_until:
        user.failed_logins = 0
        user.locked_until = None
    record("auth.login", user, actor=user)
    return user


def _lock_message() -> str:
    return _("Too many wrong passwords: this account is locked for %(m)s minutes.",
             m=current_app.config["LOGIN_LOCK_MINUTES"])


def _count_failure(row: User | LoginProbe, now: dt.datetime) -> bool:
    """Count one wrong password on a user or a probe and lock it at the limit; True when it is locked now."""
    model = type(row)
    limit = current_app.config["LOGIN_MAX_FAILURES"]
    lock_at = now + dt.timedelta(minutes=current_app.config["LOGIN_LOCK_MINUTES"])
    # one guarded statement, so parallel attempts in several workers all count
    db.session.execute(
        sa.update(model).where(model.id == row.id).values(
            failed_logins=model.failed_logins + 1,
            locked_until=sa.case((model.failed_logins + 1 >= limit, lock_at), else_=model.locked_until),
        ).execution_options(synchronize_session=False)
    )
    db.session.flush()
    db.session.refresh(row)
    return row.failed_logins >= limit


def _probe(username: str, *, create: bool = False) -> LoginProbe | None:
    """The failure counter of a name without an account; made on its first failure (race-safe)."""
    digest = hmac.new(current_app.config["SECRET_KEY"].encode(), canonical_username(username).encode(),
                      hashlib.sha256).hexdigest()
    if create:
        db.session.execute(upsert_insert(LoginProbe).values(name_hash=digest, failed_logins=0)
                           .on_conflict_do_nothing(index_elements=["name_hash"]))
    return db.session.scalar(sa.select(LoginProbe).where(LoginProbe.name_hash == digest))
