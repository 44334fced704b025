"""Village rules: import, edit, amend, compare, record the adoption and move a version along its path.

Services flush and never commit (the view or CLI command commits once). Every change writes an audit row.
"""
from __future__ import annotations

import datetime as dt
import difflib
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy.orm import contains_eager

from ..audit.services import record
from ..extensions import db
from .errors import RulesError
from .models import (MAX_ARTICLE_NUMBER, MAX_ARTICLES, MAX_COUNT, MAX_TEXT, STATUS_PATH, AdoptionStep,
                     AssemblyKind, DigestItem, RuleArticle, RuleChapter, RuleKind, RuleSet, RuleSettings, RuleVersion, StepKind, VersionStatus,
                     point_item_articles)
from .labels import RULE_LABELS
from .parser import ParsedText, cn_number
from .states import ADVANCE, IN_FORCE, NOT_ADOPTED, VERSION


# --- rule sets and versions -----------------------------------------------------------------------

def create_ruleset(village, kind: str, title: str, *, actor=None) -> RuleSet:
    """Start a new rule set (a 村规民约, a 章程 …) of the village."""
    RuleKind(kind)
    title = (title or "").strip()
    if not title or len(title) > 100:
        raise RulesError(_("The title must be 1 to 100 characters."), field="title")
    if db.session.scalar(sa.select(RuleSet.id).where(RuleSet.village_id == village.id, RuleSet.title == title)):
        raise RulesError(_("The village already has rules with this title."), field="title")
    rs = RuleSet(village_id=village.id, kind=kind, title=title)
    db.session.add(rs)
    db.session.flush()
    record("rules.ruleset_created", rs, village_id=village.id, details={"kind": kind})
    return rs


def _next_version_no(ruleset: RuleSet) -> int:
    # lock the rule set first: two imports into it at once would otherwise both take the same number
    # (PostgreSQL; SQLite's BEGIN IMMEDIATE already runs them one after the other)
    db.session.execute(sa.select(RuleSet.id).where(RuleSet.id == ruleset.id).with_for_update())
    return (db.session.scalar(sa.select(sa.func.max(RuleVersion.version_no))
                              .where(RuleVersion.ruleset_id == ruleset.id)) or 0) + 1


def _check_size(parsed: ParsedText, source_text: str) -> None:
    if len(parsed.articles) > MAX_ARTICLES:
        raise RulesError(_("A text may hold at most %(n)s articles.", n=MAX_ARTICLES), field="text")
    if len(source_text) > MAX_TEXT:
        raise RulesError(_("The text is longer than %(n)s characters.", n=MAX_TEXT), field="text")
    for c in parsed.chapters:
        if len(c.label) > 40 or len(c.title) > 200:
            raise RulesError(_("A chapter heading is too long: %(h)s", h=(c.label + c.title)[:40]), field="text")
    for a in parsed.articles:
        if len(a.label) > 40:
            raise RulesError(_("An article number is too long: %(h)s", h=a.label[:40]), field="text")


def _fill(version: RuleVersion, parsed: ParsedText) -> None:
    """Put the parsed chapters and articles into an (empty) version."""
    chapters: list[RuleChapter] = []
    for i, c in enumerate(parsed.chapters):
        row = RuleChapter(village_id=version.village_id, seq=i + 1, level=c.level, label=c.label, title=c.title)
        version.chapters.append(row)
        chapters.append(row)
    db.session.flush()
    for i, c in enumerate(parsed.chapters):
        if c.parent is not None:
            chapters[i].parent_id = chapters[c.parent].id
    for i, a in enumerate(parsed.articles):
        version.articles.append(RuleArticle(
            village_id=version.village_id, seq=i + 1, label=a.label, number=a.number, text=a.text,
            chapter_id=chapters[a.chapter].id if a.chapter is not None else None))
    db.session.flush()


def import_version(ruleset: RuleSet, parsed: ParsedText, source_text: str, *, title: str | None = None,
                   actor=None) -> RuleVersion:
    """Save a parsed text as a new draft version of `ruleset`, keeping the raw text beside it."""
    _check_size(parsed, source_text)
    version = RuleVersion(village_id=ruleset.village_id, ruleset=ruleset, version_no=_next_version_no(ruleset),
                          status=VersionStatus.DRAFT.value, title=(title or parsed.title or ruleset.title)[:200],
                          preamble=parsed.preamble, closing=parsed.closing, source_text=source_text,
                          numbering=parsed.style or "article", created_by_id=getattr(actor, "id", None))
    db.session.add(version)
    db.session.flush()
    _fill(version, parsed)
    record("rules.version_imported", version, village_id=ruleset.village_id,
           details={"ruleset_id": ruleset.id, "version_no": version.version_no, "articles": len(parsed.articles)})
    return version


def _require_draft(version: RuleVersion) -> None:
    VERSION.move(version.status, "edit")


def replace_text(version: RuleVersion, parsed: ParsedText, source_text: str, *, actor=None) -> RuleVersion:
    """Replace a draft's whole structure with a re-parsed text (the clerk edited the text)."""
    _require_draft(version)
    _check_size(parsed, source_text)
    db.session.execute(sa.delete(point_item_articles).where(point_item_articles.c.article_id.in_(
        sa.select(RuleArticle.id).where(RuleArticle.version_id == version.id))))
    for item in list(version.digest_items):
        version.digest_items.remove(item)
    version.articles.clear()
    db.session.flush()
    for c in version.chapters:
        c.parent_id = None
    db.session.flush()
    version.chapters.clear()
    db.session.flush()
    version.preamble, version.closing, version.source_text = parsed.preamble, parsed.closing, source_text
    version.numbering = parsed.style or "article"
    if parsed.title:
        version.title = parsed.title[:200]
    _fill(version, parsed)
    record("rules.version_text_replaced", version, village_id=version.village_id,
           details={"articles": len(parsed.articles)})
    return version


def update_article(article: RuleArticle, label: str, text: str, *, actor=None) -> RuleArticle:
    """Change one article of a draft (its numbering as written and its text)."""
    _require_draft(article.version)
    label = (label or "").strip()
    if not label or len(label) > 40:
        raise RulesError(_("The article number must be 1 to 40 characters."), field="label")
    if not (text or "").strip():
        raise RulesError(_("An article needs some text."), field="text")
    if len(text) > MAX_TEXT:
        raise RulesError(_("The text is longer than %(n)s characters.", n=MAX_TEXT), field="text")
    number = cn_number(label.strip("第条條、.．").strip())
    if number is not None and number > MAX_ARTICLE_NUMBER:  # 30 digits would not fit the number column
        raise RulesError(_("An article number can be at most %(n)s.", n=MAX_ARTICLE_NUMBER), field="label")
    before = {"label": article.label, "chars": len(article.text)}
    article.label, article.text, article.number = label, text, number
    db.session.flush()
    record("rules.article_edited", article, village_id=article.village_id,
           details={"before": before, "label": label, "chars": len(text)})
    return article


def update_version(version: RuleVersion, *, title: str, preamble: str, closing: str,
                   effective_on: dt.date | None, note: str, actor=None) -> RuleVersion:
    """Change a version's title, preamble, closing, effective date and note (drafts only for the text)."""
    text_changed = (title, preamble, closing) != (version.title, version.preamble, version.closing)
    if text_changed:
        _require_draft(version)
    if not title or len(title) > 200:
        raise RulesError(_("The title must be 1 to 200 characters."), field="title")
    if len(preamble) > MAX_TEXT or len(closing) > MAX_TEXT:
        raise RulesError(_("The text is longer than %(n)s characters.", n=MAX_TEXT), field="preamble")
    version.title, version.preamble, version.closing = title, preamble, closing
    version.effective_on, version.note = effective_on, note[:500]
    db.session.flush()
    record("rules.version_edited", version, village_id=version.village_id)
    return version


def current_version(ruleset: RuleSet) -> RuleVersion | None:
    """The version in force: the published one (else the latest filed or adopted one)."""
    for status in (VersionStatus.PUBLISHED, VersionStatus.FILED, VersionStatus.ADOPTED):
        v = db.session.scalar(sa.select(RuleVersion).where(RuleVersion.ruleset_id == ruleset.id,
                                                           RuleVersion.status == status.value)
                              .order_by(RuleVersion.version_no.desc()).limit(1))
        if v is not None:
            return v
    return None


def start_amendment(ruleset: RuleSet, *, actor=None) -> RuleVersion:
    """Open a new draft that copies the current version (修订), to be changed and adopted anew."""
    base = current_version(ruleset)
    if base is None:
        raise RulesError(_("There is no adopted version to amend yet."))
    open_draft = db.session.scalar(sa.select(RuleVersion.id).where(
        RuleVersion.ruleset_id == ruleset.id,
        RuleVersion.status.in_(NOT_ADOPTED)))
    if open_draft:
        raise RulesError(_("An amendment is already under way (version not yet adopted)."))
    v = RuleVersion(village_id=ruleset.village_id, ruleset=ruleset, version_no=_next_version_no(ruleset),
                    status=VersionStatus.DRAFT.value, title=base.title, preamble=base.preamble,
                    closing=base.closing, source_text="", numbering=base.numbering, supersedes_id=base.id,
                    created_by_id=getattr(actor, "id", None))
    db.session.add(v)
    db.session.flush()
    index: dict[int, RuleChapter] = {}
    for c in base.chapters:
        row = RuleChapter(village_id=v.village_id, seq=c.seq, level=c.level, label=c.label, title=c.title)
        v.chapters.append(row)
        index[c.id] = row
    db.session.flush()
    for c in base.chapters:
        if c.parent_id:
            index[c.id].parent_id = index[c.parent_id].id
    for a in base.articles:
        v.articles.append(RuleArticle(village_id=v.village_id, seq=a.seq, label=a.label, number=a.number,
                                      text=a.text, chapter_id=index[a.chapter_id].id if a.chapter_id else None))
    db.session.flush()
    record("rules.amendment_started", v, village_id=v.village_id, details={"supersedes_id": base.id})
    return v


def version_text(version: RuleVersion) -> str:
    """The whole version written out as text again, for editing and re-parsing."""
    parts: list[str] = []
    if version.title:
        parts.append(version.title)
    if version.preamble:
        parts.append(version.preamble)
    by_chapter: dict[int | None, list[RuleArticle]] = {}
    for a in version.articles:
        by_chapter.setdefault(a.chapter_id, []).append(a)
    sep = "　" if version.numbering == "article" else ""

    def art(a: RuleArticle) -> str:
        return f"{a.label}{sep}{a.text}"

    parts.extend(art(a) for a in by_chapter.get(None, []))
    for c in version.chapters:
        parts.append(c.heading)
        parts.append("\n".join(art(a) for a in by_chapter.get(c.id, [])))
    if version.closing:
        parts.append(version.closing)
    return "\n\n".join(p for p in parts if p)


# --- adoption: quorum, majority, steps, status ----------------------------------------------------

def settings_for(village_id: int) -> RuleSettings:
    """The village's thresholds (the law's defaults when it has not set its own; never saved here)."""
    s = db.session.scalar(sa.select(RuleSettings).where(RuleSettings.village_id == village_id))
    if s is None:
        s = RuleSettings(village_id=village_id, assembly_num=1, assembly_den=2, households_num=2, households_den=3,
                         representatives_num=2, representatives_den=3, party_num=2, party_den=3,
                         majority_num=1, majority_den=2, women_min=0)
    return s


def save_settings(village_id: int, values: dict[str, int], *, actor=None) -> RuleSettings:
    """Store the village's quorum and majority thresholds."""
    s = db.session.scalar(sa.select(RuleSettings).where(RuleSettings.village_id == village_id))
    if s is None:
        s = settings_for(village_id)
        db.session.add(s)
    for pre in ("assembly", "households", "representatives", "party", "majority"):
        num, den = values[f"{pre}_num"], values[f"{pre}_den"]
        if den < 1 or not 0 <= num <= den:
            raise RulesError(_("A share must be a fraction between 0 and 1, like 2/3."), field=f"{pre}_num")
    for k, v in values.items():
        setattr(s, k, v)
    db.session.flush()
    record("rules.settings_saved", s, village_id=village_id, details=values)
    return s


@dataclass
class StepCheck:
    """What the app concludes about a recorded step: did quorum and majority hold, and why not."""

    ok: bool
    quorum: bool | None = None
    majority: bool | None = None
    reasons: list[str] = field(default_factory=list)


def _more_than(count: int, total: int, num: int, den: int) -> bool:
    return count * den > total * num


def _at_least(count: int, total: int, num: int, den: int) -> bool:
    return count * den >= total * num


def check_meeting(body: str, *, eligible: int | None, present: int | None, yes: int | None,
                  no: int | None = None, abstain: int | None = None, households_total: int | None = None,
                  households_present: int | None = None, women_present: int | None = None,
                  settings: RuleSettings) -> StepCheck:
    """Decide quorum and majority of a voting meeting.

    `body` is villager_assembly (村民会议: more than half of adult villagers, or representatives of at least
    two thirds of households, present), representatives (村民代表会议) or party_meeting (党员大会): at least
    two thirds present. In each, more than half of those present must vote yes. Thresholds come from
    `settings`; integer arithmetic only, so "exactly half" and "exactly two thirds" are decided exactly.
    """
    reasons: list[str] = []
    if eligible is None or present is None or yes is None:
        return StepCheck(False, None, None, [_("The numbers eligible, present and in favour are needed.")])
    if present > eligible:
        reasons.append(_("More people present (%(p)s) than eligible (%(e)s).", p=present, e=eligible))
    if yes + (no or 0) + (abstain or 0) > present:
        reasons.append(_("More votes than people present."))
    if women_present is not None and women_present > present:
        reasons.append(_("More women present than people present."))
    if body == AssemblyKind.VILLAGER_ASSEMBLY.value:
        by_people = eligible > 0 and _more_than(present, eligible, settings.assembly_num, settings.assembly_den)
        by_households = bool(households_total) and households_present is not None \
            and households_present <= households_total \
            and _at_least(households_present, households_total, settings.households_num, settings.households_den)
        quorum = by_people or by_households
        if not quorum:
            reasons.append(_("Quorum not reached: %(p)s of %(e)s adult villagers present (more than "
                             "%(n)s/%(d)s needed), or representatives of %(hp)s of %(ht)s households "
                             "(at least %(hn)s/%(hd)s needed).", p=present, e=eligible, n=settings.assembly_num,
                             d=settings.assembly_den, hp=households_present if households_present is not None else "—",
                             ht=households_total if households_total is not None else "—",
                             hn=settings.households_num, hd=settings.households_den))
    else:
        num, den = ((settings.party_num, settings.party_den) if body == "party_meeting"
                    else (settings.representatives_num, settings.representatives_den))
        quorum = eligible > 0 and _at_least(present, eligible, num, den)
        if not quorum:
            reasons.append(_("Quorum not reached: %(p)s of %(e)s present, at least %(n)s/%(d)s needed.",
                             p=present, e=eligible, n=num, d=den))
    majority = present > 0 and _more_than(yes, present, settings.majority_num, settings.majority_den)
    if not majority:
        reasons.append(_("Not carried: %(y)s in favour of %(p)s present, more than %(n)s/%(d)s needed.",
                         y=yes, p=present, n=settings.majority_num, d=settings.majority_den))
    if body != "party_meeting" and settings.women_min and (women_present or 0) < settings.women_min:
        reasons.append(_("At least %(n)s women must attend; %(w)s recorded.", n=settings.women_min,
                         w=women_present or 0))
    return StepCheck(not reasons, quorum, majority, reasons)


def check_step(step: AdoptionStep, settings: RuleSettings) -> StepCheck:
    """Whether a recorded step counts: meetings by quorum and majority, the legality review by its outcome."""
    kind = step.step
    if kind == StepKind.PARTY_MEETING.value:
        return check_meeting("party_meeting", eligible=step.eligible, present=step.present, yes=step.votes_yes,
                             no=step.votes_no, abstain=step.votes_abstain, settings=settings)
    if kind == StepKind.ASSEMBLY.value:
        if not step.assembly_kind:
            return StepCheck(False, reasons=[_("Say whether it was a villager assembly or a representatives' "
                                               "assembly.")])
        return check_meeting(step.assembly_kind, eligible=step.eligible, present=step.present, yes=step.votes_yes,
                             no=step.votes_no, abstain=step.votes_abstain, households_total=step.households_total,
                             households_present=step.households_present, women_present=step.women_present,
                             settings=settings)
    if kind == StepKind.TWO_COMMITTEES.value and step.present is not None and step.votes_yes is not None:
        # the two committees may vote when they disagree: then a simple majority of those present decides
        if not _more_than(step.votes_yes, step.present, settings.majority_num, settings.majority_den):
            return StepCheck(False, None, False, [_("Not carried: %(y)s in favour of %(p)s present.",
                                                    y=step.votes_yes, p=step.present)])
        return StepCheck(True, None, True)
    if kind == StepKind.LEGAL_REVIEW.value and step.approved is not True:
        return StepCheck(False, reasons=[_("The township's legality review did not approve the text.")])
    return StepCheck(True)


#: what each status needs, on top of what the statuses before it need
REQUIRED_STEPS: dict[str, list[StepKind]] = {
    VersionStatus.PROPOSED.value: [StepKind.PROPOSAL],
    VersionStatus.DELIBERATED.value: [StepKind.TWO_COMMITTEES],
    VersionStatus.REVIEWED.value: [StepKind.PARTY_MEETING],
    VersionStatus.ADOPTED.value: [StepKind.LEGAL_REVIEW, StepKind.ASSEMBLY],
    VersionStatus.FILED.value: [StepKind.FILING],
    VersionStatus.PUBLISHED.value: [StepKind.RESOLUTION_PUBLIC],
}


def step_label(kind: str) -> str:
    return str(RULE_LABELS["rule_step"].get(kind) or RULE_LABELS["version_status"].get(kind) or kind)


def missing_for(version: RuleVersion, target: str, settings: RuleSettings | None = None) -> list[str]:
    """Why `version` cannot reach status `target` yet: each missing or failed step, with the reason."""
    settings = settings or settings_for(version.village_id)
    path = [s.value for s in STATUS_PATH]
    if target not in path:
        return [_("Unknown status.")]
    reasons: list[str] = []
    for status in path[1: path.index(target) + 1]:
        for kind in REQUIRED_STEPS[status]:
            step = version.step(kind)
            if step is None:
                reasons.append(_("%(step)s is not recorded.", step=step_label(kind.value)))
                continue
            check = check_step(step, settings)
            if not check.ok:
                reasons.append(_("%(step)s failed: %(why)s", step=step_label(kind.value), why=" ".join(check.reasons)))
    if target == VersionStatus.ADOPTED.value:
        order = [version.step(k) for k in (StepKind.PROPOSAL, StepKind.TWO_COMMITTEES, StepKind.PARTY_MEETING,
                                           StepKind.ASSEMBLY)]
        dates = [s.held_on for s in order if s is not None]
        if dates != sorted(dates):
            reasons.append(_("The steps' dates are out of order (proposal, two committees, party members' "
                             "meeting, then the assembly)."))
        if not version.articles:
            reasons.append(_("The version has no articles."))
    return reasons


def advance(version: RuleVersion, target: str, *, actor=None) -> RuleVersion:
    """Move a version forward to `target`, refusing with every reason while a required step is missing or failed."""
    action = ADVANCE.get(target)
    if action is None:
        VERSION.refuse(version.status, "advance")
    target = VERSION.move(version.status, action)
    # the move depends on more than the status: every step up to the target must be recorded and carried
    reasons = missing_for(version, target)
    if reasons:
        raise RulesError(_("Cannot mark the version %(status)s yet.", status=step_label(target)), reasons=reasons)
    before = version.status
    version.status = target
    assembly = version.step(StepKind.ASSEMBLY)
    if target in IN_FORCE and version.adopted_on is None:
        version.adopted_on, version.adopting_body = assembly.held_on, assembly.assembly_kind
    if action == "publish":
        version.published_on = version.step(StepKind.RESOLUTION_PUBLIC).held_on
        for old in db.session.scalars(sa.select(RuleVersion).where(
                RuleVersion.ruleset_id == version.ruleset_id, RuleVersion.id != version.id,
                RuleVersion.status.in_(VERSION.sources("supersede")))):
            old.status = VERSION.move(old.status, "supersede")
            record("rules.version_superseded", old, village_id=old.village_id, details={"by": version.id})
    db.session.flush()
    record("rules.version_status", version, village_id=version.village_id,
           details={"from": before, "to": target})
    if action == "publish":
        carry_citations(version)
    return version


def withdraw(version: RuleVersion, *, actor=None) -> RuleVersion:
    """Abandon a version that has not been adopted."""
    status = VERSION.move(version.status, "withdraw")
    before = version.status
    version.status = status
    db.session.flush()
    record("rules.version_status", version, village_id=version.village_id, details={"from": before,
                                                                                  "to": version.status})
    return version


#: steps that may no longer change once the version is adopted
_BEFORE_ADOPTION = {StepKind.PROPOSAL.value, StepKind.TWO_COMMITTEES.value, StepKind.PARTY_MEETING.value,
                    StepKind.LEGAL_REVIEW.value, StepKind.ASSEMBLY.value}
_COUNTS = ("eligible", "present", "women_present", "households_total", "households_present", "votes_yes",
           "votes_no", "votes_abstain")


def record_step(version: RuleVersion, kind: str, *, held_on: dt.date, body: str = "",
                assembly_kind: str | None = None, approved: bool | None = None, minutes: str = "",
                actor=None, **counts: int | None) -> AdoptionStep:
    """Record (or correct) one adoption step of a version with its date, body, counts and minutes."""
    kind = StepKind(kind).value
    VERSION.move(version.status, "record_adoption_step" if kind in _BEFORE_ADOPTION else "record_step")
    if held_on is None:
        raise RulesError(_("Please enter the date."), field="held_on")
    if len(body) > 100:
        raise RulesError(_("At most %(n)s characters.", n=100), field="body")
    if len(minutes) > MAX_TEXT:
        raise RulesError(_("The text is longer than %(n)s characters.", n=MAX_TEXT), field="minutes")
    if assembly_kind is not None:
        AssemblyKind(assembly_kind)
    for name in _COUNTS:
        value = counts.get(name)
        if value is not None and not 0 <= value <= MAX_COUNT:
            raise RulesError(_("Please enter a number from %(lo)s to %(hi)s.", lo=0, hi=MAX_COUNT), field=name)
    c = {name: counts.get(name) for name in _COUNTS}
    if c["present"] is not None and c["eligible"] is not None and c["present"] > c["eligible"]:
        raise RulesError(_("More people present (%(p)s) than eligible (%(e)s).", p=c["present"], e=c["eligible"]),
                         field="present")
    votes = sum(c[k] or 0 for k in ("votes_yes", "votes_no", "votes_abstain"))
    if c["present"] is not None and votes > c["present"]:
        raise RulesError(_("More votes than people present."), field="votes_yes")
    if c["women_present"] is not None and c["present"] is not None and c["women_present"] > c["present"]:
        raise RulesError(_("More women present than people present."), field="women_present")
    if c["households_present"] is not None and c["households_total"] is not None \
            and c["households_present"] > c["households_total"]:
        raise RulesError(_("More households represented than households in the village."),
                         field="households_present")
    step = version.step(kind)
    created = step is None
    if created:
        step = AdoptionStep(village_id=version.village_id, step=kind, created_by_id=getattr(actor, "id", None))
        version.steps.append(step)
    step.held_on, step.body, step.assembly_kind = held_on, body, assembly_kind
    step.approved, step.minutes = approved, minutes
    for name, value in c.items():
        setattr(step, name, value)
    db.session.flush()
    record("rules.step_recorded", step, village_id=version.village_id,
           details={"version_id": version.id, "step": kind, "new": created, "held_on": held_on.isoformat(),
                    **{k: v for k, v in c.items() if v is not None}})
    return step


# --- comparing versions ---------------------------------------------------------------------------

@dataclass
class DiffRow:
    """One line of a side-by-side comparison: same, changed, added or removed."""

    kind: str
    old: RuleArticle | None
    new: RuleArticle | None
    #: for changed rows: [(op, text)] with op in equal / delete / insert, per side
    old_parts: list[tuple[str, str]] = field(default_factory=list)
    new_parts: list[tuple[str, str]] = field(default_factory=list)


#: clause ends: a comparison first lines up clauses, then marks characters inside the clauses that differ
_CLAUSE = re.compile(r"[^，。；：、！？,;:!?\n]*[，。；：、！？,;:!?\n]?")
#: above this many character pairs a changed clause is shown as replaced whole (keeps comparing fast)
_CHAR_DIFF_LIMIT = 250_000


def _clauses(text: str) -> list[str]:
    return [c for c in _CLAUSE.findall(text) if c]


def word_diff(a: str, b: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The differences of two Chinese texts (no spaces to split words on), per side.

    Clauses are aligned first, then the characters of each changed clause: what a person reads as
    "these words changed", and quick even for 2,000-character articles.
    """
    left: list[tuple[str, str]] = []
    right: list[tuple[str, str]] = []
    ca, cb = _clauses(a), _clauses(b)
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, ca, cb, autojunk=False).get_opcodes():
        x, y = "".join(ca[i1:i2]), "".join(cb[j1:j2])
        if op == "equal":
            left.append(("equal", x))
            right.append(("equal", y))
        elif op == "replace" and len(x) * len(y) <= _CHAR_DIFF_LIMIT:
            for cop, k1, k2, l1, l2 in difflib.SequenceMatcher(None, x, y, autojunk=False).get_opcodes():
                if cop == "equal":
                    left.append(("equal", x[k1:k2]))
                    right.append(("equal", y[l1:l2]))
                else:
                    if k2 > k1:
                        left.append(("delete", x[k1:k2]))
                    if l2 > l1:
                        right.append(("insert", y[l1:l2]))
        else:
            if x:
                left.append(("delete", x))
            if y:
                right.append(("insert", y))
    return _merge(left), _merge(right)


def _merge(parts: list[tuple[str, str]]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for op, text in parts:
        if out and out[-1][0] == op:
            out[-1] = (op, out[-1][1] + text)
        else:
            out.append((op, text))
    return out


def _bigrams(text: str) -> set[str]:
    return {text[i:i + 2] for i in range(max(len(text) - 1, 1))}


def _similar(a: set[str], b: set[str], threshold: float = 0.4) -> bool:
    """Whether two articles (as sets of character pairs) are alike enough to be one article changed."""
    return bool(a or b) and len(a & b) >= threshold * len(a | b)


def diff_versions(old: RuleVersion, new: RuleVersion) -> list[DiffRow]:
    """Compare two versions article by article: unchanged, changed (with marked characters), added, removed.

    Articles are aligned by text, not by number, so renumbering after an inserted article is not
    reported as every later article changing.
    """
    a, b = list(old.articles), list(new.articles)
    sm = difflib.SequenceMatcher(None, [x.text for x in a], [x.text for x in b], autojunk=False)
    rows: list[DiffRow] = []
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if op == "equal":
            rows.extend(DiffRow("same", a[i], b[j]) for i, j in zip(range(i1, i2), range(j1, j2)))
            continue
        olds, news = a[i1:i2], b[j1:j2]
        grams = [_bigrams(n.text) for n in news]
        j = 0
        for o in olds:
            og = _bigrams(o.text)
            # pair with the next new article that is alike enough (new ones skipped over are additions),
            # looking a few articles ahead only, so a wholly rewritten text still compares quickly
            # (an article keeping its number needs less likeness than one that moved)
            match = next((k for k in range(j, min(len(news), j + 12))
                          if _similar(og, grams[k], 0.15 if news[k].label == o.label else 0.4)), None)
            if match is None:
                rows.append(DiffRow("removed", o, None))
                continue
            rows.extend(DiffRow("added", None, n) for n in news[j:match])
            n = news[match]
            left, right = word_diff(o.text, n.text)
            rows.append(DiffRow("changed", o, n, left, right))
            j = match + 1
        rows.extend(DiffRow("added", None, n) for n in news[j:])
    for r in rows:
        if r.kind == "same" and r.old.label != r.new.label:
            r.kind = "renumbered"
    return rows


# --- public reading, search, points links, digest -------------------------------------------------

#: rule sets are listed charter first, then the village rules, as a booklet shelf would hold them
KIND_ORDER = sa.case({k.value: i for i, k in enumerate(RuleKind)}, value=RuleSet.kind, else_=99)


def published_versions(village_id: int) -> list[RuleVersion]:
    """The village's rules in force as published, one per rule set."""
    return list(db.session.scalars(
        sa.select(RuleVersion).join(RuleSet).where(RuleVersion.village_id == village_id,
                                                   RuleVersion.status == VersionStatus.PUBLISHED.value)
        .order_by(KIND_ORDER, RuleSet.title)))


def search_published(village_id: int, q: str, limit: int = 200) -> list[RuleArticle]:
    """Articles of the published rules that contain `q` (plain substring; Chinese has no word breaks)."""
    q = (q or "").strip()[:50]
    if not q:
        return []
    pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return list(db.session.scalars(
        sa.select(RuleArticle).join(RuleVersion).where(
            RuleArticle.village_id == village_id, RuleVersion.status == VersionStatus.PUBLISHED.value,
            RuleArticle.text.like(pattern, escape="\\"))
        .order_by(RuleArticle.version_id, RuleArticle.seq).limit(limit)))


def citable_articles(village_id: int, also: Iterable[int] = ()) -> list[RuleArticle]:
    """Articles a points item may cite: those of versions adopted or later (not superseded or withdrawn),
    plus the articles `also` (those an item cites already)."""
    in_force = RuleVersion.status.in_(IN_FORCE)
    also = list(also)
    return list(db.session.scalars(
        sa.select(RuleArticle).join(RuleVersion).where(
            RuleArticle.village_id == village_id, sa.or_(in_force, RuleArticle.id.in_(also)) if also else in_force)
        .order_by(RuleVersion.ruleset_id, RuleVersion.version_no, RuleArticle.seq)))


def cited_articles(item_ids: Iterable[int]) -> dict[int, list[RuleArticle]]:
    """For each points item, the articles it cites, whatever their version's status (one query for a page of
    entries). An item cites one article of one version: after an amendment it goes on citing the old text
    until the clerk re-points it, and the kiosk shows that text, never a same-numbered article of the new one."""
    ids = sorted({int(i) for i in item_ids if i})
    if not ids:
        return {}
    rows = db.session.execute(
        sa.select(point_item_articles.c.point_item_id, RuleArticle)
        .join(RuleArticle, RuleArticle.id == point_item_articles.c.article_id)
        .join(RuleVersion, RuleVersion.id == RuleArticle.version_id)
        .where(point_item_articles.c.point_item_id.in_(ids))
        .options(contains_eager(RuleArticle.version))
        .order_by(point_item_articles.c.point_item_id, RuleArticle.version_id, RuleArticle.seq))
    out: dict[int, list[RuleArticle]] = {}
    for item_id, article in rows:
        out.setdefault(item_id, []).append(article)
    return out


def article_ids_for_item(item_id: int) -> list[int]:
    return list(db.session.scalars(sa.select(point_item_articles.c.article_id)
                                   .where(point_item_articles.c.point_item_id == item_id)))


def set_item_articles(item, article_ids: Iterable[int], *, actor=None) -> None:
    """Make a points item cite exactly these articles (all of the item's own village)."""
    ids = sorted({int(i) for i in article_ids})
    if ids:
        found = set(db.session.scalars(sa.select(RuleArticle.id).where(RuleArticle.id.in_(ids),
                                                                       RuleArticle.village_id == item.village_id)))
        if found != set(ids):
            raise RulesError(_("Pick articles of this village's rules."), field="articles")
    current = set(article_ids_for_item(item.id))
    if current == set(ids):
        return
    db.session.execute(sa.delete(point_item_articles).where(point_item_articles.c.point_item_id == item.id))
    if ids:
        db.session.execute(point_item_articles.insert(), [{"point_item_id": item.id, "article_id": i} for i in ids])
    db.session.flush()
    record("rules.item_articles_set", item, village_id=item.village_id, details={"article_ids": ids})


# --- citations across amendments -----------------------------------------------------------------

def normalized_text(text: str) -> str:
    """An article's text for "is it unchanged?": NFKC (full-width and half-width punctuation alike), no
    white space. Only the words count, not the line breaks or spacing of a re-typed text."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or ""))


def _move_citation(item_id: int, old_id: int, new_id: int | None) -> None:
    """Make the item cite `new_id` instead of `old_id` (or nothing instead, when `new_id` is None)."""
    db.session.execute(sa.delete(point_item_articles).where(point_item_articles.c.point_item_id == item_id,
                                                            point_item_articles.c.article_id == old_id))
    if new_id is not None and not db.session.scalar(sa.select(point_item_articles.c.article_id).where(
            point_item_articles.c.point_item_id == item_id, point_item_articles.c.article_id == new_id)):
        db.session.execute(point_item_articles.insert().values(point_item_id=item_id, article_id=new_id))


def _stale_citations(where) -> list[tuple[int, RuleArticle]]:
    """(item id, article) of citations of articles whose version is superseded, matching `where`."""
    return list(db.session.execute(
        sa.select(point_item_articles.c.point_item_id, RuleArticle)
        .join(RuleArticle, RuleArticle.id == point_item_articles.c.article_id)
        .join(RuleVersion, RuleVersion.id == RuleArticle.version_id)
        .where(RuleVersion.status == VersionStatus.SUPERSEDED.value, where)
        .options(contains_eager(RuleArticle.version))
        .order_by(point_item_articles.c.point_item_id, RuleArticle.version_id, RuleArticle.seq)).all())


def _same_text(old: RuleArticle, by_text: dict[str, list[RuleArticle]]) -> RuleArticle | None:
    """The one article of the new version with the old one's text (the same number breaks a tie), if any."""
    found = by_text.get(normalized_text(old.text), [])
    if len(found) > 1:
        found = [a for a in found if a.label == old.label]
    return found[0] if len(found) == 1 else None


def carry_citations(version: RuleVersion) -> int:
    """On publishing `version`: move every citation of an earlier version's article whose text is unchanged
    in `version` (same normalized text, whatever its number) to that article. The others keep citing the
    old article and wait on the clerk's "citations to re-point" list. Returns how many moved (each audited)."""
    by_text: dict[str, list[RuleArticle]] = {}
    for a in version.articles:
        by_text.setdefault(normalized_text(a.text), []).append(a)
    moved = 0
    for item_id, old in _stale_citations(RuleVersion.ruleset_id == version.ruleset_id):
        new = _same_text(old, by_text)
        if new is None:
            continue
        _move_citation(item_id, old.id, new.id)
        record("rules.item_article_repointed", object_type="point_items", object_id=item_id,
               village_id=version.village_id, details={"from": old.id, "to": new.id, "source": "unchanged_text"})
        moved += 1
    db.session.flush()
    return moved


@dataclass
class StaleCitation:
    """An item citing an article of a superseded version: what the article became in the version in force."""

    item_id: int
    article: RuleArticle
    #: changed (reworded: `suggested` is the article it became), unchanged (same words: `suggested`, left from
    #: before citations moved on publishing) or removed (no counterpart in the version in force)
    kind: str
    current: RuleVersion | None
    suggested: RuleArticle | None = None


def citations_to_repoint(village_id: int) -> list[StaleCitation]:
    """The village's citations of superseded articles, each with what the version in force made of it."""
    stale = _stale_citations(RuleArticle.village_id == village_id)
    counterpart: dict[int, tuple[str, RuleVersion | None, RuleArticle | None]] = {}
    for old_version in {a.version for _i, a in stale}:
        current = current_version(old_version.ruleset)
        if current is None:
            continue
        for row in diff_versions(old_version, current):
            if row.old is not None:
                kind = {"same": "unchanged", "renumbered": "unchanged"}.get(row.kind, row.kind)
                counterpart[row.old.id] = (kind, current, row.new)
    out = []
    for item_id, a in stale:
        kind, current, new = counterpart.get(a.id, ("removed", None, None))
        out.append(StaleCitation(item_id, a, kind, current, new))
    return out


def count_citations_to_repoint(village_id: int) -> int:
    """How many citations wait for the clerk (for the rules and points pages' notice)."""
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(point_item_articles)
        .join(RuleArticle, RuleArticle.id == point_item_articles.c.article_id)
        .join(RuleVersion, RuleVersion.id == RuleArticle.version_id)
        .where(RuleArticle.village_id == village_id, RuleVersion.status == VersionStatus.SUPERSEDED.value)) or 0


def repointable_articles(village_id: int) -> list[RuleArticle]:
    """The articles a citation may be re-pointed to: those of the village's published rules."""
    return list(db.session.scalars(
        sa.select(RuleArticle).join(RuleVersion).join(RuleSet).where(
            RuleArticle.village_id == village_id, RuleVersion.status == VersionStatus.PUBLISHED.value)
        .options(contains_eager(RuleArticle.version))
        .order_by(KIND_ORDER, RuleSet.title, RuleArticle.seq)))


def repoint_citation(item, old_article_id: int, new_article_id: int | None, *, actor=None) -> RuleArticle | None:
    """Make `item` cite `new_article_id` (an article of the village's published rules) instead of the article
    it cites now, or (None) drop that citation. Refused, with nothing written, when the item no longer cites
    `old_article_id` (someone re-pointed it meanwhile) or the new article is not one a citation may take."""
    cited = db.session.scalar(sa.select(point_item_articles.c.article_id).where(
        point_item_articles.c.point_item_id == item.id, point_item_articles.c.article_id == old_article_id))
    if cited is None:
        raise RulesError(_("This item no longer cites that article: it was re-pointed meanwhile. "
                           "Please reload the list."), field="article_id")
    new = None
    if new_article_id is not None:
        new = db.session.scalar(sa.select(RuleArticle).join(RuleVersion).where(
            RuleArticle.id == new_article_id, RuleArticle.village_id == item.village_id,
            RuleVersion.status == VersionStatus.PUBLISHED.value))
        if new is None:
            raise RulesError(_("Pick an article of this village's published rules."), field="article_id")
    _move_citation(item.id, old_article_id, new.id if new is not None else None)
    db.session.flush()
    record("rules.item_article_repointed", item, village_id=item.village_id,
           details={"from": old_article_id, "to": new.id if new is not None else None, "source": "clerk"})
    return new


#: rule kinds a written reference may name instead of the rule set's full title (村规民约第五条)
_KIND_NAMES = {"村规民约": RuleKind.VILLAGE_RULES.value, "村民自治章程": RuleKind.CHARTER.value,
               "自治章程": RuleKind.CHARTER.value, "章程": RuleKind.CHARTER.value,
               "积分管理办法": RuleKind.POINTS_RULES.value, "积分制管理办法": RuleKind.POINTS_RULES.value,
               "积分管理细则": RuleKind.POINTS_RULES.value, "幸福超市管理办法": RuleKind.SHOP_RULES.value,
               "超市管理办法": RuleKind.SHOP_RULES.value}
_ONE_REF = re.compile(r"(?P<name>.*?)第(?P<num>[0-9〇零一二两三四五六七八九十百千]{1,8})条")


def articles_named(village_id: int, ref: str | None) -> list[RuleArticle]:
    """The published articles a written reference names (村规民约第五条、第六条; 《青山村村规民约》第5条), each by
    its rule set (full title, version title or kind name; none needed when the village has one rule set) and
    number. Names that fit no rule set, or several, give nothing: the reference then stays as written."""
    found: list[RuleArticle] = []
    versions = published_versions(village_id) if ref else []
    name = ""
    for m in _ONE_REF.finditer(unicodedata.normalize("NFKC", ref or "")[:200]):
        name = re.sub(r"[\s《》<>、,，;；和及与]", "", m.group("name")) or name
        number = cn_number(m.group("num"))
        if not name:
            fits = versions if len(versions) == 1 else []
        else:
            fits = [v for v in versions if v.ruleset.title.endswith(name) or v.title.endswith(name)]
            if not fits and name in _KIND_NAMES:
                fits = [v for v in versions if v.ruleset.kind == _KIND_NAMES[name]]
        if len(fits) != 1:
            continue
        article = next((a for a in fits[0].articles if a.number == number), None)
        if article is not None and article not in found:
            found.append(article)
    return found


def link_named_articles(item, ref: str | None) -> int:
    """Make a new item that cites nothing cite the published articles its written reference names (an
    import's 依据 column); returns how many. The caller's audit row (the import's) covers it."""
    ids = [a.id for a in articles_named(item.village_id, ref)]
    if ids and not article_ids_for_item(item.id):
        db.session.execute(point_item_articles.insert(), [{"point_item_id": item.id, "article_id": i} for i in ids])
    return len(ids)


#: where the points feature installs its lookup of the items that cite an article (app.points registers it
#: with its blueprint): rules import nothing of points
ITEMS_CITING = "xiangyue.items_citing"


def install_items_citing(app, lookup: Callable[[int], list[Any]]) -> None:
    """Let the rules' pages list the points items citing an article: lookup(article_id) → items."""
    app.extensions[ITEMS_CITING] = lookup


def items_citing(article: RuleArticle) -> list[Any]:
    """Points items that cite the article (none when the points feature is not installed)."""
    lookup = current_app.extensions.get(ITEMS_CITING)
    return lookup(article.id) if lookup is not None else []


def add_digest_item(version: RuleVersion, text: str, article_ids: Iterable[int], *, actor=None) -> DigestItem:
    """Add a key rule to a version's digest, citing at least one of its articles."""
    text = (text or "").strip()
    if not text or len(text) > 300:
        raise RulesError(_("The key rule must be 1 to 300 characters."), field="text")
    ids = {int(i) for i in article_ids}
    articles = [a for a in version.articles if a.id in ids]
    if not articles or len(articles) != len(ids):
        raise RulesError(_("Cite at least one article of this version."), field="articles")
    seq = max((d.seq for d in version.digest_items), default=0) + 1
    item = DigestItem(village_id=version.village_id, seq=seq, text=text)
    item.articles = articles
    version.digest_items.append(item)
    db.session.flush()
    record("rules.digest_item_added", item, village_id=version.village_id,
           details={"version_id": version.id, "article_ids": sorted(ids)})
    return item


def reorder_digest(version: RuleVersion, positions: dict[int, int], *, actor=None) -> list[DigestItem]:
    """Put a version's key rules in the order of the numbers the clerk gave them (1, 2, 3 …).

    `positions` maps item ids to places. The points whose number changed take those places (a number past the
    end means last); the others keep their order around them. So typing 3 beside the first of five points
    makes it the third, and a whole new numbering (what dragging sends) is taken as it is. The stored order
    becomes 1 … n.
    """
    items = list(version.digest_items)
    unknown = set(positions) - {d.id for d in items}
    if unknown:
        raise RulesError(_("Those key rules are not in this digest."), field="order")
    current = {d.id: place for place, d in enumerate(items, start=1)}
    moved = {i: p for i, p in positions.items() if p != current[i]}
    ranked = [d for d in items if d.id not in moved]
    # placed from the lowest number up, each lands on its number (ties: the earlier point first)
    for item in sorted((d for d in items if d.id in moved), key=lambda d: (moved[d.id], current[d.id])):
        ranked.insert(min(max(moved[item.id], 1), len(ranked) + 1) - 1, item)
    for seq, item in enumerate(ranked, start=1):
        item.seq = seq
    version.digest_items.sort(key=lambda d: d.seq)
    db.session.flush()
    record("rules.digest_reordered", version, village_id=version.village_id,
           details={"version_id": version.id, "changed": ["seq"], "rows": len(ranked)})
    return ranked


def remove_digest_item(item: DigestItem, *, actor=None) -> None:
    """Take a key rule off the digest."""
    record("rules.digest_item_removed", item, village_id=item.village_id, details={"version_id": item.version_id})
    item.version.digest_items.remove(item)
    db.session.flush()
