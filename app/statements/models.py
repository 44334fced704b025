"""Issued statements (what each printed statement showed) and background batch jobs."""
from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import BigInt, Day, Flag, Int, Str, UTCDateTime, utcnow
from ..extensions import Model


class IssuedStatement(Model):
    """One printed statement: enough to tell later whether the ledger still says the same."""

    __tablename__ = "issued_statements"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"), index=True)
    household_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("households.id"), index=True)
    #: random, unguessable, typed back from paper (Crockford base32, no I/L/O/U)
    code: Mapped[str] = mapped_column(Str(16), unique=True)
    #: year, quarter, month or range
    period_kind: Mapped[str] = mapped_column(Str(8))
    period_start: Mapped[dt.date] = mapped_column(Day)
    period_end: Mapped[dt.date] = mapped_column(Day)
    #: transfers created before this UTC moment (end of the period, or the issue time if earlier) count
    cutoff_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    opening_balance: Mapped[int] = mapped_column(BigInt)
    closing_balance: Mapped[int] = mapped_column(BigInt)
    line_count: Mapped[int] = mapped_column(Int)
    #: the totals the paper shows (signed: earned ≥ 0, the others usually ≤ 0); opening + the four = closing.
    #: /verify shows them so a paper whose figures were changed can be caught. NULL: issued before they were kept
    total_earned: Mapped[int | None] = mapped_column(BigInt)
    total_deducted: Mapped[int | None] = mapped_column(BigInt)
    total_redeemed: Mapped[int | None] = mapped_column(BigInt)
    total_expired: Mapped[int | None] = mapped_column(BigInt)
    #: sha256 over the transfer ids shown (and whether each was reversed) and the balances
    digest: Mapped[str] = mapped_column(Str(64))
    paper: Mapped[str] = mapped_column(Str(4), default="a4")
    job_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("statement_jobs.id"), index=True)
    issued_by_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("users.id"))
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: when its PDF was written; None for a batch's statement whose printing stopped (the process died or
    #: was killed after the codes were committed): the clerk sees it to print again, and the next batch
    #: of the same period and paper prints it under its code (batch.issue_batch)
    printed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    household = relationship("Household")

    __table_args__ = (
        sa.CheckConstraint("period_kind IN ('year','quarter','month','range')", name="period_kind_known"),
        sa.CheckConstraint("period_start <= period_end", name="period_ordered"),
        sa.CheckConstraint("paper IN ('a4','a5')", name="paper_known"),
        {"sqlite_strict": True},
    )


class JobStatus(str, enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class StatementJob(Model):
    """A batch of statements printed in the background; the PDF lands under instance/statements/."""

    __tablename__ = "statement_jobs"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    village_id: Mapped[int] = mapped_column(Int, sa.ForeignKey("villages.id"), index=True)
    group_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("villager_groups.id"))
    period_kind: Mapped[str] = mapped_column(Str(8))
    period_start: Mapped[dt.date] = mapped_column(Day)
    period_end: Mapped[dt.date] = mapped_column(Day)
    paper: Mapped[str] = mapped_column(Str(4), default="a4")
    #: the detailed statement (every entry, naming the member) rather than the one-page summary of a year
    detailed: Mapped[bool] = mapped_column(Flag, default=False, server_default=sa.false())
    status: Mapped[str] = mapped_column(Str(8), default=JobStatus.QUEUED.value)
    total: Mapped[int] = mapped_column(Int, default=0)
    done: Mapped[int] = mapped_column(Int, default=0)
    #: file name inside instance/statements/ (generated, never user input)
    result_file: Mapped[str | None] = mapped_column(Str(80))
    error: Mapped[str | None] = mapped_column(Str(500))
    #: where the QR codes point (the address the clerk used to reach the app)
    base_url: Mapped[str] = mapped_column(Str(200))
    #: the process answering for the job: its runner while running; while queued, the runner launched
    #: for it (None once that runner handed the job to the village's running one)
    pid: Mapped[int | None] = mapped_column(Int)
    #: where that process lives: "hostname boot-id" (batch.this_host), so a pid is only judged on its machine
    runner: Mapped[str | None] = mapped_column(Str(120))
    #: the process's last sign of life (batch.HEARTBEAT_SECONDS); while queued, when its runner was launched
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: the batch form's key (app.idempotency): the same form posted twice makes one job
    idempotency_key: Mapped[str | None] = mapped_column(Str(64))
    payload_hash: Mapped[str | None] = mapped_column(Str(64))
    created_by_id: Mapped[int | None] = mapped_column(Int, sa.ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    group = relationship("VillagerGroup")
    created_by = relationship("User")

    __table_args__ = (
        sa.CheckConstraint("status IN ('queued','running','done','failed')", name="status_known"),
        sa.CheckConstraint("period_kind IN ('year','quarter','month','range')", name="period_kind_known"),
        sa.CheckConstraint("paper IN ('a4','a5')", name="paper_known"),
        sa.CheckConstraint("done >= 0 AND total >= 0", name="counts_positive"),
        sa.Index("ix_statement_jobs_village_key", "village_id", "idempotency_key", unique=True),
        # at most one running job per village: two runners claiming at once cannot both win, on either
        # database (a check-then-update could on PostgreSQL, whose transactions do not see each other's)
        sa.Index("ix_statement_jobs_one_running", "village_id", unique=True,
                 sqlite_where=sa.text("status = 'running'"), postgresql_where=sa.text("status = 'running'")),
        {"sqlite_strict": True},
    )
