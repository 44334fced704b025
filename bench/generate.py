"""Benchmark data: one large village with years of monthly activity, and a county of smaller villages.

    python -m bench.generate --scale full                 # 2,000 households, 10 years, ~1,000,000 transfers
    python -m bench.generate --scale quick                # the same village, one year (for make bench-quick)
    python -m bench.generate --scale 10k                  # the same village with ~10,000 transfers (kiosk 10k vs 1M)
    python -m bench.generate --scale full --county        # + 200 villages × 500 households, one year each
    python -m bench.generate --db postgresql+psycopg://…  # into PostgreSQL instead of bench/data/*.db

Registry rows go through the registry's own bulk path (bulk_create_households); points entries,
transfers, redemptions and stock movements are inserted in batches (Core executemany, ~10k rows a
statement) because 1,000,000 post_transfer calls would take hours. The bulk rows are built to satisfy
the ledger invariants that `flask ledger check` proves: every transfer is issuance→household (earn),
household→issuance (deduct, at most the balance: 扣完为止), household→shop (redeem, only when the balance
covers it) or household→expired (year-end expiry); keys are unique; balances are then set from the
sums of the transfers in one statement and compared with the balances simulated here.

Resumable: each step (setup, register, each village-year) runs in one transaction that also writes its
row in `bench_progress`; an interrupted run loses at most the step it was in, and a second run adds
nothing. Append-only triggers stay in place (only INSERTs touch the ledger).
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import random
import sys
import time
from dataclasses import dataclass, field, replace
from typing import Callable

import sqlalchemy as sa

from .common import BENCH_PASSWORD, pg_url, sqlite_url


@dataclass(frozen=True)
class Scale:
    """How much data one village gets (and the county, when asked for)."""

    households: int = 2000
    people: int = 7000
    years: int = 10
    #: point entries per household and month, on average (≈8 % deductions)
    entries_per_month: float = 3.6
    deduct_share: float = 0.08
    #: redemptions per household and month, on average
    redemptions_per_month: float = 0.45
    #: share of households whose balance expires at a year end (a scheme that clears)
    expiry_share: float = 0.02
    products: int = 200
    #: rule articles for the rules booklet (hook: the rules models are on another branch)
    articles: int = 300
    county_villages: int = 200
    county_households: int = 500
    county_years: int = 1


SCALES = {
    "full": Scale(),
    "quick": Scale(years=1),
    # the same village with ~10,000 transfers: the kiosk figure compares it with "full" (≤ 1.2× apart)
    "10k": Scale(years=1, entries_per_month=0.45, redemptions_per_month=0.04),
    # tests: seconds on either database
    "tiny": Scale(households=5, people=15, years=2, products=6, articles=10, county_villages=2,
                  county_households=3),
}

MAIN_VILLAGE = "bench"
GROUPS = ["第一村民小组", "第二村民小组", "第三村民小组", "第四村民小组", "第五村民小组", "第六村民小组",
          "第七村民小组", "第八村民小组"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国志红玉梅文斌宇浩凯鹏飞云春德福荣海林"
GOODS = [("大米", "袋", ["5kg", "10kg", "25kg"]), ("面粉", "袋", ["2.5kg", "5kg"]), ("食用油", "桶", ["1.8L", "5L"]),
         ("洗衣粉", "袋", ["500g", "1kg", "2kg"]), ("洗洁精", "瓶", ["500g", "1.5kg"]), ("毛巾", "条", ["大", "小"]),
         ("牙膏", "支", ["90g", "140g"]), ("香皂", "块", ["100g"]), ("酱油", "瓶", ["500ml", "1L"]),
         ("醋", "瓶", ["500ml"]), ("食盐", "袋", ["400g"]), ("白糖", "袋", ["500g", "1kg"]),
         ("鸡蛋", "盒", ["10枚", "30枚"]), ("挂面", "把", ["500g", "1kg"]), ("卫生纸", "提", ["10卷", "12卷"]),
         ("电池", "板", ["5号", "7号"]), ("暖水瓶", "个", ["2L", "3.2L"]), ("脸盆", "个", ["大", "中", "小"]),
         ("拖把", "把", ["棉线", "胶棉"]), ("扫帚", "把", ["竹", "塑料"]), ("雨伞", "把", ["折叠", "长柄"]),
         ("水杯", "个", ["玻璃", "不锈钢"]), ("作业本", "本", ["16K", "32K"]), ("铅笔", "盒", ["HB", "2B"]),
         ("袜子", "双", ["男", "女", "童"]), ("手套", "副", ["劳保", "棉"]), ("肥皂", "块", ["洗衣"]),
         ("花生油", "桶", ["900ml", "5L"]), ("小米", "袋", ["1kg", "2.5kg"]), ("绿豆", "袋", ["500g", "1kg"])]
REGION = "410523"


# --- progress: which steps are done ------------------------------------------------------------------

_progress_md = sa.MetaData()
progress = sa.Table(
    "bench_progress", _progress_md,
    sa.Column("step", sa.String(64), primary_key=True),
    sa.Column("detail", sa.String(200)),
    sa.Column("done_at", sa.String(32)),
)


def _done(step: str) -> bool:
    from app.extensions import db

    return db.session.scalar(sa.select(progress.c.step).where(progress.c.step == step)) is not None


def _mark(step: str, detail: str = "") -> None:
    from app.extensions import db

    db.session.execute(progress.insert().values(step=step, detail=detail[:200],
                                                done_at=dt.datetime.now(dt.timezone.utc).isoformat()[:32]))


def _say(msg: str) -> None:
    print(msg, flush=True)


#: optional generator steps that need models from other branches: name → (available?, run(village, scale))
#: e.g. the rule set: register ("rules", (lambda: importable("app.rules.models"), generate_rules)) there.
EXTRA_STEPS: dict[str, tuple[Callable[[], bool], Callable]] = {}


def _rules_available() -> bool:
    try:
        import app.rules.models  # noqa: F401
    except ImportError:
        return False
    return True


RULE_TOPICS = ["总则", "村务管理", "社会治安", "消防安全", "村容村貌", "环境卫生", "生态保护", "土地管理",
               "婚姻家庭", "邻里关系", "移风易俗", "尊老爱幼", "教育文化", "卫生健康", "集体经济", "公益事业",
               "积分管理", "幸福超市", "奖励与惩戒", "附则"]
RULE_CLAUSES = ["村民应当自觉遵守国家法律法规和本规约", "爱护道路、路灯、水利等公共设施，不得私占或损毁",
                "发现违法犯罪线索及时向村委会或公安机关报告", "家庭矛盾和邻里纠纷先行协商，协商不成的由村调解委员会调解",
                "红白喜事从简办理，不大操大办，不铺张浪费", "生活垃圾分类投放，不乱堆乱放，不焚烧秸秆",
                "子女应当履行赡养义务，不得虐待、遗弃老人", "按时参加村民会议和村民小组会议，积极建言献策",
                "积分按季度评议、公示，公示期内村民可以提出异议", "违反本规约第三条规定的，由村委会批评教育并扣减积分"]


def cn_number(n: int) -> str:
    """1 → 一, 12 → 十二, 105 → 一百零五, 300 → 三百 (as real rule texts number their articles)."""
    digits = "零一二三四五六七八九"
    if n < 10:
        return digits[n]
    if n < 20:
        return "十" + (digits[n % 10] if n % 10 else "")
    if n < 100:
        return digits[n // 10] + "十" + (digits[n % 10] if n % 10 else "")
    rest = n % 100
    head = digits[n // 100] + "百"
    if rest == 0:
        return head
    if rest < 10:
        return head + "零" + digits[rest]
    return head + (digits[rest // 10] + "十" + (digits[rest % 10] if rest % 10 else ""))


def rule_text(articles: int, seed: int = 11) -> str:
    """A 村规民约 of `articles` articles in chapters of about 15, with sub-items now and then."""
    rng = random.Random(seed)
    lines = ["示范村村规民约（基准测试）",
             "为推进村民自治，建设文明和美乡村，根据《中华人民共和国村民委员会组织法》等法律法规，"
             "结合本村实际，经村民会议讨论通过，制定本规约。"]
    chapters = max(1, round(articles / 15))
    n = 0
    for c in range(chapters):
        lines.append(f"第{cn_number(c + 1)}章 {RULE_TOPICS[c % len(RULE_TOPICS)]}")
        share = articles // chapters + (1 if c < articles % chapters else 0)
        for _ in range(share):
            n += 1
            body = "；".join(rng.sample(RULE_CLAUSES, rng.randint(1, 3))) + "。"
            lines.append(f"第{cn_number(n)}条 {body}")
            if rng.random() < 0.15:
                lines += [f"（{cn_number(k + 1)}）{rng.choice(RULE_CLAUSES)}；" for k in range(rng.randint(2, 4))]
    lines.append("本规约经村民会议通过之日起施行，由村民委员会负责解释。")
    return "\n".join(lines)


def generate_rules(village, scale: Scale) -> str:
    """A published rule set of `scale.articles` articles with its adoption steps (the booklet figure)."""
    from app.rules import services as rules
    from app.rules.parser import parse_rules

    text = rule_text(scale.articles)
    parsed = parse_rules(text)
    rs = rules.create_ruleset(village, "village_rules", f"{village.name}村规民约")
    v = rules.import_version(rs, parsed, text)
    d = dt.date(2025, 3, 1)
    rules.record_step(v, "proposal", held_on=d, body="村党支部委员会")
    rules.record_step(v, "two_committees", held_on=d + dt.timedelta(days=7), body="村两委联席会议", eligible=9,
                      present=9, votes_yes=9)
    rules.record_step(v, "party_meeting", held_on=d + dt.timedelta(days=14), body="村党员大会", eligible=60,
                      present=50, votes_yes=48, votes_abstain=2)
    rules.record_step(v, "legal_review", held_on=d + dt.timedelta(days=20), body="镇人民政府", approved=True)
    rules.record_step(v, "assembly", held_on=d + dt.timedelta(days=28), body="村民代表会议",
                      assembly_kind="representatives", eligible=60, present=52, women_present=18, votes_yes=50,
                      votes_no=1, votes_abstain=1)
    v.effective_on = d + dt.timedelta(days=28)
    rules.advance(v, "adopted")
    rules.record_step(v, "resolution_public", held_on=d + dt.timedelta(days=29), body="村务公开栏")
    rules.record_step(v, "filing", held_on=d + dt.timedelta(days=35), body="镇人民政府")
    rules.advance(v, "published")
    return f"rule set: {len(parsed.articles)} articles, version {v.id}"


EXTRA_STEPS["rules"] = (_rules_available, generate_rules)


# --- batching -------------------------------------------------------------------------------------------

BATCH = 10_000


def _insert(table: sa.Table, rows: list[dict]) -> None:
    """Insert rows in the session's transaction: COPY on PostgreSQL, else executemany of BATCH rows."""
    from app.extensions import db

    if not rows:
        return
    conn = db.session.connection()
    if conn.dialect.name == "postgresql":
        # COPY is ~10× faster than executemany here; psycopg adapts the Python values itself
        cols = list(rows[0])
        raw = conn.connection.driver_connection
        with raw.cursor() as cur, cur.copy(f'COPY "{table.name}" ({", ".join(cols)}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row([row[c] for c in cols])
        return
    for i in range(0, len(rows), BATCH):
        conn.execute(table.insert(), rows[i:i + BATCH])


def _reserve(table: sa.Table, n: int) -> int:
    """The first of n consecutive new ids of `table` (the generator is the only writer meanwhile)."""
    from app.extensions import db

    if n <= 0:
        return 0
    conn = db.session.connection()
    if conn.dialect.name == "postgresql":
        seq = conn.scalar(sa.text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table.name})
        first = conn.scalar(sa.text("SELECT nextval(:s)"), {"s": seq})
        conn.execute(sa.text("SELECT setval(:s, :v)"), {"s": seq, "v": first + n - 1})
        return int(first)
    return int(conn.scalar(sa.select(sa.func.max(table.c.id))) or 0) + 1


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


# --- the village's fixed parts ----------------------------------------------------------------------------

@dataclass
class VillageState:
    village_id: int
    code: str
    scheme_id: int
    #: (id, code, text, category name, points, article_ref, applies_to)
    adds: list[tuple] = field(default_factory=list)
    deducts: list[tuple] = field(default_factory=list)
    #: (id, name, spec, price)
    products: list[tuple] = field(default_factory=list)
    clerk_id: int | None = None
    reviewer_id: int | None = None
    cashier_id: int | None = None
    issuance: int = 0
    shop: int = 0
    expired: int = 0


def _users(village, main: bool) -> None:
    """Logins for the benchmark: a clerk, a reviewer and 16 cashiers (main village); known password."""
    from app.auth.models import User
    from app.auth.services import create_user, grant
    from app.extensions import db

    names = [("clerk", "clerk"), ("reviewer", "reviewer")]
    if main:
        names += [(f"cashier{i:02d}", "cashier") for i in range(1, 17)]
    else:
        names += [("cashier", "cashier")]
    for suffix, role in names:
        username = f"{village.code}-{suffix}"
        user = db.session.scalar(sa.select(User).where(User.username == username))
        if user is None:
            user = create_user(username, BENCH_PASSWORD, username)
            grant(user, role, village=village)


def _setup_village(code: str, name: str, scale: Scale, rng: random.Random, township=None, main: bool = True):
    """Village, groups, users, the points scheme and the shop's products, once."""
    from app.extensions import db
    from app.ledger import services as ledger
    from app.ledger.models import AccountKind
    from app.points import services as pts
    from app.points.demo import CATALOGUE
    from app.registry.models import Village
    from app.registry.services import create_group, create_village
    from app.shop import services as shop

    village = db.session.scalar(sa.select(Village).where(Village.code == code))
    if village is None:
        village = create_village(code, name, township)
    for gname in GROUPS[: max(1, min(len(GROUPS), scale.households // 250 or 1))]:
        create_group(village, gname, "group", rng.choice(SURNAMES) + rng.choice(GIVEN))
    _users(village, main)
    scheme = pts.create_scheme(village, f"{name}积分管理细则", star_bands="60:1,120:2,200:3,300:4,400:5")
    for sort, (cat_name, direction, rows) in enumerate(CATALOGUE):
        cat = pts.create_category(scheme, cat_name, direction, sort)
        for icode, text, points, unit, _cap_period, _cap, applies, article in rows:
            # no caps: generated activity is not checked against them, so none are promised
            pts.create_item(cat, pts.ItemData(code=icode, text=text, points=points, unit=unit, cap_period="none",
                                              cap_points=None, applies_to=applies, article_ref=article))
    for kind in (AccountKind.ISSUANCE, AccountKind.SHOP, AccountKind.EXPIRED):
        ledger.system_account(village.id, kind)
    made = 0
    for rnd in range(1, 100):
        for gname, unit, specs in GOODS:
            for spec in specs:
                if made >= scale.products:
                    return village
                label = gname if rnd == 1 else f"{gname}（{rnd}号）"
                if shop._name_taken(village.id, label, spec):
                    made += 1
                    continue
                p = shop.create_product(village, name=label, spec=spec, unit=unit,
                                        price_points=rng.choice([2, 3, 5, 8, 10, 12, 15, 20, 30, 50]),
                                        category=gname)
                shop.receive_purchase(p, 500, "开业采购")
                made += 1
    return village


def _people_for(n_households: int, n_people: int, rng: random.Random) -> list[int]:
    """Household sizes that add up to n_people (each at least 1)."""
    sizes = [1] * n_households
    for _ in range(max(0, n_people - n_households)):
        sizes[rng.randrange(n_households)] += 1
    return sizes


def _register(village, n_households: int, n_people: int, rng: random.Random, number_prefix: str = "") -> None:
    """Households and people through the registry's bulk path (history and audit rows included)."""
    from app.extensions import db
    from app.registry.identity import make_test_id
    from app.registry.models import Relation, VillagerGroup
    from app.registry.services import NewHousehold, PersonData, bulk_create_households

    groups = list(db.session.scalars(sa.select(VillagerGroup).where(VillagerGroup.village_id == village.id)
                                     .order_by(VillagerGroup.id)))
    used: set[str] = set()

    def person(relation: str, born_lo: int, born_hi: int, surname: str) -> PersonData:
        female = rng.random() < 0.5
        born = dt.date(rng.randint(born_lo, born_hi), rng.randint(1, 12), rng.randint(1, 28))
        idn = None
        if rng.random() < 0.6:
            for _ in range(50):
                cand = make_test_id(REGION, born, rng.randrange(0, 500) * 2 + (0 if female else 1))
                if cand not in used:
                    used.add(cand)
                    idn = cand
                    break
        name = surname + rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.7 else "")
        return PersonData(name=name, relation=relation, sex="female" if female else "male", birth_date=born,
                          id_number=idn)

    sizes = _people_for(n_households, n_people, rng)
    batch: list[NewHousehold] = []
    for i, size in enumerate(sizes):
        surname = rng.choice(SURNAMES)
        head = person(Relation.HEAD.value, 1945, 1990, surname)
        members = []
        for k in range(size - 1):
            rel = [Relation.SPOUSE, Relation.CHILD, Relation.CHILD, Relation.PARENT, Relation.GRANDCHILD][k % 5]
            lo, hi = {Relation.SPOUSE: (1945, 1992), Relation.CHILD: (1975, 2020),
                      Relation.PARENT: (1925, 1960), Relation.GRANDCHILD: (2005, 2024)}[rel]
            members.append(person(rel.value, lo, hi, surname))
        group = groups[i % len(groups)] if groups else None
        batch.append(NewHousehold(number=f"{number_prefix}{i + 1:05d}", head=head, members=members, group=group,
                                  address=f"{group.name if group else ''}{rng.randint(1, 200)}号", tags=[]))
        if len(batch) == 500:
            bulk_create_households(village, batch, effective=dt.date(2015, 1, 1))
            batch = []
    if batch:
        bulk_create_households(village, batch, effective=dt.date(2015, 1, 1))


def _household_accounts(village_id: int) -> None:
    """One account per household that has none yet, in one executemany."""
    from app.extensions import db
    from app.ledger.models import Account
    from app.registry.models import Household

    missing = list(db.session.scalars(
        sa.select(Household.id).where(Household.village_id == village_id)
        .where(~sa.exists().where(Account.household_id == Household.id)).order_by(Household.id)))
    _insert(Account.__table__, [{"village_id": village_id, "kind": "household", "household_id": hid,
                                 "system_key": None, "allow_negative": False, "balance": 0,
                                 "created_at": dt.datetime(2015, 1, 1)} for hid in missing])


def _state(village) -> VillageState:
    from app.auth.models import User
    from app.extensions import db
    from app.ledger.models import Account
    from app.points.models import PointCategory, PointItem, PointScheme
    from app.shop.models import Product

    scheme = db.session.scalar(sa.select(PointScheme).where(PointScheme.village_id == village.id))
    st = VillageState(village_id=village.id, code=village.code, scheme_id=scheme.id)
    for item, cat_name in db.session.execute(
            sa.select(PointItem, PointCategory.name).join(PointCategory, PointCategory.id == PointItem.category_id)
            .where(PointItem.scheme_id == scheme.id).order_by(PointItem.id)):
        row = (item.id, item.code, item.text, cat_name, item.points, item.article_ref, item.applies_to)
        (st.adds if item.points > 0 else st.deducts).append(row)
    st.products = [tuple(r) for r in db.session.execute(
        sa.select(Product.id, Product.name, Product.spec, Product.price_points)
        .where(Product.village_id == village.id).order_by(Product.id))]
    users = dict(db.session.execute(sa.select(User.username, User.id)
                                    .where(User.username.like(f"{village.code}-%"))).all())
    st.clerk_id = users.get(f"{village.code}-clerk")
    st.reviewer_id = users.get(f"{village.code}-reviewer")
    st.cashier_id = users.get(f"{village.code}-cashier01") or users.get(f"{village.code}-cashier")
    for kind, acct_id in db.session.execute(sa.select(Account.system_key, Account.id).where(
            Account.village_id == village.id, Account.system_key.is_not(None))):
        setattr(st, kind, acct_id)
    return st


# --- one village-year of activity --------------------------------------------------------------------------

LOCAL_OFFSET = dt.timedelta(hours=8)  # Asia/Shanghai, no DST


def _utc(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute)) - LOCAL_OFFSET


def _poisson(rng: random.Random, mean: float) -> int:
    """A small Poisson draw (Knuth), enough for a few events a month."""
    import math

    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _year(st: VillageState, year: int, scale: Scale, rng: random.Random, today: dt.date) -> dict:
    """Insert one year of entries, transfers, redemptions, stock movements and expiries; set balances."""
    from app.extensions import db
    from app.ledger.models import Account, Transfer
    from app.points.models import PointEntry, YearScore
    from app.registry.models import Household, Person
    from app.shop.models import Product, Redemption, RedemptionLine, StockMovement

    vid = st.village_id
    accounts = dict(db.session.execute(sa.select(Account.household_id, Account.id).where(
        Account.village_id == vid, Account.household_id.is_not(None))).all())
    balance = dict(db.session.execute(sa.select(Account.id, Account.balance).where(
        Account.village_id == vid, Account.household_id.is_not(None))).all())
    members: dict[int, list[int]] = {}
    heads = dict(db.session.execute(sa.select(Household.id, Household.head_id)
                                    .where(Household.village_id == vid)).all())
    for pid, hid in db.session.execute(sa.select(Person.id, Person.household_id).where(Person.village_id == vid)
                                       .order_by(Person.id)):
        members.setdefault(hid, []).append(pid)
    households = sorted(accounts)
    stock = dict(db.session.execute(sa.select(Product.id, Product.stock).where(Product.village_id == vid)).all())

    entries: list[dict] = []
    transfers: list[dict] = []
    redemptions: list[dict] = []
    lines: list[dict] = []
    movements: list[dict] = []
    scores: dict[int, int] = {h: 0 for h in households}
    last_month = 12 if year < today.year else today.month
    # one restock per product at the start of the year, so the shelves never run dry
    for pid in sorted(stock):
        movements.append({"village_id": vid, "product_id": pid, "qty": 400, "kind": "purchase",
                          "reason": f"{year}年度采购", "ref_type": None, "ref_id": None,
                          "created_by_id": st.cashier_id, "created_at": _utc(dt.date(year, 1, 2), 9)})
        stock[pid] += 400

    # ids are reserved after counting, so first collect "events" per household-month in order
    plan: list[tuple] = []  # ("e", hid, day, item, person) | ("r", hid, day, product, qty, person)
    for month in range(1, last_month + 1):
        days_in = (dt.date(year + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)).day
        if year == today.year and month == today.month:
            days_in = max(1, today.day - 1)
        for hid in households:
            evs = []
            for _ in range(_poisson(rng, scale.entries_per_month)):
                item = rng.choice(st.deducts) if rng.random() < scale.deduct_share else rng.choice(st.adds)
                person = heads[hid] if item[6] == "household" else rng.choice(members[hid])
                evs.append((rng.randint(1, days_in), "e", item, person))
            for _ in range(_poisson(rng, scale.redemptions_per_month)):
                evs.append((rng.randint(1, days_in), "r", rng.choice(st.products), rng.choice(members[hid])))
            evs.sort(key=lambda e: (e[0], e[1]))
            for day, kind, what, person in evs:
                plan.append((kind, hid, dt.date(year, month, day), what, person))

    n_entries = sum(1 for p in plan if p[0] == "e")
    entry_id = _reserve(PointEntry.__table__, n_entries)
    # transfers at most: one per entry, one per redemption, one expiry per household
    transfer_id = _reserve(Transfer.__table__, len(plan) + len(households))
    first_transfer = transfer_id
    redemption_id = _reserve(Redemption.__table__, len(plan) - n_entries)
    receipt_seq = 0
    for kind, hid, day, what, person in plan:
        acct = accounts[hid]
        bal = balance[acct]
        if kind == "e":
            iid, icode, itext, cat, points, article, _applies = what
            reviewed = day + dt.timedelta(days=1 + (hid + day.day) % 3)
            reviewed = min(reviewed, today)
            until = reviewed + dt.timedelta(days=6)
            tid = None
            if points > 0:
                applied = points
                tid = transfer_id
                transfers.append(_transfer(vid, tid, st.issuance, acct, points, "earn", entry_id, person,
                                           f"entry:{entry_id}:approve", icode, st.reviewer_id, _utc(reviewed, 10)))
            else:
                take = min(-points, bal)
                applied = -take
                if take:
                    tid = transfer_id
                    transfers.append(_transfer(vid, tid, acct, st.issuance, take, "deduct", entry_id, person,
                                               f"entry:{entry_id}:approve", icode, st.reviewer_id,
                                               _utc(reviewed, 10)))
            if tid is not None:
                transfer_id += 1
            balance[acct] = bal + applied
            scores[hid] += points
            entries.append({
                "id": entry_id, "village_id": vid, "scheme_id": st.scheme_id, "item_id": iid, "household_id": hid,
                "person_id": person, "item_code": icode, "item_text": itext, "category_name": cat,
                "article_ref": article, "points": points, "applied_points": applied, "occurred_on": day,
                "year": year, "note": None, "source": "manual", "source_ref": None, "evidence_file": None,
                "batch_key": None, "status": "final" if until < today else "posted",
                "recorded_by_id": st.clerk_id, "recorded_at": _utc(day, 9, 30), "reviewed_by_id": st.reviewer_id,
                "reviewed_at": _utc(reviewed, 10), "review_note": None, "posted_on": reviewed,
                "posting_until": until, "transfer_id": None, "corrects_entry_id": None,
                "idempotency_key": f"bench:{year}:{entry_id}"})
            entry_id += 1
        else:
            pid, pname, spec, price = what
            qty = min(3, bal // price, stock[pid])
            if qty < 1:
                continue
            qty = rng.randint(1, qty)
            total = price * qty
            receipt_seq += 1
            key = f"bench-{year}-{receipt_seq}"
            tid = transfer_id
            transfer_id += 1
            at = _utc(day, 15, receipt_seq % 60)
            transfers.append(_transfer(vid, tid, acct, st.shop, total, "redeem", None, person, f"redeem:{key}",
                                       None, st.cashier_id, at, source="redemption", source_ref=key))
            redemptions.append({
                "id": redemption_id, "village_id": vid, "household_id": hid, "person_id": person,
                "receipt_no": f"{st.code}-{year}-{receipt_seq:06d}", "total_points": total, "balance_before": bal,
                "balance_after": bal - total, "transfer_id": tid, "status": "completed", "cancelled_at": None,
                "cancelled_by_id": None, "cancel_reason": None, "cancel_transfer_id": None,
                "idempotency_key": key, "payload_hash": _key_hash(key), "created_by_id": st.cashier_id,
                "created_at": at})
            lines.append({"village_id": vid, "redemption_id": redemption_id, "product_id": pid, "name": pname,
                          "spec": spec, "qty": qty, "unit_price": price, "points": total})
            movements.append({"village_id": vid, "product_id": pid, "qty": -qty, "kind": "redemption_out",
                              "reason": None, "ref_type": "redemption", "ref_id": redemption_id,
                              "created_by_id": st.cashier_id, "created_at": at})
            redemption_id += 1
            stock[pid] -= qty
            balance[acct] = bal - total

    expired: dict[int, int] = {}
    if year < today.year:
        close_day = dt.date(year, 12, 31)
        for hid in households:
            acct = accounts[hid]
            if balance[acct] > 0 and rng.random() < scale.expiry_share:
                left = balance[acct]
                while left > 0:  # one transfer moves at most MAX_TRANSFER
                    part = min(left, 100_000)
                    suffix = "" if left == balance[acct] else f":{left}"
                    transfers.append(_transfer(vid, transfer_id, acct, st.expired, part, "expire", None, None,
                                               f"yearclose:{st.scheme_id}:{year}:{hid}{suffix}", str(year), None,
                                               _utc(close_day, 23), source="year_end"))
                    transfer_id += 1
                    left -= part
                expired[hid] = balance[acct]
                balance[acct] = 0

    tick = _Ticks()
    _insert(PointEntry.__table__, entries)
    from app.points.services import rebuild_year_totals

    # the rankings read the year totals the points services keep; entries inserted in bulk need theirs set
    rebuild_year_totals(vid, year)
    tick("entries")
    _insert(Transfer.__table__, transfers)
    _insert(Redemption.__table__, redemptions)
    _insert(RedemptionLine.__table__, lines)
    _insert(StockMovement.__table__, movements)
    tick("transfers, redemptions, movements")
    conn = db.session.connection()
    if conn.dialect.name == "postgresql" and transfer_id > first_transfer:
        # hand the unused reserved ids back is impossible; move the sequence past what was used
        conn.execute(sa.text("SELECT setval(pg_get_serial_sequence('transfers', 'id'), "
                             "(SELECT max(id) FROM transfers))"))
    t = Transfer.__table__
    pe = PointEntry.__table__
    # each entry names the transfer that carried it out (rows of transfers are never updated)
    conn.execute(pe.update().where(pe.c.village_id == vid, pe.c.year == year, pe.c.transfer_id.is_(None),
                                   pe.c.applied_points != 0)
                 .values(transfer_id=sa.select(t.c.id).where(t.c.entry_id == pe.c.id,
                                                             t.c.code.in_(("earn", "deduct"))).scalar_subquery()))
    tick("entry → transfer links")
    # balances from the sums, in one statement, then compared with the simulation
    a = Account.__table__
    credits = sa.select(sa.func.coalesce(sa.func.sum(t.c.amount), 0)).where(t.c.credit_account_id == a.c.id)
    debits = sa.select(sa.func.coalesce(sa.func.sum(t.c.amount), 0)).where(t.c.debit_account_id == a.c.id)
    conn.execute(a.update().where(a.c.village_id == vid)
                 .values(balance=credits.scalar_subquery() - debits.scalar_subquery()))
    stored = dict(conn.execute(sa.select(a.c.id, a.c.balance).where(a.c.village_id == vid,
                                                                      a.c.household_id.is_not(None))).all())
    if stored != balance:
        wrong = [k for k in balance if stored.get(k) != balance[k]][:5]
        raise RuntimeError(f"generated balances differ from the transfer sums for accounts {wrong}")
    tick("balances")
    p, m = Product.__table__, StockMovement.__table__
    conn.execute(p.update().where(p.c.village_id == vid).values(
        stock=sa.select(sa.func.coalesce(sa.func.sum(m.c.qty), 0)).where(m.c.product_id == p.c.id)
        .scalar_subquery()))
    if year < today.year:
        ranked = sorted(households, key=lambda h: -scores[h])
        ranks, prev, rank = {}, None, 0
        for pos, hid in enumerate(ranked, start=1):
            if scores[hid] != prev:
                rank, prev = pos, scores[hid]
            ranks[hid] = rank
        from app.points.models import PointScheme

        scheme = db.session.get(PointScheme, st.scheme_id)
        _insert(YearScore.__table__, [{
            "village_id": vid, "scheme_id": st.scheme_id, "year": year, "household_id": hid, "score": scores[hid],
            "stars": scheme.stars_for(scores[hid]), "rank_village": ranks[hid],
            "balance_at_close": balance[accounts[hid]] + expired.get(hid, 0), "expired_points": expired.get(hid, 0),
            "closed_at": _utc(dt.date(year, 12, 31), 23, 30)} for hid in households])
    tick("stock, year scores")
    return {"entries": len(entries), "transfers": len(transfers), "redemptions": len(redemptions),
            "timing": tick.text()}


class _Ticks:
    """Seconds per phase of a step, for the progress line."""

    def __init__(self) -> None:
        self.t = time.perf_counter()
        self.parts: list[str] = []

    def __call__(self, what: str) -> None:
        now = time.perf_counter()
        self.parts.append(f"{what} {now - self.t:.1f} s")
        self.t = now

    def text(self) -> str:
        return ", ".join(self.parts)


def _transfer(vid, tid, debit, credit, amount, code, entry_id, person_id, key, memo, actor, at, *,
              source="manual", source_ref=None) -> dict:
    return {"id": tid, "village_id": vid, "debit_account_id": debit, "credit_account_id": credit, "amount": amount,
            "code": code, "entry_id": entry_id, "person_id": person_id, "source": source, "source_ref": source_ref,
            "memo": memo, "idempotency_key": key, "payload_hash": _key_hash(key), "reverses_transfer_id": None,
            "created_by_id": actor, "created_at": at}


# --- driving it ----------------------------------------------------------------------------------------

def _step(step: str, fn: Callable[[], str | None]) -> bool:
    """Run fn in one write transaction with its progress row, unless it is done already."""
    from app.extensions import begin_write, db

    begin_write()
    if _done(step):
        db.session.rollback()
        return False
    t0 = time.perf_counter()
    detail = fn() or ""
    _mark(step, detail)
    db.session.commit()
    _say(f"  {step}: {detail} ({time.perf_counter() - t0:.1f} s)")
    return True


def _years(scale_years: int, today: dt.date) -> list[int]:
    return list(range(today.year - scale_years + 1, today.year + 1))


def generate_village(code: str, name: str, scale: Scale, *, households: int, people: int, years: int,
                     seed: int, today: dt.date, township_code: str | None = None, main: bool = True,
                     number_prefix: str = "") -> int:
    """Build (or finish building) one village; return how many steps ran now."""
    from app.extensions import db
    from app.registry.models import Township, Village
    from app.registry.services import create_township

    ran = 0
    rng = random.Random(f"{seed}:{code}")

    def setup():
        township = None
        if township_code:
            township = db.session.scalar(sa.select(Township).where(Township.code == township_code)) \
                or create_township(township_code, f"{township_code}镇")
        _setup_village(code, name, replace(scale, households=households), rng, township, main)
        return f"village {code}"

    ran += _step(f"{code}:setup", setup)
    village = db.session.scalar(sa.select(Village).where(Village.code == code))

    def register():
        _register(village, households, people, rng, number_prefix)
        _household_accounts(village.id)
        return f"{households} households, {people} people"

    ran += _step(f"{code}:register", register)
    for year in _years(years, today):
        def one_year(year=year):
            st = _state(village)
            counts = _year(st, year, scale, random.Random(f"{seed}:{code}:{year}"), today)
            timing = counts.pop("timing")
            from app.audit.services import record

            record("bench.generate", village, village_id=village.id, details={"year": year, **counts})
            return f"{counts['entries']} entries, {counts['transfers']} transfers, " \
                   f"{counts['redemptions']} redemptions [{timing}]"
        ran += _step(f"{code}:year:{year}", one_year)
    if main:
        for extra, (available, fn) in EXTRA_STEPS.items():
            if available():
                ran += _step(f"{code}:{extra}", lambda fn=fn: fn(village, scale))
            else:
                _say(f"  {code}:{extra}: skipped (not available on this branch)")
    return ran


def generate(app, scale: Scale, *, county: bool = False, seed: int = 20261126,
             today: dt.date | None = None) -> int:
    """Migrate the database, then build the main village (and the county); return the steps run now."""
    from flask import g
    from flask_migrate import upgrade

    from app.db import local_today
    from app.extensions import db

    today = today or local_today()
    with app.app_context():
        upgrade()
        _progress_md.create_all(db.engine, checkfirst=True)
    ran = 0
    with app.app_context():
        g.cli_actor = "bench"
        _say(f"village {MAIN_VILLAGE}: {scale.households} households, {scale.years} years")
        ran += generate_village(MAIN_VILLAGE, "基准测试村", scale, households=scale.households, people=scale.people,
                                years=scale.years, seed=seed, today=today, main=True)
        if county:
            n = scale.county_villages
            per = scale.county_households
            _say(f"county: {n} villages × {per} households, {scale.county_years} year(s)")
            for i in range(1, n + 1):
                ran += generate_village(f"c{i:03d}", f"县{i:03d}村", scale, households=per, people=per * 7 // 2,
                                        years=scale.county_years, seed=seed, today=today,
                                        township_code=f"t{(i - 1) // 20 + 1:02d}", main=False)
                if i % 10 == 0 or i == n:
                    _say(f"county: {i}/{n} villages")
        db.session.remove()
        _analyze_postgresql(force=ran > 0)
    return ran


def _analyze_postgresql(force: bool) -> None:
    """ANALYZE after a bulk load on PostgreSQL, as autovacuum would soon do on a real server.

    Without statistics the planner took ix_point_entries_status (all 856,000 rows) for a household's
    year score: 100 ms instead of 0.3 ms. (Our test server runs with autovacuum off.) SQLite is left as a
    village PC leaves it: it never analyzes by itself, and the app's queries must cope with that.
    """
    from app.extensions import db

    if db.engine.dialect.name != "postgresql":
        return
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        never = conn.scalar(sa.text("SELECT last_analyze IS NULL AND last_autoanalyze IS NULL "
                                    "FROM pg_stat_user_tables WHERE relname = 'point_entries'"))
        if force or never:
            t0 = time.perf_counter()
            conn.exec_driver_sql("ANALYZE")
            _say(f"  ANALYZE ({time.perf_counter() - t0:.1f} s)")


def counts(app) -> dict[str, int]:
    """Rows in the tables the benchmarks read."""
    from app.extensions import db

    with app.app_context():
        out = {}
        for table in ("villages", "households", "people", "point_entries", "transfers", "redemptions", "products"):
            out[table] = int(db.session.scalar(sa.text(f"SELECT count(*) FROM {table}")))  # noqa: S608  (fixed names)
        db.session.remove()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="full")
    parser.add_argument("--db", help="database URL (default: bench/data/village-<scale>.db); 'pg' for the "
                                     "benchmark's PostgreSQL database")
    parser.add_argument("--county", action="store_true", help="also the county (200 villages × 500 households)")
    args = parser.parse_args(argv)
    url = args.db or sqlite_url(args.scale)
    if url == "pg":
        url = pg_url(args.scale)
        if url is None:
            print("no PostgreSQL server found (TEST_DATABASE_URL, BENCH_PG_URL or 127.0.0.1:5432)", file=sys.stderr)
            return 1
    from .common import make_app

    app = make_app(url)
    t0 = time.perf_counter()
    ran = generate(app, SCALES[args.scale], county=args.county)
    print(f"done in {time.perf_counter() - t0:.1f} s ({ran} steps now, the rest were done before): {counts(app)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
