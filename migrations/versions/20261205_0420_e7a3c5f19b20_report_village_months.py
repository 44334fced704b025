"""Reports: the township roll-up's stored month figures per village (report_village_months, counts only); point
entries indexed by village and day for the dashboard's months.

Revision ID: e7a3c5f19b20
Revises: 2d2243614389
Create Date: 2026-12-05 03:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e7a3c5f19b20'
down_revision = '2d2243614389'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('report_village_months',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('month', sa.Integer(), nullable=False),
    sa.Column('figures', sa.JSON(), nullable=False),
    sa.Column('computed_at', sa.DateTime().with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.CheckConstraint('month BETWEEN 1 AND 12', name=op.f('ck_report_village_months_month_known')),
    sa.ForeignKeyConstraint(['village_id'], ['villages.id'], name=op.f('fk_report_village_months_village_id_villages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_village_months')),
    sa.UniqueConstraint('village_id', 'year', 'month', name='uq_report_village_months_village_month')
    )
    op.create_index('ix_point_entries_village_day', 'point_entries', ['village_id', 'occurred_on'], unique=False)


def downgrade():
    op.drop_index('ix_point_entries_village_day', table_name='point_entries')
    op.drop_table('report_village_months')
