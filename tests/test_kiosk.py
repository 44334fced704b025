"""The kiosk on the test client: enrolment, the three ways to find a household, PIN and lockout,
what a household sees, objections, idle and finish, the clerk's PIN page, per-kiosk rate limit."""
from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa

from app.db import utcnow
from app.extensions import db
from app.kiosk import services as ks
from app.kiosk.models import KioskDevice, KioskPin, KioskProbe, KioskSession
from app.points.models import EntryStatus, Objection, PointEntry
from app.registry.models import Household
from app.submission import write_transaction
from tests.conftest import FreshContextClient
from tests.kiosk_helpers import OTHER_PIN, PIN, enable_client, seed


@pytest.fixture
def seeded(village, make_user, make_household):
    from tests.conftest import valid_id

    return seed(village, make_user, make_household, valid_id)


@pytest.fixture
def kiosk(app, village, seeded):
    """A test client that is an enrolled kiosk of the village (each request in its own app context)."""
    app.test_client_class = FreshContextClient
    c = app.test_client()
    enable_client(c, app, village)
    return c


def _text(resp) -> str:
    return resp.get_data(as_text=True)


def _pin_result(resp) -> str:
    m = re.search(r'data-pin-result="(\w*)"', _text(resp))
    return m.group(1) if m else "?"


def _open(kiosk, number="0501", pin=PIN):
    r = kiosk.post("/kiosk/number", data={"number": number})
    assert r.status_code == 302 and r.headers["Location"].endswith("/kiosk/pin")
    return kiosk.post("/kiosk/pin", data={"pin": pin})


def _pin_row(household_id) -> KioskPin:
    db.session.rollback()
    return db.session.scalar(sa.select(KioskPin).where(KioskPin.household_id == household_id))


# --- enrolment ------------------------------------------------------------------------------------

def test_a_browser_that_is_no_kiosk_sees_nothing(client, seeded):
    r = client.get("/kiosk/")
    assert r.status_code == 403
    assert "不是自助查询机" in _text(r) or "没有开通" in _text(r)
    assert client.post("/kiosk/number", data={"number": "0501"}).status_code == 403


def test_clerk_enrols_a_kiosk_once_and_can_switch_it_off(app, clerk_client, village, seeded):
    r = clerk_client.post("/kiosk-admin/devices", data={"name": "村委会大厅"})
    assert r.status_code == 200
    link = re.search(r"data-enrol-link>([^<]+)<", _text(r)).group(1)
    path = link.split("://", 1)[1].split("/", 1)[1]
    kiosk = app.test_client()
    assert "使用这块屏幕" in _text(kiosk.get("/" + path)) or kiosk.get("/" + path).status_code == 200
    r = kiosk.post("/" + path)
    assert r.status_code == 302
    cookie = kiosk.get_cookie("xy_kiosk_device", path="/kiosk")
    assert cookie is not None and cookie.http_only
    assert kiosk.get("/kiosk/").status_code == 200
    # the database keeps only digests
    device = db.session.scalar(sa.select(KioskDevice))
    assert device.token_hash and device.enrol_hash is None
    assert device.token_hash not in cookie.value
    # the link works once
    other = app.test_client()
    r = other.post("/" + path)
    assert r.status_code == 400 and "失效" in _text(r)
    assert "是的，开通这块屏幕" not in _text(r)  # no button that cannot work
    assert other.get("/kiosk/").status_code == 403
    # switched off: the kiosk shows nothing any more
    r = clerk_client.post(f"/kiosk-admin/devices/{device.id}/revoke")
    assert r.status_code == 302
    assert kiosk.get("/kiosk/").status_code == 403


def test_expired_or_revoked_enrolment_links_do_nothing(app, village, seeded):
    with write_transaction():
        old, old_code = ks.create_device(village, "旧")
        gone, gone_code = ks.create_device(village, "撤")
        old.enrol_expires_at = utcnow() - dt.timedelta(minutes=1)
        ks.revoke_device(gone)
    c = app.test_client()
    for code in (old_code, gone_code, "made-up"):
        r = c.post(f"/kiosk/enrol/{code}")
        assert r.status_code == 400 and "已失效" in _text(r)
        assert c.get_cookie("xy_kiosk_device", path="/kiosk") is None
    assert c.get("/kiosk/").status_code == 403


def test_forged_or_foreign_device_cookie_is_refused(app, kiosk, village, seeded):
    from tests.kiosk_helpers import device_cookie

    device = db.session.scalar(sa.select(KioskDevice))
    c = app.test_client()
    c.set_cookie("xy_kiosk_device", device_cookie(app, device.id, "guessed-token"), path="/kiosk")
    assert c.get("/kiosk/").status_code == 403
    c.set_cookie("xy_kiosk_device", "not-signed", path="/kiosk")
    assert c.get("/kiosk/").status_code == 403


# --- finding a household and the PIN -------------------------------------------------------------

def test_number_pad_and_right_pin_show_balance_score_and_entries(kiosk, seeded):
    r = _open(kiosk)
    assert r.status_code == 302 and r.headers["Location"].endswith("/kiosk/home")
    home = _text(kiosk.get("/kiosk/home"))
    assert re.search(r"data-balance>8<", home)  # 5 + 3 approved
    assert re.search(r"data-score>8<", home)
    assert "钱*有" in home and "钱大有" not in home
    entries = _text(kiosk.get("/kiosk/entries"))
    assert "参加村庄清洁日" in entries and "照料独居老人" in entries
    # the rule the entry cites, its text on a tap, linked to the published article on the kiosk's rules page
    assert "<summary>依据：《和美村村规民约》第五条</summary>" in entries
    assert "每月第一个周六为村庄清洁日" in entries and f'href="/kiosk/rules#a{seeded["article"]}"' in entries
    posting = _text(kiosk.get("/kiosk/posting"))
    assert "照料独居老人" in posting and "参加村庄清洁日" not in posting  # the old one's posting is over
    assert f"/kiosk/posting/{seeded['entry_on_posting']}/object" in posting


@pytest.mark.parametrize("typed", ["05\x0001", "\x00", "0501\u202e"], ids=["NUL", "NUL alone", "bidi"])
def test_a_number_with_a_control_character_is_refused_with_the_reason(kiosk, seeded, typed):
    """Only a tampered pad sends one, but a NUL reached the lookup and PostgreSQL refused it: a 500 (found by
    the full fuzzing gate). The pad comes back with the reason, and no household is opened."""
    before = db.session.scalar(sa.select(sa.func.count(KioskProbe.id)))
    r = kiosk.post("/kiosk/number", data={"number": typed})
    assert r.status_code == 200
    assert re.search(r'<p class="k-msg k-msg-error" role="alert">[^<]*(控制字符|文字方向)', _text(r))
    assert "/kiosk/pin" not in r.headers.get("Location", "")
    assert db.session.scalar(sa.select(sa.func.count(KioskProbe.id))) == before


def test_unknown_household_gets_the_same_answer_as_a_wrong_pin(kiosk, seeded):
    wrong = _open(kiosk, "0501", "9147")
    unknown = _open(kiosk, "9999", "9147")
    no_pin = _open(kiosk, "0503", "9147")
    assert _pin_result(wrong) == _pin_result(unknown) == _pin_result(no_pin) == "wrong"

    def msg(r):
        return re.search(r'<p class="k-msg k-msg-error" role="alert">([^<]+)</p>', _text(r)).group(1)

    assert msg(wrong) == msg(unknown) == msg(no_pin)


@pytest.mark.parametrize("number", ["9999", "0503"])  # unknown 户号; a household without a PIN
def test_unknown_household_locks_exactly_like_a_real_one(kiosk, seeded, number):
    real = [_pin_result(_open(kiosk, "0501", "9147")) for _ in range(6)]
    other = [_pin_result(_open(kiosk, number, "9147")) for _ in range(6)]
    assert real == other == ["wrong"] * 4 + ["locked"] * 2
    db.session.rollback()
    probes = db.session.scalars(sa.select(KioskProbe)).all()
    assert len(probes) == 1 and probes[0].failed_count == 5
    assert number not in probes[0].key_hash  # only a digest of what was typed is kept
    # a card code nobody holds locks the same way, on its own counter
    assert [_pin_result(kiosk.post("/kiosk/card", data={"code": "ZZZZZZZZZZZZZZZZ"}) and
                        kiosk.post("/kiosk/pin", data={"pin": "9147"})) for _ in range(5)][-1] == "locked"


def test_five_wrong_pins_lock_the_household_for_15_minutes(kiosk, seeded):
    hid = seeded["households"]["0501"]
    results = [_pin_result(_open(kiosk, "0501", "9147")) for _ in range(5)]
    assert results == ["wrong"] * 4 + ["locked"]
    row = _pin_row(hid)
    assert row.failed_count == 5
    assert dt.timedelta(minutes=14) < row.locked_until - utcnow() <= dt.timedelta(minutes=15)
    # even the right PIN is refused while locked, and the count does not move
    r = _open(kiosk)
    assert _pin_result(r) == "locked"
    assert _pin_row(hid).failed_count == 5
    # another household is not affected
    assert _open(kiosk, "0502", OTHER_PIN).status_code == 302
    # after the 15 minutes the right PIN opens, and the counter starts afresh
    with write_transaction():
        db.session.execute(sa.update(KioskPin).where(KioskPin.household_id == hid)
                           .values(locked_until=utcnow() - dt.timedelta(seconds=1)))
    assert _pin_result(_open(kiosk, "0501", "9147")) == "wrong"
    assert _pin_row(hid).failed_count == 1
    assert _open(kiosk).status_code == 302
    assert _pin_row(hid).failed_count == 0


def test_card_code_finds_the_household_and_reissue_invalidates_the_old_card(kiosk, village, seeded):
    with write_transaction():
        h = db.session.get(Household, seeded["households"]["0501"])
        old = ks.issue_card(h)
    assert ks.find_household_by_card_code(village, old).id == h.id
    assert ks.find_household_by_card_code(village, old.lower()[:8] + "-" + old.lower()[8:]).id == h.id
    r = kiosk.post("/kiosk/card", data={"code": old})
    assert r.headers["Location"].endswith("/kiosk/pin")
    assert kiosk.post("/kiosk/pin", data={"pin": PIN}).headers["Location"].endswith("/kiosk/home")
    with write_transaction():
        new = ks.issue_card(db.session.get(Household, h.id))
    assert ks.find_household_by_card_code(village, old) is None
    assert ks.find_household_by_card_code(village, new).id == h.id
    kiosk.post("/kiosk/finish")
    kiosk.post("/kiosk/card", data={"code": old})
    assert _pin_result(kiosk.post("/kiosk/pin", data={"pin": PIN})) == "wrong"


def test_card_of_another_village_finds_nothing(kiosk, make_village, make_household, seeded):
    other = make_village("v2", "二号村")
    h = make_household(other, "0501", "王五")
    with write_transaction():
        code = ks.issue_card(db.session.merge(h))
    assert ks.find_household_by_card_code(other, code) is not None
    assert ks.find_household_by_card_code(seeded["village_id"], code) is None


def test_pinyin_letters_list_masked_names_with_their_group(kiosk, seeded):
    r = kiosk.post("/kiosk/letters", data={"letters": "zs"})
    html = _text(r)
    assert "张*芳 · 第一村民小组" in html and "张*菲 · 第二村民小组" in html
    assert "张世芳" not in html and "张思菲" not in html and "李*国" not in html
    hid = seeded["households"]["0504"]
    r = kiosk.post("/kiosk/choose", data={"household": str(hid)})
    assert r.headers["Location"].endswith("/kiosk/pin")
    assert "张*菲（第二村民小组）" in _text(kiosk.get("/kiosk/pin"))
    assert "没有以这些字母开头的姓名" in _text(kiosk.post("/kiosk/letters", data={"letters": "qqq"}))


# --- after the PIN --------------------------------------------------------------------------------

def test_objection_from_the_kiosk_reaches_the_reviewers_queue(app, kiosk, client, auth, seeded):
    _open(kiosk)
    entry_id = seeded["entry_on_posting"]
    r = kiosk.post(f"/kiosk/posting/{entry_id}/object", data={"reason": "other", "text": ""})
    assert "请简单写一下" in _text(r)
    assert db.session.scalar(sa.select(sa.func.count(Objection.id))) == 0
    r = kiosk.post(f"/kiosk/posting/{entry_id}/object", data={"reason": "points", "text": "应该是5分"})
    assert r.status_code == 200
    db.session.rollback()
    obj = db.session.scalar(sa.select(Objection))
    assert obj.channel == "kiosk" and "应该是5分" in obj.reason
    assert db.session.get(PointEntry, entry_id).status == EntryStatus.DISPUTED.value
    assert obj.due_on.isoformat() in _text(r)
    assert "答复期限" in _text(kiosk.get("/kiosk/posting"))
    auth.login("jiandu")
    queue = _text(client.get("/points/objections"))
    assert f"#{obj.id}" in queue and "分数不对：应该是5分" in queue and "0501" in queue


def test_a_household_cannot_object_to_another_households_entry(kiosk, seeded):
    _open(kiosk, "0502", OTHER_PIN)
    assert kiosk.get(f"/kiosk/posting/{seeded['entry_on_posting']}/object").status_code == 404
    r = kiosk.post(f"/kiosk/posting/{seeded['entry_on_posting']}/object", data={"reason": "points"})
    assert r.status_code == 404
    assert db.session.scalar(sa.select(sa.func.count(Objection.id))) == 0


def test_pages_after_the_pin_need_the_pin(kiosk, seeded):
    for path in ("/kiosk/home", "/kiosk/entries", "/kiosk/posting",
                 f"/kiosk/posting/{seeded['entry_on_posting']}/object"):
        r = kiosk.get(path)
        assert r.status_code == 302 and r.headers["Location"].endswith("/kiosk/"), path
    # choosing a household is not opening it
    kiosk.post("/kiosk/number", data={"number": "0501"})
    assert kiosk.get("/kiosk/home").status_code == 302


def test_finish_and_idle_end_the_household_session(app, kiosk, seeded):
    _open(kiosk)
    assert kiosk.get("/kiosk/home").status_code == 200
    assert kiosk.post("/kiosk/finish").headers["Location"].endswith("/kiosk/")
    assert kiosk.get("/kiosk/home").status_code == 302
    _open(kiosk)
    # the server judges idleness from the session's row, not from anything the browser sends
    with write_transaction():
        db.session.execute(sa.update(KioskSession).values(last_seen_at=utcnow() - ks.idle_limit()
                                                          - dt.timedelta(seconds=1)))
    assert kiosk.get("/kiosk/home").status_code == 302


def test_goods_and_rules_are_open_at_the_kiosk(kiosk, seeded):
    shop = _text(kiosk.get("/kiosk/shop"))
    assert "大米 5kg" in shop and "10 分/袋" in shop and "12 袋" in shop
    assert "暂时缺货" in shop  # 肥皂 has no stock
    rules = _text(kiosk.get("/kiosk/rules"))
    assert "还没有公布" not in rules
    assert f'id="a{seeded["article"]}"' in rules and "每月第一个周六为村庄清洁日" in rules


def test_the_rules_page_says_so_when_nothing_is_published(kiosk, seeded):
    from app.rules.models import RuleVersion

    with write_transaction():
        db.session.execute(sa.update(RuleVersion).values(status="superseded"))
    assert "还没有公布" in _text(kiosk.get("/kiosk/rules"))
    # an entry's item goes on citing its article, whatever became of the version: the kiosk shows that text
    _open(kiosk)
    entries = _text(kiosk.get("/kiosk/entries"))
    assert "每月第一个周六为村庄清洁日" in entries and "/kiosk/rules#a" not in entries
    # an item that cites no article shows the reference typed on it
    from app.rules.models import point_item_articles

    with write_transaction():
        db.session.execute(sa.delete(point_item_articles))
    assert "依据：村规民约第五条" in _text(kiosk.get("/kiosk/entries"))


def test_kiosk_pages_are_never_cached(kiosk, seeded):
    _open(kiosk)
    for path in ("/kiosk/", "/kiosk/number", "/kiosk/letters", "/kiosk/home", "/kiosk/entries",
                 "/kiosk/posting", "/kiosk/shop", "/kiosk/rules"):
        assert kiosk.get(path).headers["Cache-Control"] == "no-store", path


@pytest.mark.parametrize("app_config", [{"RATELIMIT_ENABLED": True, "KIOSK_PIN_RATE": "3 per hour"}])
def test_wrong_pins_are_limited_per_kiosk(app, kiosk, village, seeded):
    # spraying PINs over many households from one kiosk stops at the kiosk's budget
    for number in ("0501", "0502", "0503"):
        assert _pin_result(_open(kiosk, number, "9147")) == "wrong"
    kiosk.post("/kiosk/number", data={"number": "0504"})
    assert kiosk.post("/kiosk/pin", data={"pin": "9147"}).status_code == 429
    # another kiosk has its own budget
    other = app.test_client()
    enable_client(other, app, village)
    assert _open(other, "0501", PIN).status_code == 302


# --- the clerk's side -----------------------------------------------------------------------------

def test_clerk_sets_a_pin_and_refuses_weak_or_mismatched_ones(clerk_client, seeded, kiosk):
    hid = seeded["households"]["0503"]
    url = f"/kiosk-admin/households/{hid}"
    assert clerk_client.get(url).status_code == 200
    for pin, pin2, message in [("1234", "1234", "太容易"), ("12", "12", "4 到 6 位数字"),
                               ("abcd", "abcd", "4 到 6 位数字"), ("4826", "4827", "两次输入的密码不一样")]:
        r = clerk_client.post(url, data={"pin": pin, "pin2": pin2})
        assert r.status_code == 200 and message in _text(r), pin
        assert _pin_row(hid) is None
    r = clerk_client.post(url, data={"pin": "４８２６", "pin2": "４８２６"})
    assert r.status_code == 302
    row = _pin_row(hid)
    assert row is not None and "4826" not in row.pin_hash
    assert _open(kiosk, "0503", "4826").headers["Location"].endswith("/kiosk/home")


def test_clerk_lifts_a_lock(clerk_client, kiosk, seeded):
    hid = seeded["households"]["0501"]
    for _ in range(5):
        _open(kiosk, "0501", "9147")
    db.session.rollback()  # the clerk's client shares this test's app context: drop its old snapshot
    assert "锁定" in _text(clerk_client.get(f"/kiosk-admin/households/{hid}"))
    assert clerk_client.post(f"/kiosk-admin/households/{hid}/unlock").status_code == 302
    assert _open(kiosk).headers["Location"].endswith("/kiosk/home")


def test_only_clerks_manage_the_kiosk(client, auth, seeded):
    auth.login("shouyin")
    hid = seeded["households"]["0501"]
    assert client.get("/kiosk-admin/devices").status_code == 403
    assert client.get(f"/kiosk-admin/households/{hid}").status_code == 403
    assert client.post(f"/kiosk-admin/households/{hid}/card").status_code == 403
    assert client.post("/kiosk-admin/cards", data={"mode": "all"}).status_code == 403


def test_clerk_of_another_village_cannot_touch_these_households(client, auth, make_village, make_user,
                                                                 seeded):
    other = make_village("v2", "二号村")
    make_user("clerk2", ("clerk", other))
    auth.login("clerk2")
    hid = seeded["households"]["0501"]
    assert client.get(f"/kiosk-admin/households/{hid}").status_code == 404
    r = client.post(f"/kiosk-admin/households/{hid}", data={"pin": "4826", "pin2": "4826"})
    assert r.status_code == 404


# --- command line -----------------------------------------------------------------------------------

def test_demo_prints_kiosk_pins_that_open_the_kiosk(app, runner):
    r = runner.invoke(args=["demo", "--households", "8"])
    assert r.exit_code == 0, r.output
    out = runner.invoke(args=["demo", "--print-logins"]).output
    pins = re.findall(r"kiosk PIN for 户号 (\S+): (\d{4,6})", out)
    assert len(pins) == 3
    link = re.search(r"open (/kiosk/enrol/\S+) once", out).group(1)
    app.test_client_class = FreshContextClient
    kiosk = app.test_client()
    assert kiosk.post(link).status_code == 302
    for number, pin in pins:
        assert _open(kiosk, number, pin).headers["Location"].endswith("/kiosk/home"), number
        kiosk.post("/kiosk/finish")
    # running the demo again adds nothing
    runner.invoke(args=["demo"])
    assert db.session.scalar(sa.select(sa.func.count(KioskDevice.id))) == 1


def test_cli_new_device_prints_a_working_enrolment_link(app, runner, village):
    r = runner.invoke(args=["kiosk", "new-device", "--village", "v1", "--name", "村委会大厅"])
    assert r.exit_code == 0, r.output
    path = re.search(r"open (/kiosk/enrol/\S+) once", r.output).group(1)
    c = app.test_client()
    assert c.post(path).status_code == 302
    assert c.get("/kiosk/").status_code == 200
    r = runner.invoke(args=["kiosk", "new-device", "--village", "nope", "--name", "x"])
    assert r.exit_code == 1 and "nope" in r.output


def test_an_entry_off_posting_offers_no_objection(kiosk, seeded):
    _open(kiosk)
    url = f"/kiosk/posting/{seeded['entry_final']}/object"
    html = _text(kiosk.get(url))
    assert "不在公示期内" in html and "提交异议" not in html
    r = kiosk.post(url, data={"reason": "points", "text": ""})
    assert r.status_code == 200 and "公示" in _text(r)
    assert db.session.scalar(sa.select(sa.func.count(Objection.id))) == 0


def test_idle_timer_is_set_on_every_page_but_the_start_page(kiosk, seeded):
    start = _text(kiosk.get("/kiosk/"))
    assert "data-idle-seconds" not in start and 'data-refresh-seconds="1800"' in start
    for path in ("/kiosk/number", "/kiosk/letters", "/kiosk/shop", "/kiosk/rules"):
        assert 'data-idle-seconds="60"' in _text(kiosk.get(path)), path
    assert 'src="/static/kiosk.js"' in start and "<script>" not in start  # the CSP allows no inline script
