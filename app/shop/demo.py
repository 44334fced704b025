"""Demo data for the happiness supermarket: a dozen goods, a purchase, a donation, some redemptions."""
from __future__ import annotations

import datetime as dt
import random

import sqlalchemy as sa

from ..db import local_today
from ..extensions import db
from ..ledger.queries import balance_of
from ..ledger.models import Account
from ..registry.models import Household
from . import services as shop
from .models import Product, Redemption

#: (name, spec, unit, points, category, reorder level, bought in)
GOODS = [
    ("大米", "5kg", "袋", 40, "粮油", 10, 60),
    ("面粉", "5kg", "袋", 35, "粮油", 10, 40),
    ("食用油", "1.8L", "桶", 45, "粮油", 5, 30),
    ("挂面", "1kg", "把", 8, "粮油", 10, 80),
    ("食盐", "400g", "袋", 3, "调味", 20, 100),
    ("酱油", "500ml", "瓶", 8, "调味", 10, 50),
    ("洗衣粉", "1kg", "袋", 12, "日用品", 10, 50),
    ("洗洁精", "1.1kg", "瓶", 10, "日用品", 10, 40),
    ("牙膏", "120g", "支", 8, "日用品", 10, 60),
    ("毛巾", "", "条", 10, "日用品", 10, 40),
    ("卫生纸", "10卷", "提", 20, "日用品", 8, 40),
    ("作业本", "", "本", 2, "学习用品", 30, 200),
]


def seed_shop_demo(village, cashier, clerk, seed: int = 11, today: dt.date | None = None) -> bool:
    """Add the demo goods, stock and redemptions unless the village has products already."""
    if db.session.scalar(sa.select(Product.id).where(Product.village_id == village.id)):
        return False
    rng = random.Random(seed)
    today = today or local_today()
    products = []
    for name, spec, unit, points, category, reorder, bought in GOODS:
        p = shop.create_product(village, name=name, spec=spec, unit=unit, price_points=points, category=category,
                                reorder_level=reorder, actor=clerk)
        shop.receive_purchase(p, bought, "开业采购（镇供销社）", actor=clerk)
        products.append(p)
    by_name = {p.name: p for p in products}
    shop.receive_donation(village, donor_name="县农村商业银行", donor_kind="bank",
                          lines=[(by_name["大米"], 20, "全新"), (by_name["食用油"], 10, "全新")],
                          received_on=today - dt.timedelta(days=3), note="重阳节爱心捐赠", actor=clerk)
    shop.receive_donation(village, donor_name="爱心人士李先生", donor_kind="person",
                          lines=[(by_name["作业本"], 100, "全新")], received_on=today - dt.timedelta(days=1),
                          actor=clerk)
    # households that have earned enough to spend something
    rich = list(db.session.scalars(
        sa.select(Household).join(Account, Account.household_id == Household.id)
        .where(Household.village_id == village.id, Account.balance >= 20).order_by(Household.number).limit(40)))
    made = 0
    for i, household in enumerate(rng.sample(rich, min(len(rich), 15))):
        balance = balance_of(household)
        basket = []
        for p in rng.sample(products, 3):
            qty = rng.randint(1, 3)
            if sum(q * x.price_points for x, q in basket) + qty * p.price_points <= balance:
                basket.append((p, qty))
        if not basket:
            continue
        shop.redeem(household, basket, key=f"demo-redeem-{i}", actor=cashier)
        made += 1
    if made:
        # one counter mistake, undone the same day
        first = db.session.scalar(sa.select(Redemption).where(Redemption.village_id == village.id)
                                  .order_by(Redemption.id))
        shop.cancel_redemption(first, actor=cashier, reason="拿错了商品，重新兑换")
    return True
