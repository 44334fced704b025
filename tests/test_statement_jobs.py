"""Batch statement jobs under pressure: the form posted twice, one batch at a time per village with the
rest queued, a job whose process died, and a command-line batch killed while it rendered."""
from __future__ import annotations

import datetime as dt
import os
import re
import socket
import subprocess
import sys
import threading
import time

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app.db import local_today, utcnow
from app.extensions import db
from app.statements import batch
from app.statements import services as svc
from app.statements.models import IssuedStatement, StatementJob
from app.submission import run_write, write_transaction
from tests.test_statements import _households_in, _login, _month_form, _today, world  # noqa: F401  (fixtures re-used)


@pytest.fixture
def inline_jobs(app_config):
    app_config["STATEMENT_JOBS_INLINE"] = True


def _year_batch(**kw):
    return {**_month_form(kind="year"), "group_id": "0", **kw}


def _jobs() -> list[StatementJob]:
    db.session.rollback()  # a fresh snapshot: other sessions wrote these rows
    return list(db.session.scalars(sa.select(StatementJob).order_by(StatementJob.id)))


def _job_row(world, **kw) -> StatementJob:
    """A job of the village's year, as another process left it."""
    year = local_today().year
    values = {"village_id": world.village.id, "period_kind": "year", "period_start": dt.date(year, 1, 1),
              "period_end": dt.date(year, 12, 31), "paper": "a4", "base_url": "http://localhost/",
              "created_by_id": world.clerk.id, **kw}
    with write_transaction():
        job = StatementJob(**values)
        db.session.add(job)
    return job


def _status_on_page(client, job_id: int) -> str:
    frag = client.get(f"/statements/jobs/{job_id}/progress").get_data(as_text=True)
    return re.search(r'data-status="(\w+)"', frag).group(1)


# --- the form key ---------------------------------------------------------------------------------

def test_the_batch_form_posted_twice_makes_one_job(inline_jobs, client, world):
    _login(client, "clerk1")
    page = client.get("/statements/batch").get_data(as_text=True)
    shown = re.search(r'name="idempotency_key"[^>]*value="([^"]+)"', page)
    assert shown, "the batch form carries its key"
    form = _year_batch(idempotency_key=shown.group(1))
    first = client.post("/statements/batch", data=form)
    second = client.post("/statements/batch", data=form, follow_redirects=True)
    assert first.status_code == 302
    jobs = _jobs()
    assert len(jobs) == 1
    # the second post lands on the same job and says it was already recorded
    assert second.request.path == f"/statements/jobs/{jobs[0].id}"
    assert "这一笔已经记录过了" in second.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(IssuedStatement.id))) == 3  # one batch, not two
    # the same key for another batch changes nothing and says so
    r = client.post("/statements/batch", data={**form, "kind": "month"})
    assert r.status_code == 422 and "已经用不同的内容提交过" in r.get_data(as_text=True)
    assert len(_jobs()) == 1


# --- one batch at a time per village --------------------------------------------------------------

def test_a_village_prints_one_batch_at_a_time_and_the_next_one_waits(inline_jobs, client, world, monkeypatch):
    _login(client, "clerk1")
    launched: list[int] = []
    with monkeypatch.context() as m:
        m.setattr(batch, "start_job", launched.append)  # the first batch's runner is this test
        assert client.post("/statements/batch", data=_year_batch()).status_code == 302
    first = _jobs()[0].id
    assert launched == [first]
    assert run_write(lambda: batch._claim_next(world.village.id)) == first  # its runner claims it
    # a second batch while the first prints: it waits, and the pages say behind which
    r = client.post("/statements/batch", data=_year_batch(group_id=str(world.g2.id)))
    assert r.status_code == 302
    second = _jobs()[1].id
    assert [(j.id, j.status) for j in _jobs()] == [(first, "running"), (second, "queued")]
    assert _status_on_page(client, second) == "queued"
    job_page = client.get(f"/statements/jobs/{second}").get_data(as_text=True)
    assert f'data-waiting-for="{first}"' in job_page and f"第 {first} 批完成后即开始" in job_page
    list_page = client.get("/statements/batch").get_data(as_text=True)
    assert f'data-waiting-for="{first}"' in list_page
    assert [j.status for j in _jobs()] == ["running", "queued"]  # looking started nothing
    # the first ends, and its runner claims the next in the same transaction
    assert batch._run_claimed(first) == second
    assert [(j.id, j.status) for j in _jobs()] == [(first, "done"), (second, "running")]
    assert batch._run_claimed(second) is None
    assert [j.status for j in _jobs()] == ["done", "done"]
    assert _status_on_page(client, second) == "done"
    r = client.get(f"/statements/jobs/{second}/download")
    pdf = r.data
    r.close()
    assert _households_in(pdf) == ["0201"]


def test_two_runners_starting_at_once_cannot_both_run(app, world):
    jobs = [_job_row(world, status="queued").id for _ in range(3)]
    results: list[int | None] = []
    start = threading.Barrier(4)

    def runner():
        with app.app_context():
            start.wait()
            results.append(run_write(lambda: batch._claim_next(world.village.id), tries=10))
            db.session.remove()

    threads = [threading.Thread(target=runner) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results, key=str) == [jobs[0], None, None, None]
    assert [j.status for j in _jobs()] == ["running", "queued", "queued"]
    # the database itself refuses a second running job of the village, whatever the code asks
    with pytest.raises(IntegrityError), write_transaction():
        db.session.execute(sa.update(StatementJob).where(StatementJob.id == jobs[1]).values(status="running"))
    assert run_write(lambda: batch._claim_next(world.village.id)) is None
    assert [j.status for j in _jobs()] == ["running", "queued", "queued"]


# --- a job whose process died ---------------------------------------------------------------------

def _dead_pid() -> int:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    return dead.pid


def test_a_job_whose_process_died_is_failed_on_the_next_look(inline_jobs, client, world):
    job = _job_row(world, status="running", pid=_dead_pid(), runner=batch.this_host(), heartbeat_at=utcnow(),
                   started_at=utcnow(), total=3, done=1)
    _login(client, "clerk1")
    frag = client.get(f"/statements/jobs/{job.id}/progress").get_data(as_text=True)
    assert 'data-status="failed"' in frag and "hx-trigger" not in frag and "/download" not in frag
    assert _jobs()[0].status == "failed"  # written: it no longer holds the village's queue
    assert client.get(f"/statements/jobs/{job.id}/download").status_code == 404
    # the village prints again at once, not queued behind the dead one
    r = client.post("/statements/batch", data=_year_batch())
    assert r.status_code == 302
    assert [j.status for j in _jobs()] == ["failed", "done"]


@pytest.mark.parametrize("how", ["stale heartbeat", "machine restarted", "old row without a runner"])
def test_a_silent_or_rebooted_runner_is_failed_and_its_queue_runs(inline_jobs, client, world, how):
    host = socket.gethostname()
    alive = {"pid": os.getpid(), "started_at": utcnow()}  # a pid that exists: only the rest can tell
    row = {"stale heartbeat": {**alive, "runner": "another-server bootid",
                               "heartbeat_at": utcnow() - dt.timedelta(seconds=batch.STALE_SECONDS + 5)},
           "machine restarted": {**alive, "runner": f"{host} a-boot-before-this-one", "heartbeat_at": utcnow()},
           "old row without a runner": {"pid": _dead_pid(), "started_at": utcnow()}}[how]
    dead = _job_row(world, status="running", **row)
    waiting = _job_row(world, status="queued", group_id=world.g2.id)  # handed over to the dead one
    _login(client, "clerk1")
    assert _status_on_page(client, dead.id) == "failed"
    # the look also gave the waiting batch a runner (here: inline), so it did not wait for a new start
    assert [j.status for j in _jobs()] == ["failed", "done"]
    assert _status_on_page(client, waiting.id) == "done"


def test_a_runner_on_another_machine_that_still_beats_is_left_alone(client, world):
    job = _job_row(world, status="running", pid=_dead_pid(), runner="another-server bootid",
                   heartbeat_at=utcnow(), started_at=utcnow() - dt.timedelta(minutes=30))
    _login(client, "clerk1")
    assert _status_on_page(client, job.id) == "running"  # its pid means nothing here; it said it is alive
    assert _jobs()[0].status == "running"


# --- a command-line batch killed while rendering --------------------------------------------------

def test_a_killed_print_command_leaves_its_statements_to_print_again(app, runner, client, world, tmp_path,
                                                                    monkeypatch):
    app.config.update(STATEMENT_CHUNK=1, STATEMENT_WORKERS=1)  # one chunk per household, in order
    real = batch._render_chunk
    rendered = []

    def killed_after_one(htmls, out_path):
        if rendered:
            raise KeyboardInterrupt  # Ctrl-C, or the machine's kill, while the second chunk renders
        rendered.append(out_path)
        return real(htmls, out_path)

    args = ["statements", "print", "--village", "v1", "--period", str(local_today().year),
            "--out", str(tmp_path / "a.pdf")]
    with monkeypatch.context() as m:
        m.setattr(batch, "_render_chunk", killed_after_one)
        r = runner.invoke(args=args)
    assert r.exit_code != 0 and not (tmp_path / "a.pdf").exists()
    codes = {s.household_id: s.code for s in db.session.scalars(sa.select(IssuedStatement))}
    assert len(codes) == 3  # the codes were committed before rendering
    # the clerk sees which statements have no paper
    _login(client, "clerk1")
    page = client.get("/statements/batch").get_data(as_text=True)
    assert "需要重新打印的明细单" in page
    assert re.findall(r'data-unprinted="(\d+)"', page) == ["0101", "0102", "0201"]
    assert svc.format_code(codes[world.h1.id]) in page
    # the same command again prints them, under the same codes, and the list empties
    r = runner.invoke(args=args)
    assert r.exit_code == 0, r.output
    assert _households_in(tmp_path / "a.pdf") == ["0101", "0102", "0201"]
    db.session.expire_all()
    statements = list(db.session.scalars(sa.select(IssuedStatement)))
    assert {s.household_id: s.code for s in statements} == codes and all(s.printed_at for s in statements)
    text = (tmp_path / "a.pdf").read_bytes()
    assert text
    assert all(svc.verify(code).status == "valid" for code in codes.values())
    page = client.get("/statements/batch").get_data(as_text=True)
    assert "data-unprinted" not in page and "需要重新打印的明细单" not in page


def test_a_batch_job_that_died_mid_print_is_finished_by_the_next_batch(inline_jobs, client, world):
    # a job died after issuing (its codes committed) and before its PDF
    job = _job_row(world, status="running", pid=_dead_pid(), runner=batch.this_host(), heartbeat_at=utcnow(),
                   started_at=utcnow())
    with write_transaction():
        households = svc.batch_households(world.village.id)
        batch.issue_batch(db.session.get(type(world.village), world.village.id),
                          svc.Period("year", job.period_start, job.period_end), households, paper="a4",
                          base_url="http://localhost/", job_id=job.id)
    _login(client, "clerk1")
    page = client.get("/statements/batch").get_data(as_text=True)
    assert re.findall(r'data-unprinted="(\d+)"', page) == ["0101", "0102", "0201"]
    codes = set(db.session.scalars(sa.select(IssuedStatement.code)))
    assert client.post("/statements/batch", data=_year_batch()).status_code == 302
    db.session.expire_all()
    assert set(db.session.scalars(sa.select(IssuedStatement.code))) == codes  # printed again, not reissued
    assert "data-unprinted" not in client.get("/statements/batch").get_data(as_text=True)


@pytest.fixture
def real_jobs(app_config):
    app_config["STATEMENT_JOBS_INLINE"] = False


def test_two_batches_in_their_own_processes_run_one_after_the_other(real_jobs, client, world):
    _login(client, "clerk1")
    ids = []
    for group in (world.g1, world.g2):
        r = client.post("/statements/batch", data=_year_batch(group_id=str(group.id)))
        assert r.status_code == 302, r.get_data(as_text=True)
        ids.append(int(r.headers["Location"].rsplit("/", 1)[1]))
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        # the pages are read one after the other, so the first may have ended and the second begun in
        # between: "one at a time" is judged on one snapshot of both rows (a single SELECT)
        pages = [_status_on_page(client, job_id) for job_id in ids]
        states = [j.status for j in _jobs()]
        assert states.count("running") <= 1, states
        if all(state in ("done", "failed") for state in states + pages):
            break
        time.sleep(0.5)
    jobs = _jobs()
    assert [j.status for j in jobs] == ["done", "done"], [j.error for j in jobs]
    assert jobs[1].started_at >= jobs[0].finished_at  # the second began when the first had ended
    for job_id, households in zip(ids, (["0101", "0102"], ["0201"])):
        r = client.get(f"/statements/jobs/{job_id}/download")
        pdf = r.data
        r.close()
        assert _households_in(pdf) == households


# --- old batch PDFs -------------------------------------------------------------------------------

def test_statements_purge_removes_old_batch_files_but_never_a_running_jobs(app, runner, world):
    done = _job_row(world, status="done", result_file="statements-1-0a1b2c.pdf")
    running = _job_row(world, status="running", pid=os.getpid())
    folder = batch.jobs_dir()
    old = time.time() - 40 * 86400
    files = {name: folder / name for name in (f"statements-{done.id}-0a1b2c.pdf", f"job-{done.id}.log",
                                              f"job-{running.id}.log", "statements-99-ffff.pdf", "notes.txt")}
    for name, path in files.items():
        path.write_bytes(b"%PDF-" if name.endswith(".pdf") else b"log")
        os.utime(path, (old, old))
    os.utime(files["statements-99-ffff.pdf"], None)  # a recent batch stays downloadable
    r = runner.invoke(args=["statements", "purge", "--older-than", "30"])
    assert r.exit_code == 0 and "removed 2 batch files" in r.output, r.output
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [f"job-{running.id}.log", "statements-99-ffff.pdf", "notes.txt"])
    # the purged batch's download link answers as a page that does not exist
    client = app.test_client()
    _login(client, "clerk1")
    with client.get(f"/statements/jobs/{done.id}/download") as resp:
        assert resp.status_code == 404
