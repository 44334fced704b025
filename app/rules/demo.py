"""Demo rules: an adopted and published 村规民约 (chapters, 四议两公开 recorded, a digest) and a 积分管理办法
still on its way (reviewed by the party members, not yet put to the assembly)."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from ..extensions import db
from . import services as rules
from .models import RuleSet
from .parser import parse_rules

VILLAGE_RULES = """乡约示范村村规民约

为了推进移风易俗，维护本村社会秩序和公共利益，建设文明和谐的美丽乡村，根据《中华人民共和国村民委员会组织法》等法律法规，结合本村实际，制定本村规民约。

第一章　总则

第一条　本村规民约适用于本村全体村民和在本村居住的其他人员。
第二条　村民应当遵守宪法、法律、法规和国家政策，遵守本村规民约，自觉履行村民义务。

第二章　社会治安

第三条　村民应当自觉维护社会治安。对见义勇为、拾金不昧的，村民委员会给予表扬，并按积分管理办法加分。
第四条　严禁赌博、吸毒、封建迷信活动。有下列行为之一的，由村民委员会批评教育，并按积分管理办法扣分：
（一）参与赌博或者为赌博提供场所的；
（二）组织、参与封建迷信活动的；
（三）酗酒闹事、打架斗殴的。

第三章　村容村貌

第五条　村民应当积极参加村里组织的义务劳动和环境清洁日活动。
第六条　村民应当做好门前三包，垃圾分类投放，不得乱堆乱放、乱扔垃圾。
第七条　严禁焚烧秸秆、垃圾。违反本规约第六条、第七条规定的，由村民委员会责令改正；造成损失的，依法赔偿。
第八条　爱护道路、路灯、健身器材等公共设施，损坏的照价赔偿。

第四章　平安建设

第九条　村民应当积极参加义务巡逻，做好防火、防盗工作。
第十条　发现可疑人员或者安全隐患，应当及时报告村民委员会或者派出所。

第五章　婚姻家庭

第十一条　婚事新办，丧事简办，反对铺张浪费，不索要高额彩礼。
第十二条　子女应当履行赡养老人的义务，不得虐待、遗弃老人。倡导孝老爱亲，评选“好婆婆”“好媳妇”。
第十三条　男女平等，保障妇女在土地承包、集体收益分配等方面的合法权益。

第六章　附则

第十四条　本村规民约由村民委员会负责解释。
第十五条　本村规民约自村民代表会议通过之日起施行。

乡约示范村村民委员会
二〇二五年三月十五日
"""

POINTS_RULES = """乡约示范村积分管理办法

为鼓励村民参与乡村治理，根据本村村规民约，制定本办法。

第一条　积分以户为单位建立积分档案，由村民委员会负责管理。
第二条　积分分为加分和扣分两类，具体项目见积分细则。
第三条　积分由信息采集员记录，村务监督委员会审核，每月公示一次，公示期七天。
第四条　村民对公示的积分有异议的，可以在公示期内向村民委员会提出，村务监督委员会应当在七个工作日内答复。
第五条　积分可以在幸福超市兑换物品，一分抵一元，不得兑换现金。
第六条　积分年终结转，不清零。
第七条　每年根据积分评选星级文明户。
第八条　参加志愿服务、向村集体捐款捐物的，按下列标准加分：
（一）志愿服务累计满10小时的，加5分；
（二）每捐款或者捐物折合100元，加1分，每户每年最多加20分。
第九条　本办法自村民代表会议通过之日起施行。
"""

DIGEST = [
    ("不赌博、不搞封建迷信", ["第四条"]),
    ("参加义务劳动和环境清洁日", ["第五条"]),
    ("门前三包，垃圾分类，不乱扔乱倒", ["第六条"]),
    ("不焚烧秸秆和垃圾", ["第七条"]),
    ("参加义务巡逻，防火防盗", ["第九条"]),
    ("婚事新办、丧事简办，不要高额彩礼", ["第十一条"]),
    ("孝敬老人，履行赡养义务", ["第十二条"]),
]


def seed_rules_demo(village, clerk) -> bool:
    """Add the demo rule sets to the demo village unless it has rules already."""
    if db.session.scalar(sa.select(RuleSet.id).where(RuleSet.village_id == village.id)):
        return False
    d = dt.date
    rs = rules.create_ruleset(village, "village_rules", "乡约示范村村规民约", actor=clerk)
    v = rules.import_version(rs, parse_rules(VILLAGE_RULES), VILLAGE_RULES, actor=clerk)
    v.effective_on = d(2025, 3, 15)
    rules.record_step(v, "proposal", held_on=d(2025, 2, 10), body="村党支部委员会",
                      minutes="提议修订村规民约，征求村民意见一个月。", actor=clerk)
    rules.record_step(v, "two_committees", held_on=d(2025, 2, 17), body="村两委联席会议", eligible=9, present=9,
                      votes_yes=9, minutes="逐条讨论草案，形成征求意见稿。", actor=clerk)
    rules.record_step(v, "party_meeting", held_on=d(2025, 2, 24), body="村党员大会", eligible=42, present=35,
                      votes_yes=33, votes_no=0, votes_abstain=2, actor=clerk)
    rules.record_step(v, "legal_review", held_on=d(2025, 3, 5), body="示范镇人民政府", approved=True,
                      minutes="经审查，未发现与法律法规相抵触的内容。", actor=clerk)
    rules.record_step(v, "assembly", held_on=d(2025, 3, 15), body="村民代表会议",
                      assembly_kind="representatives", eligible=38, present=33, women_present=11, votes_yes=31,
                      votes_no=1, votes_abstain=1, actor=clerk)
    rules.advance(v, "adopted", actor=clerk)
    rules.record_step(v, "resolution_public", held_on=d(2025, 3, 16), body="村务公开栏、村民微信群", actor=clerk)
    rules.record_step(v, "filing", held_on=d(2025, 3, 20), body="示范镇人民政府", actor=clerk)
    rules.advance(v, "published", actor=clerk)
    by_label = {a.label: a for a in v.articles}
    for text, labels in DIGEST:
        rules.add_digest_item(v, text, [by_label[x].id for x in labels], actor=clerk)

    prs = rules.create_ruleset(village, "points_rules", "乡约示范村积分管理办法", actor=clerk)
    pv = rules.import_version(prs, parse_rules(POINTS_RULES), POINTS_RULES, actor=clerk)
    rules.record_step(pv, "proposal", held_on=d(2025, 10, 8), body="村党支部委员会", actor=clerk)
    rules.record_step(pv, "two_committees", held_on=d(2025, 10, 15), body="村两委联席会议", actor=clerk)
    rules.record_step(pv, "party_meeting", held_on=d(2025, 10, 22), body="村党员大会", eligible=42, present=30,
                      votes_yes=28, votes_abstain=2, actor=clerk)
    for target in ("proposed", "deliberated", "reviewed"):
        rules.advance(pv, target, actor=clerk)
    # only the adopted 村规民约 is citable; the 积分管理办法 items get their links once it is adopted (the
    # links are made by the points demo, app.points.demo.link_demo_items: rules import nothing of points)
    return True
