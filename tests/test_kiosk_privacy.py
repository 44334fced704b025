"""Privacy: crawl every kiosk page of a seeded village, before and after a household's PIN, and check
that no full name, ID number or phone number appears and that nothing is cached."""
from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from app.extensions import db
from app.kiosk import services as ks
from app.text import mask_phone
from app.registry.models import Household
from app.submission import write_transaction
from tests.conftest import FreshContextClient, valid_id
from tests.kiosk_helpers import PEOPLE, PIN, enable_client, seed

PHONE_RE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
ID_RE = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: set[str] = set()

    def handle_starttag(self, tag, attrs):
        href = dict(attrs).get("href")
        if tag == "a" and href and href.startswith("/kiosk") and "/enrol/" not in href:
            self.links.add(href)


@pytest.fixture
def kiosk(app, village, make_user, make_household):
    data = seed(village, make_user, make_household, valid_id)
    with write_transaction():
        code = ks.issue_card(db.session.get(Household, data["households"]["0501"]))
    app.test_client_class = FreshContextClient
    c = app.test_client()
    enable_client(c, app, village)
    data["card"] = code
    return c, data


def _crawl(client, start: list[str], seen: dict) -> None:
    todo = list(start)
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        resp = client.get(path)
        seen[path] = resp
        if resp.status_code == 200:
            parser = Links()
            parser.feed(resp.get_data(as_text=True))
            todo.extend(parser.links - seen.keys())


def _check(label: str, resp, extra_forbidden: tuple[str, ...] = ()) -> None:
    body = resp.get_data(as_text=True)
    assert resp.headers.get("Cache-Control") == "no-store", label
    for name in PEOPLE:
        assert name not in body, (label, name)
    for i in range(10, 20):
        assert valid_id(i) not in body, label
    assert not ID_RE.search(body), label
    for phone, _seq in PEOPLE.values():
        assert phone not in body and mask_phone(phone) not in body, label
    assert not PHONE_RE.search(body), label
    for text in extra_forbidden:
        assert text not in body, (label, text)


def test_no_personal_data_on_any_kiosk_page(kiosk):
    client, data = kiosk
    responses: list[tuple[str, object]] = []
    seen: dict = {}
    _crawl(client, ["/kiosk/"], seen)
    responses += list(seen.items())
    assert {"/kiosk/", "/kiosk/number", "/kiosk/letters", "/kiosk/shop", "/kiosk/rules"} <= seen.keys()
    # every way of looking a household up, including wrong and unknown ones
    for letters in "abcdefghijklmnopqrstuvwxyz":
        responses.append((f"letters {letters}", client.post("/kiosk/letters", data={"letters": letters})))
    responses.append(("letters zs", client.post("/kiosk/letters", data={"letters": "zs"})))
    for number in ("0501", "0502", "9999"):
        client.post("/kiosk/number", data={"number": number})
        responses.append((f"pin page {number}", client.get("/kiosk/pin")))
        responses.append((f"wrong pin {number}", client.post("/kiosk/pin", data={"pin": "9147"})))
    client.post("/kiosk/choose", data={"household": str(data["households"]["0503"])})
    responses.append(("pin page chosen", client.get("/kiosk/pin")))
    responses.append(("card", client.post("/kiosk/card", data={"code": data["card"]})))
    responses.append(("pin page card", client.get("/kiosk/pin")))
    for label, resp in responses:
        _check(label, resp)

    # household 0501 opened: nothing of any other household
    client.post("/kiosk/number", data={"number": "0501"})
    assert client.post("/kiosk/pin", data={"pin": PIN}).status_code == 302
    opened: dict = {}
    _crawl(client, ["/kiosk/home"], opened)
    entry = data["entry_on_posting"]
    expected = {"/kiosk/home", "/kiosk/entries", "/kiosk/posting", f"/kiosk/posting/{entry}/object"}
    assert expected <= opened.keys()
    after = list(opened.items())
    after.append(("objection", client.post(f"/kiosk/posting/{entry}/object",
                                           data={"reason": "date", "text": "日期应为上周"})))
    after.append(("posting after objection", client.get("/kiosk/posting")))
    after.append(("finish", client.post("/kiosk/finish")))
    for label, resp in after:
        _check(label, resp, extra_forbidden=("0502", "0503", "0504", "0505", "周*才", "张*芳", "李*国"))
    assert "钱*有" in opened["/kiosk/home"].get_data(as_text=True)
    # and after finish the household's pages are gone
    assert client.get("/kiosk/home").status_code == 302


def test_kiosk_urls_carry_no_personal_data(kiosk):
    client, data = kiosk
    client.post("/kiosk/number", data={"number": "0501"})
    client.post("/kiosk/pin", data={"pin": PIN})
    seen: dict = {}
    _crawl(client, ["/kiosk/home"], seen)
    for path in seen:
        assert not re.search(r"\d{4,}", path), path  # no 户号, ID or phone; entry ids are small
        assert "0501" not in path and "?" not in path
