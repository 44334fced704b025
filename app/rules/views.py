"""Village rules pages: the clerk's import, editing, adoption record and printing; the public reading page."""
from __future__ import annotations

import unicodedata

import sqlalchemy as sa
from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup, escape

from ..access import can, deny, get_in_village_or_404, require
from ..extensions import db
from ..forms import options
from ..printing import pdf_response
from ..registry.models import Village
from ..submission import run_write, submit
from ..text import parse_small_int
from ..urls import id_arg
from . import bp
from . import papers
from . import services as rules
from .docx import DocxError, docx_text
from .forms import (ArticleForm, ConfirmForm, DigestForm, DigestOrderForm, ImportForm, SettingsForm, StatusForm,
                    StepForm, TextEditForm, VersionForm)
from .labels import RULE_LABELS, describe_warning
from .models import STATUS_PATH, STEP_ORDER, DigestItem, RuleArticle, RuleSet, RuleVersion, StepKind
from .parser import ParseError, parse_rules
from .states import VERSION

#: steps whose form asks for attendance and votes
VOTING_STEPS = {StepKind.TWO_COMMITTEES.value, StepKind.PARTY_MEETING.value, StepKind.ASSEMBLY.value}


def _rulesets() -> list[RuleSet]:
    return list(db.session.scalars(sa.select(RuleSet).where(RuleSet.village_id == g.village.id)
                                   .order_by(rules.KIND_ORDER, RuleSet.title)))


def _parse_message(err: ParseError) -> str:
    text = str(err)
    if "empty" in text:
        return _("The text is empty: paste the rules or choose a file.")
    if "NUL" in text:
        return _("The text contains a NUL character; is it really a text file?")
    return _("No article was found. Articles must start a line with 第一条, 一、 or 1. — "
             "please check the text.")


# Clerk and reviewer pages

@bp.route("/")
@require("rules.view")
def index():
    """The village's rule sets with their versions and where each stands."""
    return render_template("rules/index.html", rulesets=_rulesets(), current=rules.current_version,
                           citations_waiting=rules.count_citations_to_repoint(g.village.id))


def _read_upload(form: ImportForm) -> str | None:
    """The uploaded file's text, or None with an error on the field."""
    storage = form.file.data
    if not storage or not getattr(storage, "filename", ""):
        return None
    name = storage.filename.lower()
    if not name.endswith((".txt", ".docx")):
        form.file.errors = [_("Please choose a .txt file saved as UTF-8, or a Word .docx file.")]
        return None
    limit = 5_000_000 if name.endswith(".docx") else 600_000
    data = storage.read(limit + 1)
    if len(data) > limit:
        form.file.errors = [_("The file is too large for a rule text.")]
        return None
    if name.endswith(".docx"):
        try:
            return docx_text(data)
        except DocxError:
            form.file.errors = [_("This Word file cannot be read. Save it again as .docx, or as plain text "
                                  "(UTF-8).")]
            return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        form.file.errors = [_("The file is not UTF-8 text. Save it again as UTF-8 and retry.")]
        return None
    return text.replace("\r\n", "\n").replace("\r", "\n")


@bp.route("/import", methods=["GET", "POST"])
@require("rules.edit")
def import_text():
    """Paste or upload a rule text, check the parse (preview), then save it as a draft."""
    form = ImportForm()
    sets = _rulesets()
    form.ruleset_id.choices = options([(0, _("— a new rule set —"))] + [(r.id, r.title) for r in sets])
    if request.method == "GET" and id_arg("ruleset"):
        form.ruleset_id.data = id_arg("ruleset")
    parsed, status = None, 200
    if request.method == "POST":
        if not form.validate_on_submit():
            return render_template("rules/import.html", form=form, parsed=None), 400
        uploaded = _read_upload(form)
        if form.file.errors:
            return render_template("rules/import.html", form=form, parsed=None), 400
        if uploaded is not None:
            form.text.data = uploaded
        text = form.text.data or ""
        try:
            parsed = parse_rules(text)
        except ParseError as e:
            form.text.errors = [*form.text.errors, _parse_message(e)]
            return render_template("rules/import.html", form=form, parsed=None), 400
        if form.submit.data and uploaded is None:
            if not form.ruleset_id.data and not form.title.data and parsed.title and len(parsed.title) <= 100:
                form.title.data = parsed.title  # the title found in the text names the new rule set
            if not form.ruleset_id.data and not form.title.data:
                form.title.errors = [_("Give the new rule set a title (or pick an existing one).")]
                return render_template("rules/import.html", form=form, parsed=parsed), 400
            def save():
                if form.ruleset_id.data:
                    ruleset = get_in_village_or_404(RuleSet, form.ruleset_id.data)
                else:
                    ruleset = rules.create_ruleset(g.village, form.kind.data, form.title.data, actor=current_user)
                return rules.import_version(ruleset, parsed, text, actor=current_user)

            done = submit(form, save, field="title")
            if not done:
                return render_template("rules/import.html", form=form, parsed=parsed), 400
            version = done.value
            flash(_("Saved as draft version %(no)s with %(n)s articles.", no=version.version_no,
                    n=len(version.articles)), "success")
            return redirect(url_for("rules.version", version_id=version.id))
    return render_template("rules/import.html", form=form, parsed=parsed), status


def _load_version(version_id: int) -> RuleVersion:
    return get_in_village_or_404(RuleVersion, version_id)


@bp.route("/versions/<int:version_id>")
@require("rules.view")
def version(version_id: int):
    """A version: its status and adoption steps (with what is missing and why), and its text."""
    v = _load_version(version_id)
    settings = rules.settings_for(g.village.id)
    checks = {s.step: rules.check_step(s, settings) for s in v.steps}
    path = [s.value for s in STATUS_PATH]
    next_status = path[path.index(v.status) + 1] if v.status in path[:-1] else None
    blockers = {t: rules.missing_for(v, t, settings) for t in path[path.index(v.status) + 1:]} \
        if v.status in path else {}
    others = [o for o in v.ruleset.versions if o.id != v.id]
    return render_template("rules/version.html", v=v, checks=checks, steps=STEP_ORDER, next_status=next_status,
                           blockers=blockers, others=others, status_form=StatusForm(), confirm=ConfirmForm())


@bp.route("/versions/<int:version_id>/edit", methods=["GET", "POST"])
@require("rules.edit")
def version_edit(version_id: int):
    """Change a draft: its title, preamble, closing and dates."""
    v = _load_version(version_id)
    form = VersionForm(obj=v)
    if form.validate_on_submit():
        done = submit(form, lambda: rules.update_version(
                    _load_version(version_id), title=form.title.data, preamble=form.preamble.data or "",
                    closing=form.closing.data or "", effective_on=form.effective_on.data,
                    note=form.note.data or "", actor=current_user), field="title")
        if done:
            flash(_("Saved."), "success")
            return redirect(url_for("rules.version", version_id=version_id))
    return render_template("rules/version_edit.html", form=form, v=v), 400 if form.errors else 200


@bp.route("/versions/<int:version_id>/text", methods=["GET", "POST"])
@require("rules.edit")
def version_text(version_id: int):
    """Edit a draft as one text (re-numbering, moving articles): check the parse, then save it."""
    v = _load_version(version_id)
    if not v.editable:
        flash(_("Only a draft can be changed; start an amendment instead."), "error")
        return redirect(url_for("rules.version", version_id=v.id))
    form = TextEditForm()
    if request.method == "GET":
        form.text.data = rules.version_text(v)
    parsed = None
    if form.validate_on_submit():
        try:
            parsed = parse_rules(form.text.data)
        except ParseError as e:
            form.text.errors = [*form.text.errors, _parse_message(e)]
            return render_template("rules/version_text.html", form=form, v=v, parsed=None), 400
        if form.submit.data:
            if not submit(form, lambda: rules.replace_text(_load_version(version_id), parsed, form.text.data,
                                                           actor=current_user), field="text"):
                return render_template("rules/version_text.html", form=form, v=v, parsed=parsed), 400
            flash(_("Saved."), "success")
            return redirect(url_for("rules.version", version_id=version_id))
    elif request.method == "POST":
        return render_template("rules/version_text.html", form=form, v=v, parsed=None), 400
    return render_template("rules/version_text.html", form=form, v=v, parsed=parsed)


@bp.route("/articles/<int:article_id>", methods=["GET", "POST"])
@require("rules.view")
def article(article_id: int):
    """An article, the points items that cite it, and (in a draft, for the clerk) its edit form."""
    a = get_in_village_or_404(RuleArticle, article_id)
    form = ArticleForm(obj=a) if a.version.editable and can("rules.edit") else None
    if request.method == "POST":
        if form is None:
            deny("rules.edit")
        if form.validate_on_submit():
            done = submit(form, lambda: rules.update_article(get_in_village_or_404(RuleArticle, article_id),
                                                             form.label.data, form.text.data,
                                                             actor=current_user), field="text")
            if done:
                flash(_("Saved."), "success")
                return redirect(url_for("rules.article", article_id=article_id))
    return render_template("rules/article.html", a=a, form=form, items=rules.items_citing(a)), \
        400 if form is not None and form.errors else 200


@bp.post("/versions/<int:version_id>/status")
@require("rules.edit")
def version_status(version_id: int):
    """Move a version forward (proposed … published); refused with every missing or failed step."""
    form = StatusForm()
    if not form.validate_on_submit():
        abort(400)
    def advance():
        v = _load_version(version_id)
        rules.advance(v, form.target.data or "", actor=current_user)
        return v.status

    # refused with every reason at once, which a flash message shows better than a form field
    try:
        status = run_write(advance)
    except rules.RulesError as e:
        flash(" ".join([str(e), *e.reasons]), "error")
    else:
        flash(_("The version is now: %(status)s.", status=RULE_LABELS["version_status"][status]), "success")
        waiting = rules.count_citations_to_repoint(g.village.id) if status == "published" else 0
        if waiting:
            # items citing an article whose text changed or vanished: the clerk re-points them next
            flash(_("%(n)s points item citations name an article of the old version that was changed or removed: "
                    "re-point them.", n=waiting), "info")
            if can("points.setup"):
                return redirect(url_for("points.citations"))
    return redirect(url_for("rules.version", version_id=version_id))


@bp.post("/versions/<int:version_id>/withdraw")
@require("rules.edit")
def version_withdraw(version_id: int):
    """Withdraw a version that was not adopted."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        run_write(lambda: rules.withdraw(_load_version(version_id), actor=current_user))
    except rules.RulesError as e:
        flash(str(e), "error")
    else:
        flash(_("The version is withdrawn."), "success")
    return redirect(url_for("rules.version", version_id=version_id))


@bp.post("/rulesets/<int:ruleset_id>/amend")
@require("rules.edit")
def amend(ruleset_id: int):
    """Start an amendment: a new draft copying the version in force."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        v = run_write(lambda: rules.start_amendment(get_in_village_or_404(RuleSet, ruleset_id),
                                                    actor=current_user))
    except rules.RulesError as e:
        flash(str(e), "error")
        return redirect(url_for("rules.index"))
    flash(_("Draft version %(no)s started from the version in force.", no=v.version_no), "success")
    return redirect(url_for("rules.version", version_id=v.id))


@bp.route("/versions/<int:version_id>/steps/<kind>", methods=["GET", "POST"])
@require("rules.edit")
def step(version_id: int, kind: str):
    """Record one adoption step with its date, body, counts and minutes."""
    if kind not in {k.value for k in StepKind}:
        abort(404)
    v = _load_version(version_id)
    existing = v.step(kind)
    form = StepForm(obj=existing)
    # fields that do not apply to this step are dropped, so they cannot fail validation unseen
    unused = set()
    if kind != StepKind.ASSEMBLY.value:
        unused |= {"assembly_kind", "women_present", "households_total", "households_present"}
    if kind != StepKind.LEGAL_REVIEW.value:
        unused.add("approved")
    if kind not in VOTING_STEPS:
        unused |= {"eligible", "present", "votes_yes", "votes_no", "votes_abstain"}
    for name in unused:
        delattr(form, name)
    if request.method == "GET" and existing is not None and existing.approved is not None:
        form.approved.data = "yes" if existing.approved else "no"
    if form.validate_on_submit():
        counts = {n: form[n].data for n in ("eligible", "present", "women_present", "households_total",
                                             "households_present", "votes_yes", "votes_no", "votes_abstain")
                  if n in form}

        def record():
            rules.record_step(_load_version(version_id), kind, held_on=form.held_on.data,
                              body=form.body.data or "",
                              assembly_kind=form.assembly_kind.data if "assembly_kind" in form else None,
                              approved=(form.approved.data == "yes") if "approved" in form else None,
                              minutes=form.minutes.data or "", actor=current_user, **counts)

        if submit(form, record, field="held_on"):
            v = _load_version(version_id)
            check = rules.check_step(v.step(kind), rules.settings_for(g.village.id))
            if check.ok:
                flash(_("Step recorded."), "success")
            else:
                flash(_("Step recorded, but it does not count: %(why)s", why=" ".join(check.reasons)), "error")
            return redirect(url_for("rules.version", version_id=v.id))
    return render_template("rules/step.html", form=form, v=v, kind=kind, voting=kind in VOTING_STEPS), \
        400 if form.errors else 200


@bp.route("/compare")
@require("rules.view")
def compare():
    """Two versions side by side, article by article, with the changed characters marked."""
    a = _load_version(request.args.get("a"))
    b = _load_version(request.args.get("b"))
    return render_template("rules/compare.html", a=a, b=b, rows=rules.diff_versions(a, b))


@bp.route("/settings", methods=["GET", "POST"])
@require("rules.view")
def settings():
    """The village's quorum and majority thresholds (the law's by default)."""
    current = rules.settings_for(g.village.id)
    form = SettingsForm(obj=current)
    if request.method == "POST":
        if not can("rules.edit"):
            deny("rules.edit")
        if form.validate_on_submit():
            values = {n: form[n].data or 0 for n in ("assembly_num", "assembly_den", "households_num",
                                                      "households_den", "representatives_num",
                                                      "representatives_den", "party_num", "party_den",
                                                      "majority_num", "majority_den", "women_min")}
            if submit(form, lambda: rules.save_settings(g.village.id, values, actor=current_user),
                      field="assembly_num"):
                flash(_("Saved."), "success")
                return redirect(url_for("rules.settings"))
    return render_template("rules/settings.html", form=form), 400 if form.errors else 200


def _article_matches(article: RuleArticle, words: list[str]) -> bool:
    hay = unicodedata.normalize("NFKC", f"{article.label} {papers.cite_label(article)} {article.text}").lower()
    hay = "".join(hay.split())
    return all(w in hay for w in words)


def _search_words(q: str) -> list[str]:
    return [w for w in unicodedata.normalize("NFKC", q).lower().split() if w][:8]


def _digest_page(v: RuleVersion, form: DigestForm, order_form: DigestOrderForm, *, q: str = "",
                 order_errors: list[str] | None = None, status: int = 200):
    """The digest page: the points in order (numbers to edit, rows to drag), and the form to add one."""
    words = _search_words(q)
    chosen = set(form.article_ids.data or [])
    # the search narrows the list shown; articles already ticked stay, so a search never drops a choice
    shown = [a for a in v.articles if a.id in chosen or _article_matches(a, words)]
    return render_template("rules/digest.html", v=v, form=form, order_form=order_form, confirm=ConfirmForm(),
                           q=q, shown=shown, chosen=chosen, order_errors=order_errors or [],
                           cite_label=papers.cite_label, layout=papers.digest_layout(v)), status


@bp.route("/versions/<int:version_id>/digest", methods=["GET", "POST"])
@require("rules.view")
def digest(version_id: int):
    """The digest of key rules chosen by the clerk, each citing its source articles, in the clerk's order."""
    v = _load_version(version_id)
    form = DigestForm()
    form.article_ids.choices = options((a.id, f"{a.label} {a.text[:30]}") for a in v.articles)
    q = (request.args.get("q") or "").strip()[:50]
    if request.method == "POST":
        if not can("rules.edit"):
            deny("rules.edit")
        if form.validate_on_submit():
            done = submit(form, lambda: rules.add_digest_item(_load_version(version_id), form.text.data,
                                                              form.article_ids.data, actor=current_user),
                          field="text")
            if done:
                flash(_("Added."), "success")
                return redirect(url_for("rules.digest", version_id=version_id))
        return _digest_page(v, form, DigestOrderForm(formdata=None), q=q, status=400)
    return _digest_page(v, form, DigestOrderForm(formdata=None), q=q)


@bp.post("/versions/<int:version_id>/digest/order")
@require("rules.edit")
def digest_order(version_id: int):
    """Save the order of the digest's points from the numbers typed (or set by dragging) beside them."""
    v = _load_version(version_id)
    form = DigestOrderForm()
    if not form.validate_on_submit():
        abort(400)
    positions, errors = {}, []
    for d in v.digest_items:
        raw = request.form.get(f"pos-{d.id}")
        if raw is None or not raw.strip():
            continue
        try:
            positions[d.id] = parse_small_int(raw, lo=1, hi=999)
        except ValueError:
            errors.append(_("Point “%(text)s”: the number must be a whole number from 1 to 999.",
                            text=d.text[:20]))
    if errors:
        add = DigestForm(formdata=None)
        add.article_ids.choices = options((a.id, a.label) for a in v.articles)
        return _digest_page(v, add, form, order_errors=errors, status=400)
    done = submit(form, lambda: rules.reorder_digest(_load_version(version_id), positions, actor=current_user))
    if not done:
        add = DigestForm(formdata=None)
        add.article_ids.choices = options((a.id, a.label) for a in v.articles)
        return _digest_page(v, add, form, order_errors=form.submit.errors, status=400)
    flash(_("The order is saved."), "success")
    return redirect(url_for("rules.digest", version_id=version_id))


@bp.post("/digest-items/<int:item_id>/remove")
@require("rules.edit")
def digest_remove(item_id: int):
    """Take a key rule off the digest."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    def remove():
        item = get_in_village_or_404(DigestItem, item_id)
        version_id = item.version_id
        rules.remove_digest_item(item, actor=current_user)
        return version_id

    version_id = run_write(remove)
    flash(_("Removed."), "success")
    return redirect(url_for("rules.digest", version_id=version_id))


# Printing

#: the booklet route's papers: the A5 booklet, the A4 notice for the board, the booklet imposed on A4
BOOKLET_PAPERS = {"a5": (papers.booklet_pdf, "A5"), "a4": (papers.notice_pdf, "公开栏A4"),
                  "imposed": (papers.imposed_booklet_pdf, "A4拼版")}


@bp.route("/versions/<int:version_id>/booklet.pdf")
@require("rules.view")
def booklet(version_id: int):
    """The version as an A5 booklet; ?paper=a4 the notice for the board, ?paper=imposed the booklet on A4."""
    v = _load_version(version_id)
    paper = request.args.get("paper", "a5")
    make, suffix = BOOKLET_PAPERS.get(paper, BOOKLET_PAPERS["a5"])
    paper = paper if paper in BOOKLET_PAPERS else "a5"
    return pdf_response(make(v), f"{v.title}-{suffix}.pdf", ascii_name=f"rules-{v.id}-{paper}.pdf")


@bp.route("/versions/<int:version_id>/digest.pdf")
@require("rules.view")
def digest_pdf(version_id: int):
    """The digest as an A4 poster: a list of large lines, or (?layout=cards, and from 20 points) numbered cards."""
    v = _load_version(version_id)
    layout = papers.digest_layout(v, request.args.get("layout"))
    pdf = papers.digest_pdf(v, layout)
    return pdf_response(pdf, f"{v.title}-要点.pdf", ascii_name=f"rules-{v.id}-digest-{layout}.pdf")


def booklet_pdf(v: RuleVersion, paper: str = "a5") -> bytes:
    """Render a version's paper (used by the page and by `flask rules booklet`): a5, a4 (notice) or imposed."""
    return BOOKLET_PAPERS.get(paper, BOOKLET_PAPERS["a5"])[0](v)


# Public reading (no login): the kiosk reuses templates/rules/_published.html

@bp.route("/public/<code>")
def public(code: str):
    """The village's published rules, for anyone, with a search over their articles."""
    village = db.session.scalar(sa.select(Village).where(Village.code == code[:32]))
    if village is None:
        abort(404)
    q = request.args.get("q", "").strip()[:50]
    versions = rules.published_versions(village.id)
    hits = rules.search_published(village.id, q) if q else []
    return render_template("rules/public.html", village=village, versions=versions, q=q, hits=hits)


@bp.app_template_filter("highlight")
def highlight(text: str, q: str) -> Markup:
    """The text, escaped, with every occurrence of `q` marked (search results)."""
    if not q:
        return escape(text or "")
    # split the raw text, then escape each piece: a query such as "amp" never lands inside an entity
    marked = Markup("<mark>{}</mark>").format(q)
    return marked.join(escape(piece) for piece in (text or "").split(q))


@bp.app_template_global()
def rule_warning(w) -> str:
    return describe_warning(w)


@bp.context_processor
def _moves() -> dict:
    """Pages offer a verb only where the version's state table allows it (app/rules/states.py)."""
    return {"VERSION": VERSION}


@bp.app_template_global()
def rule_status_label(status: str) -> str:
    return str(RULE_LABELS["version_status"].get(status, status))

