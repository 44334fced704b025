"""Jinja filters and globals: dates in China time, masking, labels for stored codes."""
from __future__ import annotations

import datetime as dt
import json

from flask import Flask, g
from flask_babel import format_date, format_datetime, get_locale, get_timezone
from flask_babel import lazy_gettext as _l

from .access import can
from .text import mask_name, mask_phone

LABELS = {
    "relation": {"head": _l("Head of household"), "spouse": _l("Spouse"), "child": _l("Child"),
                 "parent": _l("Parent"), "grandchild": _l("Grandchild"), "grandparent": _l("Grandparent"),
                 "sibling": _l("Sibling"), "child_in_law": _l("Son- or daughter-in-law"), "other": _l("Other")},
    "sex": {"male": _l("Male"), "female": _l("Female")},
    "person_status": {"alive": _l("Living here"), "deceased": _l("Deceased"), "moved": _l("Moved away")},
    "household_status": {"active": _l("Active"), "moved_away": _l("Moved away"), "split": _l("Split"),
                         "merged": _l("Merged")},
    "group_kind": {"group": _l("Villager group"), "grid": _l("Grid")},
    "tag": {"dibao": _l("Minimum-living-allowance household"), "wubao": _l("Five-guarantee household"),
            "elderly_alone": _l("Elderly living alone"), "left_behind_child": _l("Left-behind child"),
            "key_assistance": _l("Key-assistance household"), "party_member": _l("Party-member household"),
            "special": _l("Special persons (visited weekly)")},
    "role": {"admin": _l("Administrator"), "township": _l("Township"), "clerk": _l("Clerk"),
             "reviewer": _l("Reviewer"), "cashier": _l("Cashier"), "patrol_leader": _l("Patrol leader"),
             "mediator": _l("Mediator"), "grid_worker": _l("Grid worker")},
    "event": {"created": _l("Registered"), "edited": _l("Details corrected"), "split": _l("Split (分户)"),
              "split_from": _l("Formed by split"), "merge": _l("Merged in another household"),
              "merged_into": _l("Merged into another household"), "head_change": _l("Change of head"),
              "move_in": _l("Moved in"), "born": _l("Born"), "move_out": _l("Moved out"),
              "death": _l("Died"), "person_edit": _l("Person's details corrected"),
              "status": _l("Status changed")},
}


LABELS["entry_status"] = {
    "pending": _l("Waiting for review"), "rejected": _l("Rejected"), "posted": _l("On posting"),
    "disputed": _l("Objection open"), "final": _l("Final"), "corrected": _l("Corrected"),
}
LABELS["source"] = {
    "manual": _l("recorded by the clerk"), "batch": _l("batch"), "patrol": _l("patrol shift"),
    "mediation": _l("mediation case"), "grid": _l("grid event"), "kiosk": _l("kiosk"), "import": _l("import"),
    "redemption": _l("redemption"), "year_end": _l("year end"), "opening": _l("opening balance"),
}
LABELS["cap_period"] = {"none": _l("no cap"), "month": _l("month"), "quarter": _l("quarter"), "year": _l("year")}
LABELS["decision"] = {"upheld": _l("Upheld"), "corrected": _l("Corrected")}
LABELS["channel"] = {"clerk": _l("in person"), "oral": _l("orally"), "written": _l("in writing"),
                     "kiosk": _l("at the kiosk")}
LABELS["transfer_code"] = {"earn": _l("award"), "deduct": _l("deduction"), "redeem": _l("redemption"),
                           "reversal": _l("reversal"), "expire": _l("year-end expiry"),
                           "opening": _l("opening balance")}
LABELS["field"] = {
    "number": _l("Household number"), "group": _l("Group"), "address": _l("Address"), "tags": _l("Tags"),
    "status": _l("Status"), "head": _l("Head"), "note": _l("Note"), "members": _l("Members"),
    "moved": _l("Moved"), "new_household": _l("New household"), "name": _l("Name"),
    "relation": _l("Relation"), "sex": _l("Sex"), "birth_date": _l("Birth date"), "id_masked": _l("ID number"),
    "old_head_relation": _l("Old head's relation"), "new_head_relation": _l("New head's relation"),
    "merged_from": _l("Merged from"), "into": _l("Into"), "from": _l("From"),
    # fields the audit log names in "changed" (app.audit.services.changes)
    "phone": _l("Phone"), "id_number": _l("ID number"), "head_id": _l("Head"), "username": _l("User name"),
    "display_name": _l("Name shown"), "code": _l("Code"), "kind": _l("Kind"),
    "leader": _l("Leader / person in charge"), "active": _l("In use"), "township_id": _l("Township"),
    "year_policy": _l("At year end"), "posting_days": _l("Posting period (days)"),
    "appeal_working_days": _l("Objections decided within (working days)"),
    "star_bands": _l("Star bands (score:stars, …)"), "direction": _l("Adds or deducts"),
    "text": _l("What earns or costs the points"), "points": _l("Points"), "cap_period": _l("Cap period"),
    "cap_points": _l("Most points per cap period"), "level": _l("Level"), "applies_to": _l("Applies to"),
    "evidence_required": _l("Needs an evidence photo"), "article_ref": _l("Rule article that authorises it"),
    "category_id": _l("Category"), "category": _l("Category"), "spec": _l("Specification"),
    "price_points": _l("Price in points"), "reorder_level": _l("Reorder level"),
    "review_note": _l("Review note"), "reason": _l("Reason or note"), "donor_name": _l("Donor name"),
    "cancel_reason": _l("Reason for cancelling"), "unit": _l("Unit"),
}
#: a field whose label depends on the object: a person's "name" is 姓名, a product's its product name
FIELD_LABELS_OF = {
    "products": {"name": _l("Product name"), "unit": _l("Unit of sale")},
    "point_schemes": {"name": _l("Scheme name")},
    "point_categories": {"name": _l("Category")},
    "kiosk_devices": {"name": _l("Name of the kiosk")},
    "villages": {"name": _l("Village name")},
    "townships": {"name": _l("Township name")},
    "villager_groups": {"name": _l("Group name")},
}
_HIDDEN_KEYS = {"id", "household_id", "head_id"}


def describe(data) -> list[tuple[str, str]]:
    """Turn a history snapshot into (label, value) pairs in the user's language."""
    if not isinstance(data, dict):
        return []
    out = []
    for key, value in data.items():
        if key in _HIDDEN_KEYS or value in (None, "", []):
            continue
        if key in ("relation", "old_head_relation", "new_head_relation"):
            shown = label(value, "relation")
        elif key == "sex":
            shown = label(value, "sex")
        elif key == "status":
            shown = label(value, "household_status") if value in LABELS["household_status"] \
                else label(value, "person_status")
        elif key == "tags" and isinstance(value, list):
            shown = "、".join(label(v, "tag") for v in value)
        elif isinstance(value, list):
            shown = "、".join(str(v) for v in value)
        else:
            shown = str(value)
        out.append((label(key, "field"), shown))
    return out


def field_labels(names, object_type: str | None = None) -> str:
    """The labels of field names in the user's language, as one list: "姓名、出生日期" / "Name, Birth date"."""
    own = FIELD_LABELS_OF.get(object_type or "", {})
    sep = ", " if str(get_locale()) == "en" else "、"
    return sep.join(str(own[n]) if n in own else label(n, "field") for n in names or ())


def label(value: str | None, kind: str) -> str:
    if value is None:
        return ""
    return str(LABELS.get(kind, {}).get(value, value))


#: the numeric CLDR patterns the templates use, as strftime formats: they read the same in every
#: locale, so they skip Babel's pattern machinery (~40 µs a call; a household points page makes 80+
#: of these calls: bench figure 2). Any other pattern goes through Babel.
_NUMERIC_PATTERNS = {"yyyy-MM-dd HH:mm": "%Y-%m-%d %H:%M", "yyyy-MM-dd": "%Y-%m-%d",
                     "yyyy-MM-dd HH:mm:ss": "%Y-%m-%d %H:%M:%S", "HH:mm": "%H:%M", "MM-dd HH:mm": "%m-%d %H:%M"}


def local_dt(value: dt.datetime | None, fmt: str = "yyyy-MM-dd HH:mm") -> str:
    """Show a stored UTC time in China time (the request's time zone)."""
    if value is None:
        return ""
    utc = value.replace(tzinfo=dt.timezone.utc)
    strf = _NUMERIC_PATTERNS.get(fmt)
    if strf is not None and utc.year >= 1000:
        return utc.astimezone(get_timezone()).strftime(strf)
    return format_datetime(utc, fmt)


def local_date(value: dt.date | None) -> str:
    if value is None:
        return ""
    return value.strftime("%Y-%m-%d") if value.year >= 1000 else format_date(value, "yyyy-MM-dd")


def phone_for_viewer(phone: str | None) -> str:
    """Full phone number for clerks; masked for everyone else."""
    return phone or "" if can("person.see_contact") else mask_phone(phone)


def pretty_json(value) -> str:
    """Readable JSON for audit details, Chinese kept as characters (the template escapes it)."""
    return json.dumps(value, ensure_ascii=False, indent=1, sort_keys=True, default=str)


def signed(value: int | None) -> str:
    """+5 / −3 with a real minus sign, for points."""
    if value is None:
        return ""
    return f"+{value}" if value > 0 else (f"−{-value}" if value < 0 else "0")


def stars(n: int | None) -> str:
    return "★" * (n or 0) + "☆" * max(0, 5 - (n or 0))


def register_filters(app: Flask) -> None:
    app.jinja_env.filters["signed"] = signed
    app.jinja_env.filters["stars"] = stars
    app.jinja_env.filters["pretty_json"] = pretty_json
    app.jinja_env.filters["label"] = label
    app.jinja_env.filters["describe"] = describe
    app.jinja_env.filters["field_labels"] = field_labels
    app.jinja_env.filters["local_dt"] = local_dt
    app.jinja_env.filters["local_date"] = local_date
    app.jinja_env.filters["mask_name"] = mask_name
    app.jinja_env.filters["mask_phone"] = mask_phone
    app.jinja_env.filters["phone_for_viewer"] = phone_for_viewer

    @app.context_processor
    def _globals():
        colon = ": " if str(get_locale()) == "en" else "："
        return {"can": can, "current_village": g.get("village"), "LABELS": LABELS, "get_locale": get_locale,
                "colon": colon}
