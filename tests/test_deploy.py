"""The files under deploy/ run what the repository provides: systemd units parse (and pass systemd-analyze
verify where it exists), their commands are this checkout's; the Windows scripts' command lines run here."""
from __future__ import annotations

import http.client
import os
import re
import shlex
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from app import create_app
from tests.conftest import BASE_CONFIG

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
UNITS = sorted([*DEPLOY.glob("systemd/*.service"), *DEPLOY.glob("systemd/*.timer"),
                *DEPLOY.glob("server/*.service")])
INSTALL_ROOT = "/srv/xiangyue"
BIN = ROOT / ".venv" / "bin"

KNOWN = {
    "Unit": {"Description", "After", "Wants", "Requires", "StartLimitIntervalSec", "StartLimitBurst"},
    "Service": {"Type", "User", "Group", "WorkingDirectory", "Environment", "EnvironmentFile", "ExecStart",
                "ExecStartPost", "Restart", "RestartSec", "UMask", "NoNewPrivileges", "PrivateTmp", "Nice",
                "IOSchedulingClass"},
    "Timer": {"OnCalendar", "Persistent", "RandomizedDelaySec", "Unit"},
    "Install": {"WantedBy"},
}


def parse_unit(path: Path) -> dict[str, list[tuple[str, str]]]:
    """A systemd unit file as {section: [(key, value), …]} (keys may repeat); raises on a malformed line."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if m := re.fullmatch(r"\[(\w+)\]", line):
            current = sections.setdefault(m[1], [])
            continue
        key, eq, value = line.partition("=")
        assert current is not None and eq and re.fullmatch(r"[A-Za-z]+", key), f"{path.name}:{n}: {line!r}"
        current.append((key, value.strip()))
    return sections


def _values(unit, section, key) -> list[str]:
    return [v for k, v in unit.get(section, []) if k == key]


def _cli_app(tmp_path):
    return create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/cli.db",
                       "INSTANCE_PATH": str(tmp_path / "cli-instance")})


def _assert_repo_command(argv: list[str], tmp_path) -> None:
    """argv (under /srv/xiangyue) names this checkout's gunicorn serving wsgi:app, or a real flask command."""
    exe = Path(argv[0])
    assert str(exe).startswith(f"{INSTALL_ROOT}/.venv/bin/"), argv
    assert (BIN / exe.name).is_file(), f"{exe.name} is not in .venv/bin"
    if exe.name == "gunicorn":
        assert argv[argv.index("-c") + 1] == "python:app.serving" and argv[-1] == "wsgi:app", argv
        from app import serving

        assert callable(serving.post_worker_init)
    elif exe.name == "flask":
        assert argv[1:3] == ["--app", "wsgi"], argv
        result = _cli_app(tmp_path).test_cli_runner().invoke(args=[*argv[3:], "--help"])
        assert result.exit_code == 0, (argv, result.output)
    else:
        raise AssertionError(f"unexpected program {exe}")


def test_the_systemd_units_parse_and_run_this_checkouts_commands(tmp_path):
    names = {p.name for p in UNITS}
    assert {"xiangyue.service", "xiangyue-backup.service", "xiangyue-backup.timer"} <= names
    for path in UNITS:
        unit = parse_unit(path)
        for section, pairs in unit.items():
            unknown = {k for k, _v in pairs} - KNOWN.get(section, set())
            assert not unknown, f"{path}: [{section}] {unknown}"
        assert _values(unit, "Unit", "Description"), path
        if path.suffix == ".timer":
            assert _values(unit, "Timer", "OnCalendar") and _values(unit, "Timer", "Persistent") == ["true"]
            assert (path.parent / _values(unit, "Timer", "Unit")[0]).is_file()
            assert _values(unit, "Install", "WantedBy") == ["timers.target"]
            continue
        assert _values(unit, "Service", "WorkingDirectory") == [INSTALL_ROOT]
        commands = _values(unit, "Service", "ExecStart") + _values(unit, "Service", "ExecStartPost")
        assert commands, path
        for command in commands:
            _assert_repo_command(shlex.split(command), tmp_path)
        if _values(unit, "Service", "Type") == ["simple"]:  # the server itself, started at boot
            assert _values(unit, "Install", "WantedBy") == ["multi-user.target"]
            assert "XIANGYUE_ENV=production" in _values(unit, "Service", "Environment")
    backup = parse_unit(DEPLOY / "systemd" / "xiangyue-backup.service")
    assert _values(backup, "Service", "ExecStart") == [f"{INSTALL_ROOT}/.venv/bin/flask --app wsgi backup"]


def test_systemd_analyze_verifies_the_units(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:  # not every test machine runs systemd: the parser test above still holds the units
        return
    for path in UNITS:
        folder = tmp_path / path.parent.name
        folder.mkdir(exist_ok=True)
        # the checkout stands in for /srv/xiangyue, so verify also proves every ExecStart program exists
        (folder / path.name).write_text(path.read_text(encoding="utf-8").replace(INSTALL_ROOT, str(ROOT)))
    for folder in {tmp_path / p.parent.name for p in UNITS}:
        units = sorted(str(p) for p in folder.iterdir())
        done = subprocess.run([analyze, "verify", *units], capture_output=True, text=True, timeout=120,
                              cwd=folder)
        noise = [line for line in (done.stdout + done.stderr).splitlines()
                 if line.strip() and "postgresql.service" not in line and "redis-server.service" not in line]
        assert done.returncode == 0 and not noise, done.stdout + done.stderr


def test_nginx_proxies_to_the_servers_gunicorn_and_sets_the_forwarded_address():
    conf = (DEPLOY / "server" / "nginx-xiangyue.conf").read_text(encoding="utf-8")
    unit = parse_unit(DEPLOY / "server" / "xiangyue.service")
    bind = shlex.split(_values(unit, "Service", "ExecStart")[0])
    address = bind[bind.index("-b") + 1]
    assert f"server {address};" in conf
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in conf  # set, never appended to
    assert "XIANGYUE_PROXIES=1" in _values(unit, "Service", "Environment")
    assert "alias /srv/xiangyue/app/static/;" in conf and (ROOT / "app" / "static").is_dir()


def test_behind_one_proxy_the_client_address_comes_from_x_forwarded_for(tmp_path):
    from flask import request

    for proxies, expected in ((1, "203.0.113.7"), (0, "127.0.0.1")):
        app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/p.db",
                          "INSTANCE_PATH": str(tmp_path / "i"), "PROXY_COUNT": proxies})
        app.add_url_rule("/_whoami", "whoami", lambda: request.remote_addr)
        with app.test_client() as client:
            r = client.get("/_whoami", headers={"X-Forwarded-For": "203.0.113.7"},
                           environ_base={"REMOTE_ADDR": "127.0.0.1"})
            assert r.get_data(as_text=True) == expected


# --- Windows -------------------------------------------------------------------------------------------

def _cmd_lines(name: str) -> list[str]:
    raw = (DEPLOY / "windows" / name).read_bytes()
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b""), f"{name} must keep CRLF line ends"
    return raw.decode("ascii").splitlines()


def _linux_command(line: str, root: Path) -> list[str]:
    """A Windows script's command line as it runs here: .venv\\Scripts\\x.exe → .venv/bin/x, no redirection."""
    line = line.replace("%XY_ROOT%", str(root)).replace("\\", "/")
    argv = shlex.split(line)
    if ">>" in argv:
        argv = argv[:argv.index(">>")]
    exe = re.sub(r"/\.venv/Scripts/(\w[\w-]*)\.exe$", r"/.venv/bin/\1", argv[0])
    return [exe, *argv[1:]]


def _script_env(lines: list[str], tmp_path: Path, sqlite_template: Path) -> dict:
    db_file = tmp_path / "village.db"
    db_file.write_bytes(sqlite_template.read_bytes())
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db_file}", "XIANGYUE_INSTANCE_PATH": str(tmp_path / "inst"),
           "SECRET_KEY": BASE_CONFIG["SECRET_KEY"], "ID_HMAC_KEY": BASE_CONFIG["ID_HMAC_KEY"]}
    env.pop("FLASK_RUN_FROM_CLI", None)
    for line in lines:  # the script's own `set NAME=value` lines
        if m := re.fullmatch(r"set (\w+)=(\S+)", line.strip()):
            env[m[1]] = m[2]
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_windows_start_script_serves_the_app_with_waitress(tmp_path, sqlite_template):
    lines = _cmd_lines("start-xiangyue.cmd")
    [line] = [ln for ln in lines if "waitress-serve.exe" in ln]
    argv = _linux_command(line, ROOT)
    assert argv[-1] == "wsgi:app" and "--listen=0.0.0.0:5000" in argv
    port = _free_port()
    argv = [a.replace("0.0.0.0:5000", f"127.0.0.1:{port}") for a in argv]
    env = _script_env(lines, tmp_path, sqlite_template)
    assert env["XIANGYUE_ENV"] == "production"
    log = open(tmp_path / "waitress.log", "wb")
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / "waitress.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "waitress did not answer"
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            try:
                conn.request("GET", "/login")
                resp = conn.getresponse()
                assert resp.status == 200 and "乡约" in resp.read().decode()
                break
            except OSError:
                time.sleep(0.2)
            finally:
                conn.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def test_the_windows_backup_task_runs_flask_backup(tmp_path, sqlite_template):
    lines = _cmd_lines("backup-xiangyue.cmd")
    commands = [_linux_command(ln, ROOT) for ln in lines if "flask.exe" in ln]
    assert [c[3:] for c in commands] == [["backup"], ["statements", "purge", "--older-than", "30"]]
    env = _script_env(lines, tmp_path, sqlite_template)
    done = subprocess.run(commands[0], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    made = sorted((tmp_path / "inst" / "backups").glob("*.tar.gz"))
    assert len(made) == 1 and Path(f"{made[0]}.sha256").is_file()
    # the task registered by install-backup-task.cmd runs that script, every night
    install = "\n".join(_cmd_lines("install-backup-task.cmd"))
    assert '/TR "\\"%~dp0backup-xiangyue.cmd\\""' in install and "/SC DAILY" in install


def test_upgrade_script_backs_up_before_it_migrates(tmp_path):
    script = DEPLOY / "upgrade.sh"
    assert os.access(script, os.X_OK)
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0
    text = script.read_text(encoding="utf-8")
    assert text.index('"${FLASK[@]}" backup') < text.index('"${FLASK[@]}" db upgrade')
    from flask_migrate.cli import db as migrate_commands

    runner = _cli_app(tmp_path).test_cli_runner()
    commands = re.findall(r'"\$\{FLASK\[@\]\}" ([a-z ]+)\n', text)
    assert commands == ["backup", "db upgrade", "ledger check", "audit verify"]
    for command in commands:
        if command.startswith("db "):  # Flask-Migrate's group, not the app's
            assert command.split()[1] in migrate_commands.commands
        else:
            assert runner.invoke(args=[*command.split(), "--help"]).exit_code == 0, command


@pytest.mark.parametrize("path", sorted(str(p.relative_to(ROOT)) for p in DEPLOY.rglob("*") if p.is_file()))
def test_every_deploy_file_is_named_in_the_operations_guide(path):
    assert path in (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
