"""The register through the clerk's pages: households, people, history that is never lost, search."""
from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.registry.models import Household, HouseholdEvent, Person
from tests.conftest import valid_id


def _household(number: str) -> Household:
    return db.session.scalar(sa.select(Household).where(Household.number == number))


def _person(name: str) -> Person:
    return db.session.scalar(sa.select(Person).where(Person.name == name))


def test_clerk_registers_household_with_head_and_member(clerk_client, village):
    r = clerk_client.post("/registry/households/new", data={
        "number": "0101", "group_id": "0", "address": "一组12号", "tags": ["dibao", "party_member"],
        "name": "张三丰", "sex": "", "birth_date": "", "phone": "13800138000", "id_number": valid_id(7),
    })
    assert r.status_code == 302
    h = _household("0101")
    assert h.head.name == "张三丰" and h.head.relation == "head"
    assert h.tag_list == ["dibao", "party_member"]
    # birth date and sex come from the ID number when not typed
    assert h.head.birth_date.isoformat() == "1980-01-01"
    r = clerk_client.post(f"/registry/households/{h.id}/people/new", data={
        "name": "李四", "relation": "spouse", "sex": "female", "birth_date": "1982年3月4日", "phone": "",
        "id_number": "", "effective_date": "2026-01-02", "note": "婚入"})
    assert r.status_code == 302
    page = clerk_client.get(f"/registry/households/{h.id}").get_data(as_text=True)
    assert "李四" in page and "婚入" in page
    assert _person("李四").birth_date.isoformat() == "1982-03-04"


def test_duplicate_household_number_and_id_are_refused_with_the_form_back(clerk_client, village, make_household):
    make_household(village, "0101", "王五", id_number=valid_id(1))
    r = clerk_client.post("/registry/households/new", data={"number": "0101", "group_id": "0", "name": "赵六"})
    assert r.status_code == 200 and "0101" in r.get_data(as_text=True)
    r = clerk_client.post("/registry/households/new", data={
        "number": "0102", "group_id": "0", "name": "赵六", "id_number": valid_id(1)})
    assert r.status_code == 200
    assert db.session.scalar(sa.select(sa.func.count(Household.id))) == 1


def test_bad_id_number_is_explained(clerk_client, village):
    clerk_client.get("/lang/en")
    good = valid_id(3)
    bad_check = good[:-1] + ("0" if good[-1] != "0" else "1")
    for raw, expected in [
        (bad_check, "check digit"),
        (good[:17], "18 characters"),
        ("440305" + "19801332" + "0011", "birth date"),
        (good[:15], "15-digit"),
    ]:
        r = clerk_client.post("/registry/households/new", data={
            "number": "0201", "group_id": "0", "name": "钱七", "id_number": raw})
        body = r.get_data(as_text=True)
        assert r.status_code == 200 and expected in body, (raw, expected)
        assert raw not in body  # the typed number is not echoed back
    assert db.session.scalar(sa.select(sa.func.count(Household.id))) == 0


def test_a_sex_that_is_not_on_the_list_gives_the_form_back(clerk_client, village, make_household):
    """Only a tampered form sends it (the page offers a list), but " " passed the optional choice and the
    database refused it: a 500. Now the form comes back, and nothing about the person changes."""
    h = make_household(village, "0301", "孙八")
    for sex in (" ", "x", "男"):
        r = clerk_client.post(f"/registry/people/{h.head_id}/edit",
                              data={"name": "孙八八", "relation": "head", "sex": sex})
        assert r.status_code == 200, sex
        assert '<small class="field-error" id="sex-err">不是有效的选择。</small>' in r.get_data(as_text=True), sex
    db.session.expire_all()
    head = db.session.get(Person, h.head_id)
    assert (head.name, head.sex) == ("孙八", None)
    r = clerk_client.post(f"/registry/people/{h.head_id}/edit", data={"name": "孙八", "relation": "head", "sex": ""})
    assert r.status_code == 302


def test_the_register_refuses_a_sex_it_does_not_know_with_a_message(app, village, make_household):
    """The same for any other caller of the service (an import, a command): a message, not the CHECK."""
    import pytest

    from app.registry import services as reg
    from app.submission import write_transaction

    h = make_household(village, "0302", "周九")
    with pytest.raises(reg.RegistryError) as refused, write_transaction():
        reg.add_person(h, reg.PersonData(name="周小九", relation="son", sex=" "))
    assert refused.value.field == "sex"
    assert db.session.scalar(sa.select(sa.func.count(Person.id)).where(Person.household_id == h.id)) == 1


def test_split_keeps_history_on_both_households(clerk_client, village, make_household):
    h = make_household(village, "0301", "张大", members=[("张二", "child"), ("刘二嫂", "child_in_law"),
                                                         ("张小", "grandchild")])
    er, sao, xiao = _person("张二"), _person("刘二嫂"), _person("张小")
    r = clerk_client.post(f"/registry/households/{h.id}/split", data={
        "person_ids": [er.id, sao.id, xiao.id], "new_head_id": er.id, "new_number": "0302",
        "group_id": "0", "address": "新宅", "effective_date": "2026-03-01", "note": "分家"})
    assert r.status_code == 302
    new = _household("0302")
    assert new.head.name == "张二"
    assert {p.name for p in new.members} == {"张二", "刘二嫂", "张小"}
    old_page = clerk_client.get(f"/registry/households/{h.id}").get_data(as_text=True)
    new_page = clerk_client.get(f"/registry/households/{new.id}").get_data(as_text=True)
    # before: all four in the old household; after: the old one keeps only the head
    assert "张二、刘二嫂、张小" in old_page and "0302" in old_page and "2026-03-01" in old_page
    assert "0301" in new_page and "分家" in new_page
    kinds = set(db.session.scalars(sa.select(HouseholdEvent.kind)))
    assert {"split", "split_from"} <= kinds


def test_merge_moves_everyone_and_keeps_the_merged_household(clerk_client, village, make_household):
    a = make_household(village, "0401", "孙一", members=[("孙二", "child")])
    b = make_household(village, "0402", "周一")
    r = clerk_client.post(f"/registry/households/{a.id}/merge", data={
        "target_number": "0402", "effective_date": "2026-04-01", "note": "", "confirm": "y"})
    assert r.status_code == 302
    db.session.expire_all()
    a, b = db.session.get(Household, a.id), db.session.get(Household, b.id)
    assert a.status == "merged" and a.head.name == "孙一"  # kept as it was, for history
    assert {p.name for p in b.members} == {"周一", "孙一", "孙二"}
    assert b.head.name == "周一"
    page = clerk_client.get(f"/registry/households/{a.id}").get_data(as_text=True)
    assert "孙一、孙二" in page and "0402" in page
    # a merged household cannot be merged again
    r = clerk_client.post(f"/registry/households/{a.id}/merge", data={"target_number": "0402", "confirm": "y"})
    assert r.status_code == 200


def test_change_of_head_records_before_and_after(clerk_client, village, make_household):
    h = make_household(village, "0501", "吴老汉", members=[("吴大郎", "child")])
    son = _person("吴大郎")
    r = clerk_client.post(f"/registry/households/{h.id}/head", data={
        "new_head_id": son.id, "old_head_relation": "parent", "effective_date": "2026-05-01"})
    assert r.status_code == 302
    db.session.expire_all()
    h = db.session.get(Household, h.id)
    assert h.head.name == "吴大郎" and _person("吴老汉").relation == "parent"
    ev = db.session.scalar(sa.select(HouseholdEvent).where(HouseholdEvent.kind == "head_change"))
    assert ev.before["head"] == "吴老汉" and ev.after["head"] == "吴大郎"
    page = clerk_client.get(f"/registry/households/{h.id}").get_data(as_text=True)
    assert "吴老汉" in page and "吴大郎" in page and "2026-05-01" in page


def test_move_out_and_death_keep_the_person(clerk_client, village, make_household):
    h = make_household(village, "0601", "郑一", members=[("郑二", "child"), ("郑奶奶", "parent")])
    r = clerk_client.post(f"/registry/people/{_person('郑二').id}/move-out", data={
        "status": "moved", "effective_date": "2026-06-01", "note": "外出务工落户"})
    assert r.status_code == 302
    r = clerk_client.post(f"/registry/people/{_person('郑奶奶').id}/move-out", data={"status": "deceased"})
    assert r.status_code == 302
    db.session.expire_all()
    assert _person("郑二").status == "moved" and _person("郑奶奶").status == "deceased"
    assert db.session.scalar(sa.select(sa.func.count(Person.id))) == 3  # nobody deleted
    page = clerk_client.get(f"/registry/households/{h.id}").get_data(as_text=True)
    assert "外出务工落户" in page and "郑二" in page
    # the head cannot move out while others live there
    make_household(village, "0602", "冯一", members=[("冯二", "child")])
    r = clerk_client.post(f"/registry/people/{_person('冯一').id}/move-out", data={"status": "moved"})
    assert r.status_code == 200 and _person("冯一").status == "alive"


def test_household_moves_away_and_comes_back(clerk_client, village, make_household):
    h = make_household(village, "0701", "陈一")
    assert clerk_client.post(f"/registry/households/{h.id}/status", data={"status": "moved_away"}).status_code == 302
    listing = clerk_client.get("/registry/households").get_data(as_text=True)
    assert "0701" not in listing
    assert "0701" in clerk_client.get("/registry/households?status=moved_away").get_data(as_text=True)
    assert clerk_client.post(f"/registry/households/{h.id}/status", data={"status": "active"}).status_code == 302
    assert "0701" in clerk_client.get("/registry/households").get_data(as_text=True)


def test_search_by_name_initials_polyphone_surname_and_number(clerk_client, village, make_household):
    make_household(village, "0801", "张三丰")
    make_household(village, "0802", "单田芳")
    make_household(village, "0803", "曾国藩")
    make_household(village, "1999", "李四")
    for q, hit, miss in [("zsf", "0801", "0802"), ("stf", "0802", "0801"), ("dtf", "0802", "0803"),
                         ("zgf", "0803", "0801"), ("三丰", "0801", "0803"), ("199", "1999", "0801"),
                         ("ZSF", "0801", "0802")]:
        body = clerk_client.get("/registry/households", query_string={"q": q}).get_data(as_text=True)
        assert hit in body and miss not in body, q
    body = clerk_client.get("/registry/people", query_string={"q": "zsf"}).get_data(as_text=True)
    assert "张三丰" in body and "单田芳" not in body
    r = clerk_client.get("/registry/search", query_string={"q": "0801"})
    assert r.status_code == 302  # an exact household number goes straight to the household


def test_lists_paginate(clerk_client, village, make_household, app):
    app.config["PER_PAGE"] = 5
    for i in range(12):
        make_household(village, f"09{i:02d}", f"何{i}")
    first = clerk_client.get("/registry/households").get_data(as_text=True)
    third = clerk_client.get("/registry/households?page=3").get_data(as_text=True)
    assert "0900" in first and "0905" not in first
    assert "0910" in third and "0911" in third and "0900" not in third
    assert "page=2" in first


def test_groups_are_per_village_and_filter_households(clerk_client, village, make_household):
    r = clerk_client.post("/registry/groups", data={"name": "第一村民小组", "kind": "group", "leader": "老王"})
    assert r.status_code == 302
    from app.registry.models import VillagerGroup

    gr = db.session.scalar(sa.select(VillagerGroup))
    make_household(village, "1001", "褚一", group=gr)
    make_household(village, "1002", "卫一")
    body = clerk_client.get(f"/registry/households?group={gr.id}").get_data(as_text=True)
    assert "1001" in body and "1002" not in body
    r = clerk_client.post("/registry/groups", data={"name": "第一村民小组", "kind": "group"})
    assert r.status_code == 200  # duplicate name refused with the form back
