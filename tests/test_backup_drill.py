"""T6: backups taken while another process writes transfers all restore, pass the checks and miss nothing.

40 backups are taken while a writer process commits one transfer (and one audit row) after another. Each
backup is restored into a fresh database and must pass the ledger and audit checks (the ones `flask restore`
runs) and hold every transfer committed before the backup began. On SQLite every backup is restored; on
PostgreSQL a restore (CREATE DATABASE, pg_restore, the checks) takes two or three seconds, so `make test`
restores a spread of 5 of the 40 (the first and the last among them) and `make backup-drill` restores all
40 (BACKUP_DRILL_ALL=1).
"""
from __future__ import annotations

import multiprocessing as mp
import os
import time

import sqlalchemy as sa

from app.admin.backups import checks_on
from app.extensions import db
from app.ledger import services as ledger
from app.ledger.models import AccountKind
from app.ops.backup import create_backup, restore_backup
from app.submission import write_transaction
from tests.backup_helpers import FreshTargets

BACKUPS = 40
SAMPLE = 5


def _writer_entry(*args):
    from tests.ledger_workers import award_worker

    award_worker(*args)


def _restored_ids(url: str) -> set[int]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        ids = set(conn.exec_driver_sql("SELECT id FROM transfers").scalars())
    engine.dispose()
    return ids


def _to_restore(backend: str) -> list[int]:
    if backend == "sqlite" or os.environ.get("BACKUP_DRILL_ALL") == "1":
        return list(range(BACKUPS))
    step = BACKUPS / SAMPLE  # evenly spread, the first and the last among them
    return sorted({round(i * step) for i in range(SAMPLE - 1)} | {BACKUPS - 1})


def test_t6_backups_taken_while_transfers_are_written_restore_whole(app, backend, village, make_household,
                                                                    tmp_path):
    h = make_household(village, "0101", "张三")
    with write_transaction():
        account_id = ledger.household_account(h).id
        ledger.system_account(village.id, AccountKind.ISSUANCE)
    village_id = village.id
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    db.session.remove()
    db.engine.dispose()
    ctx = mp.get_context("fork")
    stop, started, out = ctx.Event(), ctx.Event(), ctx.Queue()
    writer = ctx.Process(target=_writer_entry, args=(uri, str(tmp_path / "writer"), village_id, account_id,
                                                     stop, started, out))
    writer.start()
    folder = tmp_path / "backups"
    taken = []  # (archive, transfer ids committed before the backup began)
    try:
        assert started.wait(60)
        probe = sa.create_engine(uri, poolclass=sa.pool.NullPool)
        for _ in range(BACKUPS):
            time.sleep(0.02)  # let the writer commit a few between two backups
            with probe.connect() as conn:
                before = set(conn.exec_driver_sql("SELECT id FROM transfers").scalars())
            taken.append((create_backup("v1", folder=folder, keep=BACKUPS), before))
        probe.dispose()
    finally:
        stop.set()
        committed, errors = out.get(timeout=60)
        writer.join(timeout=60)
    assert errors == 0 and committed > BACKUPS  # the writer really wrote while the backups ran
    sizes = [len(before) for _b, before in taken]
    assert sizes == sorted(sizes) and sizes[-1] > sizes[0]

    targets = FreshTargets(backend, tmp_path)
    try:
        for i in _to_restore(backend):
            made, before = taken[i]
            into = targets.new()
            result = restore_backup(made.path, into, checks=checks_on)
            assert result.ok, (made.name, result.problems)
            url = into if "://" in into else f"sqlite:///{into}"
            missing = before - _restored_ids(url)
            assert not missing, f"{made.name} misses transfers committed before it began: {sorted(missing)[:10]}"
            targets.drop()
    finally:
        targets.drop()
