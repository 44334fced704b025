"""The budgets that guard secrets hold across gunicorn's 4 workers (issue 13, app/budgets.py).

With Flask-Limiter's in-process memory every worker counted its own budget: 30 PINs an hour per kiosk let
~119 through, and /verify served 120 of 200. Here 200 attempts go to gunicorn with 4 workers at once, 16
at a time, for each budget: a kiosk's wrong PINs, statement codes on /verify, logins from one address.
Exactly 30 are answered; the other 170 get the friendly Chinese 429 page. Once with the budgets counted
in the database and once in Redis, each chosen as `make run` chooses (its probe of 127.0.0.1:6379, run
as `make budget-store`); the Redis keys carry a prefix of the test's own and are removed afterwards.
"""
from __future__ import annotations

import os
import re
import subprocess
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
import sqlalchemy as sa

from app.budgets import BudgetCounter
from app.extensions import db
from tests.conftest import BASE_CONFIG
from tests.http_helpers import ROOT, Gunicorn, free_port, http_request
from tests.kiosk_helpers import device_cookie, new_device

ATTEMPTS, BUDGET, CLIENTS = 200, 30, 16
TOO_MANY = "尝试次数太多，请稍等片刻再试。"


def _make_run_store(**make_vars: str) -> str:
    """The RATELIMIT_STORAGE_URI `make run` would serve with (its probe of Redis): `make budget-store`."""
    env = {k: v for k, v in os.environ.items() if k not in ("RATELIMIT_STORAGE_URI", "MAKEFLAGS", "MFLAGS")}
    done = subprocess.run(["make", "-s", "--no-print-directory", "budget-store",
                           *(f"{k}={v}" for k, v in make_vars.items())],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture(params=["database", "redis"])
def store(request):
    """Where `make run` counts the budgets: in the database when no Redis answers (here: a port where none
    listens), in Redis when redis-server answers on 127.0.0.1:6379 (keys under a prefix of the test's own)."""
    if request.param == "database":
        uri = _make_run_store(REDIS_PORT=str(free_port()))
        assert uri == "memory://"
        yield {"RATELIMIT_STORAGE_URI": uri}, None
        return
    uri = _make_run_store()
    assert uri == "redis://127.0.0.1:6379/0"  # a machine of this project runs redis-server: no skip
    client = redis.Redis.from_url(uri)
    prefix = f"xy-test-{uuid.uuid4().hex[:12]}:"
    try:
        yield {"RATELIMIT_STORAGE_URI": uri, "RATELIMIT_KEY_PREFIX": prefix}, (client, prefix)
    finally:
        for key in client.scan_iter(match=f"*{prefix}*"):
            client.delete(key)
        client.close()


@pytest.fixture
def server(app, db_uri, tmp_path, store):
    """gunicorn with 4 workers on the test's database, every budget on, 30 an hour each."""
    settings, _redis = store
    config = {**BASE_CONFIG, "RATELIMIT_ENABLED": True, "SQLALCHEMY_DATABASE_URI": db_uri,
              "INSTANCE_PATH": str(tmp_path / "instance"),
              # an hour, so that the whole run falls in one window however slow the machine is
              "LOGIN_RATE": f"{BUDGET} per hour", "VERIFY_RATE": f"{BUDGET} per hour",
              "KIOSK_PIN_RATE": f"{BUDGET} per hour", "KIOSK_IDLE_SECONDS": 3600, **settings}
    server = Gunicorn(tmp_path, config=config)
    try:
        yield server.port
    finally:
        server.stop()


def _fire(attempt) -> list[tuple[int, str]]:
    """ATTEMPTS calls of attempt(i), CLIENTS at a time; their (status, page)."""
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        return list(pool.map(attempt, range(ATTEMPTS)))


def _assert_budget_held(results: list[tuple[int, str]], answered: int, what: str) -> None:
    statuses = Counter(status for status, _page in results)
    assert statuses == {answered: BUDGET, 429: ATTEMPTS - BUDGET}, (what, statuses)
    refused = [page for status, page in results if status == 429]
    assert all(TOO_MANY in page and "Traceback" not in page for page in refused), refused[0][:500]


def test_every_secret_budget_holds_across_four_workers(app, village, server, store):
    port = server
    device_id, token = new_device(village)
    device = device_cookie(app, device_id, token)
    db.session.remove()
    db.engine.dispose()  # the server processes own the database now

    # statement codes on the public check page: 30 answers (no such code), then 429
    _assert_budget_held(_fire(lambda i: http_request(port, "GET", f"/verify/{i:010d}")[:2]), 404, "/verify")

    # logins from one address, a new name each time (no account lock helps): 30 answers, then 429
    def login(i: int):
        return http_request(port, "POST", "/login", {"username": f"guess{i}", "password": "wrong-pw-1"})[:2]

    results = _fire(login)
    _assert_budget_held(results, 200, "/login")
    assert all("用户名或密码错误" in page for status, page in results if status == 200)

    # one kiosk spraying PINs over unknown 户号 (each locks after 5, like a real household): 30 counted
    status, _page, set_cookies = http_request(port, "POST", "/kiosk/number", {"number": "9999"},
                                              cookies={"xy_kiosk_device": device})
    assert status == 302
    cookies = {"xy_kiosk_device": device}
    cookies.update(c.split(";", 1)[0].split("=", 1) for c in set_cookies)
    results = _fire(lambda i: http_request(port, "POST", "/kiosk/pin", {"pin": f"{9000 + i}"}, cookies=cookies)[:2])
    _assert_budget_held(results, 200, "/kiosk/pin")
    answers = Counter(re.search(r'data-pin-result="(\w*)"', page).group(1) for s, page in results if s == 200)
    assert answers == {"wrong": 4, "locked": BUDGET - 4}, answers

    # the counts live where the installation keeps them
    db.session.rollback()
    rows = db.session.scalar(sa.select(sa.func.count()).select_from(BudgetCounter))
    _settings, in_redis = store
    if in_redis is None:
        assert rows == 3
    else:
        client, prefix = in_redis
        assert rows == 0
        assert len(list(client.scan_iter(match=f"{prefix}xiangyue:budget:*"))) == 3
