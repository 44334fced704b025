"""The current village, what the user may do in it, and object loading that never crosses villages."""
from __future__ import annotations

from functools import wraps
from typing import Any, Callable, TypeVar

from flask import abort, g, session
from flask_login import current_user

from .auth.models import Role
from .extensions import db
from .registry.models import Village

F = TypeVar("F", bound=Callable[..., Any])

#: permission → roles (in the current village) that hold it
PERMISSIONS: dict[str, set[str]] = {
    "registry.view": {"clerk", "reviewer", "cashier", "patrol_leader", "mediator", "grid_worker"},
    "registry.edit": {"clerk"},
    "registry.export": {"clerk", "reviewer"},
    "person.see_contact": {"clerk"},
    "audit.view": {"clerk", "reviewer"},
    "points.view": {"clerk", "reviewer"},
    "points.setup": {"clerk"},
    "points.record": {"clerk"},
    "points.review": {"reviewer"},
    "shop.view": {"cashier", "clerk", "reviewer"},
    "shop.sell": {"cashier"},
    "shop.stock": {"cashier", "clerk"},
    "statements.print": {"clerk", "reviewer"},
    "kiosk.manage": {"admin", "clerk"},
    "rules.view": {"clerk", "reviewer"},
    "rules.edit": {"clerk"},
}


def user_villages(user) -> list[Village]:
    """Villages where the user holds a village role, by code.

    The user loader brings the memberships with their villages (one query per request, not three).
    """
    villages = {m.village.id: m.village for m in user.memberships if m.village_id is not None}
    return sorted(villages.values(), key=lambda v: v.code)


def load_context() -> None:
    """Set g.village, g.roles and g.acting_role for the logged-in user (before each request)."""
    g.village = None
    g.roles = set()
    g.villages = []
    g.acting_role = None
    if not current_user.is_authenticated:
        return
    g.villages = user_villages(current_user)
    wanted = session.get("village_id")
    village = next((v for v in g.villages if v.id == wanted), None) or (g.villages[0] if g.villages else None)
    g.village = village
    roles = {m.role for m in current_user.memberships
             if (village is not None and m.village_id == village.id) or m.village_id is None}
    g.roles = roles
    g.acting_role = ",".join(sorted(roles)) or None


def can(permission: str) -> bool:
    """Whether the current user holds `permission` in the current village (or installation-wide)."""
    if not current_user.is_authenticated:
        return False
    # g may be unset when a before_request hook (CSRF check, size limit) failed before load_context ran
    roles = g.get("roles") or set()
    if permission == "admin":
        return Role.ADMIN.value in roles
    if permission == "township.view":
        return bool(roles & {Role.ADMIN.value, Role.TOWNSHIP.value})
    if g.get("village") is None:
        return False
    return bool(roles & PERMISSIONS[permission])


def _deny(permission: str) -> None:
    from .audit.services import record
    from .extensions import begin_write

    begin_write()
    record("access.denied", village_id=g.village.id if g.village else None, details={"permission": permission})
    db.session.commit()
    abort(403)


def require(permission: str) -> Callable[[F], F]:
    """Refuse the view (403, audited) unless the user holds `permission`."""

    def deco(fn: F) -> F:
        @wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            from flask_login import login_required

            if not current_user.is_authenticated:
                return login_required(fn)(*args, **kwargs)
            if not can(permission):
                _deny(permission)
            return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return deco


M = TypeVar("M")


def get_in_village_or_404(model: type[M], obj_id: Any) -> M:
    """Load a village-owned row of the current village.

    :raise 404: missing, or in another village; the latter is audited as an attempt.
    """
    try:
        obj_id = int(obj_id)
    except (TypeError, ValueError):
        abort(404)
    if not -(2**62) < obj_id < 2**62:
        abort(404)
    obj = db.session.get(model, obj_id)
    if obj is None:
        abort(404)
    if g.village is None or obj.village_id != g.village.id:  # type: ignore[attr-defined]
        from .audit.services import record
        from .extensions import begin_write

        target_village = obj.village_id  # type: ignore[attr-defined]
        begin_write()
        record("access.cross_village", village_id=g.village.id if g.village else None,
               object_type=model.__tablename__, object_id=obj_id,  # type: ignore[attr-defined]
               details={"target_village_id": target_village})
        db.session.commit()
        abort(404)
    return obj
