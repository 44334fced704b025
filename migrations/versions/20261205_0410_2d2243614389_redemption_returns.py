"""Shop: goods of one line handed back after the counter (redemption_returns), with the reversal of the charge
in force and the new charge for the goods kept (issue 18).

Revision ID: 2d2243614389
Revises: 5e1d0a7c9b21
Create Date: 2026-12-05 04:10:00.523283

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '2d2243614389'
down_revision = '5e1d0a7c9b21'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('redemption_returns',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('redemption_id', sa.Integer(), nullable=False),
    sa.Column('line_id', sa.Integer(), nullable=False),
    sa.Column('qty', sa.Integer(), nullable=False),
    sa.Column('points', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('reason', sa.String(length=200).with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.Column('reversal_transfer_id', sa.Integer(), nullable=False),
    sa.Column('charge_transfer_id', sa.Integer(), nullable=True),
    sa.Column('idempotency_key', sa.String(length=64).with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime().with_variant(sa.Text(), 'sqlite'), nullable=False),
    sa.CheckConstraint('points > 0 AND points <= 100000', name=op.f('ck_redemption_returns_points_bounded')),
    sa.CheckConstraint('qty BETWEEN 1 AND 10000', name=op.f('ck_redemption_returns_qty_bounded')),
    sa.ForeignKeyConstraint(['charge_transfer_id'], ['transfers.id'], name=op.f('fk_redemption_returns_charge_transfer_id_transfers')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_redemption_returns_created_by_id_users')),
    sa.ForeignKeyConstraint(['line_id'], ['redemption_lines.id'], name=op.f('fk_redemption_returns_line_id_redemption_lines')),
    sa.ForeignKeyConstraint(['redemption_id'], ['redemptions.id'], name=op.f('fk_redemption_returns_redemption_id_redemptions')),
    sa.ForeignKeyConstraint(['reversal_transfer_id'], ['transfers.id'], name=op.f('fk_redemption_returns_reversal_transfer_id_transfers')),
    sa.ForeignKeyConstraint(['village_id'], ['villages.id'], name=op.f('fk_redemption_returns_village_id_villages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_redemption_returns')),
    sa.UniqueConstraint('charge_transfer_id', name=op.f('uq_redemption_returns_charge_transfer_id')),
    sa.UniqueConstraint('reversal_transfer_id', name=op.f('uq_redemption_returns_reversal_transfer_id')),
    sa.UniqueConstraint('village_id', 'idempotency_key', name='uq_redemption_returns_village_id_idempotency_key'),
    sqlite_strict=True
    )
    with op.batch_alter_table('redemption_returns', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_redemption_returns_line_id'), ['line_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_redemption_returns_redemption_id'), ['redemption_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_redemption_returns_village_id'), ['village_id'], unique=False)



def downgrade():
    with op.batch_alter_table('redemption_returns', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_redemption_returns_village_id'))
        batch_op.drop_index(batch_op.f('ix_redemption_returns_redemption_id'))
        batch_op.drop_index(batch_op.f('ix_redemption_returns_line_id'))

    op.drop_table('redemption_returns')
