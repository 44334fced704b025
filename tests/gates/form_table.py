"""T8's table of write views: every POST route of the URL map, the role that may use it, the form classes it
takes and the page that shows them. A POST route or a FlaskForm class missing here fails
tests/gates/test_fuzz_forms.py, so a new form cannot escape the fuzzer.

URL arguments come from the seeded world (tests/gates/fuzz_world.py): `ARG_SQL` maps an argument name to the
query giving the object of the demo village to use; a row's `args` overrides it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from app.db import local_today

#: URL argument → SQL giving its value in the seeded world (first match)
ARG_SQL = {
    "village_id": "SELECT id FROM villages WHERE code = 'demo'",
    "user_id": "SELECT id FROM users WHERE username = 'clerk'",
    "membership_id": "SELECT m.id FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.username = 'clerk'",
    "group_id": "SELECT min(id) FROM villager_groups",
    "household_id": "SELECT min(id) FROM households WHERE status = 'active'",
    "person_id": "SELECT max(id) FROM people",
    "item_id": "SELECT min(id) FROM point_items",
    "entry_id": "SELECT min(id) FROM point_entries",
    "objection_id": "SELECT min(id) FROM objections",
    "product_id": "SELECT min(id) FROM products",
    "redemption_id": "SELECT min(redemption_id) FROM redemption_lines",
    "line_id": "SELECT min(id) FROM redemption_lines WHERE redemption_id = "
               "(SELECT min(redemption_id) FROM redemption_lines)",
    "device_id": "SELECT min(id) FROM kiosk_devices",
    "version_id": "SELECT min(id) FROM rule_versions",
    "article_id": "SELECT min(id) FROM rule_articles",
    "ruleset_id": "SELECT min(id) FROM rule_sets",
    "team_id": "SELECT min(id) FROM patrol_teams",
    "route_id": "SELECT min(id) FROM patrol_routes",
    "point_id": "SELECT min(id) FROM patrol_checkpoints",
    "member_id": "SELECT min(id) FROM patrol_members",
    "shift_id": "SELECT min(id) FROM patrol_shifts",
    "place_id": "SELECT min(id) FROM patrol_places",
    "token": "SELECT min(token) FROM patrol_checkpoints",
    "case_id": "SELECT min(id) FROM mediation_cases",
    "event_id": "SELECT min(id) FROM grid_events",
    "grid_id": "SELECT min(id) FROM grids",
}


def _today_year(_conn):
    return local_today().year


def _today_month(_conn):
    return local_today().month


ARG_FUNCS = {"year": _today_year, "month": _today_month}


@dataclass(frozen=True)
class FormRow:
    endpoint: str                       # the POST route
    role: str                           # who may use it (tests/gates/fuzz_world.py ROLES)
    forms: tuple[str, ...] = ()         # the FlaskForm classes it takes ("app.x.forms.Y"); () = a bare button
    page: str | None = None             # the GET route showing the form; None = the route itself
    args: dict = field(default_factory=dict)        # URL arguments fixed by the row
    may_write: dict = field(default_factory=dict)   # table → why a refused answer may still change it
    shows_result: bool = False          # success answers 200 with a page (a one-time code, a card), no redirect

    @property
    def id(self) -> str:
        return self.endpoint


#: a wrong password or PIN is counted even though the form is refused (lockout, T11)
_LOGIN_COUNTS = {"budget_counters": "failed attempts are counted (lockout)",
                 "login_probes": "failed attempts are counted (lockout)",
                 "users": "failed attempts are counted on the user (lockout)",
                 "audit_log": "a failed sign-in is audited", "audit_head": "a failed sign-in is audited"}
_KIOSK_COUNTS = {"budget_counters": "wrong PINs are counted (lockout)", "kiosk_pins": "wrong PINs are counted",
                 "kiosk_probes": "PINs for unknown households are counted",
                 "kiosk_sessions": "choosing a household ends the open session",
                 "audit_log": "a lockout is audited", "audit_head": "a lockout is audited"}
_STAGED = {}  # file imports keep the upload in the instance folder, not in the database

A = "app."
FORM_TABLE: list[FormRow] = [
    FormRow("main.switch_village", "clerk", page="main.index"),
    FormRow("auth.login", "anonymous", (A + "auth.forms.LoginForm",), may_write=_LOGIN_COUNTS),
    FormRow("auth.logout", "clerk", page="main.index"),
    FormRow("auth.change_password", "clerk", (A + "auth.forms.ChangePasswordForm",), may_write=_LOGIN_COUNTS),
    FormRow("admin.villages", "admin", (A + "admin.forms.VillageForm",)),
    FormRow("admin.townships", "admin", (A + "admin.forms.TownshipForm",)),
    FormRow("admin.village_edit", "admin", (A + "admin.forms.VillageForm",)),
    FormRow("admin.users", "admin", (A + "admin.forms.UserForm",)),
    FormRow("admin.user_detail", "admin", (A + "admin.forms.ResetPasswordForm", A + "admin.forms.GrantForm",
                                           A + "admin.forms.ActiveForm")),
    FormRow("admin.revoke_membership", "admin", page="admin.user_detail"),
    FormRow("registry.groups", "clerk", (A + "registry.forms.GroupForm",)),
    FormRow("registry.group_edit", "clerk", (A + "registry.forms.GroupForm",)),
    FormRow("registry.household_new", "clerk", (A + "registry.forms.NewHouseholdForm",)),
    FormRow("registry.household_edit", "clerk", (A + "registry.forms.HouseholdForm",)),
    FormRow("registry.person_new", "clerk", (A + "registry.forms.PersonForm",)),
    FormRow("registry.person_edit", "clerk", (A + "registry.forms.EditPersonForm",)),
    FormRow("registry.person_move_out", "clerk", (A + "registry.forms.MoveOutForm",)),
    FormRow("registry.household_head", "clerk", (A + "registry.forms.ChangeHeadForm",)),
    FormRow("registry.household_split", "clerk", (A + "registry.forms.SplitForm",)),
    FormRow("registry.household_merge", "clerk", (A + "registry.forms.MergeForm",)),
    FormRow("registry.household_status", "clerk", (A + "registry.forms.StatusForm",)),
    FormRow("registry.import_start", "clerk", (A + "registry.io_views.ImportForm",)),
    FormRow("registry.import_confirm", "clerk", (A + "tabular.flow.ConfirmForm", A + "registry.forms.ConfirmForm"),
            page="registry.import_start"),
    FormRow("points.scheme", "clerk", (A + "points.forms.CategoryForm", A + "points.forms.SchemeForm")),
    FormRow("points.item_new", "clerk", (A + "points.forms.ItemForm",)),
    FormRow("points.item_edit", "clerk", (A + "points.forms.ItemForm",)),
    FormRow("points.entry_new", "clerk", (A + "points.forms.EntryForm",)),
    FormRow("points.entry_batch", "clerk", (A + "points.forms.BatchForm",)),
    FormRow("points.entries_review", "reviewer", (A + "points.forms.BulkReviewForm",)),
    FormRow("points.entry_review", "reviewer", (A + "points.forms.ReviewForm",)),
    FormRow("points.objection_new", "clerk", (A + "points.forms.ObjectionForm",)),
    FormRow("points.objection", "reviewer", (A + "points.forms.DecisionForm",)),
    FormRow("points.year_close", "clerk", (A + "points.forms.YearCloseForm",)),
    FormRow("points.items_import", "clerk", (A + "points.import_views.ItemImportForm",)),
    FormRow("points.items_import_confirm", "clerk", (A + "tabular.flow.ConfirmForm",), page="points.items_import"),
    FormRow("points.citations", "clerk", (A + "points.forms.RepointForm",)),
    FormRow("shop.product_new", "cashier", (A + "shop.forms.ProductForm",)),
    FormRow("shop.product_edit", "cashier", (A + "shop.forms.ProductForm",)),
    FormRow("shop.product_purchase", "cashier", (A + "shop.forms.PurchaseForm",)),
    FormRow("shop.counter", "cashier", (A + "shop.forms.CartForm",)),
    FormRow("shop.redemption_return", "cashier", (A + "shop.forms.ReturnForm",), page="shop.redemption"),
    FormRow("shop.redemption_cancel", "cashier", (A + "shop.forms.CancelForm",), page="shop.redemption"),
    FormRow("shop.donation_new", "cashier", (A + "shop.forms.DonationForm",)),
    FormRow("shop.stocktake", "cashier", (A + "shop.forms.StocktakeForm",)),
    FormRow("shop.write_off", "cashier", (A + "shop.forms.WriteOffForm",)),
    # success is the PDF itself (200, its code issued and audited); a refusal is the form back with 422
    FormRow("statements.household", "clerk", (A + "statements.forms.PeriodForm",), shows_result=True),
    FormRow("statements.batch_new", "clerk", (A + "statements.forms.BatchForm",)),
    FormRow("kiosk.enrol", "anonymous", (A + "kiosk.forms.KioskForm",), args={"code": "not-a-code"}),
    FormRow("kiosk.card", "kiosk", (A + "kiosk.forms.CardForm",), page="kiosk.start", may_write=_KIOSK_COUNTS),
    FormRow("kiosk.number", "kiosk", (A + "kiosk.forms.NumberForm",), may_write=_KIOSK_COUNTS),
    FormRow("kiosk.letters", "kiosk", (A + "kiosk.forms.LettersForm",), may_write=_KIOSK_COUNTS),
    FormRow("kiosk.choose", "kiosk", (A + "kiosk.forms.ChooseForm",), page="kiosk.letters",
            may_write=_KIOSK_COUNTS),
    FormRow("kiosk.pin", "kiosk", (A + "kiosk.forms.PinForm",), may_write=_KIOSK_COUNTS),
    FormRow("kiosk.finish", "kiosk", page="kiosk.home"),
    FormRow("kiosk.objection", "kiosk", (A + "kiosk.forms.ObjectionForm",)),
    FormRow("kiosk_admin.devices", "clerk", (A + "kiosk.forms.DeviceForm",), shows_result=True),
    FormRow("kiosk_admin.device_revoke", "clerk", page="kiosk_admin.devices"),
    FormRow("kiosk_admin.household", "clerk", (A + "kiosk.forms.PinSetForm",)),
    FormRow("kiosk_admin.household_unlock", "clerk", page="kiosk_admin.household"),
    FormRow("kiosk_admin.household_card", "clerk", page="kiosk_admin.household", shows_result=True),
    FormRow("kiosk_admin.cards", "clerk", (A + "kiosk.forms.CardsForm",), shows_result=True),
    FormRow("rules.import_text", "clerk", (A + "rules.forms.ImportForm",)),
    FormRow("rules.version_edit", "clerk", (A + "rules.forms.VersionForm",)),
    FormRow("rules.version_text", "clerk", (A + "rules.forms.TextEditForm",)),
    FormRow("rules.article", "clerk", (A + "rules.forms.ArticleForm",)),
    FormRow("rules.version_status", "clerk", (A + "rules.forms.StatusForm",), page="rules.version"),
    FormRow("rules.version_withdraw", "clerk", (A + "rules.forms.ConfirmForm",), page="rules.version"),
    FormRow("rules.amend", "clerk", (A + "rules.forms.ConfirmForm",), page="rules.index"),
    FormRow("rules.step", "clerk", (A + "rules.forms.StepForm",), args={"kind": "proposal"}),
    FormRow("rules.settings", "clerk", (A + "rules.forms.SettingsForm",)),
    FormRow("rules.digest", "clerk", (A + "rules.forms.DigestForm",)),
    FormRow("rules.digest_order", "clerk", (A + "rules.forms.DigestOrderForm",), page="rules.digest"),
    FormRow("rules.digest_remove", "clerk", page="rules.digest",
            args={"item_id": "SELECT min(id) FROM rule_digest_items"}),
    FormRow("patrol.team_new", "patrol_leader", (A + "patrol.forms.TeamForm",)),
    FormRow("patrol.team_edit", "patrol_leader", (A + "patrol.forms.TeamForm",)),
    FormRow("patrol.team", "patrol_leader", (A + "patrol.forms.MemberForm", A + "patrol.forms.NameForm")),
    FormRow("patrol.checkpoint_add", "patrol_leader", (A + "patrol.forms.NameForm",), page="patrol.team"),
    FormRow("patrol.checkpoint_renew", "patrol_leader", (A + "patrol.forms.ButtonForm",), page="patrol.team",
            args={"route_id": "SELECT route_id FROM patrol_checkpoints WHERE id = "
                              "(SELECT min(id) FROM patrol_checkpoints)"}),
    FormRow("patrol.member", "patrol_leader", (A + "patrol.forms.MemberChangeForm", A + "patrol.forms.LeaveForm")),
    FormRow("patrol.roster", "patrol_leader", (A + "patrol.forms.ShiftsForm",)),
    FormRow("patrol.shift_book", "patrol_leader", (A + "patrol.forms.BookForm",), page="patrol.shift"),
    FormRow("patrol.place_mark", "patrol_leader", (A + "patrol.forms.MarkForm",), page="patrol.shift",
            args={"shift_id": "SELECT shift_id FROM patrol_places WHERE id = (SELECT min(id) FROM patrol_places)"}),
    FormRow("patrol.place_times", "patrol_leader", (A + "patrol.forms.TimesForm",), page="patrol.shift",
            args={"shift_id": "SELECT shift_id FROM patrol_places WHERE id = (SELECT min(id) FROM patrol_places)"}),
    FormRow("patrol.place_unbook", "patrol_leader", page="patrol.shift",
            args={"shift_id": "SELECT shift_id FROM patrol_places WHERE id = (SELECT min(id) FROM patrol_places)"}),
    FormRow("patrol.place_correct", "patrol_leader", (A + "patrol.forms.CorrectForm",), page="patrol.shift",
            args={"shift_id": "SELECT shift_id FROM patrol_places WHERE id = (SELECT min(id) FROM patrol_places)"}),
    FormRow("patrol.place_swap", "patrol_leader", (A + "patrol.forms.SwapForm",), page="patrol.shift",
            args={"shift_id": "SELECT shift_id FROM patrol_places WHERE id = (SELECT min(id) FROM patrol_places)"}),
    FormRow("patrol.place_substitute", "patrol_leader", (A + "patrol.forms.SubstituteForm",), page="patrol.shift",
            args={"shift_id": "SELECT shift_id FROM patrol_places WHERE id = (SELECT min(id) FROM patrol_places)"}),
    FormRow("patrol.shift_inspection", "patrol_leader", (A + "patrol.forms.InspectionForm",), page="patrol.shift"),
    FormRow("patrol.shift_cancel", "patrol_leader", (A + "patrol.forms.CancelForm",), page="patrol.shift"),
    FormRow("patrol.shift_confirm", "patrol_leader", page="patrol.shift"),
    FormRow("patrol.shift_finding", "patrol_leader", (A + "patrol.forms.FindingForm",), page="patrol.shift"),
    FormRow("patrol.check_in", "patrol_leader"),
    FormRow("patrol.members_import", "patrol_leader", (A + "patrol.import_views.MemberImportForm",)),
    FormRow("patrol.members_import_confirm", "patrol_leader", page="patrol.members_import"),
    FormRow("mediation.appoint_head", "admin", (A + "mediation.forms.AssignForm",), page="mediation.index"),
    FormRow("mediation.case_new", "mediator", (A + "mediation.forms.CaseForm",)),
    FormRow("mediation.case_move", "mediator", (A + "mediation.forms.MoveForm",), page="mediation.case"),
    FormRow("mediation.case_level", "mediator", (A + "mediation.forms.LevelForm",), page="mediation.case"),
    FormRow("mediation.case_assign", "mediator", page="mediation.case"),
    FormRow("mediation.case_session", "mediator", (A + "mediation.forms.SessionForm",)),
    FormRow("mediation.case_agreement", "mediator", (A + "mediation.forms.AgreementForm",)),
    FormRow("mediation.case_follow_up", "mediator", (A + "mediation.forms.FollowUpForm",)),
    FormRow("mediation.case_points", "mediator", (A + "mediation.forms.ProposalForm",)),
    FormRow("grid.today", "grid_worker", (A + "grid.forms.PlaceForm",)),
    FormRow("grid.visit", "grid_worker", (A + "grid.forms.VisitForm",),
            args={"household_id": "SELECT min(household_id) FROM grid_memberships"}),
    FormRow("grid.event_new", "grid_worker", (A + "grid.forms.EventForm",)),
    FormRow("grid.event_accept", "clerk", (A + "grid.forms.AcceptForm",), page="grid.event"),
    FormRow("grid.event_reject", "clerk", (A + "grid.forms.ReasonForm",), page="grid.event"),
    FormRow("grid.event_assign", "clerk", (A + "grid.forms.AssignForm",), page="grid.event"),
    FormRow("grid.event_start", "grid_worker", (A + "grid.forms.StartForm",), page="grid.event"),
    FormRow("grid.event_resolve", "grid_worker", (A + "grid.forms.ResolveForm",), page="grid.event"),
    FormRow("grid.event_return_visit", "grid_worker", (A + "grid.forms.ReturnVisitForm",), page="grid.event"),
    FormRow("grid.event_escalate", "grid_worker", (A + "grid.forms.EscalateForm",), page="grid.event"),
    FormRow("grid.event_to_patrol", "clerk", (A + "grid.forms.PatrolHandoverForm",), page="grid.event"),
    FormRow("grid.event_to_mediation", "clerk", page="grid.event"),
    FormRow("grid.deed", "grid_worker", (A + "grid.forms.DeedForm",)),
    FormRow("grid.grids", "clerk", (A + "grid.admin_forms.GridForm",)),
    FormRow("grid.grid", "clerk", (A + "grid.admin_forms.PlaceForm", A + "grid.admin_forms.GridForm",
                                   A + "grid.admin_forms.WorkerForm", A + "grid.admin_forms.RowForm")),
    FormRow("grid.rules", "clerk", (A + "grid.admin_forms.RulesForm",)),
    FormRow("grid.import_households", "clerk", (A + "grid.import_views.GridImportForm",)),
    FormRow("grid.import_households_confirm", "clerk", page="grid.import_households"),
]

#: form classes that no write view takes, with the reason
NOT_WRITE_FORMS = {
    A + "forms.Form": "the base class of every form, every subclass has a row",
    A + "forms.IdempotentForm": "a base class (the form key), every subclass has a row",
    A + "points.forms.LedgerExportForm": "a GET form (the ledger export's dates): read-only, fuzzed by "
                                         "test_get_forms_never_fail",
}

#: GET routes that read a form from the query string: fuzzed too (never a 500)
GET_FORM_ROWS = [
    FormRow("points.ledger_export", "clerk", (A + "points.forms.LedgerExportForm",)),
]


def resolve_args(conn, rule, row: FormRow) -> dict:
    """The URL arguments of `rule` for the row, from the seeded database."""
    out = {}
    for name in rule.arguments:
        spec = row.args.get(name)
        if spec is None and name in ARG_FUNCS:
            out[name] = ARG_FUNCS[name](conn)
            continue
        spec = spec if spec is not None else ARG_SQL.get(name)
        if spec is None:
            raise KeyError(f"{row.endpoint}: no value for the URL argument {name!r} (add it to ARG_SQL or args)")
        if isinstance(spec, str) and spec.lstrip().upper().startswith("SELECT"):
            value = conn.execute(sa.text(spec)).scalar()
            out[name] = value if value is not None else 999999
        else:
            out[name] = spec
    return out
