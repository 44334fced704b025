"""Points: each household's and each person's score of a year, kept as a running total.

point_year_totals (household_id, year, scheme_id → village_id, score, entries) and
point_person_year_totals (person_id, year, scheme_id → village_id, score, entries; entries: how many counted
entries make the score): the rankings read these instead of summing the year's
entries (most of a rankings page's time at 2,000 households, bench figure 12). The points services keep them
in the transaction of every change of what counts; here they are filled from the entries that count now
(posted, disputed, final), one INSERT … SELECT each.

Revision ID: 89e8a086ae67
Revises: a7d4e2f91c36
Create Date: 2026-12-05 10:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '89e8a086ae67'
down_revision = 'a7d4e2f91c36'
branch_labels = None
depends_on = None

def upgrade():
    op.create_table('point_year_totals',
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('scheme_id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('entries', sa.Integer(), nullable=False),
    sa.CheckConstraint('entries >= 0', name=op.f('ck_point_year_totals_entries_not_negative')),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_point_year_totals_household_id_households')),
    sa.ForeignKeyConstraint(['scheme_id'], ['point_schemes.id'], name=op.f('fk_point_year_totals_scheme_id_point_schemes')),
    sa.ForeignKeyConstraint(['village_id'], ['villages.id'], name=op.f('fk_point_year_totals_village_id_villages')),
    sa.PrimaryKeyConstraint('household_id', 'year', 'scheme_id', name=op.f('pk_point_year_totals')),
    sqlite_strict=True
    )
    op.create_index('ix_point_year_totals_village_year', 'point_year_totals',
                    ['village_id', 'year', 'household_id', 'scheme_id', 'score'], unique=False)
    op.create_table('point_person_year_totals',
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('scheme_id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('entries', sa.Integer(), nullable=False),
    sa.CheckConstraint('entries >= 0', name=op.f('ck_point_person_year_totals_entries_not_negative')),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_point_person_year_totals_person_id_people')),
    sa.ForeignKeyConstraint(['scheme_id'], ['point_schemes.id'], name=op.f('fk_point_person_year_totals_scheme_id_point_schemes')),
    sa.ForeignKeyConstraint(['village_id'], ['villages.id'], name=op.f('fk_point_person_year_totals_village_id_villages')),
    sa.PrimaryKeyConstraint('person_id', 'year', 'scheme_id', name=op.f('pk_point_person_year_totals')),
    sqlite_strict=True
    )
    op.create_index('ix_point_person_year_totals_village_year', 'point_person_year_totals',
                    ['village_id', 'year', 'person_id', 'score', 'entries'], unique=False)
    # the statuses are app.points.queries.COUNTED as it is when this runs (approved and not corrected); an
    # entry's scheme belongs to its village, so (household or person, year, scheme) has one village
    op.execute(
        "INSERT INTO point_year_totals (household_id, year, scheme_id, village_id, score, entries) "
        "SELECT household_id, year, scheme_id, MIN(village_id), SUM(points), COUNT(*) FROM point_entries "
        "WHERE status IN ('posted', 'disputed', 'final') GROUP BY household_id, year, scheme_id")
    op.execute(
        "INSERT INTO point_person_year_totals (person_id, year, scheme_id, village_id, score, entries) "
        "SELECT person_id, year, scheme_id, MIN(village_id), SUM(points), COUNT(*) FROM point_entries "
        "WHERE status IN ('posted', 'disputed', 'final') AND person_id IS NOT NULL GROUP BY person_id, year, scheme_id")


def downgrade():
    op.drop_index('ix_point_person_year_totals_village_year', table_name='point_person_year_totals')
    op.drop_table('point_person_year_totals')
    op.drop_index('ix_point_year_totals_village_year', table_name='point_year_totals')
    op.drop_table('point_year_totals')
