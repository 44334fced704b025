"""Kiosk household sessions live on the server: a copy of the kiosk browser's cookies opens the household
only while its session row does. Each way a session ends (结束, the idle time, a PIN change, a card
reissue, switching the kiosk off, another household at the same kiosk) is checked by copying the cookies
while the household is open, ending it that way, and replaying the copy: the household's pages send it
back to the start page without showing anything of the household. A restart changes nothing. A normal
session keeps working across pages, and its last_seen is written only now and then."""
from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from app import create_app
from app.db import utcnow
from app.extensions import db
from app.kiosk import services as ks
from app.kiosk.models import KioskDevice, KioskSession
from app.points.models import Objection
from app.submission import write_transaction
from tests.conftest import BASE_CONFIG, FreshContextClient
from tests.kiosk_helpers import OTHER_PIN, PIN, copy_cookies, enable_client, open_household, replay, seed

#: the pages only an opened household may see
HOUSEHOLD_PAGES = ("/kiosk/home", "/kiosk/entries", "/kiosk/posting")


@pytest.fixture
def seeded(village, make_user, make_household):
    from tests.conftest import valid_id

    return seed(village, make_user, make_household, valid_id)


@pytest.fixture
def kiosk(app, village, seeded):
    """An enrolled kiosk of the village (each request in its own app context, as in production)."""
    app.test_client_class = FreshContextClient
    c = app.test_client()
    enable_client(c, app, village)
    return c


def _text(resp) -> str:
    return resp.get_data(as_text=True)


def _shows_household(resp) -> bool:
    """The page shows household 0501's records (every household page names it: 钱*有 · 户号 0501)."""
    return resp.status_code == 200 and "钱*有" in _text(resp)


def _assert_opens(app, cookies) -> None:
    r = replay(app, cookies).get("/kiosk/home")
    assert _shows_household(r), r.status_code


def _assert_refused(app, cookies) -> None:
    """Every household page, each from a fresh copy of the cookies, goes back to the start page."""
    for path in HOUSEHOLD_PAGES:
        r = replay(app, cookies).get(path)
        assert r.status_code == 302 and r.headers["Location"].endswith("/kiosk/"), (path, r.status_code)
        body = _text(r)
        assert "钱" not in body and "0501" not in body and "data-balance" not in body, path
        start = replay(app, cookies).get(path, follow_redirects=True)
        assert start.status_code == 200 and not _shows_household(start), path
        assert "钱*有" not in _text(start), path


def _session_row() -> KioskSession:
    db.session.rollback()  # a fresh snapshot: the kiosk's requests committed in their own contexts
    return db.session.scalar(sa.select(KioskSession).order_by(KioskSession.id.desc()))


def _set_last_seen(ago: dt.timedelta) -> None:
    with write_transaction():
        db.session.execute(sa.update(KioskSession).values(last_seen_at=utcnow() - ago))


def _opened(app, kiosk) -> dict[str, str]:
    """Open household 0501 at the kiosk and copy the cookies (the copy works before the session ends)."""
    assert open_household(kiosk).headers["Location"].endswith("/kiosk/home")
    assert _shows_household(kiosk.get("/kiosk/home"))
    cookies = copy_cookies(kiosk, app)
    _assert_opens(app, cookies)
    return cookies


# --- each way a session ends refuses a copied cookie ----------------------------------------------

def test_finish_ends_the_session_for_a_copied_cookie(app, kiosk, seeded):
    cookies = _opened(app, kiosk)
    assert kiosk.post("/kiosk/finish").headers["Location"].endswith("/kiosk/")
    _assert_refused(app, cookies)
    row = _session_row()
    assert row.ended_at is not None and row.end_reason == "finish"


def test_going_back_to_the_start_page_ends_the_session(app, kiosk, seeded):
    cookies = _opened(app, kiosk)
    assert kiosk.get("/kiosk/").status_code == 200
    _assert_refused(app, cookies)


def test_idle_time_is_judged_by_the_server_from_last_seen(app, kiosk, seeded):
    cookies = _opened(app, kiosk)
    idle = dt.timedelta(seconds=app.config["KIOSK_IDLE_SECONDS"])
    # a villager who read one page for the whole idle time is not sent away early
    _set_last_seen(idle)
    _assert_opens(app, cookies)
    # past the idle time (and the few seconds a skipped touch may add), neither the copy nor the kiosk opens it
    _set_last_seen(ks.idle_limit() + dt.timedelta(seconds=1))
    _assert_refused(app, cookies)
    assert kiosk.get("/kiosk/home").status_code == 302
    row = _session_row()
    assert row.ended_at is not None and row.end_reason == "idle"
    # and an expired session stays ended even if its last_seen looked fresh again
    _set_last_seen(dt.timedelta(0))
    _assert_refused(app, cookies)


@pytest.mark.parametrize("new_pin", ["3691", PIN], ids=["changed", "reset-to-the-same"])
def test_a_pin_change_by_the_clerk_ends_the_session(app, kiosk, clerk_client, seeded, new_pin):
    cookies = _opened(app, kiosk)
    hid = seeded["households"]["0501"]
    r = clerk_client.post(f"/kiosk-admin/households/{hid}", data={"pin": new_pin, "pin2": new_pin})
    assert r.status_code == 302
    _assert_refused(app, cookies)
    assert kiosk.get("/kiosk/home").status_code == 302
    assert _session_row().end_reason == "pin_changed"


def test_a_card_reissue_ends_the_session(app, kiosk, clerk_client, seeded):
    cookies = _opened(app, kiosk)
    hid = seeded["households"]["0501"]
    r = clerk_client.post(f"/kiosk-admin/households/{hid}/card")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    _assert_refused(app, cookies)
    assert _session_row().end_reason == "card_reissued"


def test_a_card_reissue_for_another_household_ends_nothing(app, kiosk, clerk_client, seeded):
    cookies = _opened(app, kiosk)
    clerk_client.post(f"/kiosk-admin/households/{seeded['households']['0502']}/card")
    _assert_opens(app, cookies)


def test_switching_the_kiosk_off_ends_its_sessions(app, kiosk, clerk_client, seeded):
    cookies = _opened(app, kiosk)
    device_id = db.session.scalar(sa.select(KioskDevice.id))
    assert clerk_client.post(f"/kiosk-admin/devices/{device_id}/revoke").status_code == 302
    for path in HOUSEHOLD_PAGES:
        r = replay(app, cookies).get(path)
        assert r.status_code == 403 and "钱" not in _text(r) and "data-balance" not in _text(r), path
    row = _session_row()
    assert row.ended_at is not None and row.end_reason == "device_revoked"


def test_the_next_household_at_the_kiosk_ends_the_one_before(app, kiosk, seeded):
    cookies = _opened(app, kiosk)
    # the villager walks away without 结束; the next one types another 户号 and PIN
    assert open_household(kiosk, "0502", OTHER_PIN).headers["Location"].endswith("/kiosk/home")
    assert "周*才" in _text(kiosk.get("/kiosk/home"))
    _assert_refused(app, cookies)


def test_choosing_another_household_ends_the_open_one(app, kiosk, seeded):
    cookies = _opened(app, kiosk)
    kiosk.post("/kiosk/number", data={"number": "0502"})  # no PIN typed yet
    _assert_refused(app, cookies)


@pytest.mark.parametrize("how", ["finish", "idle"])
def test_an_ended_session_stays_ended_after_a_restart(app, kiosk, seeded, db_uri, tmp_path, how):
    cookies = _opened(app, kiosk)
    if how == "finish":
        kiosk.post("/kiosk/finish")
    else:
        _set_last_seen(ks.idle_limit() + dt.timedelta(seconds=1))
    # the server restarts: a new app on the same database, the same keys
    again = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": db_uri,
                        "INSTANCE_PATH": str(tmp_path / "instance-2")})
    again.test_client_class = FreshContextClient
    try:
        _assert_refused(again, cookies)
        # while a session opened after the restart works there as before
        fresh = replay(again, cookies)
        assert open_household(fresh).headers["Location"].endswith("/kiosk/home")
        assert _shows_household(fresh.get("/kiosk/home"))
    finally:
        with again.app_context():
            db.session.remove()
            db.engine.dispose()


def test_a_copied_cookie_works_only_at_its_own_kiosk(app, kiosk, village, seeded):
    cookies = _opened(app, kiosk)
    other = app.test_client()
    enable_client(other, app, village)
    other.set_cookie(app.config["SESSION_COOKIE_NAME"], cookies["session"], path="/")
    r = other.get("/kiosk/home")
    assert r.status_code == 302 and "钱" not in _text(r)
    _assert_opens(app, cookies)  # the household's own kiosk is not disturbed


# --- a normal session -----------------------------------------------------------------------------

def test_a_session_works_across_pages_and_its_cookie_holds_only_a_token(app, kiosk, seeded):
    assert open_household(kiosk).headers["Location"].endswith("/kiosk/home")
    for _ in range(2):
        assert re.search(r"data-balance>8<", _text(kiosk.get("/kiosk/home")))
        assert "照料独居老人" in _text(kiosk.get("/kiosk/entries"))
        assert f"/kiosk/posting/{seeded['entry_on_posting']}/object" in _text(kiosk.get("/kiosk/posting"))
        assert kiosk.get(f"/kiosk/posting/{seeded['entry_on_posting']}/object").status_code == 200
        assert kiosk.get("/kiosk/shop").status_code == 200
    with kiosk.session_transaction() as s:
        state = s["kiosk"]
    assert set(state) == {"dev", "s"}  # no household id, no time: the server keeps those
    row = _session_row()
    assert row.token_hash == ks._digest(state["s"]) and state["s"] not in row.token_hash
    assert row.household_id == seeded["households"]["0501"] and row.ended_at is None
    # an objection lodged from the session is recorded, and the session goes on
    r = kiosk.post(f"/kiosk/posting/{seeded['entry_on_posting']}/object", data={"reason": "points"})
    assert r.status_code == 200
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(Objection.id))) == 1
    assert "答复期限" in _text(kiosk.get("/kiosk/posting"))
    assert re.search(r"data-balance>8<", _text(kiosk.get("/kiosk/home")))


def test_last_seen_is_written_only_now_and_then(app, kiosk, seeded):
    updates: list[str] = []

    def count(conn, cursor, statement, params, context, executemany):
        if statement.lstrip().upper().startswith("UPDATE KIOSK_SESSIONS"):
            updates.append(statement)

    assert open_household(kiosk).headers["Location"].endswith("/kiosk/home")
    opened_at = _session_row().last_seen_at
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        for _ in range(4):
            for path in HOUSEHOLD_PAGES:
                assert kiosk.get(path).status_code == 200
        assert updates == []  # twelve pages read, nothing written
        assert _session_row().last_seen_at == opened_at
        # once last_seen is older than the touch interval, the next page writes it once
        _set_last_seen(dt.timedelta(seconds=ks.touch_every() + 1))
        updates.clear()  # the test's own UPDATE just now
        for path in HOUSEHOLD_PAGES:
            assert kiosk.get(path).status_code == 200
        assert len(updates) == 1
        assert _session_row().last_seen_at >= utcnow() - dt.timedelta(seconds=ks.touch_every())
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def test_a_busy_database_skips_the_touch_and_still_shows_the_page(app, kiosk, seeded, monkeypatch):
    assert open_household(kiosk).headers["Location"].endswith("/kiosk/home")
    _set_last_seen(dt.timedelta(seconds=ks.touch_every() + 1))

    def locked(*args, **kwargs):
        raise OperationalError("UPDATE kiosk_sessions", {}, Exception("database is locked"))

    monkeypatch.setattr(ks, "touch_session", locked)
    r = kiosk.get("/kiosk/home")
    assert r.status_code == 200 and re.search(r"data-balance>8<", _text(r))


def test_old_sessions_are_purged_when_a_household_opens(app, kiosk, village, seeded):
    device_id = db.session.scalar(sa.select(KioskDevice.id))
    hid = seeded["households"]["0502"]
    now = utcnow()
    with write_transaction():
        for days, token in ((ks.SESSION_KEEP_DAYS + 2, "old"), (1, "recent")):
            at = now - dt.timedelta(days=days)
            db.session.add(KioskSession(village_id=village.id, device_id=device_id, household_id=hid,
                                        token_hash=ks._digest(token), created_at=at, last_seen_at=at,
                                        ended_at=at, end_reason="finish"))
    assert open_household(kiosk).headers["Location"].endswith("/kiosk/home")
    db.session.rollback()
    hashes = set(db.session.scalars(sa.select(KioskSession.token_hash)))
    assert ks._digest("old") not in hashes and ks._digest("recent") in hashes and len(hashes) == 2
