"""Shop: a donation line's estimated value in yuan (估价), for donations that also add new goods (issue 18).

Revision ID: 5e1d0a7c9b21
Revises: e7a2c4d6f8b1
Create Date: 2026-12-05 04:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '5e1d0a7c9b21'
down_revision = 'e7a2c4d6f8b1'
branch_labels = None
depends_on = None

_CHECK = "estimated_value IS NULL OR estimated_value BETWEEN 0 AND 100000000"


def upgrade():
    # one statement both databases take: ADD COLUMN with its CHECK keeps SQLite's STRICT table as it is
    # (a batch rebuild would not)
    op.execute("ALTER TABLE donation_lines ADD COLUMN estimated_value INTEGER "
               f"CONSTRAINT ck_donation_lines_value_bounded CHECK ({_CHECK})")


def downgrade():
    # SQLite ≥ 3.35 drops a column whose only CHECK is its own; PostgreSQL drops the constraint with it
    op.execute("ALTER TABLE donation_lines DROP COLUMN estimated_value")
