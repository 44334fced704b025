"""Rules services: quorum and majority (table-driven), adoption refused with its reasons, amendments, diffs."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace

import pytest

from app.extensions import db
from app.rules import services as rules
from app.rules.models import VersionStatus
from app.rules.parser import parse_rules
from app.submission import write_transaction

DATA = Path(__file__).parent / "data" / "rules"
D = dt.date


def defaults(**kw) -> SimpleNamespace:
    """The law's thresholds (as RuleSettings holds them), with overrides; no database needed."""
    base = dict(assembly_num=1, assembly_den=2, households_num=2, households_den=3, representatives_num=2,
                representatives_den=3, party_num=2, party_den=3, majority_num=1, majority_den=2, women_min=0)
    base.update(kw)
    return SimpleNamespace(**base)


def test_the_default_thresholds_are_the_laws(app, make_village):
    village = make_village("law")
    stored = rules.settings_for(village.id)
    assert all(getattr(stored, k) == v for k, v in vars(defaults()).items())


# body, eligible, present, yes, households (total, present), expected quorum, expected majority
QUORUM_TABLE = [
    # villager assembly: MORE than half of adult villagers …
    ("villager_assembly", 100, 50, 40, (None, None), False, True),   # exactly half: not enough
    ("villager_assembly", 100, 51, 40, (None, None), True, True),
    ("villager_assembly", 101, 51, 30, (None, None), True, True),    # 51 of 101 is more than half
    # … OR representatives of AT LEAST two thirds of households
    ("villager_assembly", 100, 40, 30, (30, 20), True, True),        # exactly two thirds of households
    ("villager_assembly", 100, 40, 30, (30, 19), False, True),
    # majority: MORE than half of those present
    ("villager_assembly", 100, 60, 30, (None, None), True, False),   # exactly half in favour: not carried
    ("villager_assembly", 100, 60, 31, (None, None), True, True),
    # representatives' assembly: AT LEAST two thirds present
    ("representatives", 30, 20, 11, (None, None), True, True),       # exactly two thirds
    ("representatives", 30, 19, 19, (None, None), False, True),
    ("representatives", 31, 21, 11, (None, None), True, True),       # 21/31 > 2/3
    ("representatives", 31, 20, 11, (None, None), False, True),      # 20/31 < 2/3
    ("representatives", 30, 20, 10, (None, None), True, False),      # half of 20: not carried
    # party members' meeting: same thresholds
    ("party_meeting", 45, 30, 16, (None, None), True, True),
    ("party_meeting", 45, 29, 29, (None, None), False, True),
    ("party_meeting", 45, 45, 22, (None, None), True, False),
    ("party_meeting", 0, 0, 0, (None, None), False, False),          # nobody: nothing can pass
]


@pytest.mark.parametrize("body, eligible, present, yes, households, quorum, majority", QUORUM_TABLE)
def test_quorum_and_majority(body, eligible, present, yes, households, quorum, majority):
    check = rules.check_meeting(body, eligible=eligible, present=present, yes=yes, households_total=households[0],
                                households_present=households[1], settings=defaults())
    assert (check.quorum, check.majority) == (quorum, majority)
    assert check.ok == (quorum and majority)
    assert bool(check.reasons) == (not check.ok)


def test_thresholds_are_per_village_settings():
    # a province that asks three quarters of representatives
    strict = defaults(representatives_num=3, representatives_den=4)
    assert rules.check_meeting("representatives", eligible=40, present=29, yes=20, settings=strict).quorum is False
    assert rules.check_meeting("representatives", eligible=40, present=30, yes=20, settings=strict).quorum is True
    # women attendance, when the village requires it
    women = defaults(women_min=5)
    check = rules.check_meeting("representatives", eligible=30, present=30, yes=30, women_present=4, settings=women)
    assert not check.ok and any("5" in r for r in check.reasons)


def test_impossible_counts_fail():
    check = rules.check_meeting("representatives", eligible=30, present=31, yes=20, settings=defaults())
    assert not check.ok
    check = rules.check_meeting("representatives", eligible=30, present=30, yes=20, no=10, abstain=1,
                                settings=defaults())
    assert not check.ok


@pytest.fixture
def version(app, make_village):
    village = make_village("qs", "青山村")
    with write_transaction():
        rs = rules.create_ruleset(village, "village_rules", "青山村村规民约")
        text = (DATA / "chapters.txt").read_text(encoding="utf-8")
        v = rules.import_version(rs, parse_rules(text), text)
    return v


def _step(v, kind, day, **kw):
    with write_transaction():
        s = rules.record_step(v, kind, held_on=D(2024, 3, day), body="x", **kw)
    return s


def _all_steps(v, assembly_present=20):
    _step(v, "proposal", 1)
    _step(v, "two_committees", 2)
    _step(v, "party_meeting", 5, eligible=30, present=25, votes_yes=24)
    _step(v, "legal_review", 8, approved=True)
    _step(v, "assembly", 15, assembly_kind="representatives", eligible=30, present=assembly_present,
          women_present=6, votes_yes=assembly_present - 2, votes_no=1, votes_abstain=1)


def test_import_keeps_the_raw_text_and_structure(version):
    assert version.status == "draft" and version.version_no == 1
    assert len(version.articles) == 8 and len(version.top_chapters()) == 3
    assert version.source_text == (DATA / "chapters.txt").read_text(encoding="utf-8")
    assert version.articles[2].chapter.label == "第一节"
    assert version.closing.endswith("二〇二四年三月十五日")


def test_adoption_refused_while_a_step_is_missing(version):
    with pytest.raises(rules.RulesError) as e, write_transaction():
        rules.advance(version, "adopted")
    reasons = " ".join(e.value.reasons)
    for missing in ("党组织提议", "两委会商议", "党员大会审议", "合法性审查", "村民会议或村民代表会议决议"):
        assert missing in reasons
    assert version.status == "draft"


def test_adoption_refused_when_quorum_failed_and_then_allowed(version):
    _all_steps(version, assembly_present=19)  # 19 of 30 representatives: below two thirds
    with pytest.raises(rules.RulesError) as e, write_transaction():
        rules.advance(version, "adopted")
    assert len(e.value.reasons) == 1
    assert "19" in e.value.reasons[0] and "30" in e.value.reasons[0] and "2/3" in e.value.reasons[0]
    _step(version, "assembly", 15, assembly_kind="representatives", eligible=30, present=20, women_present=6,
          votes_yes=18, votes_no=1, votes_abstain=1)
    with write_transaction():
        rules.advance(version, "adopted")
    assert version.status == "adopted"
    assert (version.adopted_on, version.adopting_body) == (D(2024, 3, 15), "representatives")
    # the adoption steps are now closed
    with pytest.raises(rules.RulesError), write_transaction():
        rules.record_step(version, "assembly", held_on=D(2024, 3, 16), assembly_kind="representatives",
                          eligible=30, present=30, votes_yes=30)


def test_failed_legality_review_blocks_adoption(version):
    _all_steps(version)
    _step(version, "legal_review", 8, approved=False)
    with pytest.raises(rules.RulesError) as e, write_transaction():
        rules.advance(version, "adopted")
    assert any("合法性审查" in r for r in e.value.reasons)


def test_counts_that_cannot_be_are_refused(version):
    with pytest.raises(rules.RulesError) as e, write_transaction():
        rules.record_step(version, "party_meeting", held_on=D(2024, 3, 5), eligible=30, present=31, votes_yes=1)
    assert e.value.field == "present"
    with pytest.raises(rules.RulesError) as e, write_transaction():
        rules.record_step(version, "party_meeting", held_on=D(2024, 3, 5), eligible=30, present=20, votes_yes=15,
                          votes_no=6)
    assert e.value.field == "votes_yes"


def test_publish_amend_and_supersede(version):
    _all_steps(version)
    with write_transaction():
        rules.advance(version, "adopted")
    with pytest.raises(rules.RulesError) as e, write_transaction():
        rules.advance(version, "published")
    assert any("备案" in r for r in e.value.reasons) and any("决议公开" in r for r in e.value.reasons)
    _step(version, "filing", 20)
    _step(version, "resolution_public", 18)
    with write_transaction():
        rules.advance(version, "published")
    assert version.status == "published" and version.published_on == D(2024, 3, 18)
    assert rules.current_version(version.ruleset) is version
    with write_transaction():
        amended = rules.start_amendment(version.ruleset)
    assert (amended.version_no, amended.status, amended.supersedes_id) == (2, "draft", version.id)
    assert [a.text for a in amended.articles] == [a.text for a in version.articles]
    assert [c.heading for c in amended.chapters] == [c.heading for c in version.chapters]
    with pytest.raises(rules.RulesError), write_transaction():
        rules.start_amendment(version.ruleset)  # one amendment at a time
    # publishing the amendment supersedes the old version
    _all_steps(amended)
    _step(amended, "filing", 20)
    _step(amended, "resolution_public", 18)
    with write_transaction():
        for target in ("proposed", "adopted", "published"):
            rules.advance(amended, target)
    db.session.refresh(version)
    assert version.status == VersionStatus.SUPERSEDED.value
    assert rules.published_versions(version.village_id) == [amended]


def test_only_drafts_change(version):
    _all_steps(version)
    with write_transaction():
        rules.advance(version, "adopted")
    with pytest.raises(rules.RulesError), write_transaction():
        rules.update_article(version.articles[0], "第一条", "改过的文字。")
    assert version.articles[0].text == "本村规民约适用于本村全体村民。"


def test_version_diff(version):
    with write_transaction():
        new = rules.import_version(version.ruleset, parse_rules(rules.version_text(version)), "")
    assert [a.text for a in new.articles] == [a.text for a in version.articles]  # text round-trips
    with write_transaction():
        rules.update_article(new.articles[4], "第五条", "严禁在山林、田间野外用火和燃放孔明灯。")
        text = rules.version_text(new).replace("第四条　发现可疑人员，应当及时报告村民委员会或者派出所。\n", "")
        text = text.replace("第八条　", "第九条　").replace(
            "第七条　", "第七条　鼓励村民参加义务巡逻。\n第八条　")
        rules.replace_text(new, parse_rules(text), text)
    rows = rules.diff_versions(version, new)
    kinds = [(r.kind, r.old.label if r.old else None, r.new.label if r.new else None) for r in rows]
    assert ("removed", "第四条", None) in kinds
    assert ("added", None, "第七条") in kinds
    assert ("changed", "第五条", "第五条") in kinds
    # an article that only moved to a new number is not "changed"
    assert ("renumbered", "第七条", "第八条") in kinds and ("renumbered", "第八条", "第九条") in kinds
    assert sum(1 for k in kinds if k[0] == "same") == 4
    changed = next(r for r in rows if r.kind == "changed")
    assert ("insert", "和燃放孔明灯") in changed.new_parts
    assert all(op != "delete" for op, _ in changed.old_parts)


def test_search_and_digest(version):
    _all_steps(version)
    _step(version, "filing", 20)
    _step(version, "resolution_public", 18)
    with write_transaction():
        rules.advance(version, "published")
        item = rules.add_digest_item(version, "严禁野外用火", [version.articles[4].id, version.articles[5].id])
    assert [a.label for a in item.articles] == ["第五条", "第六条"]
    found = rules.search_published(version.village_id, "野外用火")
    assert [a.label for a in found] == ["第五条"]
    assert rules.search_published(version.village_id, "%") == []
    with pytest.raises(rules.RulesError), write_transaction():
        rules.add_digest_item(version, "没有出处", [])


def test_word_diff_marks_words_in_a_long_article():
    long_text = parse_rules((DATA / "long_article.txt").read_text(encoding="utf-8")).articles[1].text
    changed = long_text[:1000] + "（含户籍迁入满三年的）" + long_text[1000:].replace("廉洁奉公", "清正廉洁", 1)
    left, right = rules.word_diff(long_text, changed)
    assert "".join(t for op, t in left if op != "insert") == long_text
    assert "".join(t for op, t in right if op != "delete") == changed
    assert ("insert", "（含户籍迁入满三年的）") in right
    assert [t for op, t in left if op == "delete"] and len("".join(t for op, t in right if op == "insert")) < 30
