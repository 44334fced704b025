"""Personal data (T17, §1.8, §3.5): full ID numbers appear nowhere, phones only for the clerk.

ID numbers go in through the clerk's forms; afterwards no page of any role, no log line and no byte
of the database (SQLite file and WAL; every text column on PostgreSQL) may contain one in full.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.registry.identity import mask_id
from app.text import mask_phone
from app.registry.models import Household, Person
from tests.conftest import FreshContextClient, PASSWORD, valid_id




@pytest.fixture
def client(app):
    app.test_client_class = FreshContextClient
    return app.test_client()


SURNAMES = "王李张刘陈杨黄赵吴周"
GIVEN = ["建国", "秀英", "志强", "桂兰", "海燕", "玉梅", "国华", "丽娟", "德明", "春花"]
VIEWER_ROLES = ("reviewer", "cashier", "patrol_leader", "mediator", "grid_worker")


def _people_data(n: int = 20) -> list[dict]:
    out = []
    for i in range(n):
        born = f"19{40 + i * 3:02d}{1 + i % 12:02d}{1 + i % 28:02d}"
        out.append({"name": SURNAMES[i % 10] + GIVEN[(i * 3) % 10] + ("甲乙"[i // 10]),
                    "id_number": valid_id(100 + i, born=born, region=("440305", "110101", "510104")[i % 3]),
                    "phone": f"139{i:04d}{5678 + i:04d}"})
    return out


def _login(client, username: str) -> None:
    r = client.post("/login", data={"username": username, "password": PASSWORD})
    assert r.status_code == 302, r.get_data(as_text=True)[:300]


@pytest.fixture
def register(app, client, village, clerk, make_user, caplog):
    """20 people with ID numbers and phones entered through the forms, and a few changes to them."""
    caplog.set_level(logging.DEBUG)
    for role in VIEWER_ROLES:
        make_user(f"{role}1", (role, village))
    _login(client, "clerk1")
    people = _people_data()
    households = []
    # 5 households of 4 people: the head through the new-household form, the rest through the person form
    for h in range(5):
        head = people[h * 4]
        r = client.post("/registry/households/new", data={
            "number": f"0{h + 1:02d}", "group_id": "0", "address": f"{h + 1}号", **head})
        assert r.status_code == 302, r.get_data(as_text=True)[-2000:]
        hid = int(r.headers["Location"].rstrip("/").rsplit("/", 1)[-1])
        households.append(hid)
        for member in people[h * 4 + 1: h * 4 + 4]:
            r = client.post(f"/registry/households/{hid}/people/new", data={
                "relation": "child", "effective_date": "2026-01-02", **member})
            assert r.status_code == 302, r.get_data(as_text=True)[-2000:]

    db.session.rollback()
    by_name = {p.name: p.id for p in db.session.scalars(sa.select(Person))}
    assert len(by_name) == 20
    # corrections, a move, a split: history and audit snapshots now hold these people
    p1 = by_name[people[1]["name"]]
    assert client.post(f"/registry/people/{p1}/edit", data={
        "name": people[1]["name"] + "改", "relation": "child", "phone": people[1]["phone"],
        "id_number": people[1]["id_number"]}).status_code == 302
    people[1]["name"] += "改"
    assert client.post(f"/registry/people/{by_name[people[2]['name']]}/move-out",
                       data={"status": "moved", "note": "外出务工"}).status_code == 302
    p7, p6 = by_name[people[7]["name"]], by_name[people[6]["name"]]
    assert client.post(f"/registry/households/{households[1]}/split", data={
        "person_ids": [str(p6), str(p7)], "new_head_id": str(p7), "new_number": "099", "group_id": "0",
    }).status_code == 302
    db.session.rollback()
    households = [h.id for h in db.session.scalars(sa.select(Household).order_by(Household.id))]
    client.post("/logout")
    return {"people": people, "households": households, "person_ids": sorted(by_name.values())}


def _numbers(register) -> list[str]:
    return [p["id_number"] for p in register["people"]]


def _assert_no_id(body: str, numbers: list[str], where: str) -> None:
    leaked = [n for n in numbers if n in body or n.lower() in body]
    assert not leaked, f"{where} shows full ID numbers {leaked}"


def _pages(register, editor: bool) -> list[str]:
    hs, ps = register["households"], register["person_ids"]
    pages = ["/", "/registry/households", "/registry/households?status=all", "/registry/people",
             "/registry/people?status=all", "/registry/groups", "/audit/", "/audit/?page=2",
             "/registry/search?q=王", "/registry/search?q=01&all=1"]
    pages += [f"/registry/search?q={p['name']}" for p in register["people"][:5]]
    pages += [f"/registry/households/{h}" for h in hs] + [f"/audit/households/{h}" for h in hs]
    if editor:
        pages += ["/registry/households/new"]
        pages += [f"/registry/households/{h}/{part}" for h in hs
                  for part in ("edit", "people/new", "head", "split", "merge", "status")]
        pages += [f"/registry/people/{p}/{part}" for p in ps for part in ("edit", "move-out")]
    return pages


@pytest.mark.parametrize("role", ["clerk", "reviewer"])
def test_no_page_shows_a_full_id_number(client, register, role):
    numbers = _numbers(register)
    _login(client, f"{role}1")
    seen_masked = set()
    for url in _pages(register, editor=role == "clerk"):
        r = client.get(url)
        assert r.status_code == 200, (url, r.status_code)
        body = r.get_data(as_text=True)
        _assert_no_id(body, numbers, url)
        seen_masked |= {n for n in numbers if mask_id(n) in body}
    # every person's number is shown, masked, somewhere (4403**********1234 style)
    assert seen_masked == set(numbers)
    assert re.search(r"\d{4}\*{10}[\dX]{4}", client.get(f"/registry/households/{register['households'][0]}")
                     .get_data(as_text=True))


def test_forms_never_write_an_id_number_back(client, register):
    """A refused form comes back without the number that was typed into it."""
    numbers = _numbers(register)
    fresh = valid_id(900, born="19900909")
    _login(client, "clerk1")
    hid = register["households"][0]
    # refused for another field: the typed number is not echoed
    r = client.post(f"/registry/households/{hid}/people/new",
                    data={"name": "新人", "relation": "child", "phone": "not-a-phone", "id_number": fresh})
    assert r.status_code == 200
    _assert_no_id(r.get_data(as_text=True), [fresh], "person form with a bad phone")
    # refused because the number is already registered: the message names the person, not the number
    r = client.post("/registry/households/new",
                    data={"number": "0200", "group_id": "0", "name": "重复", "id_number": numbers[3]})
    assert r.status_code == 200
    _assert_no_id(r.get_data(as_text=True), numbers, "new household form with a duplicate number")
    # a wrong check digit: the message says what is wrong without repeating it
    bad = fresh[:-1] + ("0" if fresh[-1] != "0" else "1")
    r = client.post("/registry/households/new", data={"number": "0201", "name": "错号", "id_number": bad})
    assert r.status_code == 200 and bad not in r.get_data(as_text=True)
    # the edit form shows an empty ID box, and saving it blank keeps the stored number
    pid = register["person_ids"][0]
    page = client.get(f"/registry/people/{pid}/edit").get_data(as_text=True)
    _assert_no_id(page, numbers, "person edit form")
    db.session.rollback()
    before = db.session.get(Person, pid).id_hmac
    person = db.session.get(Person, pid)
    r = client.post(f"/registry/people/{pid}/edit", data={"name": person.name, "relation": person.relation,
                                                          "phone": person.phone or "", "id_number": ""})
    assert r.status_code == 302
    db.session.rollback()
    assert db.session.get(Person, pid).id_hmac == before


def test_logs_hold_no_id_numbers(client, register, caplog):
    numbers = _numbers(register)
    _login(client, "clerk1")
    for url in _pages(register, editor=True)[:20]:
        client.get(url)
    _assert_no_id(caplog.text, numbers, "the application log")


def test_the_database_holds_no_id_number_in_the_clear(app, register):
    numbers = _numbers(register)
    db.session.rollback()
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("sqlite"):
        path = Path(sa.engine.make_url(uri).database)
        files = [p for p in (path, Path(f"{path}-wal"), Path(f"{path}-journal")) if p.exists()]
        assert path in files
        for f in files:
            data = f.read_bytes()
            leaked = [n for n in numbers if n.encode() in data or n.encode("utf-16-le") in data]
            assert not leaked, f"{f.name} contains {leaked}"
        # the file does hold the masked numbers: the search above looked at the right bytes
        assert any(mask_id(numbers[0]).encode() in f.read_bytes() for f in files)
    else:
        cols = db.session.execute(sa.text(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND data_type IN "
            "('character varying', 'text', 'character', 'json', 'jsonb', 'bytea', 'USER-DEFINED', 'ARRAY')"
        )).all()
        assert ("people", "id_masked") in {tuple(c) for c in cols}
        checked = 0
        for table, column in cols:
            values = db.session.scalars(sa.text(f'SELECT "{column}"::text FROM "{table}"')).all()
            for v in values:
                if v is not None:
                    checked += 1
                    leaked = [n for n in numbers if n in v]
                    assert not leaked, f"{table}.{column} holds {leaked}"
        assert checked > 100
        db.session.rollback()


def test_id_hash_is_keyed_not_a_plain_hash(app, register):
    people = register["people"]
    db.session.rollback()
    key = app.config["ID_HMAC_KEY"].encode()
    for p in people[:5]:
        stored = db.session.scalar(sa.select(Person.id_hmac).where(Person.name == p["name"]))
        n = p["id_number"]
        assert stored == hmac.new(key, n.encode(), hashlib.sha256).hexdigest()
        assert stored not in (hashlib.sha256(n.encode()).hexdigest(), hashlib.md5(n.encode()).hexdigest())
        assert stored != hmac.new(b"another-installation", n.encode(), hashlib.sha256).hexdigest()
    assert key.decode() not in str(db.session.execute(sa.text("SELECT * FROM people")).all())
    db.session.rollback()


# --- phones --------------------------------------------------------------------------------------------------

def _phone_pages(register) -> list[str]:
    hs = register["households"]
    return (["/registry/people", "/registry/people?status=all", "/registry/households?status=all",
             "/registry/search?q=01&all=1", "/registry/search?q=王"]
            + [f"/registry/search?q={p['name']}" for p in register["people"][:4]]
            + [f"/registry/households/{h}" for h in hs])


def test_clerk_sees_full_phone_numbers(client, register):
    _login(client, "clerk1")
    shown = set()
    for url in _phone_pages(register):
        body = client.get(url).get_data(as_text=True)
        shown |= {p["phone"] for p in register["people"] if p["phone"] in body}
    assert shown == {p["phone"] for p in register["people"]}
    pid = register["person_ids"][0]
    db.session.rollback()
    phone = db.session.get(Person, pid).phone
    assert f'value="{phone}"' in client.get(f"/registry/people/{pid}/edit").get_data(as_text=True)


@pytest.mark.parametrize("role", VIEWER_ROLES)
def test_other_roles_see_only_masked_phone_numbers(client, register, role):
    phones = [p["phone"] for p in register["people"]]
    _login(client, f"{role}1")
    pages = _phone_pages(register)
    if role == "reviewer":
        pages += ["/audit/", "/audit/?page=2"] + [f"/audit/households/{h}" for h in register["households"]]
    masked_seen = set()
    for url in pages:
        r = client.get(url)
        assert r.status_code == 200, (url, r.status_code)
        body = r.get_data(as_text=True)
        leaked = [p for p in phones if p in body]
        assert not leaked, f"{role} sees full phones on {url}: {leaked}"
        masked_seen |= {p for p in phones if mask_phone(p) in body}
    assert masked_seen == set(phones)
    assert re.fullmatch(r"139\*{4}\d{4}", mask_phone(phones[0]))
    # and cannot open the edit form that holds the full number
    assert client.get(f"/registry/people/{register['person_ids'][0]}/edit").status_code == 403


def test_audit_rows_record_phone_changes_without_the_numbers(client, register):
    _login(client, "clerk1")
    pid = register["person_ids"][4]
    db.session.rollback()
    person = db.session.get(Person, pid)
    old = person.phone
    r = client.post(f"/registry/people/{pid}/edit", data={"name": person.name, "relation": person.relation,
                                                          "phone": "13712345678"})
    assert r.status_code == 302
    client.post("/logout")
    _login(client, "reviewer1")
    body = client.get("/audit/").get_data(as_text=True)
    assert re.search(r"变更：[^<]*联系电话", body)  # the phone is named among the changed fields
    assert "13712345678" not in body and old not in body


def test_audit_rows_hold_no_names_id_numbers_phones_or_notes(client, register):
    """The chain cannot be redacted, so what the clerk typed about people stays in the register."""
    from app.audit.models import AuditLog
    from app.audit.services import verify

    db.session.rollback()
    details = "\n".join(d for d in db.session.scalars(sa.select(AuditLog.details)) if d)
    people = register["people"]
    values = ([p["name"] for p in people] + [p["name"].removesuffix("改") for p in people]
              + _numbers(register) + [mask_id(n) for n in _numbers(register)] + [p["phone"] for p in people]
              + [f"{n[6:10]}-{n[10:12]}-{n[12:14]}" for n in _numbers(register)] + ["外出务工"])
    assert [v for v in values if v in details] == []
    assert "person.update" in "\n".join(db.session.scalars(sa.select(AuditLog.action)))
    assert verify()[1] is None
