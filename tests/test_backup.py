"""`flask backup` and `flask restore`, the admin page's download, and the refusal to serve a schema behind."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from urllib.parse import unquote

import pytest
import sqlalchemy as sa

from app.audit.models import AuditLog
from app.extensions import db
from app.ledger import services as ledger
from app.ledger.models import AccountKind, Transfer
from app.ops.backup import create_backup, list_backups
from app.ops.schema import schema_problem
from app.submission import write_transaction
from tests.backup_helpers import FreshTargets

ROOT = Path(__file__).resolve().parent.parent
PNG = b"\x89PNG\r\n\x1a\n" + b"evidence-bytes" * 50


@pytest.fixture
def targets(backend, tmp_path):
    t = FreshTargets(backend, tmp_path)
    yield t
    t.drop()


@pytest.fixture
def seeded(app, village, make_household):
    """A village with a household holding 700 points, and evidence, patrol and grid photos on disk."""
    h = make_household(village, "0101", "张三")
    with write_transaction():
        acct = ledger.household_account(h)
        issuance = ledger.system_account(village.id, AccountKind.ISSUANCE)
        ledger.system_account(village.id, AccountKind.SHOP)
        ledger.post_transfer(debit=issuance, credit=acct, amount=700, code="opening", key="open-1")
    instance = Path(app.instance_path)
    for sub in ("evidence", "patrol", "grid"):
        (instance / sub).mkdir(parents=True, exist_ok=True)
        (instance / sub / f"{sub}-1.png").write_bytes(PNG)
    # staged imports and batch PDFs stay out of a backup
    (instance / "imports").mkdir(exist_ok=True)
    (instance / "imports" / "pending.xlsx").write_bytes(b"full ID numbers")
    (instance / "statements").mkdir(exist_ok=True)
    (instance / "statements" / "statements-1-abcdef.pdf").write_bytes(b"%PDF-")
    # the keys as files, as an installation keeps them (the tests pass theirs in the configuration)
    (instance / "secret_key").write_text("s" * 64)
    (instance / "id_hmac_key").write_text("h" * 64)
    return h


def _backup(runner, *args):
    r = runner.invoke(args=["backup", *args])
    assert r.exit_code == 0, r.output
    return list_backups(Path(r.output.split(" (")[0]).parent)[0]


def test_a_backup_restores_into_a_fresh_database_with_its_photos_and_keys(app, runner, seeded, targets, tmp_path):
    made = _backup(runner)
    # named by the village and the UTC time, a sha256sum line beside it
    assert made.name.startswith("v1-") and made.name.endswith("Z.tar.gz")
    assert made.checksum_path.read_text() == f"{hashlib.sha256(made.path.read_bytes()).hexdigest()}  {made.name}\n"
    with tarfile.open(made.path) as tar:
        names = set(tar.getnames())
    assert {"manifest.json", "instance/evidence/evidence-1.png", "instance/patrol/patrol-1.png",
            "instance/grid/grid-1.png", "instance/secret_key", "instance/id_hmac_key"} <= names
    assert not any(n.startswith(("instance/imports", "instance/statements", "instance/backups")) for n in names)

    into, files = targets.new(), tmp_path / "new-instance"
    r = runner.invoke(args=["restore", str(made.path), "--into", into, "--files-into", str(files)])
    assert r.exit_code == 0, r.output
    assert "ledger check: clean" in r.output and "audit chain intact" in r.output and "restore OK" in r.output
    assert (files / "evidence" / "evidence-1.png").read_bytes() == PNG
    assert (files / "patrol" / "patrol-1.png").read_bytes() == PNG
    assert (files / "id_hmac_key").read_text() == "h" * 64
    engine = sa.create_engine(into if "://" in into else f"sqlite:///{into}")
    with engine.connect() as conn:
        assert conn.execute(sa.select(Transfer.amount)).scalars().all() == [700]
    engine.dispose()


def test_a_fresh_installations_own_key_is_kept_beside_the_restored_one(app, runner, seeded, targets, tmp_path):
    made = _backup(runner)
    files = tmp_path / "new-instance"
    files.mkdir()
    (files / "id_hmac_key").write_text("n" * 64)  # made by the new PC's first start
    r = runner.invoke(args=["restore", str(made.path), "--into", targets.new(), "--files-into", str(files)])
    assert r.exit_code == 0, r.output
    assert (files / "id_hmac_key").read_text() == "h" * 64
    assert [p.read_text() for p in files.glob("id_hmac_key.before-restore-*")] == ["n" * 64]


def test_only_the_newest_n_are_kept(app, seeded, tmp_path):
    folder = tmp_path / "backups"
    start = dt.datetime(2026, 12, 1, 19, 0, tzinfo=dt.timezone.utc)
    for day in range(5):
        create_backup("v1", folder=folder, keep=3, now=start + dt.timedelta(days=day))
    kept = list_backups(folder)
    assert [b.name for b in kept] == [f"v1-202612{d:02d}T190000Z.tar.gz" for d in (5, 4, 3)]
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [b.name for b in kept] + [b.checksum_path.name for b in kept])
    # two in the same second get their own names
    again = create_backup("v1", folder=folder, keep=3, now=start + dt.timedelta(days=4))
    assert again.name == "v1-20261205T190000Z-2.tar.gz" and list_backups(folder)[0] == again


def test_the_keep_option_and_config(app, runner, seeded, tmp_path):
    folder = tmp_path / "nightly"
    for _ in range(3):
        r = runner.invoke(args=["backup", "--dir", str(folder), "--keep", "2"])
        assert r.exit_code == 0, r.output
    assert len(list_backups(folder)) == 2


def test_a_damaged_backup_is_refused_and_nothing_is_written(app, runner, seeded, targets, tmp_path):
    made = _backup(runner)
    data = bytearray(made.path.read_bytes())
    data[len(data) // 2] ^= 0x01
    made.path.write_bytes(bytes(data))
    into = targets.new()
    r = runner.invoke(args=["restore", str(made.path), "--into", into, "--files-into", str(tmp_path / "f")])
    assert r.exit_code == 1 and "checksum mismatch" in r.output
    assert not (tmp_path / "f").exists()
    if "://" not in into:
        assert not Path(into).exists()
    else:
        engine = sa.create_engine(into)
        with engine.connect() as conn:
            assert sa.inspect(conn).get_table_names() == []
        engine.dispose()
    # without its checksum file a backup is incomplete
    made.checksum_path.unlink()
    r = runner.invoke(args=["restore", str(made.path), "--into", into])
    assert r.exit_code == 1 and "checksum file" in r.output


def test_a_non_empty_target_is_refused(app, runner, seeded):
    made = _backup(runner)
    before = db.session.scalar(sa.select(sa.func.count(Transfer.id)))
    db.session.commit()
    r = runner.invoke(args=["restore", str(made.path), "--into", app.config["SQLALCHEMY_DATABASE_URI"]])
    assert r.exit_code == 1 and "not empty" in r.output and "nothing was written" in r.output
    assert db.session.scalar(sa.select(sa.func.count(Transfer.id))) == before


def test_a_restore_that_fails_its_checks_exits_non_zero(app, runner, seeded, targets, backend):
    # a broken ledger is copied faithfully: the restore says so and exits 1
    with db.engine.begin() as conn:
        if backend == "sqlite":
            conn.exec_driver_sql("DROP TRIGGER transfers_no_update")
        else:
            conn.exec_driver_sql("ALTER TABLE transfers DISABLE TRIGGER transfers_append_only")
    try:
        made = _backup(runner)
    finally:
        if backend == "postgresql":  # the run's database is shared by the tests after this one
            with db.engine.begin() as conn:
                conn.exec_driver_sql("ALTER TABLE transfers ENABLE TRIGGER transfers_append_only")
    r = runner.invoke(args=["restore", str(made.path), "--into", targets.new()])
    assert r.exit_code == 1, r.output
    assert "ledger check: FAILED" in r.output and "restore FAILED its checks" in r.output


# --- the admin page ---------------------------------------------------------------------------------

def test_the_admin_downloads_the_latest_backup_under_a_chinese_name(app, runner, seeded, make_user, auth, client):
    older = create_backup("v1", keep=5, now=dt.datetime(2026, 12, 3, 19, 0, tzinfo=dt.timezone.utc))
    latest = create_backup("v1", keep=5, now=dt.datetime(2026, 12, 4, 19, 0, tzinfo=dt.timezone.utc))
    make_user("boss", ("admin", None))
    auth.login("boss")
    page = client.get("/admin/backups").get_data(as_text=True)
    assert page.index("乡约备份-一号村-20261205-0300") < page.index("乡约备份-一号村-20261204-0300")
    with client.get("/admin/backups/latest") as r:
        assert r.status_code == 200
        assert r.data == latest.path.read_bytes()
        disposition = unquote(r.headers["Content-Disposition"])
        assert "乡约备份-一号村-20261205-0300.tar.gz" in disposition
        assert r.headers["Cache-Control"] == "no-store"
    with client.get(f"/admin/backups/{older.name}") as r:
        assert r.status_code == 200 and r.data == older.path.read_bytes()
    with client.get("/admin/backups/nothing-here.tar.gz") as r:
        assert r.status_code == 404
    rows = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "backup.download")).all()
    assert len(rows) == 2 and json.loads(rows[-1].details) == {"sha256": older.checksum_path.read_text().split()[0]}


def test_a_damaged_backup_is_not_handed_out(app, seeded, make_user, auth, client):
    made = create_backup("v1")
    made.path.write_bytes(made.path.read_bytes()[:-10])
    make_user("boss", ("admin", None))
    auth.login("boss")
    with client.get("/admin/backups/latest", follow_redirects=True) as r:
        assert r.status_code == 200 and "损坏" in r.get_data(as_text=True)


def test_the_clerk_of_a_village_pc_may_take_the_backup_but_not_on_a_shared_server(
        app, seeded, village, clerk_client, make_village, make_user, auth):
    create_backup("v1")
    page = clerk_client.get("/").get_data(as_text=True)
    assert "/admin/backups" in page
    with clerk_client.get("/admin/backups/latest") as r:
        assert r.status_code == 200
    make_village("v2", "二号村")  # now the backup holds another village's households too
    with clerk_client.get("/admin/backups/latest") as r:
        assert r.status_code == 403
    assert "/admin/backups" not in clerk_client.get("/").get_data(as_text=True)
    auth.logout()
    make_user("rev", ("reviewer", village))
    auth.login("rev")
    with clerk_client.get("/admin/backups") as r:
        assert r.status_code == 403


def test_the_page_says_when_there_is_no_backup(app, village, make_user, auth, client):
    make_user("boss", ("admin", None))
    auth.login("boss")
    assert "flask backup" in client.get("/admin/backups").get_data(as_text=True)
    with client.get("/admin/backups/latest") as r:
        assert r.status_code == 404


# --- the schema check -------------------------------------------------------------------------------

def test_serving_refuses_a_database_behind_the_migrations_but_flask_db_upgrade_runs(tmp_path, sqlite_template):
    db_file = tmp_path / "x.db"
    db_file.write_bytes(sqlite_template.read_bytes())
    engine = sa.create_engine(f"sqlite:///{db_file}")
    with engine.begin() as conn:
        head = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = 'some_older_revision'")
    engine.dispose()
    env = {**os.environ, "XIANGYUE_INSTANCE_PATH": str(tmp_path), "DATABASE_URL": f"sqlite:///{db_file}"}
    env.pop("FLASK_RUN_FROM_CLI", None)
    served = subprocess.run([sys.executable, "-c", "import wsgi"], capture_output=True, text=True, timeout=120,
                            cwd=ROOT, env=env)
    assert served.returncode != 0
    assert "Refusing to start" in served.stderr and "flask db upgrade" in served.stderr and head in served.stderr
    # the flask commands are not held: `flask db current` (and upgrade, backup) run on it
    flask = Path(sys.executable).parent / "flask"
    current = subprocess.run([str(flask), "--app", "wsgi", "db", "current"], capture_output=True, text=True,
                             timeout=120, cwd=ROOT, env=env)
    assert "Refusing" not in current.stderr, current.stderr[-2000:]


def test_the_schema_check_names_an_empty_database(app, tmp_path):
    from app import create_app

    assert schema_problem(app) is None
    empty = create_app({"TESTING": True, "SECRET_KEY": "x" * 20, "ID_HMAC_KEY": "y" * 20,
                        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/empty.db",
                        "INSTANCE_PATH": str(tmp_path / "i")})
    assert "none (an empty database)" in schema_problem(empty)


def test_a_clerk_who_lost_the_pc_restores_from_the_two_downloaded_files(
        app, seeded, village, make_user, auth, client, targets, tmp_path):
    create_backup("v1")
    make_user("clerk9", ("clerk", village))
    auth.login("clerk9")
    usb = tmp_path / "usb"
    usb.mkdir()
    for name in ("latest", "latest.sha256"):
        with client.get(f"/admin/backups/{name}") as r:
            assert r.status_code == 200
            filename = unquote(r.headers["Content-Disposition"].split("filename*=UTF-8''")[1])
            (usb / filename).write_bytes(r.data)
    [archive] = usb.glob("*.tar.gz")
    assert archive.name.startswith("乡约备份-一号村-")
    new_pc = tmp_path / "new-pc"
    new_pc.mkdir()
    r = app.test_cli_runner().invoke(args=["restore", str(archive), "--into", targets.new(),
                                           "--files-into", str(new_pc)])
    assert r.exit_code == 0 and "restore OK" in r.output, r.output
    assert (new_pc / "evidence" / "evidence-1.png").read_bytes() == PNG
