"""Shared set-up for the kiosk tests: a seeded village, a PIN, an enrolled kiosk device."""
from __future__ import annotations

import datetime as dt

from app.extensions import db
from app.registry.services import PersonData, add_person
from app.submission import write_transaction

PIN = "2580"
OTHER_PIN = "7391"
#: people of the seeded village: name → (phone, id sequence); the kiosk must never show them in full
PEOPLE = {
    "钱大有": ("13812345678", 11), "孙秀兰": ("13987654321", 12), "周德才": ("13700001111", 13),
    "张世芳": ("13600002222", 14), "张思菲": ("13500003333", 15), "李建国": ("13400004444", 16),
}


def seed(village, make_user, make_household, valid_id) -> dict:
    """Households 0501 (钱大有 + 孙秀兰, PIN 2580, one entry on posting, one final), 0502 (周德才, PIN 7391),
    0503 (张世芳), 0504 (张思菲, other group), 0505 (李建国); a scheme, a shop with goods, users."""
    from app.kiosk import services as ks
    from app.points import services as pts
    from app.registry.services import create_group
    from app.shop import services as shop

    make_user("wenshu", ("clerk", village))
    reviewer = make_user("jiandu", ("reviewer", village))
    cashier = make_user("shouyin", ("cashier", village))
    with write_transaction():
        g1 = create_group(village, "第一村民小组")
        g2 = create_group(village, "第二村民小组")
    homes = {}
    for number, head, members, group in [("0501", "钱大有", [("孙秀兰", "spouse")], g1), ("0502", "周德才", [], g1),
                                         ("0503", "张世芳", [], g1), ("0504", "张思菲", [], g2),
                                         ("0505", "李建国", [], g2)]:
        phone, seq = PEOPLE[head]
        homes[number] = make_household(village, number, head, id_number=valid_id(seq), group=group)
        with write_transaction():
            h = db.session.merge(homes[number])
            h.head.phone = phone
            for name, rel in members:
                p = add_person(h, PersonData(name=name, relation=rel, id_number=valid_id(PEOPLE[name][1])))
                p.phone = PEOPLE[name][0]
    with write_transaction():
        from app.auth.models import User

        clerk = db.session.scalar(db.select(User).where(User.username == "wenshu"))
        reviewer = db.session.merge(reviewer)
        scheme = pts.create_scheme(village, "积分细则")
        cat = pts.create_category(scheme, "环境治理", "add")
        clean = pts.create_item(cat, pts.ItemData(code="A01", text="参加村庄清洁日", points=5, article_ref="村规民约第五条"))
        help_ = pts.create_item(cat, pts.ItemData(code="A02", text="照料独居老人", points=3))
        h1 = db.session.merge(homes["0501"])
        from app.db import local_today

        today = local_today()
        old = pts.record_entry(scheme, clean, h1, occurred_on=today - dt.timedelta(days=40), actor=clerk)
        pts.approve(old, reviewer, today=today - dt.timedelta(days=30))
        fresh = pts.record_entry(scheme, help_, h1, occurred_on=today, actor=clerk)
        pts.approve(fresh, reviewer)
        other = pts.record_entry(scheme, clean, db.session.merge(homes["0502"]), occurred_on=today, actor=clerk)
        pts.approve(other, reviewer)
        # a published 村规民约 whose 第五条 authorises the 清洁日 item (the kiosk links the entry to it)
        from app.rules import services as rules
        from app.rules.models import VersionStatus
        from app.rules.parser import parse_rules

        ruleset = rules.create_ruleset(village, "village_rules", "和美村村规民约")
        version = rules.import_version(ruleset, parse_rules(RULES_TEXT), RULES_TEXT, actor=clerk)
        version.status = VersionStatus.PUBLISHED.value  # the adoption steps are the rules tests' business
        fifth = next(a for a in version.articles if a.label == "第五条")
        rules.set_item_articles(clean, [fifth.id], actor=clerk)
        ks.set_pin(h1, PIN)
        ks.set_pin(db.session.merge(homes["0502"]), OTHER_PIN)
        rice = shop.create_product(village, name="大米", spec="5kg", unit="袋", price_points=10, actor=cashier)
        shop.receive_purchase(rice, 12, "采购", actor=cashier)
        shop.create_product(village, name="肥皂", unit="块", price_points=2, actor=cashier)
    return {"households": {k: v.id for k, v in homes.items()}, "entry_on_posting": fresh.id,
            "entry_final": old.id, "village_id": village.id, "article": fifth.id}


RULES_TEXT = """和美村村规民约
为建设文明和美乡村，经村民会议讨论通过，制定本规约。
第一条 村民应当遵守法律法规。
第二条 爱护公共设施。
第三条 邻里和睦，互帮互助。
第四条 移风易俗，红白事从简。
第五条 每月第一个周六为村庄清洁日，每户至少一人参加。
本规约自村民会议通过之日起施行。"""


def new_device(village, name: str = "村委会大厅") -> tuple[int, str]:
    """Create and enrol a kiosk device; return (device id, token)."""
    from app.kiosk import services as ks

    with write_transaction():
        device, code = ks.create_device(village, name)
        device, token = ks.enrol_device(code)
    return device.id, token


def device_cookie(app, device_id: int, token: str) -> str:
    from itsdangerous import URLSafeSerializer

    signer = URLSafeSerializer(app.config["SECRET_KEY"], salt="kiosk-device")
    return signer.dumps({"d": device_id, "t": token})


def enable_client(client, app, village) -> int:
    """Make a test client a kiosk of `village`; return the device id."""
    device_id, token = new_device(village)
    client.set_cookie("xy_kiosk_device", device_cookie(app, device_id, token), path="/kiosk")
    return device_id


def open_household(client, number: str = "0501", pin: str = PIN):
    """Type the 户号 and the PIN at the kiosk; return the PIN page's answer (a redirect home when right)."""
    r = client.post("/kiosk/number", data={"number": number})
    assert r.status_code == 302 and r.headers["Location"].endswith("/kiosk/pin")
    return client.post("/kiosk/pin", data={"pin": pin})


def copy_cookies(client, app) -> dict[str, str]:
    """What someone copying the kiosk browser's cookies would take: the session and the device cookie."""
    session = client.get_cookie(app.config["SESSION_COOKIE_NAME"], path="/")
    device = client.get_cookie("xy_kiosk_device", path="/kiosk")
    assert session is not None and device is not None
    return {"session": session.value, "device": device.value}


def replay(app, cookies: dict[str, str]):
    """A new browser of `app` carrying copied cookies (a fresh one per replay: a refusal rewrites them)."""
    client = app.test_client()
    client.set_cookie(app.config["SESSION_COOKIE_NAME"], cookies["session"], path="/")
    client.set_cookie("xy_kiosk_device", cookies["device"], path="/kiosk")
    return client
