"""The app over real HTTP: gunicorn with 4 workers on a free port of 127.0.0.1, and plain requests to it.

Used where what is tested only shows across processes (budgets, PIN lockouts, the counter under load).
"""
from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_request(port: int, method: str, path: str, form: dict | None = None, *, cookies: dict | None = None,
                 headers: dict | None = None, timeout: float = 120) -> tuple[int, str, list[str]]:
    """One request on its own connection: (status, body, Set-Cookie headers). Chinese pages by default."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        sent = {"Accept-Language": "zh-CN", **(headers or {})}
        if cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=sent)
        resp = conn.getresponse()
        return resp.status, resp.read().decode(errors="replace"), resp.headers.get_all("Set-Cookie") or []
    finally:
        conn.close()


class Gunicorn:
    """gunicorn with `workers` workers, in a process group of its own (stopping it never signals pytest).

    With `config`, it serves create_app(config) through a shim module in `workdir`; without, this checkout's
    wsgi:app configured by `env` (DATABASE_URL, …), as `make run` serves it. Started when made: waits until
    `ready_path` answers, and fails with the end of gunicorn's log when it does not within `start_timeout`."""

    def __init__(self, workdir: Path, *, config: dict | None = None, env: dict | None = None, workers: int = 4,
                 ready_path: str = "/login", start_timeout: float = 90, log_name: str = "gunicorn.log"):
        self.port = free_port()
        self.log_path = workdir / log_name
        cmd = [str(GUNICORN), "-w", str(workers), "-b", f"127.0.0.1:{self.port}", "--timeout", "120",
               "--chdir", str(ROOT)]
        if config is not None:
            shim = workdir / f"served_{self.port}.py"
            shim.write_text(f"from app import create_app\napp = create_app({config!r})\n")
            cmd += ["--pythonpath", f"{workdir},{ROOT}", shim.stem + ":app"]
        else:
            cmd += ["wsgi:app"]
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True,
                                     env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **(env or {})})
        deadline = time.monotonic() + start_timeout
        while True:
            try:
                http_request(self.port, "GET", ready_path, timeout=5)
                return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError("gunicorn did not start:\n" + self.log_path.read_text(errors="replace")[-3000:])
            time.sleep(0.2)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # our own process group only
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._log.close()
