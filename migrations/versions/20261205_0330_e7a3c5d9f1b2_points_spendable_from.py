"""Points: when approved awards become spendable, per village (point_schemes.spendable_from).

'approval' (the default, today's behaviour): as soon as a reviewer approves them; 'posting_end': once
their posting (公示) has ended and no objection to them is open. Existing schemes keep 'approval'.

Revision ID: e7a3c5d9f1b2
Revises: c3e7a9d1f5b2
Create Date: 2026-12-05 03:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e7a3c5d9f1b2'
down_revision = 'c3e7a9d1f5b2'
branch_labels = None
depends_on = None

CHECK = "spendable_from IN ('approval','posting_end')"


def upgrade():
    if op.get_bind().dialect.name == "sqlite":
        # ADD COLUMN keeps the STRICT table (a batch copy would have to restate it); SQLite takes a
        # column CHECK in ADD COLUMN, not a table constraint added later
        op.execute("ALTER TABLE point_schemes ADD COLUMN spendable_from TEXT NOT NULL DEFAULT 'approval' "
                   f"CONSTRAINT ck_point_schemes_spendable_from_known CHECK ({CHECK})")
    else:
        op.add_column('point_schemes', sa.Column('spendable_from', sa.String(length=16), nullable=False,
                                                 server_default='approval'))
        op.create_check_constraint(op.f('ck_point_schemes_spendable_from_known'), 'point_schemes', CHECK)


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE point_schemes DROP COLUMN spendable_from")
    else:
        op.drop_constraint(op.f('ck_point_schemes_spendable_from_known'), 'point_schemes', type_='check')
        op.drop_column('point_schemes', 'spendable_from')
