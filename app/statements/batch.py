"""Printing statements: one for a household, or a village's in bulk on every core, in the background.

A batch issues every statement (codes and digests committed first), renders their HTML in this
process, and hands chunks of about 100 documents to a process pool as wide as the machine: each worker
keeps one WeasyPrint FontConfiguration and writes one PDF per chunk, so fonts are subset once per
chunk and no worker ever holds thousands of pages (docs/architecture.md, "Printing"). The chunk files are then
joined in order with pypdf, which copies pages without re-encoding them.

A batch started from the browser runs as `flask statements run-job ID` in its own process session, so
it survives the request, the web worker, and the clerk closing the page; the job row carries the
status, the progress and the file name.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import secrets
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Callable

import segno
import sqlalchemy as sa
from flask import current_app

from ..audit.services import record
from ..auth.models import User
from ..config import PROJECT_ROOT
from ..db import local_today, utcnow
from ..extensions import db
from ..printing import html_documents_to_pdf, render_html, render_pdf
from ..registry.models import Household, Village
from ..submission import run_write, write_transaction
from . import services as svc
from .fonts import font_family, statement_font
from .models import IssuedStatement, JobStatus, StatementJob
from .states import JOB

log = logging.getLogger(__name__)

#: statements per WeasyPrint document: big enough to subset fonts once for many, small enough for memory
#: (a year statement runs to 3–4 pages: 100 of them laid out as one document took 1 GB, bench figure 4)
DEFAULT_CHUNK = 50


def verify_url(base_url: str, code: str | None = None) -> str:
    base = (base_url or "http://localhost/").rstrip("/")
    return f"{base}/verify/{code}" if code else f"{base}/verify"


def statement_context(data: svc.StatementData, issued: IssuedStatement, base_url: str, *,
                      subset_font: bool = True) -> dict:
    """What printables/statement.html needs: the data, the code and its QR (an opaque URL, no personal data).

    `subset_font`: use the pre-subset face if built. Worth it for one statement (a PDF of ~70 KB instead of
    ~175 KB); a batch does without, because each document would load the 5 MB face again while the batch
    already subsets its fonts once per chunk of 100 (measured here: render +20–50 %, write no faster).
    """
    url = verify_url(base_url, issued.code)
    qr = segno.make(url, error="m").svg_data_uri(scale=4, border=2)
    return {"village": data.village, "data": data, "code": svc.format_code(issued.code),
            "verify_url": verify_url(base_url), "qr": qr, "paper": issued.paper, "printed_on": local_today(),
            "font_url": statement_font(current_app.config.get("STATEMENT_FONT")) if subset_font else None,
            "font_family": font_family(current_app.config.get("STATEMENT_FONT"))}


def statement_pdf(data: svc.StatementData, issued: IssuedStatement, base_url: str) -> bytes:
    return render_pdf("statement.html", **statement_context(data, issued, base_url))


# --- bulk rendering -------------------------------------------------------------------------------

def _render_chunk(htmls: list[str], out_path: str) -> str:
    """Worker: one PDF from a chunk of statements (runs in a pool process with its own FontConfiguration)."""
    Path(out_path).write_bytes(html_documents_to_pdf(htmls))
    return out_path


def split_evenly(items: list, chunk: int, workers: int) -> list[list]:
    """At most `chunk` items a part, and a multiple of `workers` parts of (nearly) equal size, in order.

    Every worker gets the same share: 100 statements as one chunk of 100 kept one core busy and the
    other idle (bench figure 4: 54 s and 1 GB in one process), and 500 as 5 chunks on 2 workers left one
    idle for the last round.
    """
    n = len(items)
    parts = max(1, -(-n // max(1, chunk)))
    parts = min(n, -(-parts // workers) * workers) if n else 1
    size, extra = divmod(n, parts)
    out, start = [], 0
    for i in range(parts):
        end = start + size + (1 if i < extra else 0)
        out.append(items[start:end])
        start = end
    return out


def render_many(htmls: list[str], out_path: Path, *, chunk: int = DEFAULT_CHUNK, workers: int | None = None,
                progress: Callable[[int], None] | None = None) -> None:
    """Write the documents as one PDF, chunk by chunk on a process pool as wide as the cores."""
    if not htmls:
        raise ValueError("nothing to print")
    workers = max(1, min(workers or os.cpu_count() or 1, len(htmls)))
    chunks = split_evenly(htmls, chunk, workers)
    workers = min(workers, len(chunks))
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_path.parent, prefix=".chunks-") as tmp:
        parts = [str(Path(tmp) / f"part-{i:05d}.pdf") for i in range(len(chunks))]
        if workers == 1:
            for part_htmls, part in zip(chunks, parts):
                _render_chunk(part_htmls, part)
                if progress:
                    progress(len(part_htmls))
        else:
            # spawn: a fresh interpreter per worker, no inherited database connections or locks
            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
                futures = {pool.submit(_render_chunk, c, p): len(c) for c, p in zip(chunks, parts)}
                for fut in as_completed(futures):
                    fut.result()
                    if progress:
                        progress(futures[fut])
        _merge(parts, out_path)


def _merge(parts: list[str], out_path: Path) -> None:
    """Join the chunk PDFs in order (pages are copied as they are, nothing is re-rendered)."""
    if len(parts) == 1:
        os.replace(parts[0], out_path)
        return
    # imported on use, not for a cycle: only a batch of several chunks needs it (third-party, not an arrow)
    from pypdf import PdfWriter

    writer = PdfWriter()
    for part in parts:
        writer.append(part)
    tmp = out_path.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        writer.write(fh)
    os.replace(tmp, out_path)


def issue_batch(village: Village, period: svc.Period, households: list[Household], *, paper: str,
                base_url: str, actor=None, job_id: int | None = None) -> list[str]:
    """Issue a statement for each household (flushes; the caller commits) and return their HTML."""
    now = utcnow()
    htmls = []
    for h in households:
        data = svc.build_statement(h, period, now=now)
        issued = svc.issue_statement(data, actor=actor, paper=paper, job_id=job_id, audit=False)
        context = statement_context(data, issued, base_url, subset_font=False)
        htmls.append(render_html("statement.html", **context))
    record("statements.issue_batch", village_id=village.id,
           details={"period": [period.start.isoformat(), period.end.isoformat()],
                    "households": len(households), "job_id": job_id})
    return htmls


def print_batch(village: Village, period: svc.Period, out_path: Path, *, group_id: int | None = None,
                paper: str = "a4", base_url: str = "", actor=None) -> int:
    """The command-line batch: issue, commit, render to `out_path`; returns the number of statements."""
    with write_transaction():
        households = svc.batch_households(village.id, group_id)
        htmls = issue_batch(village, period, households, paper=paper, base_url=base_url, actor=actor) \
            if households else []
    if not htmls:
        return 0
    render_many(htmls, out_path, chunk=current_app.config.get("STATEMENT_CHUNK", DEFAULT_CHUNK),
                workers=current_app.config.get("STATEMENT_WORKERS"))
    return len(htmls)


# --- background jobs ------------------------------------------------------------------------------

def jobs_dir() -> Path:
    path = Path(current_app.instance_path) / "statements"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _job_update(job_id: int, action: str | None = None, **values) -> None:
    """Record a job's progress or its next status, in a short write transaction of its own."""
    def update() -> None:
        job = db.session.get(StatementJob, job_id)
        if action is not None:
            job.status = JOB.move(job.status, action)
        for k, v in values.items():
            setattr(job, k, v)

    run_write(update)


def run_job(job_id: int) -> StatementJob:
    """Carry out a queued batch job: issue the statements, render them, record progress and the file."""
    # one guarded statement claims the job: a second runner of the same job finds it taken
    claimed = run_write(lambda: db.session.execute(
        sa.update(StatementJob).where(StatementJob.id == job_id, StatementJob.status.in_(JOB.sources("start")))
        .values(status=JOB.target("start"), started_at=utcnow(), pid=os.getpid())
        .execution_options(synchronize_session=False)).rowcount)
    if claimed != 1:
        raise LookupError(f"job {job_id} is not waiting to run")
    try:
        with write_transaction():
            job = db.session.get(StatementJob, job_id)
            village = db.session.get(Village, job.village_id)
            period = svc.Period(job.period_kind, job.period_start, job.period_end)
            households = svc.batch_households(job.village_id, job.group_id)
            if not households:
                raise svc.StatementError("no households")
            actor = db.session.get(User, job.created_by_id) if job.created_by_id else None
            htmls = issue_batch(village, period, households, paper=job.paper, base_url=job.base_url,
                                actor=actor, job_id=job.id)
            job.total = len(htmls)
        # rendering takes minutes: it runs after the commit, outside any write transaction
        name = f"statements-{job.id}-{secrets.token_hex(6)}.pdf"
        done = 0

        def progress(n: int) -> None:
            nonlocal done
            done += n
            _job_update(job_id, done=done)

        render_many(htmls, jobs_dir() / name, chunk=current_app.config.get("STATEMENT_CHUNK", DEFAULT_CHUNK),
                    workers=current_app.config.get("STATEMENT_WORKERS"), progress=progress)
        _job_update(job_id, "finish", result_file=name, finished_at=utcnow(),
                    done=len(htmls))
    except Exception as exc:  # the job row must never stay "running" after a failure
        db.session.rollback()
        log.exception("statement job %s failed", job_id)
        message = str(exc) if isinstance(exc, svc.StatementError) else type(exc).__name__
        _job_update(job_id, "fail", error=message[:500], finished_at=utcnow())
    return db.session.get(StatementJob, job_id)


#: a job still waiting after this long was never picked up (its process could not start)
STALE_QUEUED_SECONDS = 600


def job_state(job: StatementJob) -> str:
    """The job's status as the clerk should see it: a job whose process has died shows as failed.

    Only shown, never written: a page view must not change the database.
    """
    if job.status == JobStatus.RUNNING.value and job.pid and not _alive(job.pid):
        return JobStatus.FAILED.value
    waited = (utcnow() - job.created_at).total_seconds()
    if job.status == JobStatus.QUEUED.value and waited > STALE_QUEUED_SECONDS:
        return JobStatus.FAILED.value
    return job.status


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, under another user
    return True


def start_job(job: StatementJob) -> None:
    """Run the committed job: in this process when STATEMENT_JOBS_INLINE (tests), else in its own process."""
    if current_app.config.get("STATEMENT_JOBS_INLINE"):
        run_job(job.id)
        return
    env = dict(os.environ)
    env["DATABASE_URL"] = current_app.config["SQLALCHEMY_DATABASE_URI"]
    env["XIANGYUE_INSTANCE_PATH"] = current_app.instance_path
    for key in ("SECRET_KEY", "ID_HMAC_KEY"):
        if current_app.config.get(key):
            env[key] = current_app.config[key]
    log_path = jobs_dir() / f"job-{job.id}.log"
    try:
        with open(log_path, "ab") as out:
            # a new session: the job is not killed with the web worker or the terminal that started it
            proc = subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "wsgi", "statements", "run-job", str(job.id)],
                cwd=str(PROJECT_ROOT), env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                start_new_session=True, close_fds=True)
    except OSError as exc:
        log.exception("could not start statement job %s", job.id)
        _job_update(job.id, "fail", error=type(exc).__name__, finished_at=utcnow())
        return
    # reap it when it ends (no zombie left behind); the job row, not this thread, is the record
    threading.Thread(target=proc.wait, name=f"statement-job-{job.id}", daemon=True).start()
