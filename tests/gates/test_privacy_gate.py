"""T17 (reliability.md §5): with 200 villagers carrying valid synthetic ID numbers and phones (the demo village
and a scripted session of every feature), no full ID number appears anywhere outside its protected form, and no
full phone outside its own column: not in the database (SQLite file bytes; every text column on PostgreSQL),
the logs, the pages every role reaches, the exports (xlsx, csv) or the PDFs.

Pages are found by crawling each role's links from its home page (and the kiosk's from its start), so a page
added later is swept without being listed here. Full runs (XIANGYUE_GATES=full) follow every link and read every
PDF, up to PER_SHAPE links of each shape (a roster's months, the households' pages); `make test` reads a fixed
sample.
"""
from __future__ import annotations

import io
import logging
import re
from collections import deque
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.registry.models import Person

from .misc import VILLAGERS, gates_full, scripted_session

pytestmark = pytest.mark.gates

#: the columns that hold a phone in full on purpose (the register's and a mediation party's contact);
#: ID numbers have none: the register keeps a keyed hash and a masked form only
PHONE_COLUMNS = {("people", "phone"), ("mediation_parties", "phone")}
#: roles whose work needs the full phone (the clerk keeps the register; reliability.md §3.5, domain.md §7)
PHONE_ROLES = {"clerk"}
#: a mediator calls the parties of their cases: the case, its form and its papers show each party's contact
#: (联系方式, as on the standard agreement form, domain.md §4), and only there, only that case's parties
CASE_PAGE = re.compile(r"^/mediation/cases/(\d+)(/|$)")
#: the demo logins (app/demo.py DEMO_LOGINS) and the role each holds
LOGINS = ["admin", "township", "clerk", "reviewer", "cashier", "patrol", "mediator", "grid"]
#: links a crawl must not follow: they change the session, not a page to read
SKIP = re.compile(r"^/(logout|lang/|static/|kiosk/finish|kiosk/enrol)")
NONE_ATTR = re.compile(r'\s[a-z][a-z-]*="None"')
PAGES_PER_ROLE = 10_000 if gates_full() else 45
PDFS_PER_ROLE = 10_000 if gates_full() else 1
#: links of one shape (the link with its numbers blanked) a crawl follows at most: every household's page is one
#: shape, and so is every month of a roster or a report, whose previous/next links never end. Without it a full
#: crawl walked decades of empty months and printed two PDFs for each, for hours.
PER_SHAPE = 50
_NUMBERS = re.compile(r"\d+")


@pytest.fixture
def village_of_200(app, caplog):
    caplog.set_level(logging.DEBUG)
    with app.test_request_context():
        session = scripted_session(VILLAGERS)
    people = db.session.execute(sa.select(Person.id, Person.phone)).all()
    ids = _id_numbers()
    phones = sorted({p for _i, p in people if p})
    assert len(ids) >= VILLAGERS and len(phones) >= VILLAGERS // 2
    db.session.rollback()
    return {"ids": ids, "phones": phones, **session}


def _id_numbers() -> list[str]:
    """The register's full ID numbers, made again from the demo's rule (region, birth date and the sequence the
    masked form shows) and proved by the keyed hash: the database keeps none in the clear, which is the point."""
    from app.demo import REGION
    from app.registry.identity import id_hmac, make_test_id

    rows = db.session.execute(sa.select(Person.birth_date, Person.id_masked, Person.id_hmac)
                              .where(Person.id_hmac.is_not(None))).all()
    found = [make_test_id(REGION, born, int(masked[-4:-1])) for born, masked, _h in rows]
    assert [id_hmac(n) for n in found] == [h for _b, _m, h in rows]
    return found


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.links.append(href)


def _text_of(r) -> str:
    """What a response shows: HTML or text as is, an xlsx's cells, a PDF's text."""
    ctype = r.headers.get("Content-Type", "")
    data = r.get_data()
    if "spreadsheetml" in ctype:
        from openpyxl import load_workbook

        wb = load_workbook(io.BytesIO(data), read_only=True)
        return "\n".join(str(c) for ws in wb.worksheets for row in ws.iter_rows(values_only=True) for c in row
                         if c is not None)
    if "pdf" in ctype:
        from pypdf import PdfReader

        return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)
    return data.decode("utf-8", "replace")


def _crawl(client, start: list[str]) -> dict[str, str]:
    """GET every same-site link reachable from `start` (HTML pages are followed); url → text shown."""
    seen, shown, queue, pdfs = set(start), {}, deque(start), 0
    shapes: dict[str, int] = {}
    while queue and len(shown) < PAGES_PER_ROLE:
        url = queue.popleft()
        r = client.get(url)
        ctype = r.headers.get("Content-Type", "")
        if r.status_code != 200:
            continue
        if "pdf" in ctype:
            if pdfs >= PDFS_PER_ROLE:
                continue
            pdfs += 1
        shown[url] = _text_of(r)
        if "text/html" not in ctype:
            continue
        parser = _Links()
        parser.feed(shown[url])
        for href in parser.links:
            parts = urlsplit(urljoin(url, href))
            if parts.scheme not in ("", "http") or parts.netloc not in ("", "localhost"):
                continue
            link = parts.path + (f"?{parts.query}" if parts.query else "")
            if SKIP.match(parts.path) or link in seen:
                continue
            seen.add(link)
            shape = _NUMBERS.sub("#", link)
            if shapes.get(shape, 0) >= PER_SHAPE:
                continue
            shapes[shape] = shapes.get(shape, 0) + 1
            queue.append(link)
    return shown


def _login(client, username: str) -> None:
    from app.demo import DEMO_PASSWORD

    r = client.post("/login", data={"username": username, "password": DEMO_PASSWORD})
    assert r.status_code == 302, username


def _leaks(shown: dict[str, str], values: list[str]) -> list[tuple[str, str]]:
    return [(url, v) for url, text in shown.items() for v in values if v in text]


def _kiosk_pages(app, village) -> dict[str, str]:
    from app.kiosk.demo import DEMO_PINS
    from app.registry.models import Household
    from tests.kiosk_helpers import enable_client

    client = app.test_client()
    enable_client(client, app, village)
    number = db.session.scalar(sa.select(Household.number).where(Household.village_id == village.id)
                               .order_by(Household.number).limit(1))
    assert client.post("/kiosk/number", data={"number": number}).status_code == 302
    assert client.post("/kiosk/pin", data={"pin": DEMO_PINS[0]}).status_code == 302
    return _crawl(client, ["/kiosk/", "/kiosk/entries", "/kiosk/posting", "/kiosk/shop", "/kiosk/rules"])


def _a_party_of_the_case(url: str, phone: str) -> bool:
    """Whether `url` is a page of a mediation case with a party whose contact is `phone`."""
    page = CASE_PAGE.match(url)
    if page is None:
        return False
    found = db.session.scalar(sa.text("SELECT count(*) FROM mediation_parties WHERE case_id = :c AND phone = :p"),
                              {"c": int(page.group(1)), "p": phone})
    db.session.rollback()
    return bool(found)


def test_no_page_export_pdf_or_log_shows_a_full_id_number_or_a_phone(app, village_of_200, caplog):
    ids, phones = village_of_200["ids"], village_of_200["phones"]
    reached: dict[str, dict[str, str]] = {}
    for login in LOGINS if gates_full() else ["clerk", "reviewer", "mediator", "grid"]:
        client = app.test_client()
        _login(client, login)
        shown = reached[login] = _crawl(client, ["/"] + (["/registry/export", "/points/entries/new"] if login == "clerk" else []))
        assert len(shown) >= (2 if login == "township" else 10), (login, sorted(shown))
        assert _leaks(shown, ids) == [], login
        if login == "mediator":
            assert [(url, p) for url, p in _leaks(shown, phones) if not _a_party_of_the_case(url, p)] == [], login
        elif login not in PHONE_ROLES:
            assert _leaks(shown, phones) == [], login
    kiosk = _kiosk_pages(app, village_of_200["village"])
    assert len(kiosk) >= 5 and _leaks(kiosk, ids + phones) == []
    assert _leaks({"log": caplog.text}, ids + phones) == []
    # the crawl did read the places a leak would be: files to download, pages that show people
    from app.registry.identity import mask_id

    assert any(re.search(r"export|\.xlsx|\.csv", u) for u in reached["clerk"]), sorted(reached["clerk"])
    text = "\n".join(t for shown in reached.values() for t in shown.values())
    assert any(mask_id(n) in text for n in ids)
    assert any(p in "\n".join(reached["clerk"].values()) for p in phones)  # the clerk's register does
    # markup: no attribute drawn from a Python None (aria-invalid="None" marked fresh fields invalid)
    none_attrs = {url: NONE_ATTR.findall(t)[:3] for shown in reached.values() for url, t in shown.items()
                  if NONE_ATTR.search(t)}
    assert none_attrs == {}
    # after the crawl (and whatever it wrote), the database
    _check_database(app, village_of_200)


def _text_columns() -> list[tuple[str, str]]:
    insp = sa.inspect(db.engine)
    out = []
    for table in insp.get_table_names():
        for col in insp.get_columns(table):
            if isinstance(col["type"], (sa.String, sa.Text, sa.JSON, sa.LargeBinary)) or \
                    col["type"].__class__.__name__.upper() in ("TEXT", "VARCHAR", "JSON", "JSONB", "BYTEA"):
                out.append((table, col["name"]))
    return out


def _check_database(app, village_of_200) -> None:
    """Every text column by SQL (both databases), and the SQLite file's bytes."""
    ids, phones = village_of_200["ids"], village_of_200["phones"]
    db.session.rollback()
    cols = _text_columns()
    assert PHONE_COLUMNS <= set(cols)
    checked = 0
    for table, column in cols:
        values = db.session.scalars(sa.text(f'SELECT CAST("{column}" AS TEXT) FROM "{table}"')).all()
        text = "\n".join(v for v in values if v)
        checked += len(values)
        assert [n for n in ids if n in text] == [], f"{table}.{column} holds full ID numbers"
        if (table, column) not in PHONE_COLUMNS:
            assert [p for p in phones if p in text] == [], f"{table}.{column} holds full phones"
    assert checked > 2 * VILLAGERS
    db.session.rollback()
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("sqlite"):
        path = Path(sa.engine.make_url(uri).database)
        data = b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
        assert [n for n in ids if n.encode() in data or n.encode("utf-16-le") in data] == []
        assert any(p.encode() in data for p in phones)  # the bytes searched do hold the register


def test_the_sweep_finds_a_number_where_a_page_shows_one():
    """Negative control: the sweep's needles do match a page that shows one, and not its masked form."""
    assert NONE_ATTR.search('<input aria-invalid="None">') and not NONE_ATTR.search("<p>None</p>")
    from app.registry.identity import mask_id
    from tests.conftest import valid_id

    n = valid_id(7)
    assert _leaks({"/x": f"<td>{n}</td>", "/y": f"<td>{mask_id(n)}</td>"}, [n]) == [("/x", n)]


def test_the_crawl_leaves_an_endless_calendar_after_a_few_months(monkeypatch):
    """A page whose "next month" link never ends (a roster, a report) is followed PER_SHAPE times, not until
    PAGES_PER_ROLE, while pages of other shapes are still read."""
    monkeypatch.setitem(globals(), "PAGES_PER_ROLE", 10_000)  # as in a full run, whatever this run is

    class Answer:
        status_code = 200
        headers = {"Content-Type": "text/html; charset=utf-8"}

        def __init__(self, html):
            self.data = html.encode()

        def get_data(self, as_text=False):
            return self.data.decode() if as_text else self.data

    class Calendar:
        def get(self, url):
            month = int(url.rsplit("=", 1)[1]) if "=" in url else 0
            return Answer(f'<a href="/reports/?month={month + 1}">next</a> <a href="/registry/">register</a>')

    shown = _crawl(Calendar(), ["/reports/"])
    assert "/registry/" in shown
    assert len([u for u in shown if u.startswith("/reports/?month=")]) == PER_SHAPE
