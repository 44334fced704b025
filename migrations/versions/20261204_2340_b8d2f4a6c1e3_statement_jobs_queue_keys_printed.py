"""Statements: one running batch per village, the batch form's key, the runner's identity and
heartbeat, and whether an issued statement's PDF was written.

- ix_statement_jobs_one_running: UNIQUE (village_id) WHERE status = 'running', so two runners starting at
  once cannot both run (the queue waits behind the running job).
- ix_statement_jobs_village_key: UNIQUE (village_id, idempotency_key): the batch form posted twice makes
  one job.
- statement_jobs.runner, heartbeat_at: where the job's process lives and its last sign of life, so a job
  whose process died is marked failed on the next look.
- issued_statements.printed_at: None for a statement whose batch stopped before its PDF was written.
  Statements issued before this revision are taken as printed (nothing tells otherwise).

Revision ID: b8d2f4a6c1e3
Revises: d1f4a6b8c0e2
Create Date: 2026-12-04 23:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b8d2f4a6c1e3'
down_revision = 'd1f4a6b8c0e2'
branch_labels = None
depends_on = None


def _str(n: int):
    return sa.String(length=n).with_variant(sa.Text(), 'sqlite')


def _when():
    return sa.DateTime().with_variant(sa.Text(), 'sqlite')


def upgrade():
    # plain ADD COLUMN (no table copy): both tables are STRICT on SQLite, and a copy would lose that
    op.add_column('statement_jobs', sa.Column('runner', _str(120), nullable=True))
    op.add_column('statement_jobs', sa.Column('heartbeat_at', _when(), nullable=True))
    op.add_column('statement_jobs', sa.Column('idempotency_key', _str(64), nullable=True))
    op.add_column('statement_jobs', sa.Column('payload_hash', _str(64), nullable=True))
    op.create_index('ix_statement_jobs_village_key', 'statement_jobs', ['village_id', 'idempotency_key'],
                    unique=True)
    # the old code let a village run several jobs at once: all but its newest running one are failed, so
    # the index can be built (the newest is then judged like any job: failed on the next look if dead)
    op.execute("UPDATE statement_jobs SET status = 'failed', error = 'stopped by the upgrade' "
               "WHERE status = 'running' AND id NOT IN "
               "(SELECT MAX(id) FROM statement_jobs WHERE status = 'running' GROUP BY village_id)")
    op.create_index('ix_statement_jobs_one_running', 'statement_jobs', ['village_id'], unique=True,
                    sqlite_where=sa.text("status = 'running'"), postgresql_where=sa.text("status = 'running'"))
    op.add_column('issued_statements', sa.Column('printed_at', _when(), nullable=True))
    op.execute("UPDATE issued_statements SET printed_at = issued_at")


def downgrade():
    op.drop_column('issued_statements', 'printed_at')
    op.drop_index('ix_statement_jobs_one_running', table_name='statement_jobs')
    op.drop_index('ix_statement_jobs_village_key', table_name='statement_jobs')
    for column in ('payload_hash', 'idempotency_key', 'heartbeat_at', 'runner'):
        op.drop_column('statement_jobs', column)
