"""T3 over HTTP (docs/ledger.md, "Tests that prove it"): gunicorn with 4 workers, 16 client threads logged in as 4 cashiers.

Every thread loads the counter form (CSRF token and idempotency key), then confirms. Household A holds
100 points and asks for 1 × 大米 (10 points) each time: exactly 10 may go through. Household B is rich
and asks for 1 × 食用油, of which 6 are on the shelf: exactly 6 may go through. Every other confirm is
refused with a message; no response is ≥ 500; the ledger and stock checks are clean afterwards.
"""
from __future__ import annotations

import html
import http.cookiejar
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.ledger import services as ledger
from app.ledger.queries import balance_of
from app.ledger.models import AccountKind
from app.shop import services as shop
from app.shop.models import Product, Redemption
from app.submission import write_transaction
from tests.conftest import BASE_CONFIG, PASSWORD
from tests.http_helpers import Gunicorn

THREADS, CASHIERS, ROUNDS = 16, 4, 6
RICE_POINTS, A_BALANCE = 10, 100  # household A: balance-bound, 10 receipts
OIL_STOCK = 6  # household B: stock-bound, 6 receipts


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Client:
    """One cashier's browser: a cookie jar, no automatic redirects."""

    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect)

    def request(self, path: str, data: dict | None = None) -> tuple[int, str, dict]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        req = urllib.request.Request(self.base + path, data=body, headers={"Accept-Language": "zh-CN"})
        try:
            with self.opener.open(req, timeout=60) as resp:
                return resp.status, resp.read().decode(), dict(resp.headers)
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(errors="replace"), dict(e.headers)

    def login(self, username: str) -> None:
        _s, page, _h = self.request("/login")
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        status, _p, headers = self.request("/login", {"csrf_token": token, "username": username,
                                                      "password": PASSWORD})
        assert status == 302 and "/login" not in headers.get("Location", ""), status


@pytest.fixture
def gunicorn(db_uri, tmp_path):
    """Serve the test's database with gunicorn (4 workers) on a free port of 127.0.0.1."""
    config = {**BASE_CONFIG, "WTF_CSRF_ENABLED": True, "SQLALCHEMY_DATABASE_URI": db_uri,
              "INSTANCE_PATH": str(tmp_path / "instance")}
    server = Gunicorn(tmp_path, config=config)
    try:
        yield server.base
    finally:
        server.stop()


@pytest.fixture
def counter_day(app, village, make_user, make_household):
    """4 cashiers; household A with 100 points, B with 100,000; 大米 (10 points, 1,000) and 食用油 (30, 6)."""
    for i in range(CASHIERS):
        make_user(f"cash{i}", ("cashier", village))
    a = make_household(village, "0101", "张三丰")
    b = make_household(village, "0102", "李四")
    with write_transaction():
        issuance = ledger.system_account(village.id, AccountKind.ISSUANCE)
        ledger.post_transfer(debit=issuance, credit=ledger.household_account(a), amount=A_BALANCE, code="opening",
                             key="open-a")
        ledger.post_transfer(debit=issuance, credit=ledger.household_account(b), amount=100_000, code="opening",
                             key="open-b")
        rice = shop.create_product(village, name="大米", spec="5kg", unit="袋", price_points=RICE_POINTS)
        oil = shop.create_product(village, name="食用油", spec="1.8L", unit="桶", price_points=30)
        shop.receive_purchase(rice, 1000, "")
        shop.receive_purchase(oil, OIL_STOCK, "")
    ids = {"a": a.id, "b": b.id, "rice": rice.id, "oil": oil.id}
    db.session.remove()
    db.engine.dispose()  # the server processes own the database now
    return ids


def _round(client: Client, ids: dict, household: str) -> tuple[int, str, float]:
    """Load the counter form for the household and confirm its basket; (status, outcome, seconds)."""
    hid = ids[household]
    status, page, _h = client.request(f"/shop/counter?household={hid}")
    assert status == 200, status
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    key = re.search(r'name="idempotency_key" type="hidden" value="([^"]+)"', page).group(1)
    product = ids["rice"] if household == "a" else ids["oil"]
    started = time.perf_counter()
    status, page, headers = client.request("/shop/counter", {
        "csrf_token": token, "idempotency_key": key, "household_id": hid, f"qty_{product}": "1", "confirm": "1"})
    took = time.perf_counter() - started
    if status == 302 and "/shop/redemptions/" in headers.get("Location", ""):
        return status, "receipt", took
    text = html.unescape(page)
    if status == 200 and ("积分不足" in text or "库存不足" in text):
        return status, "refused", took
    return status, f"other: {re.sub(r'<[^>]+>', ' ', text)[-300:]}", took


def test_t3_counter_over_http_under_gunicorn(counter_day, gunicorn, app):
    ids = counter_day
    results: list[tuple[int, str, float]] = []
    failures: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(THREADS)

    def worker(n: int) -> None:
        try:
            client = Client(gunicorn)
            client.login(f"cash{n % CASHIERS}")
            start.wait(timeout=120)
            for i in range(ROUNDS):
                # half the rounds for each household, interleaved across the threads
                outcome = _round(client, ids, "a" if (n + i) % 2 == 0 else "b")
                with lock:
                    results.append(outcome)
        except Exception as e:  # noqa: BLE001 - reported below; a dead thread must not hang the test
            with lock:
                failures.append(f"thread {n}: {type(e).__name__}: {e}")
            start.abort()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not failures, failures
    assert len(results) == THREADS * ROUNDS
    statuses = [s for s, _o, _t in results]
    assert [s for s in statuses if s >= 500] == []
    outcomes = [o for _s, o, _t in results]
    assert [o for o in outcomes if o.startswith("other")] == []
    # exactly what the balance (A: 100 / 10) and the shelf (B: 6 bottles) allow
    assert outcomes.count("receipt") == A_BALANCE // RICE_POINTS + OIL_STOCK
    assert outcomes.count("refused") == THREADS * ROUNDS - outcomes.count("receipt")
    times = sorted(t for _s, _o, t in results)
    p95 = times[int(len(times) * 0.95) - 1]
    print(f"T3: {len(results)} confirms, p95 {p95:.3f} s, max {times[-1]:.3f} s")

    db.session.remove()
    from app.registry.models import Household

    assert balance_of(db.session.get(Household, ids["a"])) == 0
    assert db.session.get(Product, ids["oil"]).stock == 0
    assert db.session.get(Product, ids["rice"]).stock == 1000 - A_BALANCE // RICE_POINTS
    per_household = dict(db.session.execute(sa.select(Redemption.household_id, sa.func.count())
                                            .group_by(Redemption.household_id)).all())
    assert per_household == {ids["a"]: A_BALANCE // RICE_POINTS, ids["b"]: OIL_STOCK}
    assert ledger.check() == [] and shop.check_stock() == []
    runner = app.test_cli_runner()
    r = runner.invoke(args=["ledger", "check"])
    assert r.exit_code == 0 and "clean" in r.output, r.output
