"""Load machinery: gunicorn start/stop, a logged-in HTTP client, wrk runs and their parsing, process memory.

Nothing here knows a page: figures (bench/figures.py) combine these pieces.
"""
from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from .common import PROJECT_ROOT

VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- memory ------------------------------------------------------------------------------------------------

def _status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def process_tree(pid: int) -> list[int]:
    """pid and all its descendants (from /proc/<pid>/task/*/children)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*") if Path(f"/proc/{p}/task").exists() else []:
            try:
                todo.extend(int(c) for c in (task / "children").read_text().split())
            except OSError:
                pass
    return out


def peak_rss_mb(pids: list[int]) -> float:
    """The largest peak resident set (VmHWM) among the processes, in MiB."""
    return max((_status_kb(p, "VmHWM") for p in pids), default=0) / 1024


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process, in seconds (fields 14 and 15 of /proc/<pid>/stat)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


# --- gunicorn ------------------------------------------------------------------------------------------------

class Server:
    """gunicorn with N sync workers on 127.0.0.1, started for one figure and stopped after it."""

    def __init__(self, app_spec: str, env: dict[str, str] | None = None, workers: int = 4):
        self.app_spec = app_spec
        self.env = {**os.environ, **(env or {})}
        self.workers = workers
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.peak_mb = 0.0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        # the settings `make run` serves with (app/serving.py warms each worker before its first request)
        cmd = [str(VENV_BIN / "gunicorn"), "--config", "python:app.serving", "--workers", str(self.workers),
               "--bind", f"127.0.0.1:{self.port}",
               "--timeout", "120", "--graceful-timeout", "5", "--log-level", "warning", self.app_spec]
        self.proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=self.env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn {self.app_spec} exited: {self.proc.stderr.read().decode()[-2000:]}")
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            try:
                conn.request("GET", "/static/none")
                conn.getresponse().read()
                if len(process_tree(self.proc.pid)) > self.workers:  # every worker has booted
                    return
            except OSError:
                pass
            finally:
                conn.close()
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gunicorn {self.app_spec} did not answer within 60 s")

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the master and its workers: on a shared machine the
        CPU per request is steadier than wall-clock latency."""
        if self.proc is None or self.proc.poll() is not None:
            return 0.0
        return sum(cpu_seconds(p) for p in process_tree(self.proc.pid))

    def sample_memory(self) -> float:
        """Peak RSS (MiB) of the master and its workers so far; remembered across samples."""
        if self.proc is not None and self.proc.poll() is None:
            self.peak_mb = max(self.peak_mb, peak_rss_mb(process_tree(self.proc.pid)))
        return self.peak_mb

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.sample_memory()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        if self.proc.stderr is not None:
            self.proc.stderr.close()


# --- a small HTTP client with cookies (the stdlib only) ----------------------------------------------------------

#: a form's CSRF token and idempotency key, as the app's pages draw them (hidden inputs, name before value)
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
KEY_RE = re.compile(r'name="idempotency_key"[^>]*value="([^"]+)"')


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    text: str
    seconds: float


@dataclass
class Client:
    """One keep-alive connection with a cookie jar, like one browser tab."""

    port: int
    cookies: dict[str, str] = field(default_factory=dict)
    conn: http.client.HTTPConnection | None = None

    def _send(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> Response:
        hdrs = {"Connection": "keep-alive", **(headers or {})}
        if self.cookies:
            hdrs["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            t0 = time.perf_counter()
            try:
                self.conn.request(method, path, body=body, headers=hdrs)
                r = self.conn.getresponse()
                data = r.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # gunicorn's sync workers close idle keep-alive connections: reconnect once
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
                continue
            seconds = time.perf_counter() - t0
            for key, value in r.getheaders():
                if key.lower() == "set-cookie":
                    name, _, rest = value.partition("=")
                    self.cookies[name.strip()] = rest.split(";", 1)[0]
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()},
                            data.decode("utf-8", "replace"), seconds)
        raise AssertionError("unreachable")

    def get(self, path: str) -> Response:
        return self._send("GET", path)

    def post(self, path: str, form: dict, headers: dict | None = None) -> Response:
        body = urllib.parse.urlencode(form).encode()
        return self._send("POST", path, body, {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})})

    def post_file(self, path: str, form: dict, field_name: str, filename: str, data: bytes) -> Response:
        """A multipart/form-data POST: the form's fields and one file, as a browser uploads it."""
        boundary = f"bench{time.time_ns():x}"
        parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
                 for k, v in form.items()]
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{field_name}"; '
                     f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
                     + data + b"\r\n")
        parts.append(f"--{boundary}--\r\n".encode())
        return self._send("POST", path, b"".join(parts),
                          {"Content-Type": f"multipart/form-data; boundary={boundary}"})

    def login(self, username: str, password: str) -> None:
        page = self.get("/login")
        token = CSRF_RE.search(page.text)
        r = self.post("/login", {"username": username, "password": password,
                                 "csrf_token": token.group(1) if token else ""})
        if r.status != 302:
            raise RuntimeError(f"login of {username} failed: HTTP {r.status}")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())


def get_with_cookie(port: int, path: str, cookie: str) -> Response:
    """One GET with a fixed Cookie header, as wrk sends it."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        t0 = time.perf_counter()
        conn.request("GET", path, headers={"Cookie": cookie})
        r = conn.getresponse()
        data = r.read()
        return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data.decode("utf-8", "replace"),
                        time.perf_counter() - t0)
    finally:
        conn.close()


# --- wrk ---------------------------------------------------------------------------------------------------------

def have_wrk() -> bool:
    return shutil.which("wrk") is not None


_UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not m:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(m.group(1)) * _UNIT[m.group(2)]


@dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: int
    #: server CPU (master + workers) per request, ms; 0 when no server was given
    cpu_ms: float = 0.0


def parse_wrk(output: str) -> WrkResult:
    """Read requests/s, p50/p99 latency and errors from `wrk --latency` output."""
    dist = dict(re.findall(r"^\s+(\d+(?:\.\d+)?)%\s+(\S+)\s*$", output, re.M))
    rps = float(re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M).group(1))
    total = int(re.search(r"^\s*(\d+) requests in", output, re.M).group(1))
    non = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return WrkResult(rps=rps, p50_ms=_ms(dist["50"]), p99_ms=_ms(dist["99"]), requests=total,
                     non_2xx=int(non.group(1)) if non else 0,
                     socket_errors=sum(int(x) for x in sock.groups()) if sock else 0)


def run_wrk(url: str, seconds: float, *, connections: int = 4, threads: int = 2, cookie: str | None = None,
            server: Server | None = None) -> WrkResult:
    """Load `url` for `seconds` with wrk; sample the server's memory while it runs."""
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, int(seconds))}s", "--latency", "--timeout", "10s"]
    if cookie:
        cmd += ["-H", f"Cookie: {cookie}"]
    cpu0 = server.cpu_seconds() if server is not None else 0.0
    proc = subprocess.Popen(cmd + [url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while proc.poll() is None:
        if server is not None:
            server.sample_memory()
        time.sleep(0.5)
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed: {err or out}")
    result = parse_wrk(out)
    if server is not None and result.requests:
        result.cpu_ms = (server.cpu_seconds() - cpu0) * 1000 / result.requests
    return result


# --- a CLI process, timed, with its own peak memory ----------------------------------------------------------------

#: GNU time (Debian package "time") forks the command from its own small process, so the peak it reports is
#: the command's alone; a child forked straight from a big parent (the bench runner, pytest) would inherit the
#: parent's high-water mark at exec and report that instead
GNU_TIME = "/usr/bin/time"
_MAXRSS_TAG = "XY-MAXRSS-KIB"


def run_cli(args: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Run a command; return (wall seconds, the command's own peak RSS in MiB, stdout). Raises on failure."""
    import tempfile

    timed = os.path.exists(GNU_TIME)
    argv = [GNU_TIME, "-f", f"{_MAXRSS_TAG} %M", *args] if timed else list(args)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=PROJECT_ROOT, env={**os.environ, **(env or {})}, stdout=out, stderr=err)
        _pid, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    kib = usage.ru_maxrss
    if timed:
        lines = [ln for ln in stderr.splitlines() if ln.startswith(_MAXRSS_TAG)]
        if lines:
            kib = int(lines[-1].split()[-1])
        stderr = "\n".join(ln for ln in stderr.splitlines() if not ln.startswith(_MAXRSS_TAG)
                           and not ln.startswith("Command exited with non-zero status"))
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {proc.returncode}: {(stdout + stderr)[-3000:]}")
    return seconds, kib / 1024, stdout
