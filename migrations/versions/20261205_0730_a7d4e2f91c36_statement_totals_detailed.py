"""Statements: the totals a paper shows (earned, deducted, redeemed, expired) kept with its code for /verify,
and whether a batch prints the detailed statement (issue 20).

Revision ID: a7d4e2f91c36
Revises: 5b61fcbb2736
Create Date: 2026-12-05 07:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a7d4e2f91c36'
down_revision = '5b61fcbb2736'
branch_labels = None
depends_on = None

_BIGINT = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    with op.batch_alter_table('issued_statements', schema=None) as batch_op:
        for name in ('earned', 'deducted', 'redeemed', 'expired'):
            batch_op.add_column(sa.Column(f'total_{name}', _BIGINT, nullable=True))
    with op.batch_alter_table('statement_jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('detailed', sa.Boolean().with_variant(sa.Integer(), 'sqlite'),
                                      server_default=sa.false(), nullable=False))


def downgrade():
    with op.batch_alter_table('statement_jobs', schema=None) as batch_op:
        batch_op.drop_column('detailed')
    with op.batch_alter_table('issued_statements', schema=None) as batch_op:
        for name in ('expired', 'redeemed', 'deducted', 'earned'):
            batch_op.drop_column(f'total_{name}')
