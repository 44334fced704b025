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
    # a plain ADD COLUMN with its CHECK inline: a batch (copy, DROP TABLE villages, rename) cannot run on a
    # SQLite database with data, whose foreign keys (on in every connection) refuse dropping villages
    op.add_column('villages', sa.Column(
        'posting_names', sa.String(length=8),
        sa.CheckConstraint("posting_names IN ('masked','full')", name=op.f('ck_villages_posting_names_known')),
        server_default='masked', nullable=False))


def downgrade():
    with op.batch_alter_table('villages') as batch_op:
        batch_op.drop_constraint(op.f('ck_villages_posting_names_known'), type_='check')
        batch_op.drop_column('posting_names')
