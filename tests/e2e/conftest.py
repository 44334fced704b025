"""Browser fixtures: Debian's Chromium driven by Playwright against the app served in a thread."""
from __future__ import annotations

import os
import shutil
import threading

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


class _Served:
    """The app as the test's server serves it: each response read whole and closed before the server writes
    it, and no request let in once the test is over.

    - werkzeug's development server skips a response's close() when the browser drops the connection while
      the server drains the request (serving.py, execute(): a ConnectionResetError in its `finally` before
      `application_iter.close()`). A static file's handle is then left to the garbage collector, and its
      ResourceWarning fails the test (warnings are errors). The browser drops such requests by chance: a
      favicon fetch cut short by a navigation (CI, test_back_and_resubmit_of_a_batch_records_each_entry_once).
      gunicorn, which serves the app in production, closes the response either way.
    - A request still on its way through the app when the test ends (a PDF rendered on a busy machine, an
      htmx poll) may not have taken its database connection yet, so waiting until no connection is checked
      out is not enough: it then takes one after the app fixture disposed of the engine, from a new pool no
      one closes, and the garbage collector closes it during some later test, whose warnings-as-errors fail
      on the ResourceWarning (CI: the audit and authz gates, after the browser tests). So close() turns away
      every later request and waits until none is inside the app.
    """

    def __init__(self, app):
        self.app = app
        self.state = threading.Condition()
        self.inside = 0
        self.closed = False

    def __call__(self, environ, start_response):
        with self.state:
            if self.closed:
                start_response("503 Service Unavailable", [("Content-Type", "text/plain"),
                                                           ("Connection", "close")])
                return [b"the test is over"]
            self.inside += 1
        try:
            body = self.app(environ, start_response)
            try:
                return [b"".join(body)]
            finally:
                close = getattr(body, "close", None)
                if close is not None:
                    close()
        finally:
            with self.state:
                self.inside -= 1
                self.state.notify_all()

    def close(self, timeout: float) -> None:
        with self.state:
            self.closed = True
            self.state.wait_for(lambda: self.inside == 0, timeout)


@pytest.fixture
def live_server(app):
    """Serve the test's app on a free port of 127.0.0.1 for the browser."""
    served = _Served(app)
    server = make_server("127.0.0.1", 0, served, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    served.close(timeout=30)
    server.shutdown()
    thread.join(timeout=5)
    # every request is out of the app, so every connection is back in the pool for the app fixture's
    # dispose() to close; the main thread's own session goes back too
    db.session.remove()
    assert served.inside == 0, "a request was still inside the app 30 s after the test"
    assert db.engine.pool.checkedout() == 0


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
