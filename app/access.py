"""The current village, what the user may do in it, and object loading that never crosses villages."""
from __future__ import annotations

from functools import wraps
from typing import Any, Callable, TypeVar

import sqlalchemy as sa
from flask import abort, current_app, g, session
from flask_login import current_user, login_required

from .extensions import db
from .submission import run_write
from .urls import as_id

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
    "patrol.view": {"patrol_leader", "clerk", "reviewer"},
    "patrol.manage": {"patrol_leader"},
    # everyone here sees the counts; a case's details only its mediators and the village's head
    # (app.mediation.services.can_read)
    "mediation.view": {"mediator", "clerk", "reviewer"},
    "mediation.manage": {"mediator"},
    "mediation.appoint": {"clerk"},
    # grid work: the clerk draws grids, places households and handles events; grid workers visit and report
    "grid.view": {"grid_worker", "clerk", "reviewer"},
    "grid.manage": {"clerk"},
    "grid.visit": {"grid_worker"},
    "grid.report": {"grid_worker", "clerk"},
    # and only where the installation holds that one village (a village PC): app.admin.views.backups
    "backup.download": {"clerk"},
    # the village dashboard and its printed month: figures of every feature, no names
    "reports.view": {"clerk", "reviewer"},
}


#: where the audit feature installs its writer (app.audit registers it with its blueprint): access is core
#: and imports no feature, yet every refusal it makes is audited
AUDIT_WRITER = "xiangyue.audit_record"


def install_audit_writer(app, record: Callable[..., Any]) -> None:
    """Let access audit its refusals through `record` (the audit log's record(action, obj, **columns))."""
    app.extensions[AUDIT_WRITER] = record


def _audit(action: str, **columns: Any) -> None:
    # a KeyError here means the audit blueprint was not registered: refuse loudly rather than unaudited
    current_app.extensions[AUDIT_WRITER](action, **columns)


def user_villages(user) -> list:
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
    # the installation-wide roles, by their stored values (auth's Role.ADMIN, Role.TOWNSHIP)
    if permission == "admin":
        return "admin" in roles
    if permission == "township.view":
        return bool(roles & {"admin", "township"})
    if g.get("village") is None:
        return False
    return bool(roles & PERMISSIONS[permission])


def deny(permission: str) -> None:
    """Refuse the request (403) and audit the attempt."""
    run_write(lambda: _audit("access.denied", village_id=g.village.id if g.village else None,
                             details={"permission": permission}))
    abort(403)


def require(permission: str) -> Callable[[F], F]:
    """Refuse the view (403, audited) unless the user holds `permission`."""

    def deco(fn: F) -> F:
        @wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_required(fn)(*args, **kwargs)
            if not can(permission):
                deny(permission)
            return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return deco


M = TypeVar("M")


def current_village_id() -> int | None:
    """The current village's id, read from the session's identity map: a write transaction begins with a
    commit (extensions.begin_write) that expires g.village, and `g.village.id` would load the row again."""
    village = g.get("village")
    if village is None:
        return None
    identity = sa.inspect(village).identity
    return identity[0] if identity else village.id


def get_in_village_or_404(model: type[M], obj_id: Any, options: Any = None) -> M:
    """Load a village-owned row of the current village (with loader `options`, e.g. a joinedload).

    :raise 404: missing, or in another village; the latter is audited as an attempt.
    """
    obj_id = as_id(obj_id)  # bounded to the id column: a larger number would be a database error
    if obj_id is None:
        abort(404)
    obj = db.session.get(model, obj_id, options=options)
    if obj is None:
        abort(404)
    village_id = current_village_id()
    if village_id is None or obj.village_id != village_id:  # type: ignore[attr-defined]
        target_village = obj.village_id  # type: ignore[attr-defined]
        run_write(lambda: _audit("access.cross_village", village_id=village_id,
                                 object_type=model.__tablename__, object_id=obj_id,  # type: ignore[attr-defined]
                                 details={"target_village_id": target_village}))
        abort(404)
    return obj
