"""Points: index a village's entries of a year by household and by person (the rankings).

ix_point_entries_village_year_household (village_id, year, household_id, status, points) and
ix_point_entries_village_year_person (village_id, year, person_id, status, points): the rankings page sums
the year's counted points per household and per person from these indexes alone, in group order (no table
rows, no sort), then ranks in SQL with RANK() (bench figure 12).

Revision ID: 5b61fcbb2736
Revises: b4d8e2f6a1c3
Create Date: 2026-12-05 08:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '5b61fcbb2736'
down_revision = 'b4d8e2f6a1c3'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(op.f('ix_point_entries_village_year_household'), 'point_entries',
                    ['village_id', 'year', 'household_id', 'status', 'points'], unique=False)
    op.create_index(op.f('ix_point_entries_village_year_person'), 'point_entries',
                    ['village_id', 'year', 'person_id', 'status', 'points'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_point_entries_village_year_person'), table_name='point_entries')
    op.drop_index(op.f('ix_point_entries_village_year_household'), table_name='point_entries')
