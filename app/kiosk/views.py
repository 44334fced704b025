"""The touch screen: find a household (card, 户号 pad, pinyin letters), PIN, then read-only pages and
objections. No personal data in any URL.

Every page needs an enabled device: a signed, long-lived cookie holding the device token a clerk's
one-time enrolment link gave this browser. The household opened with its PIN is a row in kiosk_sessions
(services, "household sessions"); the signed session cookie holds only that row's random token, checked
on every request, so 结束, the idle time, a PIN change, a card reissue or switching the kiosk off end
it for every copy of the cookie (docs/architecture.md, "The kiosk's household sessions").
"""
from __future__ import annotations

from flask import abort, current_app, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeSerializer

from ..budgets import refund, take
from ..errors import Busy
from ..extensions import db
from ..points import queries as pq
from ..points.models import PointEntry
from ..points.states import ENTRY
from ..registry.models import Household, HouseholdStatus
from ..rules.services import cited_articles, published_versions
from ..submission import run_write
from ..text import mask_name
from ..urls import as_id
from . import bp
from . import services as ks
from .forms import (
    OBJECTION_REASONS,
    CardForm,
    ChooseForm,
    KioskForm,
    LettersForm,
    NumberForm,
    ObjectionForm,
    PinForm,
)

DEVICE_COOKIE = "xy_kiosk_device"
DEVICE_COOKIE_DAYS = 5 * 365
#: endpoints a browser that is not (yet) a kiosk may open
OPEN_ENDPOINTS = {"kiosk.enrol"}


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="kiosk-device")


def _device_from_cookie():
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw:
        return None
    try:
        data = _serializer().loads(raw)
    except BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    return ks.device_for_token(data.get("d"), data.get("t"))


def device_key() -> str:
    """The PIN budget's key: one per kiosk device, not per IP (every kiosk may share one NAT address)."""
    device = g.get("kiosk_device")
    return f"kiosk-device:{device.id}" if device is not None else f"kiosk-ip:{request.remote_addr}"


def _state() -> dict:
    return session.get("kiosk") or {}


def _save(state: dict) -> None:
    session["kiosk"] = state
    session.modified = True


def _forget_household() -> None:
    """Forget the household in this browser's cookie and end its session on the server."""
    state = _state()
    token = state.pop("s", None)
    had_pending = "pending" in state
    for key in ("pending", "pending_label", "pending_key"):
        state.pop(key, None)
    if token is not None or had_pending:
        _save(state)
    if token is not None:
        try:
            run_write(lambda: ks.end_session(token, "finish"))
        except Busy:
            # the cookie forgot the token already; the row runs out at the idle time (services.idle_limit)
            current_app.logger.warning("kiosk: database busy, the household session ends at its idle time")


@bp.before_request
def _load_device():
    g.kiosk_device = None
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    device = _device_from_cookie()
    if device is None:
        session.pop("kiosk", None)
        return render_template("kiosk/not_enabled.html"), 403
    g.kiosk_device = device
    g.kiosk_village = device.village  # loaded with the device
    state = _state()
    if state.get("dev") != device.id:
        state = {"dev": device.id}
        _save(state)
    g.kiosk_household = None
    if state.get("s"):
        g.kiosk_household = _session_household(device.id, device.village_id, state["s"])
        if g.kiosk_household is None:
            state = _state()
            state.pop("s", None)
            _save(state)
    return None


def _session_household(device_id: int, village_id: int, token: str) -> Household | None:
    """The household the cookie's session opens, or None (ended, expired, unknown, another kiosk).

    last_seen_at is written at most every services.touch_every() seconds, in its own short write; when
    the database is busy a read page skips it rather than fail (the idle limit allows for one skip).
    """
    row, end = ks.check_session(device_id, village_id, token)
    if row is None:
        return None
    session_id = row.id
    if end is not None:
        try:
            run_write(lambda: ks.expire_session(session_id, end), tries=1)
        except Busy:
            pass  # bookkeeping only: check_session refuses the row either way
        return None
    if not ks.needs_touch(row):
        return row.household
    try:
        alive = run_write(lambda: ks.touch_session(session_id), tries=1)
    except Busy:
        current_app.logger.info("kiosk: database busy, last_seen of session %s not written", session_id)
        alive = True
    if not alive:  # ended between the read and the write
        return None
    # the write's commit expired what this request had loaded: read the session's household again
    row, end = ks.check_session(device_id, village_id, token)
    return row.household if row is not None and end is None else None


@bp.after_request
def _no_store(resp):
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Pragma"] = "no-cache"
    return resp


@bp.context_processor
def _kiosk_globals():
    # formdata=None: the finish form is only drawn here, and reading the request's form would raise again
    # on the 413 page of a body over the limit (the kiosk's error page would fall back to bare HTML)
    return {"idle_seconds": current_app.config["KIOSK_IDLE_SECONDS"], "finish_form": KioskForm(formdata=None),
            "entry_status": pq.effective_status,
            "kiosk_village": g.get("kiosk_village"), "kiosk_household": g.get("kiosk_household")}


def _need_household() -> Household:
    h = g.get("kiosk_household")
    if h is None:
        abort(redirect(url_for("kiosk.start")))
    return h


# Enrolment (opened once on the kiosk from the clerk's link)

@bp.route("/enrol/<code>", methods=["GET", "POST"])
def enrol(code: str):
    """Make this browser the village's kiosk: GET asks, POST uses the one-time code."""
    form = KioskForm()
    if request.method == "POST" and form.validate_on_submit():
        try:
            device, token = run_write(lambda: ks.enrol_device(code))
        except ks.KioskError as e:
            return render_template("kiosk/enrol.html", form=form, error=str(e)), 400
        # the kiosk is nobody's login: drop whatever session this browser had
        session.clear()
        resp = redirect(url_for("kiosk.start"))
        resp.set_cookie(DEVICE_COOKIE, _serializer().dumps({"d": device.id, "t": token}),
                        max_age=DEVICE_COOKIE_DAYS * 86400, httponly=True, samesite="Lax",
                        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")), path="/kiosk")
        return resp
    return render_template("kiosk/enrol.html", form=form, error=None)


# Finding the household

@bp.route("/")
def start():
    """The start page: scan a card (the scanner types into the box), or choose the 户号 pad or the letters."""
    _forget_household()
    return render_template("kiosk/start.html", form=CardForm())


@bp.post("/card")
def card():
    form = CardForm()
    if not form.validate_on_submit() or not ks.normalize_card_code(form.code.data):
        return render_template("kiosk/start.html", form=form,
                               error=_("The card could not be read. Please scan it again.")), 200
    h = ks.find_household_by_card_code(g.kiosk_device.village_id, form.code.data)
    return _pending(h.id if h else None, _("Household card"),
                    "card:" + ks.normalize_card_code(form.code.data))


@bp.route("/number", methods=["GET", "POST"])
def number():
    """Type the 户号 on the number pad."""
    form = NumberForm()
    if request.method == "POST" and form.validate_on_submit():
        typed = (form.number.data or "").strip()
        if not typed:
            return render_template("kiosk/number.html", form=form,
                                   error=_("Please type your household number first.")), 200
        h = ks.find_by_number(g.kiosk_device.village_id, typed)
        # the label shows only what was typed, so the answer never tells whether the 户号 exists
        return _pending(h.id if h else None, _("Household number %(number)s", number=typed[:32]),
                        "number:" + typed[:32])
    # a number the field refused (too long, a control character) comes back with the reason
    return render_template("kiosk/number.html", form=form,
                           error="；".join(str(e) for e in form.number.errors) or None)


@bp.route("/letters", methods=["GET", "POST"])
def letters():
    """Tap the pinyin initials of a name, then choose among masked names."""
    form = LettersForm()
    choices, more, searched = [], False, False
    if request.method == "POST" and form.validate_on_submit():
        searched = True
        choices, more = ks.find_by_initials(g.kiosk_device.village_id, form.letters.data or "")
    return render_template("kiosk/letters.html", form=form, choices=choices, more=more, searched=searched,
                           choose_form=ChooseForm())


@bp.post("/choose")
def choose():
    form = ChooseForm()
    if not form.validate_on_submit():
        return redirect(url_for("kiosk.letters"))
    hid = as_id(form.household.data)
    h = db.session.get(Household, hid) if hid else None
    if h is None or h.village_id != g.kiosk_device.village_id or h.status != HouseholdStatus.ACTIVE.value:
        return redirect(url_for("kiosk.letters"))
    head = h.head.name if h.head is not None else ""
    label = mask_name(head) + (f"（{h.group.name}）" if h.group is not None else "")
    return _pending(h.id, label, f"household:{h.id}")


def _pending(household_id: int | None, label: str, probe_key: str):
    """Remember whom the PIN is for; `probe_key` names what was typed, for the counter of the no-PIN case."""
    _forget_household()  # choosing a household ends the one that was open
    state = _state()
    state["pending"] = household_id or 0
    state["pending_label"] = label
    state["pending_key"] = probe_key
    _save(state)
    return redirect(url_for("kiosk.pin"))


@bp.route("/pin", methods=["GET", "POST"])
def pin():
    """Type the household's PIN; five wrong PINs lock the household at the kiosk for 15 minutes."""
    state = _state()
    if "pending" not in state:
        return redirect(url_for("kiosk.start"))
    form = PinForm()
    result, counted = None, False
    if request.method == "POST" and form.validate_on_submit():
        # the kiosk's budget of wrong PINs, whatever the household: taken before the check (so parallel
        # attempts cannot all pass), given back when the PIN was right
        budget = device_key()
        take(budget, current_app.config["KIOSK_PIN_RATE"])
        # a wrong PIN is a write too: the failure count (and the lockout) must be committed; a right one
        # opens the household's session row in the same transaction
        device_id, village_id = g.kiosk_device.id, g.kiosk_device.village_id
        res, token = run_write(lambda: ks.open_at_kiosk(device_id, village_id, state.get("pending") or None,
                                                        form.pin.data, probe_key=state.get("pending_key")))
        if res.ok:
            refund(budget)
            state = _state()
            for key in ("pending", "pending_label", "pending_key"):
                state.pop(key, None)
            state["s"] = token
            _save(state)
            return redirect(url_for("kiosk.home"))
        result = "locked" if res.locked else "wrong"
        counted = res.counted
    return render_template("kiosk/pin.html", form=form, label=state.get("pending_label", ""), result=result,
                           counted=counted,
                           max_failures=current_app.config["KIOSK_PIN_MAX_FAILURES"],
                           lock_minutes=current_app.config["KIOSK_PIN_LOCK_MINUTES"])


@bp.post("/finish")
def finish():
    """End the household's session (the finish button, and the idle timer)."""
    KioskForm().validate_on_submit()  # a stale token must not keep a household's page open
    _forget_household()
    return redirect(url_for("kiosk.start"))


# After the PIN (one household only)

@bp.route("/home")
def home():
    h = _need_household()
    return render_template("kiosk/home.html", household=h, summary=pq.household_overview(h))


@bp.route("/entries")
def entries():
    h = _need_household()
    rows = pq.recent_entries(h)
    return render_template("kiosk/entries.html", household=h, entries=rows, cites=_citations(rows))


@bp.route("/posting")
def posting():
    h = _need_household()
    rows = [(e, ks.open_objection(e)) for e in pq.household_on_posting(h)]
    return render_template("kiosk/posting.html", household=h, rows=rows, cites=_citations(e for e, _o in rows),
                           holds=pq.holds_back_on_posting(h.village_id))


def _citations(entries) -> dict:
    """item id → the articles it cites (of whichever version), so each entry shows the rule behind it."""
    return cited_articles(e.item_id for e in entries)


def _own_entry(h: Household, entry_id: int) -> PointEntry:
    entry = db.session.get(PointEntry, entry_id) if 0 < entry_id < 2**62 else None
    if entry is None or entry.household_id != h.id or entry.village_id != h.village_id:
        abort(404)
    return entry


@bp.route("/posting/<int:entry_id>/object", methods=["GET", "POST"])
def objection(entry_id: int):
    """Object to one of the household's entries on posting; it goes to the reviewers' queue."""
    h = _need_household()
    entry = _own_entry(h, entry_id)
    form = ObjectionForm()
    error = None
    if form.validate_on_submit():
        labels = dict(OBJECTION_REASONS)
        text = (form.text.data or "").strip()
        if form.reason.data == "other" and not text:
            form.text.errors = [_("Please write a few words about what is wrong.")]
        else:
            reason = str(labels[form.reason.data]) + (f"：{text}" if text else "")

            # the kiosk shows a refusal above the form in large type, not under one field
            def lodge():
                mine = _own_entry(h, entry_id)
                return mine, ks.object_at_kiosk(h, mine, reason)

            try:
                entry, obj = run_write(lodge)
            except ks.KioskError as e:
                error = str(e)
            else:
                return render_template("kiosk/objection_done.html", household=h, entry=entry, objection=obj)
    return render_template("kiosk/objection.html", household=h, entry=entry, form=form, error=error,
                           open_objection=ks.open_objection(entry),
                           can_object=ENTRY.can(pq.effective_status(entry), "object"))


# Open to every villager at an enabled kiosk

@bp.route("/shop")
def shop():
    return render_template("kiosk/shop.html", products=ks.shop_goods(g.kiosk_device.village_id))


@bp.route("/rules")
def rules():
    return render_template("kiosk/rules.html", versions=published_versions(g.kiosk_device.village_id))

