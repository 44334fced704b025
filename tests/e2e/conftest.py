"""Browser fixtures: Debian's Chromium driven by Playwright against the app served in a thread."""
from __future__ import annotations

import os
import shutil
import threading
import time

import pytest
from werkzeug.serving import make_server

from app.extensions import db

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    # Playwright for Python ignores PLAYWRIGHT_CHROMIUM_EXECUTABLE_PATH: name the binary here
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "locale": "zh-CN", "viewport": {"width": 1280, "height": 900}}


def _closed_before_sent(app):
    """The app with each response read whole and closed before the server writes it.

    werkzeug's development server skips a response's close() when the browser drops the connection while
    the server drains the request (serving.py, execute(): a ConnectionResetError in its `finally` before
    `application_iter.close()`). A static file's handle is then left to the garbage collector, and its
    ResourceWarning fails the test (warnings are errors). The browser drops such requests by chance: a
    favicon fetch cut short by a navigation (CI, test_back_and_resubmit_of_a_batch_records_each_entry_once).
    gunicorn, which serves the app in production, closes the response either way.
    """
    def wsgi(environ, start_response):
        body = app(environ, start_response)
        try:
            return [b"".join(body)]
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()

    return wsgi


@pytest.fixture
def live_server(app):
    """Serve the test's app on a free port of 127.0.0.1 for the browser."""
    server = make_server("127.0.0.1", 0, _closed_before_sent(app), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)
    # A request the browser started just before the end (a progress poll, a navigation) may still hold a
    # database connection in its own thread. Wait until every connection is back in the pool, so that the
    # app fixture's dispose() closes it: otherwise the garbage collector closes it during some later test,
    # whose warnings-as-errors then fail on the ResourceWarning.
    db.session.remove()
    deadline = time.monotonic() + 10
    while db.engine.pool.checkedout() and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.fixture
def outside_requests(page, live_server):
    """Record every request the page makes to anything but the live server."""
    seen: list[str] = []
    page.on("request", lambda req: seen.append(req.url) if not req.url.startswith(live_server)
            and not req.url.startswith("data:") else None)
    return seen


@pytest.fixture
def app_config() -> dict:
    """The browser posts real forms: keep CSRF protection on."""
    return {"WTF_CSRF_ENABLED": True}
