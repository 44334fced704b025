"""Rate limits hold across gunicorn workers with one budget per client (issue 22): login, kiosk PIN and /verify,
counted in Redis (RATELIMIT_STORAGE_URI=redis://127.0.0.1:6379/0, as `make run` chooses when a Redis answers),
over HTTP against gunicorn with 4 workers behind one trusted proxy (XIANGYUE_PROXIES=1).

tests/test_budgets_http.py proves one client's budget holds across the workers, in Redis and in the database.
Here two clients spend at once: each gets exactly its own budget, no more (the workers share the count) and no
less (one client's attempts never spend another's): two addresses for login and /verify, two kiosk devices for
PINs. A spent client is still refused afterwards while the other was served.
"""
from __future__ import annotations

import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis

from app.extensions import db
from tests.conftest import BACKENDS
from tests.http_helpers import http_request
from tests.kiosk_helpers import device_cookie, new_device
from tests.test_budgets_http import _make_run_store
from tests.test_budgets_http import server as _server_fixture  # noqa: F401

from .misc import gates_full

pytestmark = pytest.mark.gates

BUDGET, ATTEMPTS = 10, 24
ADDRESSES = ("10.0.0.1", "10.0.0.2")


@pytest.fixture(params=BACKENDS if gates_full() else ["sqlite"])
def backend(request) -> str:
    # the budgets are counted in Redis: the database under the app does not change what is
    # measured, so sampled runs start gunicorn once (on SQLite) and full runs on every backend
    return request.param


@pytest.fixture
def store():
    """Redis, as `make run` finds it here (keys under a prefix of this test's own, removed afterwards)."""
    uri = _make_run_store()
    assert uri == "redis://127.0.0.1:6379/0"  # a machine of this project runs redis-server: no skip
    client = redis.Redis.from_url(uri)
    prefix = f"xy-gate-{uuid.uuid4().hex[:12]}:"
    try:
        yield {"RATELIMIT_STORAGE_URI": uri, "RATELIMIT_KEY_PREFIX": prefix, "PROXY_COUNT": 1,
               "LOGIN_RATE": f"{BUDGET} per hour", "VERIFY_RATE": f"{BUDGET} per hour",
               "KIOSK_PIN_RATE": f"{BUDGET} per hour"}, (client, prefix)
    finally:
        for key in client.scan_iter(match=f"*{prefix}*"):
            client.delete(key)
        client.close()


server = _server_fixture


def _request(port: int, method: str, path: str, form: dict | None = None, *, address: str,
             cookies: dict | None = None) -> tuple[int, list[str]]:
    """A request from `address`, as the trusted proxy in front of gunicorn forwards it."""
    status, _body, set_cookies = http_request(port, method, path, form, cookies=cookies,
                                              headers={"X-Forwarded-For": address})
    return status, set_cookies


def _both(attempt) -> dict[int, Counter]:
    """ATTEMPTS attempts of each of two clients, interleaved, 16 at a time: statuses per client."""
    jobs = [(c, i) for i in range(ATTEMPTS) for c in (0, 1)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda job: (job[0], attempt(*job)), jobs))
    return {c: Counter(s for who, s in results if who == c) for c in (0, 1)}


def _each_got_its_budget(counts: dict[int, Counter], answered: int, what: str) -> None:
    for c in (0, 1):
        assert counts[c] == {answered: BUDGET, 429: ATTEMPTS - BUDGET}, (what, c, counts)


def test_each_client_has_one_budget_across_four_workers(app, village, server, store):
    port = server
    devices = [device_cookie(app, *new_device(village, f"大厅{n}")) for n in (1, 2)]
    db.session.remove()
    db.engine.dispose()  # the server processes own the database now

    counts = _both(lambda c, i: _request(port, "GET", f"/verify/{c}{i:09d}", address=ADDRESSES[c])[0])
    _each_got_its_budget(counts, 404, "/verify")

    counts = _both(lambda c, i: _request(port, "POST", "/login", {"username": f"guess{c}-{i}",
                                                                   "password": "wrong-pw-1"},
                                         address=ADDRESSES[c])[0])
    _each_got_its_budget(counts, 200, "/login")
    # a third address is served while the two are spent; the spent ones stay refused
    assert _request(port, "POST", "/login", {"username": "x", "password": "y"}, address="10.0.0.3")[0] == 200
    assert _request(port, "POST", "/login", {"username": "x", "password": "y"}, address=ADDRESSES[0])[0] == 429

    # kiosk PINs count per device, whatever address the kiosks share
    cookies = []
    for device in devices:
        status, set_cookies = _request(port, "POST", "/kiosk/number", {"number": "9999"}, address=ADDRESSES[0],
                                       cookies={"xy_kiosk_device": device})
        assert status == 302
        jar = {"xy_kiosk_device": device}
        jar.update(c.split(";", 1)[0].split("=", 1) for c in set_cookies)
        cookies.append(jar)
    counts = _both(lambda c, i: _request(port, "POST", "/kiosk/pin", {"pin": f"{9000 + i}"},
                                         address=ADDRESSES[0], cookies=cookies[c])[0])
    _each_got_its_budget(counts, 200, "/kiosk/pin")

    client, prefix = store[1]
    # one count per client and budget, all in Redis: 2 addresses × (verify, login), the third address, 2 kiosks
    assert len(list(client.scan_iter(match=f"{prefix}xiangyue:budget:*"))) == 7
