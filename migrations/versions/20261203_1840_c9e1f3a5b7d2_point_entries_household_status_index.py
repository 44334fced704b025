"""Points: index a household's entries by status and year (score, entries on posting).

ix_point_entries_household_status (household_id, status, year, points, posting_until): the kiosk's and
the household page's score of the year is a SUM read from this index alone, and the entries on posting
are found without reading the household's whole history (bench figure 1: the page with ten years of
history within 1.2× of the page with one).

Revision ID: c9e1f3a5b7d2
Revises: a7e5c9b64f45
Create Date: 2026-12-03 18:40:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'c9e1f3a5b7d2'
down_revision = 'a7e5c9b64f45'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(op.f('ix_point_entries_household_status'), 'point_entries',
                    ['household_id', 'status', 'year', 'points', 'posting_until'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_point_entries_household_status'), table_name='point_entries')
