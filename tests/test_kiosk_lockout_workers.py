"""The PIN lockout holds across processes: 8 concurrent wrong PINs against gunicorn with 4 workers
count exactly 5 before the household locks (an unknown 户号 too), and the lock survives a restart."""
from __future__ import annotations

import http.client
import re
import threading
from pathlib import Path
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa

from app.audit.models import AuditLog
from app.extensions import db
from app.kiosk.models import KioskPin
from tests.conftest import BASE_CONFIG, valid_id
from tests.http_helpers import Gunicorn
from tests.kiosk_helpers import PIN, device_cookie, new_device, seed

WRONG = "9147"


class Kiosk:
    """One browser: its own connection and cookies."""

    def __init__(self, port: int, device: str):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookies = {"xy_kiosk_device": device}

    def request(self, method: str, path: str, form: dict | None = None) -> tuple[int, str]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body=body, headers=headers)
        resp = self.conn.getresponse()
        text = resp.read().decode()
        for raw in resp.headers.get_all("Set-Cookie") or []:
            name, _, rest = raw.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return resp.status, text

    def close(self) -> None:
        self.conn.close()

    def token(self, path: str) -> str:
        status, html = self.request("GET", path)
        assert status == 200, (path, status, html[:300])
        return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)

    def choose(self, number: str) -> str:
        """Type the 户号 and return the CSRF token of the PIN page."""
        status, _ = self.request("POST", "/kiosk/number", {"csrf_token": self.token("/kiosk/number"),
                                                           "number": number})
        assert status == 302
        return self.token("/kiosk/pin")

    def pin(self, token: str, pin: str) -> tuple[int, str, bool]:
        status, html = self.request("POST", "/kiosk/pin", {"csrf_token": token, "pin": pin})
        if status == 302:
            return status, "open", False
        m = re.search(r'data-pin-result="(\w*)" data-pin-counted="(\d)"', html)
        return status, m.group(1), m.group(2) == "1"


class Server(Gunicorn):
    """This checkout's wsgi:app as `make run` serves it, configured by the environment."""

    def __init__(self, db_uri: str, instance: Path, workdir: Path):
        super().__init__(workdir, ready_path="/kiosk/", start_timeout=60, env={
            "DATABASE_URL": db_uri, "SECRET_KEY": BASE_CONFIG["SECRET_KEY"],
            "ID_HMAC_KEY": BASE_CONFIG["ID_HMAC_KEY"], "XIANGYUE_INSTANCE_PATH": str(instance),
            "RATELIMIT_STORAGE_URI": "memory://"})


@pytest.fixture
def clients():
    made: list[Kiosk] = []
    yield made
    for k in made:
        k.close()


@pytest.fixture
def server_factory(app, db_uri, tmp_path):
    servers: list[Server] = []

    def start() -> Server:
        s = Server(db_uri, tmp_path / "gunicorn-instance", tmp_path)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.stop()


def test_eight_concurrent_wrong_pins_count_exactly_five(app, village, make_user, make_household,
                                                        server_factory, clients):
    data = seed(village, make_user, make_household, valid_id)
    device_id, token = new_device(village)
    cookie = device_cookie(app, device_id, token)
    db.session.commit()
    server = server_factory()

    def race(number: str) -> list:
        kiosks = [Kiosk(server.port, cookie) for _ in range(8)]
        clients.extend(kiosks)
        tokens = [k.choose(number) for k in kiosks]
        barrier = threading.Barrier(len(kiosks))
        results: list = [None] * len(kiosks)

        def attack(i: int) -> None:
            barrier.wait()
            results[i] = kiosks[i].pin(tokens[i], WRONG)

        threads = [threading.Thread(target=attack, args=(i,)) for i in range(len(kiosks))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert all(r is not None and r[0] == 200 for r in results), results
        return results

    results = race("0501")
    counted = [r for r in results if r[2]]
    assert len(counted) == 5, results
    assert sorted(r[1] for r in results) == ["locked"] * 4 + ["wrong"] * 4, results
    # an unknown 户号 answers and locks exactly the same way, even under the same race
    unknown = race("9999")
    assert len([r for r in unknown if r[2]]) == 5, unknown
    assert sorted(r[1] for r in unknown) == ["locked"] * 4 + ["wrong"] * 4, unknown

    db.session.rollback()
    hid = data["households"]["0501"]
    row = db.session.scalar(sa.select(KioskPin).where(KioskPin.household_id == hid))
    assert row.failed_count == 5 and row.locked_until is not None
    failures = db.session.scalar(sa.select(sa.func.count(AuditLog.id)).where(
        AuditLog.action == "kiosk.pin_failed", AuditLog.household_id == hid))
    assert failures == 5
    # the right PIN is refused now, and after a restart of every worker too
    k = Kiosk(server.port, cookie)
    clients.append(k)
    assert k.pin(k.choose("0501"), PIN)[1] == "locked"
    server.stop()
    server = server_factory()
    k = Kiosk(server.port, cookie)
    clients.append(k)
    assert k.pin(k.choose("0501"), PIN)[1] == "locked"
    # another household opens as usual
    assert k.pin(k.choose("0502"), "7391")[1] == "open"
