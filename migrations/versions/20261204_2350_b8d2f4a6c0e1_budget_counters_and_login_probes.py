"""Budgets and login probes: counters every worker shares, in the database.

budget_counters: the attempts spent in the current window of a budget that guards a secret (logins per
address, kiosk PINs per device, statement codes per address), when no Redis is configured (app/budgets.py).
login_probes: the failure counter and lock of a user name without an account, under a keyed hash of the
name, so that it locks like a real account (app/auth/services.py).

Revision ID: b8d2f4a6c0e1
Revises: b8d2f4a6c1e3
Create Date: 2026-12-04 23:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b8d2f4a6c0e1'
down_revision = 'b8d2f4a6c1e3'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('budget_counters',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key_hash', sa.String(length=64).with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.Column('window_start', sa.DateTime().with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.Column('spent', sa.Integer(), nullable=False),
    sa.CheckConstraint('spent >= 0', name=op.f('ck_budget_counters_spent_nonneg')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_budget_counters')),
    sa.UniqueConstraint('key_hash', name='uq_budget_counters_key_hash'),
    sqlite_strict=True
    )
    with op.batch_alter_table('budget_counters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_budget_counters_window_start'), ['window_start'], unique=False)

    op.create_table('login_probes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name_hash', sa.String(length=64), nullable=False),
    sa.Column('failed_logins', sa.Integer(), server_default='0', nullable=False),
    sa.Column('locked_until', sa.DateTime(), nullable=True),
    sa.CheckConstraint('failed_logins >= 0', name=op.f('ck_login_probes_failed_logins_nonneg')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_probes')),
    sa.UniqueConstraint('name_hash', name='uq_login_probes_name_hash')
    )


def downgrade():
    op.drop_table('login_probes')
    with op.batch_alter_table('budget_counters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_budget_counters_window_start'))

    op.drop_table('budget_counters')
