"""Point items from real scoring annexes: ranges (points_min/points_max), per-amount rules, judgement
items (no automatic points, their effect as written), shared cap groups and notes kept as text (issue 19).

Revision ID: c5e1a9d3b7f2
Revises: e7a3c5f19b20
Create Date: 2026-12-05 03:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c5e1a9d3b7f2'
down_revision = 'e7a3c5f19b20'
branch_labels = None
depends_on = None

_TEXT64 = sa.String(length=64).with_variant(sa.Text(), 'sqlite')


def upgrade():
    with op.batch_alter_table('point_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('points_min', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('points_max', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('judgement', sa.Boolean().with_variant(sa.Integer(), 'sqlite'),
                                      server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('effect', _TEXT64, nullable=True))
        batch_op.add_column(sa.Column('amount_per', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('amount_unit', sa.String(length=8).with_variant(sa.Text(), 'sqlite'),
                                      nullable=True))
        batch_op.add_column(sa.Column('cap_group', _TEXT64, nullable=True))
        batch_op.add_column(sa.Column('note', sa.String(length=500).with_variant(sa.Text(), 'sqlite'),
                                      nullable=True))
        batch_op.drop_constraint(op.f('ck_point_items_points_bounded'), type_='check')
        batch_op.create_check_constraint(
            'points_bounded', "(points <> 0 OR judgement) AND points BETWEEN -1000 AND 1000")
        batch_op.create_check_constraint(
            'range_one_sided', "(points_min IS NULL AND points_max IS NULL) OR (points_min < points_max AND "
                               "(points_min > 0 OR points_max < 0))")
        batch_op.create_check_constraint(
            'amount_rule_complete', "amount_per IS NULL OR (amount_per > 0 AND amount_unit IS NOT NULL)")


def downgrade():
    op.execute("DELETE FROM point_items WHERE judgement AND points = 0 AND id NOT IN "
               "(SELECT item_id FROM point_entries)")
    with op.batch_alter_table('point_items', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_point_items_amount_rule_complete'), type_='check')
        batch_op.drop_constraint(op.f('ck_point_items_range_one_sided'), type_='check')
        batch_op.drop_constraint(op.f('ck_point_items_points_bounded'), type_='check')
        batch_op.create_check_constraint('points_bounded', "points <> 0 AND points BETWEEN -1000 AND 1000")
        batch_op.drop_column('note')
        batch_op.drop_column('cap_group')
        batch_op.drop_column('amount_unit')
        batch_op.drop_column('amount_per')
        batch_op.drop_column('effect')
        batch_op.drop_column('judgement')
        batch_op.drop_column('points_max')
        batch_op.drop_column('points_min')
