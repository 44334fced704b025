"""Labels of the rules feature's stored codes, merged into app.filters.LABELS (one place for the label filter)."""
from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..filters import LABELS

RULE_LABELS = {
    "rule_kind": {"charter": _l("Self-governance charter (村民自治章程)"),
                  "village_rules": _l("Village rules (村规民约)"),
                  "points_rules": _l("Points rules (积分管理办法)"),
                  "shop_rules": _l("Supermarket rules (幸福超市管理办法)"),
                  "other": _l("Other rules")},
    "version_status": {"draft": _l("Draft"), "proposed": _l("Proposed"), "deliberated": _l("Deliberated"),
                       "reviewed": _l("Reviewed by party members"), "adopted": _l("Adopted"),
                       "filed": _l("Filed with the township"), "published": _l("Published"),
                       "superseded": _l("Superseded"), "withdrawn": _l("Withdrawn")},
    "rule_step": {"proposal": _l("Party organisation's proposal (党组织提议)"),
                  "two_committees": _l("Two committees' deliberation (两委会商议)"),
                  "party_meeting": _l("Party members' meeting (党员大会审议)"),
                  "legal_review": _l("Township legality review (合法性审查)"),
                  "assembly": _l("Assembly resolution (村民会议或村民代表会议决议)"),
                  "resolution_public": _l("Resolution made public (决议公开)"),
                  "filing": _l("Filing with the township (备案)"),
                  "result_public": _l("Implementation result made public (实施结果公开)")},
    "assembly_kind": {"villager_assembly": _l("Villager assembly (村民会议)"),
                      "representatives": _l("Villager representatives' assembly (村民代表会议)")},
    "diff": {"same": _l("unchanged"), "renumbered": _l("renumbered"), "changed": _l("changed"),
             "added": _l("added"), "removed": _l("removed")},
    "numbering": {"article": _l("articles (第X条)"), "cn_list": _l("numbered list (一、二、)"),
                  "ar_list": _l("numbered list (1. 2.)"), "paren_list": _l("numbered list (（一）（二）)")},
}


def install() -> None:
    LABELS.update(RULE_LABELS)


def describe_warning(w) -> str:
    """A parser warning in the user's language."""
    if w.kind == "odd_chars":
        return _("Line %(n)s: unusual characters %(codes)s (kept as written).", n=w.line, codes=w.detail)
    if w.kind == "jump":
        return _("Line %(n)s: the numbering jumps to %(label)s (kept as written).", n=w.line, label=w.detail)
    if w.kind == "empty_chapter":
        return _("Line %(n)s: %(heading)s has no articles.", n=w.line, heading=w.detail)
    if w.kind == "long_heading":
        return _("Line %(n)s: text between %(heading)s and its first article was taken as the heading.",
                 n=w.line, heading=w.detail)
    return str(w)
