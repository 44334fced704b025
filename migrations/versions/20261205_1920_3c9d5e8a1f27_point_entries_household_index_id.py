"""Points: ix_point_entries_household_id becomes (household_id, occurred_on, id).

The kiosk's records page and the household page list a household's entries newest first, ties broken by
id; with id in the index the newest twenty are its last twenty entries, read without a sort, however long
the household's history (bench figure 1, the big village against 10,000 entries).

Revision ID: 3c9d5e8a1f27
Revises: 89e8a086ae67
Create Date: 2026-12-05 19:20:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '3c9d5e8a1f27'
down_revision = '89e8a086ae67'
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index('ix_point_entries_household_id', table_name='point_entries')
    op.create_index('ix_point_entries_household_id', 'point_entries', ['household_id', 'occurred_on', 'id'],
                    unique=False)


def downgrade():
    op.drop_index('ix_point_entries_household_id', table_name='point_entries')
    op.create_index('ix_point_entries_household_id', 'point_entries', ['household_id', 'occurred_on'],
                    unique=False)
