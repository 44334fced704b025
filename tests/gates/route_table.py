"""T10: who may open every route, in ONE table (reliability §5; the test is tests/gates/test_authz_matrix.py).

Every endpoint of app.url_map except `static` has a row here; a route without a row fails the gate with the
row to add. A row says which roles may GET and which may POST (None: the route has no such method), and
which URL arguments to use: OBJ.<kind> is a row of that kind, taken by the gate in each scope
(tests/gates/world.py): the user's own village, another village, another household of the village, and a
mediation case no one is assigned to. Literal arguments are used as they are (YEAR/MONTH: this month).

What the gate expects, for each role and scope:
  allowed (role in get/post, object of the own village; for the kiosk: of its own household; for a case: one
    the mediator is assigned to) → GET answers below 400 (or 404 when the row says `absent`: nothing to serve)
  everything else → no 2xx: anonymous and the kiosk outside /kiosk/ go to /login; a logged-in user gets 403,
    or 404 for a row of another village/household or a case not theirs; a non-kiosk browser at /kiosk/ gets
    403; a POST that is refused changes no row (audit rows of the refusal aside).
  `across`: roles that may also reach rows of another village (the admin's village pages).
The gate POSTs only as roles that must be refused (an allowed POST is each feature's own test).

Roles: the eight logins, "kiosk" (a kiosk browser of village A with its household opened by PIN) and
"anonymous". The sets below restate app/access.py PERMISSIONS on purpose: a change there must show here.
"""
from __future__ import annotations

import dataclasses

ADMIN_ROLE, TOWNSHIP_ROLE = "admin", "township"
VILLAGE_ROLES = ("clerk", "reviewer", "cashier", "patrol_leader", "mediator", "grid_worker")
ROLES = ("admin", "township") + VILLAGE_ROLES + ("kiosk", "anonymous")


def roles(*names: str) -> frozenset[str]:
    unknown = set(names) - set(ROLES)
    assert not unknown, unknown
    return frozenset(names)


NOBODY = roles()
ADMIN = roles("admin")
CLERK = roles("clerk")
REVIEWER = roles("reviewer")
CASHIER = roles("cashier")
MEDIATOR = roles("mediator")
PATROL_LEADER = roles("patrol_leader")
GRID_WORKER = roles("grid_worker")
KIOSK = roles("kiosk")
VILLAGE_STAFF = roles(*VILLAGE_ROLES)
LOGGED_IN = VILLAGE_STAFF | {"admin", "township"}
EVERYONE = frozenset(ROLES)

REGISTRY_VIEW = VILLAGE_STAFF
REGISTRY_EXPORT = roles("clerk", "reviewer")
AUDIT = roles("clerk", "reviewer")
POINTS_VIEW = roles("clerk", "reviewer")
SHOP_VIEW = roles("cashier", "clerk", "reviewer")
SHOP_STOCK = roles("cashier", "clerk")
STATEMENTS = roles("clerk", "reviewer")
RULES_VIEW = roles("clerk", "reviewer")
PATROL_VIEW = roles("patrol_leader", "clerk", "reviewer")
MEDIATION_VIEW = roles("mediator", "clerk", "reviewer")
GRID_VIEW = roles("grid_worker", "clerk", "reviewer")
GRID_REPORT = roles("grid_worker", "clerk")
REPORTS_VIEW = roles("clerk", "reviewer")
TOWNSHIP_VIEW = roles("admin", "township")


@dataclasses.dataclass(frozen=True)
class Obj:
    """A URL argument naming a row of `kind` (tests/gates/world.py _models)."""
    kind: str


class _Objs:
    def __getattr__(self, kind: str) -> Obj:
        return Obj(kind)


OBJ = _Objs()
YEAR, MONTH = Obj("=year"), Obj("=month")


@dataclasses.dataclass(frozen=True)
class Route:
    get: frozenset[str] | None = None
    post: frozenset[str] | None = None
    args: dict = dataclasses.field(default_factory=dict)
    #: an allowed GET may answer 404: there is nothing to serve in the world (no photo, no backup file …)
    absent: bool = False
    #: roles that may reach rows of another village too
    across: frozenset[str] = NOBODY
    #: a GET here ends the kiosk's open household (the gate opens it again)
    ends_kiosk: bool = False


ROUTES: dict[str, Route] = {
    # --- admin ---
    # GET /admin/backups/latest
    "admin.backup_download": Route(get=ADMIN, args={"name": "latest"}, absent=True),
    # GET /admin/backups
    "admin.backups": Route(get=ADMIN),
    # POST /admin/users/<int(max=2147483647):user_id>/memberships/<int(max=2147483647):membership_id>/revoke
    "admin.revoke_membership": Route(post=ADMIN,
        args={"membership_id": OBJ.membership, "user_id": OBJ.user}, across=ADMIN),
    # POST /admin/townships
    "admin.townships": Route(post=ADMIN),
    # GET,POST /admin/users/<int(max=2147483647):user_id>
    "admin.user_detail": Route(get=ADMIN, post=ADMIN, args={"user_id": OBJ.user}, across=ADMIN),
    # GET,POST /admin/users
    "admin.users": Route(get=ADMIN, post=ADMIN),
    # GET,POST /admin/villages/<int(max=2147483647):village_id>
    "admin.village_edit": Route(get=ADMIN, post=ADMIN, args={"village_id": OBJ.village}, across=ADMIN),
    # GET,POST /admin/villages
    "admin.villages": Route(get=ADMIN, post=ADMIN),

    # --- audit ---
    # GET /audit/households/<int:household_id>
    "audit.household": Route(get=AUDIT, args={"household_id": OBJ.household}),
    # GET /audit/
    "audit.recent": Route(get=AUDIT),

    # --- auth ---
    # GET,POST /account/password
    "auth.change_password": Route(get=LOGGED_IN, post=LOGGED_IN),
    # GET,POST /login
    "auth.login": Route(get=EVERYONE, post=EVERYONE),
    # POST /logout
    "auth.logout": Route(post=LOGGED_IN),

    # --- grid ---
    # GET,POST /grid/deeds
    "grid.deed": Route(get=GRID_WORKER, post=GRID_WORKER),
    # GET /grid/events/<int:event_id>
    "grid.event": Route(get=GRID_VIEW, args={"event_id": OBJ.grid_event}),
    # POST /grid/events/<int:event_id>/accept
    "grid.event_accept": Route(post=CLERK, args={"event_id": OBJ.grid_event}),
    # POST /grid/events/<int:event_id>/assign
    "grid.event_assign": Route(post=CLERK, args={"event_id": OBJ.grid_event}),
    # POST /grid/events/<int:event_id>/escalate
    "grid.event_escalate": Route(post=CLERK, args={"event_id": OBJ.grid_event}),
    # GET,POST /grid/events/new
    "grid.event_new": Route(get=GRID_REPORT, post=GRID_REPORT),
    # GET /grid/events/<int:event_id>/photo
    "grid.event_photo": Route(get=GRID_VIEW, args={"event_id": OBJ.grid_event}, absent=True),
    # POST /grid/events/<int:event_id>/reject
    "grid.event_reject": Route(post=CLERK, args={"event_id": OBJ.grid_event}),
    # POST /grid/events/<int:event_id>/resolve
    "grid.event_resolve": Route(post=roles("clerk", "grid_worker"), args={"event_id": OBJ.grid_event}),
    # POST /grid/events/<int:event_id>/return-visit
    "grid.event_return_visit": Route(post=roles("clerk", "grid_worker"), args={"event_id": OBJ.grid_event}),
    # POST /grid/events/<int:event_id>/start
    "grid.event_start": Route(post=roles("clerk", "grid_worker"), args={"event_id": OBJ.grid_event}),
    # POST /grid/events/<int:event_id>/to-mediation
    "grid.event_to_mediation": Route(post=CLERK, args={"event_id": OBJ.grid_event}),
    # POST /grid/events/<int:event_id>/to-patrol
    "grid.event_to_patrol": Route(post=CLERK, args={"event_id": OBJ.grid_event}),
    # GET /grid/events
    "grid.events": Route(get=GRID_VIEW),
    # GET,POST /grid/grids/<int:grid_id>
    "grid.grid": Route(get=GRID_VIEW, post=CLERK, args={"grid_id": OBJ.grid}),
    # GET,POST /grid/grids
    "grid.grids": Route(get=GRID_VIEW, post=CLERK),
    # GET /grid/grids/households/<int:household_id>/history
    "grid.household_history": Route(get=GRID_VIEW, args={"household_id": OBJ.household}),
    # GET,POST /grid/grids/import
    "grid.import_households": Route(get=CLERK, post=CLERK),
    # POST /grid/grids/import/confirm
    "grid.import_households_confirm": Route(post=CLERK),
    # GET /grid/grids/import/template.xlsx
    "grid.import_template": Route(get=CLERK),
    # GET /grid/
    "grid.index": Route(get=GRID_VIEW),
    # GET /grid/reports
    "grid.reports": Route(get=GRID_VIEW),
    # GET,POST /grid/schedule
    "grid.rules": Route(get=GRID_VIEW, post=CLERK),
    # GET,POST /grid/today
    "grid.today": Route(get=GRID_WORKER, post=GRID_WORKER),
    # GET,POST /grid/households/<int:household_id>/visit
    "grid.visit": Route(get=GRID_WORKER, post=GRID_WORKER, args={"household_id": OBJ.household}),
    # GET /grid/visits/<int:visit_id>/photo
    "grid.visit_photo": Route(get=GRID_VIEW, args={"visit_id": OBJ.visit}, absent=True),
    # GET /grid/grids/<int:grid_id>/plan.pdf
    "grid.week_plan": Route(get=GRID_VIEW, args={"grid_id": OBJ.grid}),

    # --- kiosk ---
    # POST /kiosk/card
    "kiosk.card": Route(post=KIOSK),
    # POST /kiosk/choose
    "kiosk.choose": Route(post=KIOSK),
    # GET,POST /kiosk/enrol/<code>
    "kiosk.enrol": Route(get=EVERYONE, post=EVERYONE, args={"code": "no-such-code"}),
    # GET /kiosk/entries
    "kiosk.entries": Route(get=KIOSK),
    # POST /kiosk/finish
    "kiosk.finish": Route(post=KIOSK),
    # GET /kiosk/home
    "kiosk.home": Route(get=KIOSK),
    # GET,POST /kiosk/letters
    "kiosk.letters": Route(get=KIOSK, post=KIOSK),
    # GET,POST /kiosk/number
    "kiosk.number": Route(get=KIOSK, post=KIOSK),
    # GET,POST /kiosk/posting/<int:entry_id>/object
    "kiosk.objection": Route(get=KIOSK, post=KIOSK, args={"entry_id": OBJ.entry}),
    # GET,POST /kiosk/pin
    "kiosk.pin": Route(get=KIOSK, post=KIOSK),
    # GET /kiosk/posting
    "kiosk.posting": Route(get=KIOSK),
    # GET /kiosk/rules
    "kiosk.rules": Route(get=KIOSK),
    # GET /kiosk/shop
    "kiosk.shop": Route(get=KIOSK),
    # GET /kiosk/
    "kiosk.start": Route(get=KIOSK, ends_kiosk=True),

    # --- kiosk_admin ---
    # GET,POST /kiosk-admin/cards
    "kiosk_admin.cards": Route(get=CLERK, post=CLERK),
    # POST /kiosk-admin/devices/<int:device_id>/revoke
    "kiosk_admin.device_revoke": Route(post=CLERK, args={"device_id": OBJ.kiosk_device}),
    # GET,POST /kiosk-admin/devices
    "kiosk_admin.devices": Route(get=CLERK, post=CLERK),
    # GET,POST /kiosk-admin/households/<int:household_id>
    "kiosk_admin.household": Route(get=CLERK, post=CLERK, args={"household_id": OBJ.household}),
    # POST /kiosk-admin/households/<int:household_id>/card
    "kiosk_admin.household_card": Route(post=CLERK, args={"household_id": OBJ.household}),
    # POST /kiosk-admin/households/<int:household_id>/unlock
    "kiosk_admin.household_unlock": Route(post=CLERK, args={"household_id": OBJ.household}),

    # --- main ---
    # GET /
    "main.index": Route(get=LOGGED_IN),
    # GET /lang/<code>
    "main.set_language": Route(get=EVERYONE, args={"code": "en"}),
    # POST /switch-village
    "main.switch_village": Route(post=LOGGED_IN),

    # --- mediation ---
    # GET /mediation/cases/<int:case_id>/agreement.pdf
    "mediation.agreement_pdf": Route(get=MEDIATOR, args={"case_id": OBJ.case}, absent=True),
    # POST /mediation/head
    "mediation.appoint_head": Route(post=CLERK),
    # GET /mediation/cases/<int:case_id>
    "mediation.case": Route(get=MEDIATOR, args={"case_id": OBJ.case}),
    # POST /mediation/cases/<int:case_id>/agreement
    "mediation.case_agreement": Route(post=MEDIATOR, args={"case_id": OBJ.case}),
    # POST /mediation/cases/<int:case_id>/assign
    "mediation.case_assign": Route(post=MEDIATOR, args={"case_id": OBJ.case}),
    # POST /mediation/cases/<int:case_id>/follow-ups
    "mediation.case_follow_up": Route(post=MEDIATOR, args={"case_id": OBJ.case}),
    # POST /mediation/cases/<int:case_id>/level
    "mediation.case_level": Route(post=MEDIATOR, args={"case_id": OBJ.case}),
    # POST /mediation/cases/<int:case_id>/move
    "mediation.case_move": Route(post=MEDIATOR, args={"case_id": OBJ.case}),
    # GET,POST /mediation/new
    "mediation.case_new": Route(get=MEDIATOR, post=MEDIATOR),
    # POST /mediation/cases/<int:case_id>/points
    "mediation.case_points": Route(post=MEDIATOR, args={"case_id": OBJ.case}),
    # POST /mediation/cases/<int:case_id>/sessions
    "mediation.case_session": Route(post=MEDIATOR, args={"case_id": OBJ.case}),
    # GET /mediation/cases/<int:case_id>/dossier.pdf
    "mediation.dossier_pdf": Route(get=MEDIATOR, args={"case_id": OBJ.case}),
    # GET /mediation/
    "mediation.index": Route(get=MEDIATION_VIEW),
    # GET /mediation/report/<int:year>-<int:month>.pdf
    "mediation.month_report_pdf": Route(get=MEDIATION_VIEW, args={"month": MONTH, "year": YEAR}),
    # GET /mediation/statistics
    "mediation.statistics": Route(get=MEDIATION_VIEW),
    # GET /mediation/statistics/<int:year>.<any(xlsx, csv):fmt>
    "mediation.statistics_export": Route(get=MEDIATION_VIEW, args={"fmt": "csv", "year": YEAR}),

    # --- patrol ---
    # GET /patrol/reports/attendance-<int:year>.<any(xlsx, csv):fmt>
    "patrol.attendance_export": Route(get=PATROL_VIEW, args={"fmt": "csv", "year": YEAR}),
    # GET,POST /patrol/c/<token>
    "patrol.check_in": Route(get=LOGGED_IN, post=LOGGED_IN, args={"token": "no-such-sticker"}, absent=True),
    # POST /patrol/routes/<int:route_id>/checkpoints
    "patrol.checkpoint_add": Route(post=PATROL_LEADER, args={"route_id": OBJ.route}),
    # POST /patrol/checkpoints/<int:point_id>/renew
    "patrol.checkpoint_renew": Route(post=PATROL_LEADER, args={"point_id": OBJ.checkpoint}),
    # GET /patrol/findings/<int:finding_id>/photo
    "patrol.finding_photo": Route(get=PATROL_VIEW, args={"finding_id": OBJ.finding}, absent=True),
    # GET /patrol/
    "patrol.index": Route(get=PATROL_VIEW),
    # GET,POST /patrol/members/<int:member_id>
    "patrol.member": Route(get=PATROL_VIEW, post=PATROL_LEADER, args={"member_id": OBJ.member}),
    # GET,POST /patrol/teams/<int:team_id>/import
    "patrol.members_import": Route(get=PATROL_LEADER, post=PATROL_LEADER, args={"team_id": OBJ.team}),
    # POST /patrol/teams/<int:team_id>/import/confirm
    "patrol.members_import_confirm": Route(post=PATROL_LEADER, args={"team_id": OBJ.team}),
    # GET /patrol/me
    "patrol.mine": Route(get=LOGGED_IN),
    # POST /patrol/places/<int:place_id>/correct
    "patrol.place_correct": Route(post=PATROL_LEADER, args={"place_id": OBJ.place}),
    # POST /patrol/places/<int:place_id>/mark
    "patrol.place_mark": Route(post=PATROL_LEADER, args={"place_id": OBJ.place}),
    # POST /patrol/places/<int:place_id>/substitute
    "patrol.place_substitute": Route(post=PATROL_LEADER, args={"place_id": OBJ.place}),
    # POST /patrol/places/<int:place_id>/swap
    "patrol.place_swap": Route(post=PATROL_LEADER, args={"place_id": OBJ.place}),
    # POST /patrol/places/<int:place_id>/times
    "patrol.place_times": Route(post=PATROL_LEADER, args={"place_id": OBJ.place}),
    # POST /patrol/places/<int:place_id>/unbook
    "patrol.place_unbook": Route(post=PATROL_LEADER, args={"place_id": OBJ.place}),
    # GET /patrol/reports
    "patrol.reports": Route(get=PATROL_VIEW),
    # GET,POST /patrol/teams/<int:team_id>/roster/<int:year>-<int:month>
    "patrol.roster": Route(get=PATROL_VIEW, post=PATROL_LEADER,
        args={"month": MONTH, "team_id": OBJ.team, "year": YEAR}),
    # GET /patrol/teams/<int:team_id>/roster/<int:year>-<int:month>.pdf
    "patrol.roster_pdf": Route(get=PATROL_VIEW, args={"month": MONTH, "team_id": OBJ.team, "year": YEAR}),
    # GET /patrol/shifts/<int:shift_id>
    "patrol.shift": Route(get=PATROL_VIEW, args={"shift_id": OBJ.shift}),
    # POST /patrol/shifts/<int:shift_id>/book
    "patrol.shift_book": Route(post=PATROL_LEADER, args={"shift_id": OBJ.shift}),
    # POST /patrol/shifts/<int:shift_id>/cancel
    "patrol.shift_cancel": Route(post=PATROL_LEADER, args={"shift_id": OBJ.shift}),
    # POST /patrol/shifts/<int:shift_id>/confirm
    "patrol.shift_confirm": Route(post=PATROL_LEADER, args={"shift_id": OBJ.shift}),
    # POST /patrol/shifts/<int:shift_id>/findings
    "patrol.shift_finding": Route(post=PATROL_LEADER, args={"shift_id": OBJ.shift}),
    # POST /patrol/shifts/<int:shift_id>/inspections
    "patrol.shift_inspection": Route(post=PATROL_LEADER, args={"shift_id": OBJ.shift}),
    # GET /patrol/teams/<int:team_id>/signin/<int:year>-<int:month>.pdf
    "patrol.signin_pdf": Route(get=PATROL_VIEW, args={"month": MONTH, "team_id": OBJ.team, "year": YEAR}),
    # GET /patrol/routes/<int:route_id>/stickers.pdf
    "patrol.stickers_pdf": Route(get=PATROL_LEADER, args={"route_id": OBJ.route}),
    # GET,POST /patrol/teams/<int:team_id>
    "patrol.team": Route(get=PATROL_VIEW, post=PATROL_LEADER, args={"team_id": OBJ.team}),
    # GET,POST /patrol/teams/<int:team_id>/edit
    "patrol.team_edit": Route(get=PATROL_LEADER, post=PATROL_LEADER, args={"team_id": OBJ.team}),
    # GET,POST /patrol/teams/new
    "patrol.team_new": Route(get=PATROL_LEADER, post=PATROL_LEADER),

    # --- points ---
    # GET,POST /points/citations
    "points.citations": Route(get=CLERK, post=CLERK),
    # GET /points/entries
    "points.entries": Route(get=POINTS_VIEW),
    # POST /points/entries/review
    "points.entries_review": Route(post=REVIEWER),
    # GET /points/entries/<int:entry_id>
    "points.entry": Route(get=POINTS_VIEW, args={"entry_id": OBJ.entry}),
    # GET,POST /points/entries/batch
    "points.entry_batch": Route(get=CLERK, post=CLERK),
    # GET,POST /points/entries/new
    "points.entry_new": Route(get=CLERK, post=CLERK),
    # POST /points/entries/<int:entry_id>/review
    "points.entry_review": Route(post=REVIEWER, args={"entry_id": OBJ.entry}),
    # GET /points/entries/<int:entry_id>/evidence
    "points.evidence": Route(get=POINTS_VIEW, args={"entry_id": OBJ.entry}, absent=True),
    # GET /points/honour-roll.pdf
    "points.honour_roll_pdf": Route(get=POINTS_VIEW),
    # GET /points/households/<int:household_id>
    "points.household": Route(get=POINTS_VIEW, args={"household_id": OBJ.household}),
    # GET /points/household-people
    "points.household_people": Route(get=CLERK),
    # GET,POST /points/items/<int:item_id>
    "points.item_edit": Route(get=CLERK, post=CLERK, args={"item_id": OBJ.point_item}),
    # GET,POST /points/items/new
    "points.item_new": Route(get=CLERK, post=CLERK),
    # GET /points/items/export
    "points.items_export": Route(get=POINTS_VIEW),
    # GET,POST /points/items/import
    "points.items_import": Route(get=CLERK, post=CLERK),
    # POST /points/items/import/confirm
    "points.items_import_confirm": Route(post=CLERK),
    # GET /points/ledger-export
    "points.ledger_export": Route(get=POINTS_VIEW),
    # GET,POST /points/objections/<int:objection_id>
    "points.objection": Route(get=POINTS_VIEW, post=REVIEWER, args={"objection_id": OBJ.objection}),
    # POST /points/entries/<int:entry_id>/objections
    "points.objection_new": Route(post=CLERK, args={"entry_id": OBJ.entry}),
    # GET /points/objections/<int:objection_id>/reply.pdf
    "points.objection_reply_pdf": Route(get=POINTS_VIEW, args={"objection_id": OBJ.objection}, absent=True),
    # GET /points/objections
    "points.objections": Route(get=POINTS_VIEW),
    # GET /points/posting
    "points.posting": Route(get=POINTS_VIEW),
    # GET /points/posting.pdf
    "points.posting_pdf": Route(get=POINTS_VIEW),
    # GET /points/rankings
    "points.rankings": Route(get=POINTS_VIEW),
    # GET,POST /points/scheme
    "points.scheme": Route(get=POINTS_VIEW, post=CLERK),
    # GET /points/scheme.pdf
    "points.scheme_pdf": Route(get=POINTS_VIEW),
    # GET,POST /points/year-close
    "points.year_close": Route(get=CLERK, post=CLERK),

    # --- registry ---
    # GET /registry/export.<any(xlsx, csv):fmt>
    "registry.export": Route(get=REGISTRY_EXPORT, args={"fmt": "csv"}),
    # GET,POST /registry/groups/<int:group_id>
    "registry.group_edit": Route(get=CLERK, post=CLERK, args={"group_id": OBJ.group}),
    # GET,POST /registry/groups
    "registry.groups": Route(get=REGISTRY_VIEW, post=CLERK),
    # GET /registry/households/<int:household_id>
    "registry.household": Route(get=REGISTRY_VIEW, args={"household_id": OBJ.household}),
    # GET,POST /registry/households/<int:household_id>/edit
    "registry.household_edit": Route(get=CLERK, post=CLERK, args={"household_id": OBJ.household}),
    # GET,POST /registry/households/<int:household_id>/head
    "registry.household_head": Route(get=CLERK, post=CLERK, args={"household_id": OBJ.household}),
    # GET,POST /registry/households/<int:household_id>/merge
    "registry.household_merge": Route(get=CLERK, post=CLERK, args={"household_id": OBJ.household}),
    # GET,POST /registry/households/new
    "registry.household_new": Route(get=CLERK, post=CLERK),
    # GET,POST /registry/households/<int:household_id>/split
    "registry.household_split": Route(get=CLERK, post=CLERK, args={"household_id": OBJ.household}),
    # GET,POST /registry/households/<int:household_id>/status
    "registry.household_status": Route(get=CLERK, post=CLERK, args={"household_id": OBJ.household}),
    # GET /registry/households
    "registry.households": Route(get=REGISTRY_VIEW),
    # POST /registry/import/confirm
    "registry.import_confirm": Route(post=CLERK),
    # GET,POST /registry/import
    "registry.import_start": Route(get=CLERK, post=CLERK),
    # GET /registry/import/template.xlsx
    "registry.import_template": Route(get=CLERK),
    # GET /registry/people
    "registry.people": Route(get=REGISTRY_VIEW),
    # GET,POST /registry/people/<int:person_id>/edit
    "registry.person_edit": Route(get=CLERK, post=CLERK, args={"person_id": OBJ.person}),
    # GET,POST /registry/people/<int:person_id>/move-out
    "registry.person_move_out": Route(get=CLERK, post=CLERK, args={"person_id": OBJ.person}),
    # GET,POST /registry/households/<int:household_id>/people/new
    "registry.person_new": Route(get=CLERK, post=CLERK, args={"household_id": OBJ.household}),
    # GET /registry/search
    "registry.search": Route(get=REGISTRY_VIEW),

    # --- reports ---
    # GET /reports/
    "reports.dashboard": Route(get=REPORTS_VIEW),
    # GET /reports/month.pdf
    "reports.month_pdf": Route(get=REPORTS_VIEW),
    # GET /township
    "reports.township": Route(get=TOWNSHIP_VIEW),

    # --- rules ---
    # POST /rules/rulesets/<int:ruleset_id>/amend
    "rules.amend": Route(post=CLERK, args={"ruleset_id": OBJ.ruleset}),
    # GET,POST /rules/articles/<int:article_id>
    "rules.article": Route(get=RULES_VIEW, post=CLERK, args={"article_id": OBJ.article}),
    # GET /rules/versions/<int:version_id>/booklet.pdf
    "rules.booklet": Route(get=RULES_VIEW, args={"version_id": OBJ.version}),
    # GET /rules/compare
    "rules.compare": Route(get=RULES_VIEW, absent=True),
    # GET,POST /rules/versions/<int:version_id>/digest
    "rules.digest": Route(get=RULES_VIEW, post=CLERK, args={"version_id": OBJ.version}),
    # GET /rules/versions/<int:version_id>/digest.pdf
    "rules.digest_pdf": Route(get=RULES_VIEW, args={"version_id": OBJ.version}),
    # POST /rules/versions/<int:version_id>/digest/order
    "rules.digest_order": Route(post=CLERK, args={"version_id": OBJ.version}),
    # POST /rules/digest-items/<int:item_id>/remove
    "rules.digest_remove": Route(post=CLERK, args={"item_id": OBJ.digest_item}),
    # GET,POST /rules/import
    "rules.import_text": Route(get=CLERK, post=CLERK),
    # GET /rules/
    "rules.index": Route(get=RULES_VIEW),
    # GET /rules/public/<code>
    "rules.public": Route(get=EVERYONE, args={"code": "demo"}),
    # GET,POST /rules/settings
    "rules.settings": Route(get=RULES_VIEW, post=CLERK),
    # GET,POST /rules/versions/<int:version_id>/steps/<kind>
    "rules.step": Route(get=CLERK, post=CLERK, args={"kind": "proposal", "version_id": OBJ.version}),
    # GET /rules/versions/<int:version_id>
    "rules.version": Route(get=RULES_VIEW, args={"version_id": OBJ.version}),
    # GET,POST /rules/versions/<int:version_id>/edit
    "rules.version_edit": Route(get=CLERK, post=CLERK, args={"version_id": OBJ.version}),
    # POST /rules/versions/<int:version_id>/status
    "rules.version_status": Route(post=CLERK, args={"version_id": OBJ.version}),
    # GET,POST /rules/versions/<int:version_id>/text
    "rules.version_text": Route(get=CLERK, post=CLERK, args={"version_id": OBJ.version}),
    # POST /rules/versions/<int:version_id>/withdraw
    "rules.version_withdraw": Route(post=CLERK, args={"version_id": OBJ.version}),

    # --- shop ---
    # GET,POST /shop/counter
    "shop.counter": Route(get=CASHIER, post=CASHIER),
    # GET /shop/reports/disclosure
    "shop.disclosure": Route(get=SHOP_VIEW),
    # GET /shop/reports/disclosure.pdf
    "shop.disclosure_pdf": Route(get=SHOP_VIEW),
    # GET /shop/donations/<int:donation_id>
    "shop.donation": Route(get=SHOP_VIEW, args={"donation_id": OBJ.donation}),
    # GET,POST /shop/donations/new
    "shop.donation_new": Route(get=SHOP_STOCK, post=SHOP_STOCK),
    # GET /shop/donations/<int:donation_id>/receipt.pdf
    "shop.donation_pdf": Route(get=SHOP_VIEW, args={"donation_id": OBJ.donation}),
    # GET /shop/donations
    "shop.donations": Route(get=SHOP_VIEW),
    # GET,POST /shop/products/<int:product_id>
    "shop.product_edit": Route(get=SHOP_STOCK, post=SHOP_STOCK, args={"product_id": OBJ.product}),
    # GET,POST /shop/products/new
    "shop.product_new": Route(get=SHOP_STOCK, post=SHOP_STOCK),
    # GET,POST /shop/products/<int:product_id>/purchase
    "shop.product_purchase": Route(get=SHOP_STOCK, post=SHOP_STOCK, args={"product_id": OBJ.product}),
    # GET /shop/products
    "shop.products": Route(get=SHOP_VIEW),
    # GET /shop/redemptions/<int:redemption_id>
    "shop.redemption": Route(get=SHOP_VIEW, args={"redemption_id": OBJ.redemption}),
    # POST /shop/redemptions/<int:redemption_id>/cancel
    "shop.redemption_cancel": Route(post=roles("cashier", "reviewer"),
        args={"redemption_id": OBJ.redemption}),
    # GET /shop/redemptions/<int:redemption_id>/receipt.pdf
    "shop.redemption_pdf": Route(get=SHOP_VIEW, args={"redemption_id": OBJ.redemption}),
    # GET /shop/redemptions/<int:redemption_id>/receipt-a4.pdf
    "shop.redemption_pdf_a4": Route(get=SHOP_VIEW, args={"redemption_id": OBJ.redemption}),
    # POST /shop/redemptions/<int:redemption_id>/return/<int:line_id>
    "shop.redemption_return": Route(post=roles("cashier", "reviewer"),
        args={"line_id": OBJ.redemption_line, "redemption_id": OBJ.redemption}),
    # GET /shop/redemptions
    "shop.redemptions": Route(get=SHOP_VIEW),
    # GET /shop/reports
    "shop.reports": Route(get=SHOP_VIEW),
    # GET /shop/reports/stock.<any(xlsx, csv):fmt>
    "shop.stock_export": Route(get=SHOP_VIEW, args={"fmt": "csv"}),
    # GET,POST /shop/stocktake
    "shop.stocktake": Route(get=SHOP_STOCK, post=SHOP_STOCK),
    # GET /shop/stocktake/sheet.pdf
    "shop.stocktake_sheet_pdf": Route(get=SHOP_STOCK),
    # GET /shop/stocktake/<int:stocktake_id>
    "shop.stocktake_view": Route(get=SHOP_VIEW, args={"stocktake_id": OBJ.stocktake}),
    # GET,POST /shop/write-off
    "shop.write_off": Route(get=SHOP_STOCK, post=SHOP_STOCK),

    # --- statements ---
    # GET,POST /statements/batch
    "statements.batch_new": Route(get=STATEMENTS, post=STATEMENTS),
    # GET,POST /statements/households/<int:household_id>
    "statements.household": Route(get=STATEMENTS, post=STATEMENTS, args={"household_id": OBJ.household}),
    # GET /statements/jobs/<int:job_id>
    "statements.job": Route(get=STATEMENTS, args={"job_id": OBJ.statement_job}),
    # GET /statements/jobs/<int:job_id>/download
    "statements.job_download": Route(get=STATEMENTS, args={"job_id": OBJ.statement_job}, absent=True),
    # GET /statements/jobs/<int:job_id>/progress
    "statements.job_progress": Route(get=STATEMENTS, args={"job_id": OBJ.statement_job}),
    # GET /verify/<code>
    "statements.verify": Route(get=EVERYONE, args={"code": "ABCD-EFGH"}, absent=True),
    # GET /verify
    "statements.verify_form": Route(get=EVERYONE),
}
