"""The rule-text parser on real-shaped texts (fixtures in tests/data/rules/): counts and texts exactly."""
from __future__ import annotations

from pathlib import Path

import pytest

from app.rules.parser import ParseError, cn_number, parse_rules

DATA = Path(__file__).parent / "data" / "rules"


def load(name: str):
    return parse_rules((DATA / name).read_text(encoding="utf-8"))


def test_chapters_sections_articles_preamble_and_closing():
    r = load("chapters.txt")
    assert r.style == "article"
    assert r.title == "青山村村规民约"
    assert r.preamble.startswith("为了推进乡村治理") and r.preamble.endswith("制定本村规民约。")
    assert [(c.label, c.title, c.level) for c in r.chapters] == [
        ("第一章", "总　则", 1), ("第二章", "社会秩序", 1), ("第一节", "治安", 2), ("第二节", "消防", 2),
        ("第三章", "附则", 1)]
    assert [len(r.articles_in(i)) for i in (0, 1, 4)] == [2, 4, 2]
    assert [a.label for a in r.articles] == [f"第{n}条" for n in "一二三四五六七八"]
    assert [a.number for a in r.articles] == list(range(1, 9))
    assert r.articles[0].text == "本村规民约适用于本村全体村民。"
    assert r.articles[2].text == ("村民应当自觉维护社会治安，有下列行为之一的，由村民委员会批评教育：\n"
                                  "（一）聚众赌博的；\n（二）打架斗殴的；\n（三）酗酒滋事的。")
    assert r.articles[2].sub_items == 3
    assert r.closing == "青山村村民委员会\n二〇二四年三月十五日"
    assert r.articles[-1].text == "本村规民约自村民代表会议通过之日起施行。"


def test_a_quoted_article_number_never_starts_an_article():
    r = load("chapters.txt")
    sixth = r.articles[5]
    # once inside the line and once at the start of a wrapped line: both stay in 第六条
    assert sixth.text == ("违反本规约第五条规定的，由村民委员会责令改正；造成损失的，依法赔偿。违反本规约\n"
                          "第五条规定情节严重的，移交有关部门处理。")
    assert len(r.articles) == 8


def test_bare_numbered_list_without_title_or_preamble():
    r = load("numbered_list.txt")
    assert r.style == "ar_list"
    assert (r.title, r.preamble, r.closing, r.chapters) == ("", "", "", [])
    assert [a.label for a in r.articles] == ["1.", "2.", "3.", "4.", "5."]
    assert r.articles[3].text == "婚事新办，丧事简办，不大操大办，不索要高额彩礼。"


def test_mixed_numbering_groups_and_sub_items():
    r = load("mixed.txt")
    assert r.title == "白水村积分管理办法"
    assert [(c.label, c.title) for c in r.chapters] == [("一、", "加分项目"), ("二、", "扣分项目"), ("三、", "附则")]
    assert [a.label for a in r.articles] == ["1.", "2、", "３．", "1.", "2.", "1."]
    assert [len(r.articles_in(i)) for i in range(3)] == [3, 2, 1]
    assert r.articles[1].text == "参加志愿服务的，按下列标准加分：\n（一）全年满10小时的，加5分；\n（二）全年满20小时的，加10分。"
    assert r.articles[4].text == "有下列情形之一的，每次扣5分：\n①私搭乱建的；\n②焚烧秸秆的。"
    assert r.articles[4].sub_items == 2
    assert r.closing == "本办法自2024年1月1日起施行。"
    assert not r.warnings  # numbering restarting in each group is not a jump


def test_chinese_list_with_sub_items():
    r = load("cn_list.txt")
    assert r.style == "cn_list"
    assert [a.label for a in r.articles] == ["一、", "二、", "三、", "四、"]
    assert r.articles[1].text == "有下列行为之一的，给予批评教育：\n（一）乱砍滥伐的；\n（二）在公共场所吵闹的。"
    # the last numbered item is an article, even though it reads like a closing
    assert r.closing == ""
    assert r.articles[3].text == "本村规民约经村民会议讨论通过，自公布之日起执行。"


def test_full_width_numerals_kept_as_written():
    r = load("fullwidth.txt")
    assert [(c.label, c.title) for c in r.chapters] == [("第１章", "总则"), ("第２章", "村民会议")]
    assert [a.label for a in r.articles] == ["第１条", "第２条", "第３条", "第４条"]
    assert [a.number for a in r.articles] == [1, 2, 3, 4]
    assert r.articles[2].text.split("\n")[1:] == [
        "１．村民委员会认为必要的；", "２．十分之一以上有选举权的村民提议的；", "３．三分之一以上的户代表提议的。"]
    assert r.closing == "二〇二三年十二月一日村民会议通过"
    assert r.preamble == ""


def test_no_preamble():
    r = load("no_preamble.txt")
    assert (r.title, r.preamble) == ("", "")
    assert [a.text for a in r.articles] == ["村民应当遵守本村村规民约。", "村民之间应当互相帮助。",
                                            "本规约未尽事宜，由村民会议决定。"]


def test_a_2000_character_article_comes_out_whole():
    r = load("long_article.txt")
    assert len(r.articles) == 3
    assert len(r.articles[1].text) == 2000
    assert r.articles[1].text.endswith("。") and r.articles[2].text == "本章程自通过之日起施行。"


@pytest.mark.parametrize("text", ["", "   \n\u3000\n", "这是一段会议纪要。\n没有条款。"])
def test_unparseable_text_is_refused(text):
    with pytest.raises(ParseError):
        parse_rules(text)


def test_unparseable_fixture():
    with pytest.raises(ParseError):
        load("unparseable.txt")


def test_odd_characters_are_kept_and_reported_and_jumps_warned():
    text = "第一条\u3000村民应当\u200b遵守本规约。\r\n第三条　锟斤拷�乱码照录。\r\n"
    r = parse_rules(text)
    assert r.articles[0].text == "村民应当\u200b遵守本规约。"  # never silently corrected
    assert r.articles[1].text == "锟斤拷�乱码照录。"
    assert any(w.kind == "odd_chars" and "U+200B" in w.detail and w.line == 1 for w in r.warnings)
    assert any(w.kind == "jump" and w.detail == "第三条" and w.line == 2 for w in r.warnings)


def test_label_run_into_text_is_still_an_article():
    r = parse_rules("第一条村民应当遵守本规约。\n第二条村民应当爱护环境。")
    assert [a.text for a in r.articles] == ["村民应当遵守本规约。", "村民应当爱护环境。"]


@pytest.mark.parametrize("raw, value", [
    ("一", 1), ("十", 10), ("十二", 12), ("二十", 20), ("二十三", 23), ("一百零五", 105), ("两", 2),
    ("12", 12), ("１２", 12), ("二〇二四", 2024), ("x", None), ("", None)])
def test_chinese_numbers(raw, value):
    assert cn_number(raw) == value


def test_labels_are_kept_as_written():
    r = parse_rules("第 一 章　总则\n第 一 条 甲。\n第二條：乙。\n本规约自2024年1月1日起施行。")
    assert r.chapters[0].label == "第 一 章"
    assert [(a.label, a.number, a.text) for a in r.articles] == [("第 一 条", 1, "甲。"), ("第二條", 2, "乙。")]
    assert r.closing == "本规约自2024年1月1日起施行。"  # no blank line needed before a closing like this


def test_a_decimal_is_not_a_list_item():
    r = parse_rules("1. 每次加1.5分。\n2. 乙。\n3.5分以上的，丙。")
    assert [a.text for a in r.articles] == ["每次加1.5分。", "乙。\n3.5分以上的，丙。"]


def test_a_text_numbered_only_with_parentheses():
    r = load("paren_list.txt")
    assert r.style == "paren_list" and r.title == "黄土村红白理事会章程"
    assert [a.label for a in r.articles] == ["（一）", "（二）", "（三）"]
    assert r.articles[1].text == "丧事简办，不搞封建迷信，不大操大办。"


def test_chapter_title_on_a_line_of_its_own():
    r = load("heading_on_own_line.txt")
    assert [(c.label, c.title) for c in r.chapters] == [("第一章", "总则"), ("第二章", "附则")]
    assert r.preamble == "" and [len(r.articles_in(i)) for i in range(2)] == [1, 1]
