"""Villages: posting_names, how the posting sheet (公示表) names members: masked (张*丰, the default) or in full.

Revision ID: b4d8e2f6a1c3
Revises: c5e1a9d3b7f2
Create Date: 2026-12-05 07:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b4d8e2f6a1c3'
down_revision = 'c5e1a9d3b7f2'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('villages') as batch_op:
        batch_op.add_column(sa.Column('posting_names', sa.String(length=8), server_default='masked', nullable=False))
        batch_op.create_check_constraint('posting_names_known', "posting_names IN ('masked','full')")


def downgrade():
    with op.batch_alter_table('villages') as batch_op:
        batch_op.drop_constraint(op.f('ck_villages_posting_names_known'), type_='check')
        batch_op.drop_column('posting_names')
