"""Printing statements: one for a household, or a village's in bulk on every core, in the background.

A batch issues every statement (codes and digests committed first), renders their HTML in this
process, and hands chunks of about 100 documents to a process pool as wide as the machine: each worker
keeps one WeasyPrint FontConfiguration and writes one PDF per chunk, so fonts are subset once per
chunk and no worker ever holds thousands of pages (docs/architecture.md, "Printing"). The chunk files are then
joined in order with pypdf, which copies pages without re-encoding them.

A batch started from the browser runs as `flask statements run-job ID` in its own process session, so
it survives the request, the web worker, and the clerk closing the page; the job row carries the
status, the progress and the file name. A village runs one batch at a time, the others wait in its
queue; a job whose process died is marked failed on the next look ("background jobs" below).

A statement is issued (its code committed) before its PDF is rendered, and marked printed once the PDF
is written: one whose batch stopped in between is listed for the clerk and printed again, under its
code, by the next batch of the same period and paper.
"""
from __future__ import annotations

import contextlib
import functools
import logging
import multiprocessing
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Callable

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import selectinload

from ..audit.services import record
from ..auth.models import User
from ..config import PROJECT_ROOT
from ..db import local_today, utcnow
from ..extensions import db
from ..idempotency import check_key, find_earlier, payload_hash
from ..printing import render_html, render_pdf, warm_up, write_documents
from .. import qrcodes
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

    `subset_font`: use the pre-subset face if built: a smaller PDF (one statement ~70 KB instead of ~175 KB)
    and, in a batch, about 5 % less CPU (WeasyPrint loads an @font-face once per FontConfiguration, so once
    per pool worker; bench figure 4).
    """
    url = verify_url(base_url, issued.code)
    # a PNG of one pixel a module, drawn without smoothing (statement.css): sharp at any size, and laid
    # out and written in a fraction of the time of the same code as an SVG path (bench figure 4)
    qr = qrcodes.make(url, error="m").png_data_uri(scale=1, border=2)
    return {"village": data.village, "data": data, "code": svc.format_code(issued.code),
            "listed": data.listed,
            "verify_url": verify_url(base_url), "qr": qr, "paper": issued.paper, "printed_on": local_today(),
            "font_url": statement_font(current_app.config.get("STATEMENT_FONT")) if subset_font else None,
            "font_family": font_family(current_app.config.get("STATEMENT_FONT"))}


def statement_pdf(data: svc.StatementData, issued: IssuedStatement, base_url: str) -> bytes:
    """One statement's PDF; it lists the entries when `data` was built to (build_statement's `detailed`)."""
    return render_pdf("statement.html", **statement_context(data, issued, base_url))


# --- bulk rendering -------------------------------------------------------------------------------

#: the stylesheets every statement links to, parsed once per worker (printing.html_documents_to_pdf)
SHARED_CSS = ("print.css", "statement.css")


#: the pool's job: one PDF from a chunk of statements, in a worker with its own FontConfiguration
_render_chunk = functools.partial(write_documents, shared_css=SHARED_CSS)


def split_evenly(items: list, chunk: int, workers: int) -> list[list]:
    """At most `chunk` items a part, and a multiple of `workers` parts of (nearly) equal size, in order.

    Every worker gets the same share: 100 statements as one chunk of 100 kept one core busy and the
    other idle (bench figure 4: 54 s and 1 GB in one process), and 500 as 5 chunks on 2 workers left one
    idle for the last round.
    """
    return [items[start:end] for start, end in _bounds(len(items), chunk, workers)]


def _bounds(n: int, chunk: int, workers: int) -> list[tuple[int, int]]:
    """split_evenly's parts as (start, end) indexes, known before the items exist."""
    parts = max(1, -(-n // max(1, chunk)))
    parts = min(n, -(-parts // workers) * workers) if n else 1
    size, extra = divmod(n, parts)
    out, start = [], 0
    for i in range(parts):
        end = start + size + (1 if i < extra else 0)
        out.append((start, end))
        start = end
    return out


class ChunkPrinter:
    """Print `total` documents as one PDF, handed in one by one (`add`), chunk by chunk on a process pool
    as wide as the cores; `finish` waits for the chunks and joins them in order.

    With a pool, a chunk is rendered as soon as its documents are in, while the main process still
    issues the next ones, and the workers start (import WeasyPrint, parse the stylesheets) at once: the
    batch's serial part shrinks to issuing the first chunk and the merge. Nothing is written to
    `out_path` before `finish`, so a batch whose issuing fails leaves no file (the chunks' folder goes with
    the printer). With one worker the documents are rendered in `finish`, in this process.
    """

    def __init__(self, out_path: Path, total: int, *, chunk: int = DEFAULT_CHUNK, workers: int | None = None,
                 progress: Callable[[int], None] | None = None,
                 render: Callable[[list[str], str], str] | None = None):
        if total < 1:
            raise ValueError("nothing to print")
        self.out_path, self.total, self.progress = out_path, total, progress
        #: what renders one chunk to its file (a pool worker runs it): _render_chunk
        self.render = render or _render_chunk
        workers = max(1, min(workers or os.cpu_count() or 1, total))
        self.bounds = _bounds(total, chunk, workers)
        self.workers = min(workers, len(self.bounds))
        self.htmls: list[str] = []
        self.futures: dict = {}
        out_path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = tempfile.TemporaryDirectory(dir=out_path.parent, prefix=".chunks-")
        self.parts = [str(Path(self._tmp.name) / f"part-{i:05d}.pdf") for i in range(len(self.bounds))]
        self.pool = None
        if self.workers > 1:
            # spawn: a fresh interpreter per worker, no inherited database connections or locks
            self.pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"))
            for _ in range(self.workers):
                self.pool.submit(warm_up, SHARED_CSS)

    def __enter__(self) -> "ChunkPrinter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None
        self._tmp.cleanup()

    def add(self, html: str) -> None:
        self.htmls.append(html)
        if self.pool is not None:
            i = len(self.futures)
            start, end = self.bounds[i] if i < len(self.bounds) else (0, 0)
            if len(self.htmls) == end:
                self.futures[self.pool.submit(self.render, self.htmls[start:end], self.parts[i])] = end - start

    def finish(self) -> None:
        """Wait for every chunk (or render them here), then write `out_path`."""
        if len(self.htmls) != self.total:
            raise ValueError(f"{len(self.htmls)} documents handed in, {self.total} announced")
        if self.pool is None:
            for (start, end), part in zip(self.bounds, self.parts):
                self.render(self.htmls[start:end], part)
                if self.progress:
                    self.progress(end - start)
        else:
            for fut in as_completed(self.futures):
                fut.result()
                if self.progress:
                    self.progress(self.futures[fut])
        _merge(self.parts, self.out_path)


def render_many(htmls: list[str], out_path: Path, *, chunk: int = DEFAULT_CHUNK, workers: int | None = None,
                progress: Callable[[int], None] | None = None) -> None:
    """Write the documents as one PDF, chunk by chunk on a process pool as wide as the cores."""
    if not htmls:
        raise ValueError("nothing to print")
    with ChunkPrinter(out_path, len(htmls), chunk=chunk, workers=workers, progress=progress,
                      render=_render_chunk) as printer:
        for html in htmls:
            printer.add(html)
        printer.finish()


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


def _unprinted(village_id: int, period: svc.Period, paper: str) -> dict[int, IssuedStatement]:
    """Statements of this period and paper whose batch stopped before their PDF was written, by household.

    Those of a running job are left out: that job is printing them now.
    """
    running = sa.select(StatementJob.id).where(StatementJob.village_id == village_id,
                                               StatementJob.status == JobStatus.RUNNING.value)
    rows = db.session.scalars(sa.select(IssuedStatement).where(
        IssuedStatement.village_id == village_id, IssuedStatement.printed_at.is_(None),
        IssuedStatement.period_kind == period.kind, IssuedStatement.period_start == period.start,
        IssuedStatement.period_end == period.end, IssuedStatement.paper == paper,
        sa.or_(IssuedStatement.job_id.is_(None), IssuedStatement.job_id.not_in(running)))
        .order_by(IssuedStatement.id))
    return {row.household_id: row for row in rows}


def issue_batch(village: Village, period: svc.Period, households: list[Household], *, paper: str,
                base_url: str, actor=None, job_id: int | None = None,
                detailed: bool = False,
                on_html: Callable[[str], None] | None = None) -> tuple[list[int], list[str]]:
    """Issue a statement for each household (flushes; the caller commits); their ids and HTML.

    A household whose statement of this period and paper was issued by a batch that stopped before
    writing its PDF (a killed `flask statements print`, a job whose process died) gets that statement
    printed again under its code, as it was issued (the ledger up to its own cutoff), instead of a
    second code: so the clerk's list of statements to print again empties when the batch is run again.
    Their PDF is not written yet: the caller marks them printed once it is (`mark_printed`).
    `on_html` gets each statement's HTML as soon as it is made (a ChunkPrinter's `add`: the pool renders
    while the rest are issued).
    """
    now = utcnow()
    earlier = _unprinted(village.id, period, paper)
    ids, htmls, again = [], [], 0
    for start in range(0, len(households), svc.READ_TOGETHER):
        group = households[start:start + svc.READ_TOGETHER]
        datas = svc.build_statements(group, period, now=now, detailed=detailed,
                                     cutoffs={h.id: earlier[h.id].cutoff_at for h in group if h.id in earlier})
        fresh = iter(svc.issue_statements([d for d in datas if d.household.id not in earlier], actor=actor,
                                          paper=paper, job_id=job_id, printed=False))
        for data in datas:
            issued = earlier.get(data.household.id)
            if issued is not None:
                if job_id is not None:
                    issued.job_id = job_id
                again += 1
            else:
                issued = next(fresh)
            context = statement_context(data, issued, base_url)
            ids.append(issued.id)
            htmls.append(render_html("statement.html", **context))
            if on_html is not None:
                on_html(htmls[-1])
    record("statements.issue_batch", village_id=village.id,
           details={"period": [period.start.isoformat(), period.end.isoformat()],
                    "households": len(households), "printed_again": again, "job_id": job_id})
    return ids, htmls


def mark_printed(ids: list[int]) -> None:
    """Their PDF is written (flushes; the caller commits)."""
    now = utcnow()
    for i in range(0, len(ids), 500):  # bounded IN lists
        db.session.execute(sa.update(IssuedStatement).where(IssuedStatement.id.in_(ids[i:i + 500]))
                           .values(printed_at=now).execution_options(synchronize_session=False))


def print_batch(village: Village, period: svc.Period, out_path: Path, *, group_id: int | None = None,
                paper: str = "a4", base_url: str = "", actor=None, detailed: bool = False,
                limit: int | None = None) -> int:
    """The command-line batch: issue, commit, render to `out_path`; returns the number of statements.

    Killed while rendering, the statements stay issued without `printed_at`: the clerk's list shows
    them, and running the same command again prints them under their codes and marks them.
    `limit`: only the first households of the register (the benchmark prints 500 of its 2,000).
    """
    with contextlib.ExitStack() as stack:
        with write_transaction():
            households = svc.batch_households(village.id, group_id)[:limit]
            if not households:
                return 0
            printer = stack.enter_context(_printer(out_path, len(households)))
            ids, htmls = issue_batch(village, period, households, paper=paper, base_url=base_url, actor=actor,
                                     detailed=detailed, on_html=printer.add)
        printer.finish()  # after the commit: the codes are kept before their PDF is
    run_write(lambda: mark_printed(ids))
    return len(htmls)


def _printer(out_path: Path, total: int, progress: Callable[[int], None] | None = None) -> ChunkPrinter:
    return ChunkPrinter(out_path, total, chunk=current_app.config.get("STATEMENT_CHUNK", DEFAULT_CHUNK),
                        workers=current_app.config.get("STATEMENT_WORKERS"), progress=progress, render=_render_chunk)


def unprinted_statements(village_id: int, limit: int = 200) -> list[IssuedStatement]:
    """The village's statements issued by a batch that stopped before writing their PDF (to print again)."""
    running = sa.select(StatementJob.id).where(StatementJob.village_id == village_id,
                                               StatementJob.status.in_(JOB.sources("finish")))
    return list(db.session.scalars(
        sa.select(IssuedStatement).where(IssuedStatement.village_id == village_id,
                                         IssuedStatement.printed_at.is_(None),
                                         sa.or_(IssuedStatement.job_id.is_(None),
                                                IssuedStatement.job_id.not_in(running)))
        .options(selectinload(IssuedStatement.household))
        .order_by(IssuedStatement.period_start.desc(), IssuedStatement.id).limit(limit)))


# --- background jobs ------------------------------------------------------------------------------
#
# A village runs one batch at a time: rendering takes every core, and two batches at once only make
# both slower. A job is queued when the clerk asks; a runner process (`flask statements run-job`)
# claims the village's oldest queued job, and when it ends it claims the next one in the same
# transaction, so a waiting job never lacks a runner. The UNIQUE index on (village_id) WHERE running
# makes the claim safe: two runners starting at once cannot both run, on SQLite or PostgreSQL.
#
# A job's process may die (killed, out of memory, the machine restarted). The job row says which
# process answers for it: `pid`, `runner` ("hostname boot-id") and `heartbeat_at`, which the runner
# refreshes every HEARTBEAT_SECONDS. The next look at the village's batches (a page, a progress poll,
# the next start) marks a job failed when its process is certainly gone:
#  - on the machine that runs it, at once: the pid no longer exists, or the machine has restarted since
#    (another boot id). This is the village PC's case and any gunicorn worker's: the runner is its own
#    process, not a worker, so any worker of that machine can ask the kernel about it;
#  - elsewhere, when it has not said a word for STALE_SECONDS: a pid means nothing on another machine
#    (a township server behind a load balancer), and Windows cannot ask about a pid without signalling it.
#    On its own machine a live pid wins over a late heartbeat (on SQLite the heartbeat waits while the
#    runner itself holds the write lock to issue a large batch), unless it has been silent for
#    REUSED_PID_SECONDS: then the pid belongs to an unrelated process that was given the same number.
# A queued job's runner is judged the same way while it starts; once it has handed the job to the
# village's running one (the village was busy) the job waits on that one.

#: how often a running job's process says it is alive, and how long without a word makes it dead
HEARTBEAT_SECONDS = 5
STALE_SECONDS = 60
REUSED_PID_SECONDS = 600


def jobs_dir() -> Path:
    path = Path(current_app.instance_path) / "statements"
    path.mkdir(parents=True, exist_ok=True)
    return path


#: a batch's PDF and log, by the job's id (statements-<id>-<random>.pdf, job-<id>.log)
_JOB_FILE = re.compile(r"^(?:statements-(\d+)-[0-9a-f]+\.pdf|job-(\d+)\.log)$")


def purge_old_files(days: int, now: float | None = None) -> int:
    """Delete batch PDFs and logs older than `days` (never a queued or running job's); return how many.

    A batch's PDF is for downloading soon after it was printed; a purged batch's download link answers as
    a page that does not exist, and a new batch prints those households again.
    """
    folder = jobs_dir()
    cutoff = (now if now is not None else time.time()) - days * 86400
    busy = set(db.session.scalars(sa.select(StatementJob.id).where(
        StatementJob.status.in_((JobStatus.QUEUED.value, JobStatus.RUNNING.value)))))
    db.session.rollback()
    removed = 0
    for path in folder.iterdir():
        m = _JOB_FILE.match(path.name)
        if not m or int(m[1] or m[2]) in busy or not path.is_file() or path.stat().st_mtime >= cutoff:
            continue
        path.unlink(missing_ok=True)
        removed += 1
    return removed


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""  # not Linux: the heartbeat alone decides


def this_host() -> str:
    """Who may judge a pid: this machine, in this boot."""
    return f"{socket.gethostname()} {_boot_id()}"[:120]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, under another user
    return True


def process_gone(job: StatementJob, now=None) -> bool:
    """Whether the process answering for the job is certainly gone (see the comment above)."""
    now = now or utcnow()
    quiet = (now - (job.heartbeat_at or job.started_at or job.created_at)).total_seconds()
    host, _, boot = (job.runner or "").partition(" ")
    here, _, here_boot = this_host().partition(" ")
    if os.name == "posix" and job.pid is not None and (not job.runner or host == here):
        if boot and here_boot and boot != here_boot:
            return True
        if not _alive(job.pid):
            return True
        # alive: only a pid taken over by an unrelated process stays silent this long
        return quiet > REUSED_PID_SECONDS
    return quiet > STALE_SECONDS


def _active(village_id: int) -> list[StatementJob]:
    return list(db.session.scalars(sa.select(StatementJob).where(
        StatementJob.village_id == village_id,
        StatementJob.status.in_([JobStatus.QUEUED.value, JobStatus.RUNNING.value])).order_by(StatementJob.id)))


def _fail(snapshots: list[tuple], error: str) -> None:
    """Mark these jobs failed if nothing about them changed since they were judged (flushes)."""
    for job_id, status, pid, beat in snapshots:
        db.session.execute(
            sa.update(StatementJob).where(StatementJob.id == job_id, StatementJob.status == status,
                                          StatementJob.pid.is_not_distinct_from(pid),
                                          StatementJob.heartbeat_at.is_not_distinct_from(beat))
            .values(status=JOB.target("fail"), error=error, finished_at=utcnow())
            .execution_options(synchronize_session=False))


def _reap(village_id: int) -> list[StatementJob]:
    """Mark failed the village's jobs whose process died; the jobs still queued or running."""
    active = _active(village_id)
    now = utcnow()
    dead = [j for j in active if (j.status == JobStatus.RUNNING.value or j.heartbeat_at is not None)
            and process_gone(j, now)]
    if not dead:
        return active
    snapshots = [(j.id, j.status, j.pid, j.heartbeat_at) for j in dead]
    for job_id, _status, _pid, _beat in snapshots:
        log.warning("statement job %s: its process is gone; marked failed", job_id)
    run_write(lambda: _fail(snapshots, "the printing process stopped"))
    return _active(village_id)


def refresh(village_id: int) -> None:
    """The next look at a village's batches: fail those whose process died, give a waiting queue a runner.

    A page view writes here, deliberately: a dead job must not stay "running" (it would hold the
    village's queue), and the clerk's look is the first moment anyone can tell. Nothing is written
    while every job's process is alive.
    """
    active = _reap(village_id)
    if active and all(j.status == JobStatus.QUEUED.value and j.heartbeat_at is None for j in active):
        launch(active[0].id)  # its running job died: the queue has no runner


def launch(job_id: int) -> None:
    """Start a runner for a queued job that has none (stamped first, so two looks start one)."""
    def stamp() -> int:
        return db.session.execute(
            sa.update(StatementJob).where(StatementJob.id == job_id, StatementJob.status == JobStatus.QUEUED.value,
                                          StatementJob.heartbeat_at.is_(None))
            .values(heartbeat_at=utcnow(), runner=this_host(), pid=None)
            .execution_options(synchronize_session=False)).rowcount

    if run_write(stamp) == 1:
        start_job(job_id)


def _claim_next(village_id: int) -> int | None:
    """Claim the village's oldest queued job for this process (inside a write transaction); its id.

    None when another job of the village is running (the UNIQUE index refuses a second) or another
    runner claimed it first.
    """
    job_id = db.session.scalar(sa.select(StatementJob.id).where(
        StatementJob.village_id == village_id, StatementJob.status.in_(JOB.sources("start")))
        .order_by(StatementJob.id).limit(1))
    if job_id is None:
        return None
    try:
        with db.session.begin_nested():
            claimed = db.session.execute(
                sa.update(StatementJob).where(StatementJob.id == job_id,
                                              StatementJob.status.in_(JOB.sources("start")))
                .values(status=JOB.target("start"), started_at=utcnow(), pid=os.getpid(), runner=this_host(),
                        heartbeat_at=utcnow())
                .execution_options(synchronize_session=False)).rowcount
    except sa.exc.IntegrityError:
        return None
    return job_id if claimed == 1 else None


def _claim_or_hand_over(village_id: int, job_id: int) -> int | None:
    claimed = _claim_next(village_id)
    if claimed is None:
        # the village is busy: its running job's runner starts this one when it ends
        db.session.execute(
            sa.update(StatementJob).where(StatementJob.id == job_id, StatementJob.status == JobStatus.QUEUED.value)
            .values(pid=None, runner=None, heartbeat_at=None).execution_options(synchronize_session=False))
    return claimed


def run_job(job_id: int) -> StatementJob:
    """Run a queued job, or leave it queued behind its village's running one; then the rest of the queue.

    :raise LookupError: the job is not waiting to run.
    """
    job = db.session.get(StatementJob, job_id)
    if job is None or not JOB.can(job.status, "start"):
        raise LookupError(f"job {job_id} is not waiting to run")
    village_id = job.village_id
    _reap(village_id)
    current = run_write(lambda: _claim_or_hand_over(village_id, job_id))
    while current is not None:
        current = _run_claimed(current)
    db.session.expire_all()
    return db.session.get(StatementJob, job_id)


def _heartbeat(app, job_id: int, pid: int, stop: threading.Event) -> None:
    """Say every HEARTBEAT_SECONDS that this process still prints the job (a thread of the runner)."""
    with app.app_context():
        try:
            while not stop.wait(HEARTBEAT_SECONDS):
                try:
                    run_write(lambda: db.session.execute(
                        sa.update(StatementJob).where(StatementJob.id == job_id, StatementJob.pid == pid,
                                                      StatementJob.status == JobStatus.RUNNING.value)
                        .values(heartbeat_at=utcnow()).execution_options(synchronize_session=False)))
                except Exception:  # a busy database: the next beat tries again, STALE_SECONDS allows many
                    log.warning("statement job %s: heartbeat not recorded", job_id, exc_info=True)
        finally:
            db.session.remove()


def _progress(job_id: int, done: int) -> None:
    run_write(lambda: db.session.execute(
        sa.update(StatementJob).where(StatementJob.id == job_id)
        .values(done=done, heartbeat_at=utcnow()).execution_options(synchronize_session=False)))


def _run_claimed(job_id: int) -> int | None:
    """Carry out a claimed job: issue, render, record; then claim the village's next job (its id)."""
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, name=f"statement-job-{job_id}-heartbeat", daemon=True,
                            args=(current_app._get_current_object(), job_id, os.getpid(), stop))
    beat.start()
    name = f"statements-{job_id}-{secrets.token_hex(6)}.pdf"
    done = 0

    def progress(n: int) -> None:
        nonlocal done
        done += n
        _progress(job_id, done)

    try:
        with contextlib.ExitStack() as stack:
            with write_transaction():
                job = db.session.get(StatementJob, job_id)
                village = db.session.get(Village, job.village_id)
                period = svc.Period(job.period_kind, job.period_start, job.period_end)
                households = svc.batch_households(job.village_id, job.group_id)
                if not households:
                    raise svc.StatementError("no households")
                actor = db.session.get(User, job.created_by_id) if job.created_by_id else None
                # the pool renders each chunk as soon as it is issued (ChunkPrinter)
                printer = stack.enter_context(_printer(jobs_dir() / name, len(households), progress))
                _ids, htmls = issue_batch(village, period, households, paper=job.paper, base_url=job.base_url,
                                          actor=actor, job_id=job.id, detailed=job.detailed, on_html=printer.add)
                job.total = len(htmls)
            # the rest of the rendering and the merge run after the commit, outside any write transaction
            printer.finish()
        outcome = ("finish", {"result_file": name, "done": len(htmls)})
    except Exception as exc:  # the job row must never stay "running" after a failure
        db.session.rollback()
        log.exception("statement job %s failed", job_id)
        message = str(exc) if isinstance(exc, svc.StatementError) else type(exc).__name__
        outcome = ("fail", {"error": message[:500]})
    finally:
        stop.set()
        beat.join()
    return run_write(lambda: _end_and_claim_next(job_id, *outcome))


def _end_and_claim_next(job_id: int, action: str, values: dict) -> int | None:
    """Record the job's end and claim the village's next job, in one transaction: no gap without a runner."""
    job = db.session.get(StatementJob, job_id)
    # a job judged dead meanwhile (failed by a look) stays failed: its statements are printed again later
    if job.status == JobStatus.RUNNING.value and job.pid == os.getpid():
        job.status = JOB.move(job.status, action)
        job.finished_at = utcnow()
        for key, value in values.items():
            setattr(job, key, value)
        if action == "finish":
            db.session.execute(sa.update(IssuedStatement).where(IssuedStatement.job_id == job_id,
                                                                IssuedStatement.printed_at.is_(None))
                               .values(printed_at=utcnow()).execution_options(synchronize_session=False))
        db.session.flush()  # before the claim: the UNIQUE index must see this job no longer running
    return _claim_next(job.village_id)


def queue_places(village_id: int) -> dict[int, tuple[int, int]]:
    """For each waiting job of the village: how many jobs are ahead of it, and the one it waits for."""
    line = sorted(_active(village_id), key=lambda j: (j.status != JobStatus.RUNNING.value, j.id))
    return {j.id: (place, line[place - 1].id) for place, j in enumerate(line)
            if j.status == JobStatus.QUEUED.value and place > 0}


def queue_job(village_id: int, period: svc.Period, *, group_id: int | None, paper: str, base_url: str,
              actor=None, key: str | None = None, detailed: bool = False) -> StatementJob:
    """Queue a batch (flushes; the caller commits, then `start_job`); the same form key gives the same job.

    The job is stamped as having a runner on its way (`heartbeat_at`), which `start_job` then launches.
    :raise IdempotencyConflict: the key was used for another batch.
    """
    key = check_key(key)
    digest = payload_hash({"group": group_id, "kind": period.kind, "start": period.start.isoformat(),
                           "end": period.end.isoformat(), "paper": paper, "detailed": bool(detailed)})
    prior = find_earlier(StatementJob, village_id, key, digest=digest)
    if prior is not None:
        return prior
    job = StatementJob(village_id=village_id, group_id=group_id, period_kind=period.kind,
                       period_start=period.start, period_end=period.end, paper=paper, detailed=bool(detailed),
                       status=JobStatus.QUEUED.value, base_url=base_url[:200],
                       created_by_id=actor.id if actor is not None else None,
                       idempotency_key=key, payload_hash=digest, heartbeat_at=utcnow(), runner=this_host())
    db.session.add(job)
    db.session.flush()
    return job


def start_job(job_id: int) -> None:
    """Start a runner for the queued job: in this process when STATEMENT_JOBS_INLINE (tests), else its own."""
    if current_app.config.get("STATEMENT_JOBS_INLINE"):
        try:
            run_job(job_id)
        except LookupError:
            pass  # already run by another runner
        return
    env = dict(os.environ)
    env["DATABASE_URL"] = current_app.config["SQLALCHEMY_DATABASE_URI"]
    env["XIANGYUE_INSTANCE_PATH"] = current_app.instance_path
    for key in ("SECRET_KEY", "ID_HMAC_KEY"):
        if current_app.config.get(key):
            env[key] = current_app.config[key]
    log_path = jobs_dir() / f"job-{job_id}.log"
    try:
        with open(log_path, "ab") as out:
            # a new session: the job is not killed with the web worker or the terminal that started it
            proc = subprocess.Popen(  # noqa: S603  (this app's own CLI with a job id)
                [sys.executable, "-m", "flask", "--app", "wsgi", "statements", "run-job", str(job_id)],
                cwd=str(PROJECT_ROOT), env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                start_new_session=True, close_fds=True)
    except OSError as exc:
        log.exception("could not start statement job %s", job_id)
        error = type(exc).__name__
        run_write(lambda: _fail_queued(job_id, error))
        return
    # its pid, unless it has already claimed the job or handed it over (then it wrote its own state)
    run_write(lambda: db.session.execute(
        sa.update(StatementJob).where(StatementJob.id == job_id, StatementJob.status == JobStatus.QUEUED.value,
                                      StatementJob.pid.is_(None), StatementJob.heartbeat_at.is_not(None))
        .values(pid=proc.pid).execution_options(synchronize_session=False)))
    # reap it when it ends (no zombie left behind); the job row, not this thread, is the record
    threading.Thread(target=proc.wait, name=f"statement-job-{job_id}", daemon=True).start()


def _fail_queued(job_id: int, error: str) -> None:
    db.session.execute(
        sa.update(StatementJob).where(StatementJob.id == job_id, StatementJob.status == JobStatus.QUEUED.value)
        .values(status=JOB.target("fail"), error=error, finished_at=utcnow())
        .execution_options(synchronize_session=False))
