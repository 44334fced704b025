"""Points: index year_scores by household; a household's entries by date.

year_scores had no index on household_id: the household points page read every closed year's scores.
ix_point_entries_household_id becomes (household_id, occurred_on): the kiosk's and the household page's
"newest entries first" read from the index instead of sorting the household's whole history.

Revision ID: a7e5c9b64f45
Revises: d4b2f6e31c12
Create Date: 2026-11-26 02:05:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'a7e5c9b64f45'
down_revision = 'd4b2f6e31c12'
branch_labels = None
depends_on = None


def upgrade():
    # (household_id, year): the page lists one household's closed years newest first
    op.create_index(op.f('ix_year_scores_household_id'), 'year_scores', ['household_id', 'year'], unique=False)
    op.drop_index('ix_point_entries_household_id', table_name='point_entries')
    op.create_index(op.f('ix_point_entries_household_id'), 'point_entries', ['household_id', 'occurred_on'],
                    unique=False)


def downgrade():
    op.drop_index(op.f('ix_point_entries_household_id'), table_name='point_entries')
    op.create_index('ix_point_entries_household_id', 'point_entries', ['household_id'], unique=False)
    op.drop_index(op.f('ix_year_scores_household_id'), table_name='year_scores')
